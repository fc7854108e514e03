"""The `mailroom` command: no arguments opens the TUI; subcommands serve scripts and admins."""

from __future__ import annotations

import argparse
import importlib
import sys

from tui.cli.common import CliError, Context

# Each module registers its subcommands; imported only to build the parser, handlers import lazily.
COMMAND_MODULES = [
    "tui.cli.config", "tui.cli.admin", "tui.cli.directories", "tui.cli.mailbox", "tui.cli.sync",
    "tui.cli.messages", "tui.cli.crm",
    "tui.cli.send",
    "tui.cli.share",
    "tui.cli.audit",
]


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser."""
    parser = argparse.ArgumentParser(
        prog="mailroom",
        description="Connect, share and sync the mailboxes of your CRM. Without a command, opens the app.",
    )
    parser.add_argument("--db", metavar="PATH", help="SQLite database file (env MAILROOM_DB)")
    parser.add_argument("--user", metavar="NAME", help="act as this Mailroom user (env MAILROOM_USER)")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    parser = build_parser()
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
        print(f"mailroom: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print("mailroom: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the store's errors carry messages fit for users
        from pydantic import ValidationError

        from store.errors import StoreError

        if isinstance(exc, StoreError):
            print(f"mailroom: {exc}", file=sys.stderr)
            return 1
        if isinstance(exc, ValidationError):
            print(f"mailroom: invalid settings: {exc}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
