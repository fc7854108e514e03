"""What every subcommand shares: settings, the store, the acting user and output helpers."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from tui.settings import LoadedSettings, load_settings

if TYPE_CHECKING:
    from store.identity import Actor
    from store.lite import LiteStore
    from store.secrets import SecretStore
    from store.service import Store


class CliError(Exception):
    """A failure to report as one line on stderr with a non-zero exit code."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Context:
    """Lazily opened resources of one CLI run."""

    args: argparse.Namespace
    settings: LoadedSettings = field(init=False)

    def __post_init__(self) -> None:
        self.settings = load_settings(db=self.args.db, user=self.args.user)

    @cached_property
    def store(self) -> Store:
        """The store, opened and migrated."""
        from store.service import open_store

        return open_store(self.settings.db_path())

    @cached_property
    def sync_store(self) -> Store | LiteStore:
        """The store for a headless sync: the lite one (plain sqlite3, store/lite.py) when the database is
        ready for it, else the full store (which creates or migrates it)."""
        from store.lite import open_lite_store

        return open_lite_store(self.settings.db_path()) or self.store

    @cached_property
    def actor(self) -> Actor:
        """The acting user (the very first one becomes the administrator)."""
        return self.store.identity.actor(self.settings.user_name())

    @cached_property
    def secrets(self) -> SecretStore:
        """The secret store chosen by the settings."""
        from store.secrets import open_secret_store
        from tui.settings import config_dir, data_dir

        return open_secret_store(
            self.settings.secrets.backend,
            data_dir=data_dir(),
            config_dir=config_dir(),
            allow_plaintext=self.settings.secrets.allow_plaintext,
        )


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    """Give a listing command its --json flag."""
    parser.add_argument("--json", action="store_true", help="print JSON for scripts instead of a table")


def emit(ctx: Context, rows: Sequence[dict[str, Any]], columns: Sequence[str], empty: str) -> None:
    """Print rows as JSON (with --json) or as an aligned table."""
    if getattr(ctx.args, "json", False):
        json.dump(list(rows), sys.stdout, ensure_ascii=False, indent=2, default=str)
        sys.stdout.write("\n")
        return
    if not rows:
        print(empty)
        return
    cells = [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value).replace("\n", " ")


Handler = Callable[[Context], int | None]


def command(
    sub: argparse._SubParsersAction, name: str, handler: Handler, help: str, **kw: Any
) -> argparse.ArgumentParser:
    """Add a subcommand whose handler receives the Context."""
    parser = sub.add_parser(name, help=help, description=help, **kw)
    parser.set_defaults(handler=handler)
    return parser


def group(sub: argparse._SubParsersAction, name: str, help: str) -> argparse._SubParsersAction:
    """Add a command group (e.g. `provider`) and return its subcommand set."""
    parser = sub.add_parser(name, help=help, description=help)
    parser.set_defaults(handler=lambda ctx: _print_help(parser))
    return parser.add_subparsers(title="commands", metavar="COMMAND")


def _print_help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2
