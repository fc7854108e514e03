"""The `mailroom` command line, driven as an admin over SSH would."""

from __future__ import annotations

import contextlib
import io
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tui.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Private XDG folders and a fixed acting user."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("MAILROOM_USER", "alice")
    for var in ("MAILROOM_DB", "MAILROOM_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_every_subcommand_has_help(capsys) -> None:
    parser = build_parser()
    stack = [([], parser)]
    seen = 0
    while stack:
        prefix, p = stack.pop()
        for action in p._actions:
            if action.__class__.__name__ == "_SubParsersAction":
                for name, child in action.choices.items():
                    stack.append((prefix + [name], child))
        with pytest.raises(SystemExit) as exit_:
            main(prefix + ["--help"])
        assert exit_.value.code == 0
        seen += 1
    assert seen > 20
    capsys.readouterr()


def test_provider_list_json_for_a_first_time_user(capsys) -> None:
    code, out, _ = run(capsys, "provider", "list", "--json")
    assert code == 0
    rows = json.loads(out)
    gmail = next(r for r in rows if r["name"] == "Gmail")
    assert gmail["imap"] == "imap.gmail.com:993" and gmail["imap_tls"] == "ssl"


def test_provider_and_domain_round_trip(capsys, tmp_path: Path) -> None:
    code, out, err = run(
        capsys,
        "provider",
        "add",
        "Corp",
        "--imap",
        "imap.corp.example:143",
        "--imap-tls",
        "starttls",
        "--smtp",
        "smtp.corp.example:587",
        "--smtp-tls",
        "starttls",
        "--login",
        "local-part",
    )
    assert code == 0, err
    code, out, err = run(capsys, "domain", "add", "corp.example", "--provider", "Corp")
    assert code == 0, err
    code, out, _ = run(capsys, "domain", "list", "--json")
    assert {"domain": "corp.example", "provider": "Corp", "source": "admin"} in json.loads(out)
    code, out, err = run(capsys, "provider", "remove", "Corp")
    assert code == 0, err
    code, out, _ = run(capsys, "domain", "list", "--json")
    assert all(r["domain"] != "corp.example" for r in json.loads(out))


def test_validation_errors_are_one_clear_line(capsys) -> None:
    code, _, err = run(capsys, "provider", "add", "X", "--imap", "nohostport", "--smtp", "a.example:465")
    assert code == 1 and "imap: expected HOST:PORT" in err
    code, _, err = run(capsys, "provider", "add", "X", "--imap", "bad host:993", "--smtp", "a.example:465")
    assert code == 1 and "imap_host: not a valid host name" in err
    code, _, err = run(capsys, "domain", "add", "example.com", "--provider", "Nope")
    assert code == 1 and "No provider named 'Nope'" in err
    code, _, err = run(capsys, "setting", "set", "MailboxSyncInterval", "0")
    assert code == 1 and "1 to 1440" in err


def test_users_roles_and_grants(capsys) -> None:
    assert run(capsys, "user", "add", "bob")[0] == 0
    assert run(capsys, "role", "add", "Support")[0] == 0
    assert run(capsys, "role", "member", "add", "Support", "bob")[0] == 0
    assert run(capsys, "grant", "CanAccessSharedMailbox", "Support")[0] == 0
    code, out, _ = run(capsys, "operation", "list", "--json")
    holders = {r["code"]: r["granted_to"] for r in json.loads(out)}
    assert "Support" in holders["CanAccessSharedMailbox"]
    code, out, _ = run(capsys, "role", "list", "--json")
    assert {"name": "Support", "display_name": "", "members": ["bob"]} in json.loads(out)
    code, _, err = run(capsys, "--user", "bob", "user", "add", "eve")
    assert code == 1 and "lacks the system operation" in err


def test_unknown_user_is_refused_before_anything(capsys) -> None:
    run(capsys, "user", "list")
    code, out, err = run(capsys, "--user", "mallory", "user", "list")
    assert code == 1 and out == "" and "not known" in err


def test_config_show_masks_and_names_backend(capsys, isolated: Path) -> None:
    code, out, _ = run(capsys, "config", "show", "--json")
    info = json.loads(out)
    assert code == 0
    assert info["user"] == "alice"
    assert info["db"].startswith(str(isolated / "data"))
    assert info["secrets.active"]


def test_settings_file_env_and_flags_rank(capsys, isolated: Path, monkeypatch) -> None:
    cfg = isolated / "config" / "mailroom"
    cfg.mkdir(parents=True)
    (cfg / "config.toml").write_text('user = "filed"\n[ui]\ntheme = "nord"\n')
    monkeypatch.delenv("MAILROOM_USER")
    assert json.loads(run(capsys, "config", "show", "--json")[1])["user"] == "filed"
    monkeypatch.setenv("MAILROOM_USER", "envy")
    assert json.loads(run(capsys, "config", "show", "--json")[1])["user"] == "envy"
    assert json.loads(run(capsys, "--user", "flag", "config", "show", "--json")[1])["user"] == "flag"
    (cfg / "config.toml").write_text("[ui]\nthem = 'typo'\n")
    code, _, err = run(capsys, "config", "show")
    assert code == 2 and "them" in err


def test_console_script_runs_from_a_shell(isolated: Path) -> None:
    env = dict(os.environ)
    result = subprocess.run(
        [sys.executable, "-m", "tui.cli", "provider", "list"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and "Gmail" in result.stdout


def _one_clean_line(code: int, out: str, err: str, expected: int = 1) -> str:
    """The failure was one line on stderr per problem (no traceback) with exit code *expected*."""
    assert code == expected, err
    assert out == "" and "Traceback" not in err
    assert err.endswith("\n") and all(line.startswith("mailroom: ") for line in err.splitlines()), err
    return err


def _queued_item(capsys, monkeypatch, state: str = "queued") -> str:
    """An outbox item of alice's in *state*, queued without touching the secrets (returns its id)."""
    from store.service import open_store
    from tests.unit.crm_mail import connect_mailbox
    from tui.settings import data_dir

    assert run(capsys, "user", "list")[0] == 0
    store = open_store(data_dir() / "mailroom.db")
    try:
        connect_mailbox(store, "alice", "alice@ourco.example")
    finally:
        store.close()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"Hi.\n")))
    code, out, err = run(
        capsys, "send", "--to", "bob@example.com", "--subject", "Hi", "--queue-only", "--json"
    )
    assert code == 0, err
    item = json.loads(out)["id"]
    with contextlib.closing(sqlite3.connect(data_dir() / "mailroom.db")) as conn, conn:
        conn.execute("UPDATE outbox SET state = ? WHERE id = ?", (state, item))
    return str(item)


