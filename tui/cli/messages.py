"""`mailroom message list|show`: what the sync stored, as the acting user may see it."""

from __future__ import annotations

import argparse
import sys

from tui.cli.common import CliError, Context, add_json_flag, command, emit, group, printable, write_json


def register(sub: argparse._SubParsersAction) -> None:
    """Add the message commands."""
    msg = group(sub, "message", "stored mail")
    p = command(msg, "list", _list, "list stored messages newest first, one row per folder they sit in")
    p.add_argument("--mailbox", metavar="EMAIL")
    p.add_argument("--folder", metavar="NAME")
    p.add_argument("--limit", type=int, default=50, help="rows to show (default 50; 0 for all)")
    add_json_flag(p)
    p = command(msg, "show", _show, "show one message: envelope, folders, attachments and text")
    p.add_argument("id", type=int)
    p.add_argument("--raw", action="store_true", help="print the raw message as stored")
    add_json_flag(p)


def _list(ctx: Context) -> None:
    store, args = ctx.store, ctx.args
    mailbox_id = store.mailboxes.get(ctx.actor, args.mailbox).id if args.mailbox else None
    limit = args.limit if args.limit > 0 else 10**9
    rows = store.messages.list(ctx.actor, mailbox_id=mailbox_id, folder=args.folder, limit=limit)
    out = [
        {
            "id": r.message_id,
            "mailbox": r.mailbox,
            "folder": r.folder,
            "uid": r.uid,
            "message_id": r.header_message_id,
            "date": r.sent_at.strftime("%Y-%m-%d %H:%M") if not args.json else r.sent_at.isoformat(),
            "from": r.from_address if args.json else (r.from_name or r.from_address)[:30],
            "subject": r.subject if args.json else r.subject[:60],
            "flags": " ".join(r.flags) if not args.json else list(r.flags),
        }
        for r in rows
    ]
    emit(ctx, out, ["id", "folder", "uid", "message_id", "date", "from", "subject", "flags"], "No messages.")


def _show(ctx: Context) -> None:
    store, args = ctx.store, ctx.args
    if args.raw:
        sys.stdout.buffer.write(store.messages.raw(ctx.actor, args.id))
        return
    m = store.messages.get(ctx.actor, args.id)
    if args.json:
        from dataclasses import asdict

        write_json(asdict(m))
        return

    def people(items: tuple[tuple[str, str], ...]) -> str:
        return ", ".join(f"{n} <{a}>" if n else a for a, n in items)

    _say(f"Message {m.id}")
    _say(
        f"  From:       {m.from_name} <{m.from_address}>"
        if m.from_name
        else f"  From:       {m.from_address}"
    )
    _say(f"  To:         {people(m.to)}")
    if m.cc:
        _say(f"  Cc:         {people(m.cc)}")
    _say(f"  Subject:    {m.subject}")
    _say(f"  Date:       {m.sent_at:%Y-%m-%d %H:%M:%S %Z}")
    _say(f"  Message-ID: {m.header_message_id}")
    if m.in_reply_to:
        _say(f"  In-Reply-To: {m.in_reply_to}")
    for loc in m.locations:
        _say(f"  In:         {loc.mailbox} {loc.folder} (UID {loc.uid}) {' '.join(loc.flags)}")
    for a in m.attachments:
        _say(f"  Attachment: {a.filename or '(no name)'} {a.content_type} {a.size} bytes")
    if m.problems:
        _say(f"  Problems:   {m.problems}")
    print()
    if not m.body_loaded:
        raise CliError("The body of this message is not loaded yet; run `mailroom sync --once`.")
    _say(m.body_text)


def _say(line: str) -> None:
    """Print a line of mail text; mail can carry escape sequences, so they are made visible, not obeyed."""
    print(printable(line))
