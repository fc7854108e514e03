"""`mailroom audit list`: who shared, configured or sent as which mailbox, and when."""

from __future__ import annotations

import argparse
import json

from tui.cli.common import Context, add_json_flag, command, emit, group


def register(sub: argparse._SubParsersAction) -> None:
    """Add the audit commands."""
    audit = group(sub, "audit", "the audit log of sharing, settings changes and send-as")
    p = command(
        audit,
        "list",
        _list,
        "newest first; every line for user managers, else the lines of mailboxes you may configure",
    )
    p.add_argument("--mailbox", metavar="EMAIL", help="only this mailbox")
    p.add_argument("--limit", type=int, default=200, help="at most this many lines (default 200)")
    add_json_flag(p)


def _list(ctx: Context) -> None:
    entries = ctx.store.audit.list(ctx.actor, ctx.args.mailbox, limit=max(1, ctx.args.limit))
    rows = [
        {
            "at": e.at.isoformat(timespec="seconds"),
            "user": e.actor_name,
            "mailbox": e.mailbox_email,
            "action": e.action,
            "detail": e.detail if ctx.args.json else json.dumps(e.detail, ensure_ascii=False, sort_keys=True),
        }
        for e in entries
    ]
    emit(ctx, rows, ["at", "user", "mailbox", "action", "detail"], "No audit entries you may see.")
