"""`mailroom mailbox add|list|remove` against the real harness servers, as a script or a person runs it."""

from __future__ import annotations

import io
import json
import secrets as pysecrets
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from store.secrets import open_secret_store
from store.service import open_store
from tests.dns_stub import mx_server
from tests.harness.fixtures import ServerInfo
from tui.cli import main

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
    with mx_server({}) as (dns, _zone):
        monkeypatch.setenv("MAILROOM_DNS_SERVER", dns)
        yield tmp_path


@pytest.fixture
def account(mail_server: ServerInfo) -> Iterator[tuple[str, str]]:
    """A harness user at acme.example."""
    mail_server.ensure_running()
    email = f"cli-{pysecrets.token_hex(4)}@acme.example"
    password = pysecrets.token_urlsafe(12)
    mail_server.add_user(email, password)
    yield email, password
    (mail_server.imap_server.users_dir / email).unlink(missing_ok=True)
    shutil.rmtree(mail_server.imap_server.home(email), ignore_errors=True)


def run(capsys, *argv: str, stdin: str | None = None, monkeypatch=None) -> tuple[int, str, str]:
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def add_provider(capsys, server: ServerInfo, *extra: str, name: str = "Acme Mail") -> None:
    code, _, err = run(
        capsys,
        "provider",
        "add",
        name,
        "--imap",
        f"{server.host}:{server.imaps_port}",
        "--smtp",
        f"{server.host}:{server.smtps_port}",
        "--ca-file",
        str(server.ca_file),
        *extra,
    )
    assert code == 0, err


def test_add_list_remove(capsys, monkeypatch, mail_server, account, isolated):
    email, password = account
    add_provider(capsys, mail_server)
    assert run(capsys, "domain", "add", "acme.example", "--provider", "Acme Mail")[0] == 0
    code, out, err = run(
        capsys, "mailbox", "add", email, "--password-stdin", stdin=password + "\n", monkeypatch=monkeypatch
    )
    assert code == 0, err
    assert "Provider: Acme Mail (found in the Mail provider domains lookup)" in out
    assert f"IMAP  {mail_server.host}:{mail_server.imaps_port} (implicit TLS)" in out
    assert f"Connected {email} (Acme Mail) as {email}" in out
    assert password not in out + err

    code, out, _ = run(capsys, "mailbox", "list", "--json")
    rows = json.loads(out)
    assert [(r["email"], r["provider"], r["status"], r["default_sender"]) for r in rows] == [
        (email, "Acme Mail", "ok", True)
    ]
    assert email in run(capsys, "mailbox", "list")[1]

    store = open_store(isolated / "m.db")
    ref = store.mailboxes.visible(store.identity.actor("alice"))[0].secret_ref
    keyring = open_secret_store(
        "file", data_dir=isolated / "data" / "mailroom", config_dir=isolated / "config" / "mailroom"
    )
    assert keyring.get(ref).reveal() == password
    db_bytes = b"".join(p.read_bytes() for p in isolated.glob("m.db*"))
    assert password.encode() not in db_bytes
    store.close()

    code, out, _ = run(capsys, "mailbox", "remove", email)
    assert code == 0 and f"Removed mailbox {email} and its stored password." in out
    assert keyring.get(ref) is None
    assert run(capsys, "mailbox", "list")[1].strip() == "No mailboxes connected."


def test_password_prompt_without_echo(capsys, monkeypatch, mail_server, account):
    email, password = account
    add_provider(
        capsys, mail_server, "--app-password-required", "--help-url", "https://help.acme.example/app"
    )
    prompts = []
    monkeypatch.setattr("getpass.getpass", lambda prompt: prompts.append(prompt) or password)
    code, out, err = run(capsys, "mailbox", "add", email, "--provider", "acme mail")
    assert code == 0, err
    assert prompts == [f"App password for {email}: "]
    assert "Acme Mail needs an app password" in err and "https://help.acme.example/app" in err
    assert "Learned: acme.example → Acme Mail" in out


def test_unknown_domain_needs_provider_then_is_learned(capsys, monkeypatch, mail_server, account):
    email, password = account
    add_provider(capsys, mail_server)
    code, out, err = run(
        capsys, "mailbox", "add", email, "--password-stdin", stdin=password, monkeypatch=monkeypatch
    )
    assert code == 2 and out == ""
    assert err.count("\n") == 1
    assert err.startswith(
        "mailroom: no provider is known for acme.example (the domain acme.example does not exist"
    )
    assert "--provider NAME" in err and "'Acme Mail'" in err and "'Gmail'" in err

    code, out, err = run(
        capsys,
        "mailbox",
        "add",
        email,
        "--provider",
        "Acme Mail",
        "--password-stdin",
        stdin=password,
        monkeypatch=monkeypatch,
    )
    assert code == 0, err
    assert "Provider: Acme Mail (chosen by you)" in out and "Learned: acme.example → Acme Mail" in out
    _, out, _ = run(capsys, "domain", "list", "--json")
    assert {"domain": "acme.example", "provider": "Acme Mail", "source": "user"} in json.loads(out)

    second = f"cli2-{pysecrets.token_hex(3)}@acme.example"
    mail_server.add_user(second, password)
    try:
        code, out, err = run(
            capsys, "mailbox", "add", second, "--password-stdin", stdin=password, monkeypatch=monkeypatch
        )
    finally:
        (mail_server.imap_server.users_dir / second).unlink(missing_ok=True)
    assert code == 0, err
    assert "Provider: Acme Mail (found in the Mail provider domains lookup)" in out


