"""`mailroom sync`: load mail headless, as a foreground scheduler (systemd, tmux) or once."""

from __future__ import annotations

import argparse
import json
import sys

from tui.cli.common import CliError, Context, add_json_flag, command, emit


def register(sub: argparse._SubParsersAction) -> None:
    """Add the sync command."""
    p = command(sub, "sync", _sync, "load mail of every mailbox with automatic loading on, until stopped")
    p.add_argument("--once", action="store_true", help="load once and exit with a summary")
    p.add_argument(
        "--mailbox", metavar="EMAIL", help="only this mailbox (with --once: even if it needs attention)"
    )
    p.add_argument("--no-idle", action="store_true", help="do not hold IDLE connections for prompt new mail")
    add_json_flag(p)
    p.set_defaults(needs_user=False)


def _sync(ctx: Context) -> int:
    if ctx.args.once:
        return _once(ctx)
    from store.sync.engine import mailbox_by_email
    from store.sync.scheduler import Scheduler, describe

    store, args = ctx.store, ctx.args
    only = mailbox_by_email(store, args.mailbox).id if args.mailbox else None

    def report(summary) -> None:  # noqa: ANN001 - a SyncSummary
        if only is not None and summary.mailbox_id != only:
            return
        if args.json:
            print(json.dumps(summary.as_dict(), ensure_ascii=False, default=str), flush=True)
        else:
            row = describe(summary)
            state = "ok" if row["ok"] else f"failed: {row['error']}"
            print(
                f"{row['mailbox']}: {row['new']} new, {row['bodies']} bodies, {row['flags']} flag changes, "
                f"{row['expunged']} removed in {row['seconds']:.2f} s — {state}",
                flush=True,
            )

    scheduler = Scheduler(
        store,
        ctx.secrets,
        idle=not args.no_idle,
        on_summary=report,
        only={only} if only is not None else None,
    )
    _on_signals(scheduler.stop)
    print(
        f"mailroom sync: loading mail every {scheduler.interval_seconds() / 60:g} min; "
        "stop with Ctrl+C or SIGTERM.",
        file=sys.stderr,
        flush=True,
    )
    from tui.cli.send import start_delivery

    delivery = start_delivery(ctx)  # the outbox is delivered while the scheduler loads mail
    scheduler.run()
    delivery.stop()
    delivery.join(60)
    return 0


def _once(ctx: Context) -> int:
    from store.lite import LiteStore
    from store.sync.engine import NEEDS_ATTENTION, mailbox_by_email

    store, args = ctx.sync_store, ctx.args
    if not isinstance(store, LiteStore) or not store.outbox_idle():
        from tui.cli.send import report_drain

        # First, so this sync already loads the Sent copies; the full store, since it sends mail.
        report_drain(ctx.store.outbox.drain(ctx.secrets))
    if args.mailbox:
        boxes = [mailbox_by_email(store, args.mailbox)]
    else:
        boxes = store.mailboxes.all_for_sync()
    summaries = []
    for box in boxes:
        if box.status == NEEDS_ATTENTION and not args.mailbox:
            from store.sync.events import SyncSummary

            summaries.append(
                SyncSummary(
                    box.id,
                    box.email,
                    ok=False,
                    error_kind="auth",
                    error=f"needs attention, skipped: {box.status_reason}",
                )
            )
            continue
        summaries.append(store.sync.run(box, ctx.secrets))
    if args.json:
        json.dump([s.as_dict() for s in summaries], sys.stdout, ensure_ascii=False, indent=2, default=str)
        sys.stdout.write("\n")
    else:
        from store.sync.scheduler import describe

        emit(
            ctx,
            [describe(s) for s in summaries],
            ["mailbox", "ok", "new", "bodies", "flags", "expunged", "seconds", "error"],
            "No mailboxes to sync.",
        )
    failed = [s for s in summaries if not s.ok]
    if failed and not args.json:
        raise CliError(f"{len(failed)} of {len(summaries)} mailboxes failed to sync.")
    return 1 if failed else 0


def _on_signals(stop) -> None:  # noqa: ANN001 - a callable
    import signal

    def handler(_sig: int, _frame: object) -> None:
        stop()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
