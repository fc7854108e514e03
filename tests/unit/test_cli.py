"""The `mailroom` command line, driven as an admin over SSH would."""

from __future__ import annotations

import json
import os
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
    code, out, err = run(capsys, "provider", "add", "Corp", "--imap", "imap.corp.example:143", "--imap-tls",
                         "starttls", "--smtp", "smtp.corp.example:587", "--smtp-tls", "starttls",
                         "--login", "local-part")
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
    result = subprocess.run([sys.executable, "-m", "tui.cli", "provider", "list"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "Gmail" in result.stdout
