"""The body phase in one process: fetching, parsing and storing of UID windows overlap.

Three threads, each handing whole windows to the next through a queue of one:

- the calling thread talks IMAP: while it reads window k, the FETCH of window k+1 (same folder) is
  already with the server, so the server never waits for our next command between windows, and reads and
  encrypts mail while we work; reading a socket releases the GIL, so most of its time overlaps parsing;
- a parser thread turns raw messages into text and attachment metadata (pure Python, holds the GIL);
- a writer thread compresses the raw bytes, appends them to a pack file (packs.py) and stores each
  window's rows in one transaction on a database connection of its own (zstd, file writes and SQLite
  release the GIL).

A second Python process would parse in parallel but cost some 50 MB more. The queues bound memory to
about five windows.

Crash safety is that of the window loop it replaces: a window is stored whole in one transaction or not at
all, and the first error of any thread stops all of them and is raised to the engine, which retries.
"""

from __future__ import annotations

import queue
import sqlite3
import threading
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from store.db import BUSY_TIMEOUT_MS
from store.dbfile import OPENED
from store.sync import writer
from store.sync.codec import compress_many
from store.sync.imap import uid_set
from store.sync.packs import PackWriter
from store.sync.parse import Body, Parsed, parse_body

if TYPE_CHECKING:
    from store.sync.engine import Run

Window = list[writer.BodyJob]
Progress = Callable[[Window, int], None]
DEPTH = 2  # FETCHes in flight: while window k is read, k+1 is asked for (3 measured no better)


class _Writer(threading.Thread):
    """Compresses and stores parsed windows, one transaction each, on its own connection."""

    def __init__(self, path: Path, identity: tuple[str, int, int] | None) -> None:
        super().__init__(name="mailroom-body-writer", daemon=True)
        self.path = path
        self.identity = identity  # the file the caller's connection opened (store/dbfile.py)
        self.inbox: queue.Queue[tuple[Window, list[tuple[int, bytes, Body]]] | None] = queue.Queue(1)
        self.stored: queue.Queue[tuple[Window, int]] = queue.Queue()
        self.error: BaseException | None = None

    def run(self) -> None:
        conn = None
        packs = PackWriter(self.path)
        try:
            conn = _connect(self.path, self.identity)
        except BaseException as exc:  # noqa: BLE001 - handed to the calling thread
            self.error = exc
        try:
            while (item := self.inbox.get()) is not None:
                if self.error is not None:
                    continue  # drain what is queued after a failure; the caller stops feeding
                window, items = item
                try:
                    frames = compress_many([raw for _, raw, _ in items])  # one GIL release
                    parsed = [
                        Parsed(mid, b.text, tuple(b.attachments), "; ".join(b.problems), chunks)
                        for (mid, _, b), chunks in zip(items, frames, strict=True)
                    ]
                    del items, item
                    self.stored.put((window, writer.store_bodies(conn, parsed, packs=packs)))
                except BaseException as exc:  # noqa: BLE001 - handed to the calling thread
                    self.error = exc
        finally:
            packs.close()
            if conn is not None:
                OPENED.pop(id(conn), None)
                conn.close()


class _Parser(threading.Thread):
    """Parses fetched windows (raw messages by UID) and hands them to the writer."""

    def __init__(self, out: _Writer) -> None:
        super().__init__(name="mailroom-body-parser", daemon=True)
        self.out = out
        self.inbox: queue.Queue[tuple[Window, dict[int, bytes]] | None] = queue.Queue(1)
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while (item := self.inbox.get()) is not None:
                if self.error is not None or self.out.error is not None:
                    continue  # drain what is queued after a failure; the caller stops feeding
                window, raws = item
                del item
                try:
                    by_uid = {j.uid: j.message_id for j in window}
                    items = [
                        (by_uid[uid], raw, parse_body(raw)) for uid, raw in raws.items() if uid in by_uid
                    ]
                    del raws
                    self.out.inbox.put((window, items))
                    del items
                except BaseException as exc:  # noqa: BLE001 - handed to the calling thread
                    self.error = exc
        finally:
            self.out.inbox.put(None)


def _connect(path: Path, identity: tuple[str, int, int] | None) -> sqlite3.Connection:
    """A connection to the file the sync's own connection opened: mode=rw never creates a deleted
    database again, and writer.tx compares the file with *identity* before every window."""
    uri = f"file:{quote(str(path))}?mode=rw"
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    if identity is not None:
        OPENED[id(conn)] = identity
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA synchronous = NORMAL")
    return conn


def load_windows(
    run: Run,
    rows: dict[int, writer.FolderRow],
    windows: Iterator[Window],
    progress: Progress,
    select: Callable[[Run, writer.FolderRow], bool],
) -> None:
    """Fetch, parse and store every window of *windows* (each within one folder of *rows*)."""
    from store.sync.bodies import check_whole

    session = run.session
    out = _Writer(run.store.path, OPENED.get(id(run.conn)))
    out.start()
    cut = _Parser(out)
    cut.start()

    def report() -> None:
        while True:
            try:
                window, stored = out.stored.get_nowait()
            except queue.Empty:
                break
            progress(window, stored)
        if out.error is not None:
            raise out.error
        if cut.error is not None:
            raise cut.error

    inflight: deque[tuple[Window, str]] = deque()
    ahead: list[Window] = []  # the next window, taken from *windows* but not asked for yet
    stash: dict[int, bytes] = {}  # messages read, by UID, whose window is not read yet

    def ask() -> None:
        """Keep DEPTH FETCHes in flight, so the server never waits for our next command; a window of
        another folder waits until the answers in flight are read (its SELECT must not overtake them)."""
        while len(inflight) < DEPTH:
            if not ahead:
                nxt = next(windows, None)
                if nxt is None:
                    return
                ahead.append(nxt)
            window = ahead[0]
            if inflight and inflight[-1][0][0].folder_id != window[0].folder_id:
                return
            ahead.pop()
            if not inflight and not select(run, rows[window[0].folder_id]):
                progress(window, 0)  # a changed UIDVALIDITY: the next sync resets the folder
                continue
            inflight.append((window, session.send_bodies(uid_set(j.uid for j in window))))

    try:
        ask()
        while inflight:
            window, tag = inflight.popleft()
            # The server may run the FETCHes in flight side by side (Dovecot does), so an answer read up
            # to this tag can hold messages of the next window and miss some of this one that an
            # earlier read took: every message is matched to its window by UID.
            stash.update(session.read_bodies(tag))
            sizes = {j.uid: j.size for j in window}
            raws = {uid: stash.pop(uid) for uid in sizes if uid in stash}
            if stash:  # keep only messages of windows still in flight (UIDs name other mail elsewhere)
                wanted = {j.uid for w, _ in inflight for j in w}
                for uid in [u for u in stash if u not in wanted]:
                    del stash[uid]
            check_whole(raws, sizes, run.conn, {j.uid: j.message_id for j in window})
            ask()  # the server prepares the next windows while this one is parsed
            run.summary.bytes += sum(map(len, raws.values()))
            report()
            cut.inbox.put((window, raws))
            del raws
        cut.inbox.put(None)
        cut.join()
        out.join()
        report()
    finally:
        if cut.is_alive() or out.is_alive():
            out.error = out.error or RuntimeError("stopped")  # drop what is queued, store nothing more
            cut.error = cut.error or out.error
            cut.inbox.put(None)
            cut.join()
            out.join()
