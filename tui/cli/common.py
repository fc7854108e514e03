"""What every subcommand shares: settings, the store, the acting user and output helpers."""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from tui.settings import LoadedSettings, load_settings

if TYPE_CHECKING:
    from pathlib import Path

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
        try:
            self.settings = load_settings(db=self.args.db, user=self.args.user)
        except ValueError as exc:  # pydantic's ValidationError, a file that is not TOML, JSON in a variable
            raise settings_error(exc) from None
        except OSError as exc:  # the settings file exists but cannot be read
            from tui.settings import config_file

            raise CliError(
                f"cannot read the settings file {config_file()}: {exc.strerror or exc}; fix it or point "
                "MAILROOM_CONFIG at another file",
                code=2,
            ) from None

    @cached_property
    def store(self) -> Store:
        """The store, opened and migrated."""
        from store.service import open_store

        path = self.settings.db_path()
        with _opening_database(path):
            return open_store(path)

    @cached_property
    def sync_store(self) -> Store | LiteStore:
        """The store for a headless sync: the lite one (plain sqlite3, store/lite.py) when the database is
        ready for it, else the full store (which creates or migrates it)."""
        from store.lite import open_lite_store

        path = self.settings.db_path()
        with _opening_database(path):
            lite = open_lite_store(path)
        return lite or self.store

    @cached_property
    def actor(self) -> Actor:
        """The acting user (the very first one becomes the administrator)."""
        return self.store.identity.actor(self.settings.user_name())

    @cached_property
    def secrets(self) -> SecretStore:
        """The secret store chosen by the settings."""
        from store.secrets import SecretsError, open_secret_store
        from tui.settings import config_dir, data_dir

        try:
            return open_secret_store(
                self.settings.secrets.backend,
                data_dir=data_dir(),
                config_dir=config_dir(),
                allow_plaintext=self.settings.secrets.allow_plaintext,
            )
        except SecretsError as exc:
            raise CliError(
                f"cannot open the secrets store: {exc} (setting secrets.backend, "
                f"{_setting_source(('secrets', 'backend'))})"
            ) from None


def settings_error(exc: ValueError) -> CliError:
    """The CliError for settings that failed to load: one line per problem, naming the setting and where it
    was set. Values are never repeated (a mistyped key may hold a password)."""
    from tomllib import TOMLDecodeError

    from tui.settings import config_file

    if isinstance(exc, TOMLDecodeError | UnicodeDecodeError):
        return CliError(
            f"the settings file {config_file()} is not valid TOML: {exc}; fix it or point MAILROOM_CONFIG "
            "at another file",
            code=2,
        )
    if not callable(getattr(exc, "errors", None)):  # pydantic-settings' SettingsError (JSON in a variable)
        return CliError(f"invalid settings: {exc}; check the MAILROOM_ variables", code=2)
    lines = []
    for error in exc.errors(include_url=False, include_input=False):  # type: ignore[attr-defined]
        loc = tuple(str(part) for part in error["loc"])
        name, where = ".".join(loc), _setting_source(loc)
        if error["type"] == "extra_forbidden":
            lines.append(f"unknown setting {name} ({where})")
        else:
            lines.append(f"invalid setting {name} ({where}): {error['msg']}")
    return CliError("\n".join(lines) or "invalid settings", code=2)


def _setting_source(loc: tuple[str, ...]) -> str:
    """Where the setting at *loc* comes from: its MAILROOM_ variable when set, else the settings file."""
    import os

    from tui.settings import config_file

    names = {name.upper() for name in os.environ}
    for end in range(len(loc), 0, -1):
        name = "MAILROOM_" + "__".join(loc[:end]).upper()
        if name in names:
            return name
    return str(config_file())


@contextmanager
def _opening_database(path: Path) -> Iterator[None]:
    """Turn a database that cannot be opened (a missing folder, a directory, not SQLite) into one line."""
    import sqlite3

    try:
        yield
    except (OSError, sqlite3.Error, _sqlalchemy_error()) as exc:
        reason = getattr(exc, "orig", None) or exc  # SQLAlchemy's wrapper holds the driver's error
        if isinstance(reason, OSError) and reason.strerror and reason.filename:
            reason = f"{reason.strerror}: {reason.filename}"
        raise CliError(
            f"cannot open the database {path} ({reason}); choose another file with --db or MAILROOM_DB"
        ) from None


def _sqlalchemy_error() -> type[Exception]:
    """SQLAlchemy's wrapper of driver errors, when SQLAlchemy is loaded (the lite store never loads it)."""
    if "sqlalchemy" not in sys.modules:
        return OSError
    from sqlalchemy.exc import DBAPIError

    return DBAPIError


# What must not reach a terminal from mail or a server: C0 controls but newline and tab, DEL, C1 controls.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_JSON_UNESCAPED = re.compile(r"[\x7f-\x9f]")  # json.dumps escapes C0 controls only


def printable(text: str) -> str:
    """*text* fit for a terminal: control characters other than newline and tab (escape sequences could set
    the clipboard or the title, or move the cursor) become visible symbols (ESC as ␛, a C1 control as �)."""
    return text if text.isprintable() else _CONTROLS.sub(_symbol, text)


def _symbol(match: re.Match[str]) -> str:
    code = ord(match.group())
    return chr(0x2400 + code) if code < 0x20 else "\u2421" if code == 0x7F else "\ufffd"


def write_json(value: Any) -> None:
    """Print *value* as JSON for scripts, with every control character escaped (the data is unchanged)."""
    text = json.dumps(value, ensure_ascii=False, indent=2, default=str)
    sys.stdout.write(_JSON_UNESCAPED.sub(lambda m: f"\\u{ord(m.group()):04x}", text) + "\n")


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    """Give a listing command its --json flag."""
    parser.add_argument("--json", action="store_true", help="print JSON for scripts instead of a table")


def emit(ctx: Context, rows: Sequence[dict[str, Any]], columns: Sequence[str], empty: str) -> None:
    """Print rows as JSON (with --json) or as an aligned table."""
    if getattr(ctx.args, "json", False):
        write_json(list(rows))
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
    return printable(str(value).replace("\n", " "))


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
