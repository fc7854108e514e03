"""The `mailroom` command: no arguments opens the TUI; subcommands serve scripts and admins."""

from __future__ import annotations

import argparse
import importlib
import sys

from tui.cli.common import CliError, Context

# Each module registers its subcommands; a run imports only the module of the command it names (all of
# them for help or an unknown command), so `mailroom sync --once` does not pay for the others' imports.
# tests/unit/test_cli_lazy.py checks this table against what the modules register.
COMMANDS = {
    "config": "tui.cli.config",
    "user": "tui.cli.admin",
    "role": "tui.cli.admin",
    "grant": "tui.cli.admin",
    "operation": "tui.cli.admin",
    "setting": "tui.cli.admin",
    "provider": "tui.cli.directories",
    "domain": "tui.cli.directories",
    "mailbox": "tui.cli.mailbox",
    "sync": "tui.cli.sync",
    "message": "tui.cli.messages",
    "contact": "tui.cli.crm",
    "company": "tui.cli.crm",
    "timeline": "tui.cli.crm",
    "send": "tui.cli.send",
    "outbox": "tui.cli.send",
    "share": "tui.cli.share",
    "audit": "tui.cli.audit",
}
COMMAND_MODULES = list(dict.fromkeys(COMMANDS.values()))
_VALUE_OPTIONS = ("--db", "--user")  # the global options that take a value


def chosen_command(argv: list[str]) -> str | None:
    """The command named in *argv* (the first word that is neither a global option nor its value)."""
    words = iter(argv)
    for word in words:
        if word == "--":
            return next(words, None)
        if word in _VALUE_OPTIONS:
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser: every command, or only *command*'s module when it names a known one."""
    parser = argparse.ArgumentParser(
        prog="mailroom",
        description="Connect, share and sync the mailboxes of your CRM. Without a command, opens the app.",
    )
    parser.add_argument("--db", metavar="PATH", help="SQLite database file (env MAILROOM_DB)")
    parser.add_argument("--user", metavar="NAME", help="act as this Mailroom user (env MAILROOM_USER)")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    modules = [COMMANDS[command]] if command in COMMANDS else COMMAND_MODULES
    for name in modules:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(chosen_command(argv))
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    try:
        ctx = Context(args)
        if handler is None:
            from tui.app import run_app

            ctx.actor  # noqa: B018

            return run_app(ctx) or 0
        if getattr(args, "needs_user", True):
            ctx.actor  # noqa: B018 - an unknown user is refused before anything runs
        return handler(ctx) or 0
    except CliError as exc:
        for line in str(exc).splitlines():  # one line per problem
            print(f"mailroom: {line}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print("mailroom: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the store's and the keyring's errors carry messages fit for users
        from store.errors import StoreError

        if isinstance(exc, StoreError):
            print(f"mailroom: {exc}", file=sys.stderr)
            return 1
        if "pydantic" in sys.modules:  # only a run that imported pydantic can fail its validation
            from pydantic import ValidationError

            from tui.cli.common import settings_error

            if isinstance(exc, ValidationError):
                for line in str(settings_error(exc)).splitlines():
                    print(f"mailroom: {line}", file=sys.stderr)
                return 2
        if "store.keyring_file" in sys.modules:  # only a run that opened the secrets can fail on them
            from store.keyring_file import SecretsError

            if isinstance(exc, SecretsError):
                print(f"mailroom: secrets: {exc}", file=sys.stderr)
                return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
