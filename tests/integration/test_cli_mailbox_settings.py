"""`mailroom mailbox show|set` against a mailbox connected to the harness servers, as a script runs them."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from store.secrets import Secret, open_secret_store
from store.service import open_store
from tests.dns_stub import mx_server
from tests.harness.fixtures import MailAccount, ServerInfo
from tui.cli import main
from tui.settings import config_dir, data_dir

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Private XDG folders, the encrypted-file keyring, user alice, and a DNS that knows no domain."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("MAILROOM_USER", "alice")
    monkeypatch.setenv("MAILROOM_DB", str(tmp_path / "m.db"))
    monkeypatch.setenv("MAILROOM_SECRETS__BACKEND", "file")
    monkeypatch.delenv("MAILROOM_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    with mx_server({}) as (dns, _zone):
        monkeypatch.setenv("MAILROOM_DNS_SERVER", dns)
        yield tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def connected(capsys, account: MailAccount) -> str:  # noqa: ANN001
    """Add a harness provider with the CLI and connect *account* (`mailbox add` refuses example.test)."""
    code, _, err = run(
        capsys, "provider", "add", "Acme Mail", "--imap", f"{account.host}:{account.imaps_port}",
        "--smtp", f"{account.host}:{account.smtps_port}", "--ca-file", str(account.ca_file),
    )  # fmt: skip
    assert code == 0, err
    store = open_store(Path(os.environ["MAILROOM_DB"]))
    try:
        secrets = open_secret_store("file", data_dir=data_dir(), config_dir=config_dir())
        admin = store.identity.actor("alice")
        provider = store.providers.get("Acme Mail")
        store.mailboxes.create(
            admin, account.email, provider.id, account.email, Secret(account.password), secrets
        )
    finally:
        store.close()
    return account.email


def shown(capsys, email: str) -> dict:  # noqa: ANN001
    code, out, err = run(capsys, "mailbox", "show", email, "--json")
    assert code == 0, err
    return json.loads(out)


def test_show_then_set_every_key(capsys, monkeypatch, mail_account, isolated) -> None:
    email = connected(capsys, mail_account)
    code, out, err = run(capsys, "mailbox", "show", email)
    assert code == 0, err
    assert out.splitlines()[0] == f"Settings of {email}"
    for line in ("  period          week  (One week)", "  auto_load       on",
                 "  scope           inbox  (Inbox only)",
                 "  folders         (none)", "  send            on", "  alias           (none)",
                 "  default_sender  on", "  use_signature   off"):  # fmt: skip
        assert line in out.splitlines(), line
    assert f"IMAP {mail_account.host}:{mail_account.imaps_port} (implicit TLS)" in out

    signature = "С уважением,\nАнна Петрова\n\t— 北京办公室\n"
    (isolated / "sig.txt").write_text(signature, encoding="utf-8")
    code, out, err = run(
        capsys, "mailbox", "set", email, "period=3months", "auto_load=off", "scope=selected",
        "folders=+Projects/Alpha,Clients/Ромашка,Archive", "send=on", "alias=Anna (Sales)",
        "default_sender=on",
        "use_signature=on", "signature=@sig.txt",
    )  # fmt: skip
    assert code == 0, err
    assert out.startswith(
        f"Saved {email}: period=3months, auto_load=off, scope=selected, "
        "folders=Archive,Clients/Ромашка,Projects/Alpha, "
    )
    assert "alias=Anna (Sales)" in out and f"signature=({len(signature)} characters)" in out
    settings = shown(capsys, email)
    assert settings["folders"] == ["Archive", "Clients/Ромашка", "Projects/Alpha"]
    assert {k: settings[k] for k in ("period", "auto_load", "scope", "send", "alias", "default_sender")} == {
        "period": "3months", "auto_load": False, "scope": "selected", "send": True, "alias": "Anna (Sales)",
        "default_sender": True,
    }  # fmt: skip
    assert settings["use_signature"] and settings["signature"] == signature

    code, out, err = run(capsys, "mailbox", "set", email, "folders=-Archive", "signature=Best,\nAnna")
    assert code == 0, err
    settings = shown(capsys, email)
    assert (
        settings["folders"] == ["Clients/Ромашка", "Projects/Alpha"]
        and settings["signature"] == "Best,\nAnna"
    )
    code, out, _ = run(capsys, "mailbox", "show", email)
    assert "  signature       | Best,\n                  | Anna\n" in out
    assert run(capsys, "mailbox", "set", email, "period=3months")[1] == f"Nothing changed for {email}.\n"
    code, out, _ = run(capsys, "mailbox", "set", email, "scope=all", "send=off", "default_sender=off")
    assert code == 0 and "send=off" in out
    code, out, _ = run(capsys, "mailbox", "list", "--json")
    assert json.loads(out)[0]["default_sender"] is False


@pytest.mark.parametrize(
    ("assignments", "message"),
    [
        (
            ["period=fortnight"],
            "period: expected one of day|week|month|3months|6months|year|all, got 'fortnight'",
        ),
        (["auto_load=maybe"], "auto_load: expected on or off, got 'maybe'"),
        (["scope=selected"], "choose at least one folder, or load all folders / the Inbox only"),
        (["send=off", "default_sender=on"], "a mailbox that does not send cannot be the default sender"),
        (["use_signature=on"], "write a signature, or turn the signature off"),
        (["alias=Evil\nBcc: x@example.com"], "alias: the alias must be one line"),
        (["alias=" + "x" * 300], "alias: String should have at most 256 characters"),
        (["colour=blue"], "colour: expected KEY=VALUE with KEY one of period, auto_load, scope, folders"),
        (["signature=@missing.txt"], "signature: cannot read"),
    ],
)
def test_invalid_settings_say_why_and_change_nothing(
    capsys, monkeypatch, mail_account, isolated, assignments, message
) -> None:
    email = connected(capsys, mail_account)
    before = shown(capsys, email)
    code, out, err = run(capsys, "mailbox", "set", email, "alias=Changed", *assignments)
    assert code == 1 and out == ""
    assert err.startswith("mailroom: ") and message in err and len(err.splitlines()) == 1
    assert shown(capsys, email) == before


def test_other_users_see_no_such_mailbox(capsys, monkeypatch, mail_account, isolated) -> None:
    email = connected(capsys, mail_account)
    assert run(capsys, "user", "add", "bob")[0] == 0
    for argv in (["mailbox", "show", email], ["mailbox", "set", email, "alias=Bob"]):
        code, _, err = run(capsys, "--user", "bob", *argv)
        assert (code, err) == (1, f"mailroom: No mailbox '{email}'.\n")
    assert shown(capsys, email)["alias"] == ""


def test_the_next_sync_loads_exactly_the_folders_set(
    capsys, monkeypatch, corpus_account: MailAccount, isolated, mail_server: ServerInfo
) -> None:
    email = connected(capsys, corpus_account)
    chosen = [
        "Clients/Ромашка",
        "Projects/Beta/Specs",
        "Projects",
    ]  # Projects: a parent with no mail of its own
    code, _, err = run(
        capsys, "mailbox", "set", email, "period=all", "scope=selected", "folders=" + ",".join(chosen)
    )
    assert code == 0, err
    code, out, err = run(capsys, "sync", "--once", "--mailbox", email)
    assert code == 0, out + err
    conn = sqlite3.connect(isolated / "m.db")
    try:
        rows = conn.execute(
            "SELECT f.name, COUNT(*) FROM message_locations l JOIN sync_folders f ON f.id = l.folder_id "
            "GROUP BY f.name"
        ).fetchall()
    finally:
        conn.close()
    assert corpus_account.corpus is not None
    folders = corpus_account.corpus.folders
    assert dict(rows) == {
        "Clients/Ромашка": folders["Clients/Ромашка"],
        "Projects/Beta/Specs": folders["Projects/Beta/Specs"],
        "Sent": folders["Sent"],  # outgoing mail is always loaded (docs/sync.md)
    }
