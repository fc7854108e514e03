#!/usr/bin/env python3
"""Message list benchmark: the panel over 100,000 stored messages, driven with Pilot at 120x36.

    .venv/bin/python benchmarks/tui_list_bench.py                      # 100,000 messages, 200 page-downs
    .venv/bin/python benchmarks/tui_list_bench.py --messages 20000 --pages 50

Inserts the messages through the store's tables (one transaction), then times: the store's queries the list
uses (count, a page by offset deep in the list, a page by keyset; median CPU time of the calling thread and
wall time of 5 runs), opening the app until the first rows show, page-down through the list (each step
until every row on screen is read and drawn), a jump to the oldest message, and switching to "All mailboxes".
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from store.service import open_store  # noqa: E402
from tests.snapshots.conftest import SNAP_SIZE, add_mailbox, fixed_clock, make_settings  # noqa: E402
from tests.tui.mail_support import SNAP_NOW, Mail, insert_mail  # noqa: E402
from tui.app import create_app  # noqa: E402
from tui.widgets.message_list import MessageList  # noqa: E402

FOLDERS = ("INBOX", "Archive", "Sent", "Clients/Acme")


def generate(count: int, start: int = 0) -> list[Mail]:
    """*count* messages, one a minute back from the fixed now, spread over a few folders."""
    return [
        Mail(
            f"Subject number {n} about order {n * 7 % 10_000}",
            f"Sender {n % 977}",
            f"s{n % 977}@example.test",
            SNAP_NOW - timedelta(minutes=n),
            "\\Seen" if n % 3 else "",
            folder=FOLDERS[n % len(FOLDERS)],
        )
        for n in range(start, start + count)
    ]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def time_queries(store, actor, box_id: int, total: int) -> None:  # noqa: ANN001
    def clock(label: str, call) -> None:  # noqa: ANN001
        walls, cpus = [], []
        for _ in range(5):
            t0, c0 = time.perf_counter(), time.thread_time()
            call()
            cpus.append(time.thread_time() - c0)
            walls.append(time.perf_counter() - t0)
        cpu, wall = ms(statistics.median(cpus)), ms(statistics.median(walls))
        print(f"  {label:<44} median CPU {cpu:>9}, wall {wall:>9}")

    page = store.messages.list(actor, box_id, limit=100, offset=total // 2)
    print("store queries:")
    clock("count (one mailbox)", lambda: store.messages.count(actor, box_id))
    clock("count (all mailboxes)", lambda: store.messages.count(actor))
    clock("page at the top", lambda: store.messages.list(actor, box_id, limit=100))
    clock("page by offset, middle", lambda: store.messages.list(actor, box_id, limit=100, offset=total // 2))
    clock("page by offset, end", lambda: store.messages.list(actor, box_id, limit=100, offset=total - 100))
    key = (page[-1].sent_at, page[-1].location_id)
    clock("page by keyset, middle", lambda: store.messages.list(actor, box_id, limit=100, before=key))
    clock("page at the top (all mailboxes)", lambda: store.messages.list(actor, limit=100))
    clock("page by keyset, middle (all mailboxes)", lambda: store.messages.list(actor, limit=100, before=key))
    middle = total // 2
    clock(
        "page by offset, middle (all mailboxes)", lambda: store.messages.list(actor, limit=100, offset=middle)
    )
    clock("count (one folder)", lambda: store.messages.count(actor, box_id, "INBOX"))


class Frames:
    """Records when the app composes a frame (headless apps compose them but write nothing)."""

    def __init__(self, app) -> None:  # noqa: ANN001
        self.times: list[float] = []
        display = app._display

        def record(screen, renderable) -> None:  # noqa: ANN001
            if renderable is not None:
                self.times.append(time.perf_counter())
            display(screen, renderable)

        app._display = record


async def until_drawn(pilot, lst: MessageList) -> None:  # noqa: ANN001
    """Wait until every row on screen is read and the screen has caught up."""
    while True:
        await pilot.pause()
        top, height = int(lst.scroll_y), lst.scrollable_content_region.height
        if lst.loaded and all(lst.row_at(i) for i in range(top, min(lst.total, top + height))):
            await pilot.pause()
            return
        await asyncio.sleep(0.001)


async def step(pilot, lst: MessageList, frames: Frames, key: str) -> tuple[float, float, float]:  # noqa: ANN001
    """Press *key*; return (key to the last frame of the step, the whole Pilot round trip, the process's CPU
    time for the round trip, every thread counted)."""
    t0, c0 = time.perf_counter(), time.process_time()
    await pilot.press(key)
    await until_drawn(pilot, lst)
    done, cpu = time.perf_counter(), time.process_time() - c0
    drawn = max((t for t in frames.times if t >= t0), default=t0)
    return drawn - t0, done - t0, cpu


def report(label: str, runs: list[tuple[float, float, float]]) -> None:
    app_side = sorted(r[0] for r in runs)
    pilot = sorted(r[1] for r in runs)
    cpu = statistics.median(r[2] for r in runs)
    p95 = app_side[max(0, int(len(app_side) * 0.95) - 1)]
    print(
        f"{label}: key to frame median {ms(statistics.median(app_side))}, p95 {ms(p95)}, "
        f"max {ms(app_side[-1])} (Pilot round trip median {ms(statistics.median(pilot))}, CPU {ms(cpu)})"
    )


async def drive(app, pages: int) -> None:  # noqa: ANN001
    t0 = time.perf_counter()
    async with app.run_test(size=SNAP_SIZE) as pilot:
        frames = Frames(app)
        lst = app.screen.query_one(MessageList)
        await until_drawn(pilot, lst)
        print(
            f"open the app until the first rows show: {ms(time.perf_counter() - t0)} "
            f"({lst.total:,} messages in the list)"
        )
        lst.focus()
        await pilot.pause()
        report(f"page-down x{pages}", [await step(pilot, lst, frames, "pagedown") for _ in range(pages)])
        print(f"  cursor now at row {lst.cursor:,}")
        report("page-up x20", [await step(pilot, lst, frames, "pageup") for _ in range(20)])
        report("down x50", [await step(pilot, lst, frames, "down") for _ in range(50)])
        report("end (jump to the oldest)", [await step(pilot, lst, frames, "end")])
        report("page-up from the end x20", [await step(pilot, lst, frames, "pageup") for _ in range(20)])
        report("home (back to the newest)", [await step(pilot, lst, frames, "home")])
        app.screen.query_one("#mailbox-list").focus()
        await pilot.pause()
        report("switch to All mailboxes", [await step(pilot, lst, frames, "up")])
        lst.focus()
        runs = [await step(pilot, lst, frames, "pagedown") for _ in range(min(pages, 50))]
        report(f"page-down in All mailboxes ({lst.total:,}) x{len(runs)}", runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--pages", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mailroom-list-bench-") as tmp_name:
        tmp = Path(tmp_name)
        store = open_store(tmp / "m.db", clock=fixed_clock)
        alice = store.identity.actor("alice")
        box_id = add_mailbox(store, alice, "alice@gmail.com", synced_ago=timedelta(minutes=5))
        other_id = add_mailbox(store, alice, "sales@acme.example", synced_ago=timedelta(minutes=5))
        t0 = time.perf_counter()
        insert_mail(store, box_id, generate(args.messages))
        insert_mail(store, other_id, generate(1000, start=args.messages))
        print(f"inserted {args.messages:,} + 1,000 messages in {time.perf_counter() - t0:.1f} s")
        time_queries(store, alice, box_id, args.messages)
        app = create_app(make_settings(tmp), store, alice, clock=fixed_clock)
        app.sync_runner.auto_load = False
        asyncio.run(drive(app, args.pages))
        store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