@pytest.mark.parametrize(
    "argv", [("sync", "--once"), ("sync",), ("outbox", "retry"), ("outbox", "sent"), ("send",)]
)
def test_a_refused_secrets_backend_is_one_clear_line(capsys, monkeypatch, argv) -> None:
    if argv[0] != "sync":
        item = _queued_item(capsys, monkeypatch, "check" if argv == ("outbox", "sent") else "queued")
        if argv[0] == "send":
            monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"Hi.\n")))
            argv = ("send", "--to", "bob@example.com", "--subject", "Hi")
        else:
            argv = (*argv, item)
    monkeypatch.setenv("MAILROOM_SECRETS__BACKEND", "plaintext")
    err = _one_clean_line(*run(capsys, *argv))
    assert "cannot open the secrets store" in err and "UNENCRYPTED" in err and "secrets.backend" in err


def test_a_settings_file_that_is_not_toml_is_one_clear_line(capsys, isolated: Path, monkeypatch) -> None:
    cfg = isolated / "config" / "mailroom" / "config.toml"
    cfg.parent.mkdir(parents=True)
    cfg.write_text("db = \n")
    for argv in (("user", "list"), ("config", "show"), ("sync", "--once")):
        err = _one_clean_line(*run(capsys, *argv), expected=2)
        assert f"the settings file {cfg} is not valid TOML" in err and "line 1" in err
    monkeypatch.setattr("tui.app.run_app", lambda ctx: pytest.fail("the app opened"))
    assert "not valid TOML" in _one_clean_line(*run(capsys), expected=2)  # no command: the app
    cfg.write_bytes(b'user = "\xff"\n')
    assert "not valid TOML: 'utf-8' codec" in _one_clean_line(*run(capsys, "user", "list"), expected=2)

    def unreadable(**_flags: object) -> None:
        raise PermissionError(13, "Permission denied", str(cfg))

    monkeypatch.setattr("tui.cli.common.load_settings", unreadable)
    err = _one_clean_line(*run(capsys, "user", "list"), expected=2)
    assert f"cannot read the settings file {cfg}: Permission denied" in err


def test_invalid_settings_are_one_line_each_naming_the_setting(capsys, isolated: Path, monkeypatch) -> None:
    cfg = isolated / "config" / "mailroom" / "config.toml"
    cfg.parent.mkdir(parents=True)
    cfg.write_text('password = "hunter2"\n[ui]\ncursor_blink = "sometimes"\n')
    monkeypatch.setenv("MAILROOM_SECRETS__BACKEND", "bogus")
    monkeypatch.setattr("tui.app.run_app", lambda ctx: pytest.fail("the app opened"))
    for argv in (("user", "list"), ()):
        err = _one_clean_line(*run(capsys, *argv), expected=2)
        lines = err.splitlines()
        assert len(lines) == 3, err
        assert any(
            line.startswith("mailroom: invalid setting secrets.backend (MAILROOM_SECRETS__BACKEND): ")
            and "'auto', 'file', 'system' or 'plaintext'" in line
            for line in lines
        ), err
        assert f"mailroom: invalid setting ui.cursor_blink ({cfg}): " in err
        assert f"mailroom: unknown setting password ({cfg})" in err
        assert "hunter2" not in err and "sometimes" not in err  # values are never echoed: one may be secret


@pytest.mark.parametrize("where", ["/proc/nope/x.db", "/proc/x.db", "{tmp}", "{tmp}/file/x.db", "{tmp}/file"])
def test_a_database_that_cannot_be_opened_is_one_clear_line(capsys, isolated: Path, where: str) -> None:
    (isolated / "file").write_text("not a database\n")
    path = where.format(tmp=isolated)
    for argv in (("user", "list"), ("sync", "--once")):
        err = _one_clean_line(*run(capsys, "--db", path, *argv))
        assert f"cannot open the database {path}" in err and "--db" in err
