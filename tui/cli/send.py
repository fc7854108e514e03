"""`mailroom send` and `mailroom outbox list|retry|drop`: mail from scripts, via the app's outbox."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from tui.cli.common import CliError, Context, add_json_flag, command, emit, group

if TYPE_CHECKING:
    from store.delivery import DeliveryLoop, DrainReport
    from store.outbox import OutboxItem


def register(sub: argparse._SubParsersAction) -> None:
    """Add the send and outbox commands."""
    p = command(
        sub, "send", _send, "send a message (body from standard input) from a mailbox you may send from"
    )
    p.add_argument(
        "--from",
        dest="sender",
        metavar="EMAIL",
        help="the mailbox to send from (default: your default sender)",
    )
    p.add_argument(
        "--to", action="append", default=[], metavar="ADDR", help="recipient; repeat or separate by commas"
    )
    p.add_argument("--cc", action="append", default=[], metavar="ADDR", help="copy recipient")
    p.add_argument("--bcc", action="append", default=[], metavar="ADDR", help="blind copy recipient")
    p.add_argument(
        "--subject", metavar="TEXT", help="the subject (a reply's default: Re: and the original's)"
    )
    p.add_argument(
        "--attach", action="append", default=[], metavar="FILE", help="attach a file; repeat for more"
    )
    reply = p.add_mutually_exclusive_group()
    reply.add_argument(
        "--reply",
        type=int,
        metavar="MESSAGE",
        help="reply to a stored message (id from `mailroom message list`)",
    )
    reply.add_argument(
        "--reply-all", type=int, metavar="MESSAGE", help="reply to the sender and every recipient"
    )
    p.add_argument(
        "--queue-only", action="store_true", help="only put it in the outbox; `mailroom sync` sends it"
    )
    add_json_flag(p)

    box = group(sub, "outbox", "messages waiting to be sent, sent recently, or refused")
    p = command(box, "list", _list, "list your outbox, newest first, with each message's state and reason")
    p.add_argument(
        "--state",
        action="append",
        choices=["queued", "sending", "sent", "failed", "check"],
        help="only these states (repeatable)",
    )
    add_json_flag(p)
    p = command(box, "retry", _retry, "send a queued, failed or unsure message again now")
    p.add_argument("id", type=int)
    add_json_flag(p)
    p = command(box, "drop", _drop, "remove a message from the outbox (a queued one is then never sent)")
    p.add_argument("id", type=int)
    p = command(
        box,
        "sent",
        _mark_sent,
        "a message that may have been sent (check) did arrive: mark it sent and save its copy in Sent",
    )
    p.add_argument("id", type=int)
    add_json_flag(p)


def _body() -> str:
    stream = sys.stdin
    if stream is None:
        return ""
    if stream.isatty():
        print("Type the message; end it with Ctrl-D on a line of its own.", file=sys.stderr)
    data = stream.buffer.read() if hasattr(stream, "buffer") else stream.read().encode("utf-8")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CliError("The message body on standard input is not UTF-8 text.") from None


def _send(ctx: Context) -> int:
    import dataclasses
    from pathlib import Path

    from store.compose import Draft

    store, args, actor = ctx.store, ctx.args, ctx.actor
    box = store.outbox.sender(actor, args.sender) if args.sender else store.outbox.default_sender(actor)
    if box is None:
        raise CliError("You may not send from any mailbox: connect one, or ask for a shared one.")
    original = args.reply if args.reply is not None else args.reply_all
    if original is not None:  # from the mailbox the original arrived in, unless --from says otherwise
        draft = store.outbox.reply(
            actor,
            original,
            reply_all=args.reply_all is not None,
            from_mailbox_id=box.id if args.sender else None,
        )
        draft = dataclasses.replace(draft, to=tuple(args.to) or draft.to, cc=(*draft.cc, *args.cc))
    else:
        if args.subject is None:
            raise CliError("Give a --subject (it may be empty: --subject '').", code=2)
        draft = Draft(box.id, to=tuple(args.to), cc=tuple(args.cc))
    draft = dataclasses.replace(
        draft,
        bcc=tuple(args.bcc),
        subject=args.subject if args.subject is not None else draft.subject,
        body=_body(),
        attachments=tuple(Path(a) for a in args.attach),
    )
    item = store.outbox.queue(actor, draft)
    busy = False
    if not args.queue_only:
        busy = store.outbox.drain(ctx.secrets, only={item.id}).busy
        item = store.outbox.get(actor, item.id)
    return _report(ctx, item, busy)


def _report(ctx: Context, item: OutboxItem, busy: bool = False) -> int:
    """Say what happened to one item; failed or unsure ones end the command with code 1."""
    if ctx.args.json:
        json.dump(_row(item, full=True), sys.stdout, ensure_ascii=False, indent=2, default=str)
        sys.stdout.write("\n")
        return 1 if item.state in ("failed", "check") else 0
    n = len(item.recipients)
    if item.state == "sent":
        copy = "" if item.copy_done else f" The copy to Sent is pending: {item.copy_error}"
        print(f"Sent {item.message_id} from {item.mailbox} to {n} recipient{'s' * (n != 1)}.{copy}")
        return 0
    if item.state == "queued":
        why = (
            "another Mailroom process is delivering and will send it"
            if busy and not item.last_error
            else item.last_error or "`mailroom sync` sends it"
        )
        print(f"Queued as outbox item {item.id}: {why}.")
        return 0
    if item.state == "check":
        raise CliError(
            f"Maybe sent (outbox item {item.id}): {item.last_error} Send again: mailroom outbox retry "
            f"{item.id}; it arrived: mailroom outbox sent {item.id}; forget it: "
            f"mailroom outbox drop {item.id}"
        )
    raise CliError(
        f"Not sent (outbox item {item.id}): {item.last_error} Edit and send again, or drop it: "
        f"mailroom outbox drop {item.id}"
    )


def _row(item: OutboxItem, full: bool = False) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": item.id,
        "state": item.state,
        "mailbox": item.mailbox,
        "subject": item.subject,
        "to": list(item.recipients) if full else ", ".join(item.recipients),
        "created": item.created_at.isoformat() if full else item.created_at.strftime("%Y-%m-%d %H:%M"),
        "attempts": item.attempts,
        "reason": item.last_error if full else item.status,
    }
    if full:
        row.update(
            message_id=item.message_id,
            next_attempt_at=item.next_attempt_at,
            sent_at=item.sent_at,
            copy_done=item.copy_done,
            copy_error=item.copy_error,
            size=item.size,
        )
    return row


def _list(ctx: Context) -> None:
    items = ctx.store.outbox.list(ctx.actor, tuple(ctx.args.state or ()))
    emit(
        ctx,
        [_row(i, full=ctx.args.json) for i in items],
        ["id", "state", "mailbox", "to", "subject", "created", "attempts", "reason"],
        "The outbox is empty.",
    )


def _retry(ctx: Context) -> int:
    store, actor = ctx.store, ctx.actor
    item = store.outbox.retry(actor, ctx.args.id)
    report = store.outbox.drain(ctx.secrets, only={item.id})
    return _report(ctx, store.outbox.get(actor, item.id), report.busy)


def _mark_sent(ctx: Context) -> int:
    store, actor = ctx.store, ctx.actor
    item = store.outbox.mark_sent(actor, ctx.args.id)
    report = store.outbox.drain(ctx.secrets, only={item.id})
    return _report(ctx, store.outbox.get(actor, item.id), report.busy)


def _drop(ctx: Context) -> None:
    item = ctx.store.outbox.drop(ctx.actor, ctx.args.id)
    note = " It had already been sent." if item.state == "sent" else ""
    print(f"Dropped outbox item {item.id} ({item.subject or 'no subject'}).{note}")


def report_drain(report: DrainReport) -> None:
    """One line on stderr about what a delivery run did (for `mailroom sync`), nothing when it did nothing."""
    states = [r.state for r in report.results] + [r.state for r in report.recovered if r.state == "check"]
    if not states:
        return
    counts = ", ".join(f"{states.count(s)} {s}" for s in ("sent", "queued", "failed", "check") if s in states)
    hint = " (may have been sent; see mailroom outbox list)" if "check" in states else ""
    print(f"mailroom: outbox: {counts}{hint}", file=sys.stderr, flush=True)


def start_delivery(ctx: Context) -> DeliveryLoop:
    """A running thread that delivers the outbox while `mailroom sync` runs (stop it, then join it)."""
    from store.delivery import DeliveryLoop

    loop = DeliveryLoop(ctx.store, ctx.secrets, on_report=report_drain)
    loop.start()
    return loop