def test_mx_detection_from_the_cli(capsys, monkeypatch, mail_server, account):
    email, password = account
    add_provider(capsys, mail_server, "--mx", "mx.acme-hosting.example")
    with mx_server({"acme.example": ["in.mx.acme-hosting.example"]}) as (dns, _zone):
        monkeypatch.setenv("MAILROOM_DNS_SERVER", dns)
        code, out, err = run(
            capsys, "mailbox", "add", email, "--password-stdin", stdin=password, monkeypatch=monkeypatch
        )
    assert code == 0, err
    assert "Provider: Acme Mail (recognised from the domain's MX records)" in out


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        (
            "wrong",
            "mailroom: not connected: Wrong password: IMAP login for '{email}' was refused: wrong password?",
        ),
        (
            "untrusted",
            "mailroom: not connected: TLS certificate not trusted: The TLS certificate of IMAP server",
        ),
        ("smtp", "mailroom: not connected: IMAP ok, SMTP refused the connection: Connection to SMTP server"),
        ("dup", "mailroom: Mailbox {email} is already connected."),
        ("bad", "mailroom: email: An email address cannot have a period immediately after the @-sign."),
    ],
)
def test_failures_are_one_clear_line(case, expected, capsys, monkeypatch, mail_server, account, isolated):
    email, password = account
    if case == "untrusted":
        code, _, err = run(
            capsys,
            "provider",
            "add",
            "Acme Mail",
            "--imap",
            f"{mail_server.host}:{mail_server.imaps_port}",
            "--smtp",
            f"{mail_server.host}:{mail_server.smtps_port}",
        )
    elif case == "smtp":
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            closed = s.getsockname()[1]
        code, _, err = run(
            capsys,
            "provider",
            "add",
            "Acme Mail",
            "--imap",
            f"{mail_server.host}:{mail_server.imaps_port}",
            "--smtp",
            f"127.0.0.1:{closed}",
            "--ca-file",
            str(mail_server.ca_file),
        )
    else:
        add_provider(capsys, mail_server)
    if case == "dup":
        assert (
            run(
                capsys,
                "mailbox",
                "add",
                email,
                "--provider",
                "Acme Mail",
                "--password-stdin",
                stdin=password,
                monkeypatch=monkeypatch,
            )[0]
            == 0
        )
    address = "ann@.acme.example" if case == "bad" else email
    secret = "wrong-password-1" if case == "wrong" else password
    code, out, err = run(
        capsys,
        "mailbox",
        "add",
        address,
        "--provider",
        "Acme Mail",
        "--password-stdin",
        stdin=secret,
        monkeypatch=monkeypatch,
    )
    assert code == 1
    assert err.count("\n") == 1 and err.startswith(expected.format(email=email)), err
    assert secret not in out + err
    db_bytes = b"".join(p.read_bytes() for p in isolated.glob("m.db*"))
    assert secret.encode() not in db_bytes
    if case != "dup":
        assert run(capsys, "mailbox", "list")[1].strip() == "No mailboxes connected."


def test_login_is_required_where_the_provider_asks(capsys, monkeypatch, mail_server, account):
    email, password = account
    add_provider(capsys, mail_server, "--login", "ask")
    code, _, err = run(
        capsys,
        "mailbox",
        "add",
        email,
        "--provider",
        "Acme Mail",
        "--password-stdin",
        stdin=password,
        monkeypatch=monkeypatch,
    )
    assert code == 2 and err == "mailroom: Acme Mail needs a login name: pass --login NAME\n"
    code, out, err = run(
        capsys,
        "mailbox",
        "add",
        email,
        "--provider",
        "Acme Mail",
        "--login",
        email,
        "--password-stdin",
        stdin=password,
        monkeypatch=monkeypatch,
    )
    assert code == 0, err


def test_remove_unknown_mailbox(capsys):
    code, _, err = run(capsys, "mailbox", "remove", "nobody@acme.example")
    assert code == 1 and err == "mailroom: No mailbox 'nobody@acme.example'.\n"
