"""The CLI imports only what the chosen command needs: no Textual, no other commands' modules."""

from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
from pathlib import Path

from tui.cli import COMMANDS, build_parser, chosen_command

ROOT = Path(__file__).resolve().parents[2]


def test_the_command_table_matches_what_modules_register() -> None:
    registered: dict[str, str] = {}
    for module in dict.fromkeys(COMMANDS.values()):
        sub = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(module).register(sub)
        registered.update(dict.fromkeys(sub.choices, module))
    assert registered == COMMANDS
    full = build_parser()
    top = next(a for a in full._actions if isinstance(a, argparse._SubParsersAction))
    assert set(top.choices) == set(COMMANDS)


def test_the_command_is_found_past_global_options() -> None:
    assert chosen_command(["sync", "--once"]) == "sync"
    assert chosen_command(["--db", "sync", "user", "list"]) == "user"
    assert chosen_command(["--db=x.db", "--user", "contact", "mailbox", "list"]) == "mailbox"
    assert chosen_command(["--help"]) is None and chosen_command([]) is None


def _modules_after(argv: list[str], tmp_path: Path) -> set[str]:
    code = (
        "import sys\nfrom tui.cli import main\n"
        f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules} | {m for m in sys.modules "
        "if m.startswith('tui.')})))\n"
    )
    env = {
        **os.environ,
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "MAILROOM_CONFIG": str(tmp_path / "none.toml"),
        "MAILROOM_DB": str(tmp_path / "m.db"),
        "MAILROOM_SECRETS__BACKEND": "file",
    }
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return set(out.stdout.strip().splitlines()[-1].split())


def test_sync_once_imports_neither_textual_nor_other_commands(tmp_path: Path) -> None:
    _modules_after(["sync", "--once", "--json"], tmp_path)  # creates and migrates the database
    loaded = _modules_after(["sync", "--once", "--json"], tmp_path)
    assert "tui.cli.sync" in loaded  # the command ran
    assert not loaded & {"textual", "rich", "screens", "tui.app"}
    assert not loaded & {"pydantic", "pydantic_settings", "sqlalchemy", "alembic", "email_validator", "dns"}
    assert not loaded & {m for m in COMMANDS.values() if m not in ("tui.cli.sync", "tui.cli.send")}


def test_help_still_lists_every_command(tmp_path: Path) -> None:
    loaded = _modules_after(["--help"], tmp_path)
    assert set(COMMANDS.values()) <= loaded
