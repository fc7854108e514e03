"""A body-phase helper process: its own IMAP connection and database connection, fed windows of UIDs.

The parent sends small jobs (folder, UIDVALIDITY, message ids and UIDs) over a pipe and gets counts back;
the message bytes never cross the pipe. Started as `python -m store.sync.worker`, it imports only what it
needs (no SQLAlchemy, no UI), so it stays small. It exits when its input closes, e.g. when the parent dies.
"""

from __future__ import annotations

import os
import pickle
import queue
import select
import sqlite3
import struct
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, BinaryIO

_LEN = struct.Struct("!I")


def send(stream: BinaryIO, obj: object) -> None:
    """Write one length-prefixed pickled message."""
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_LEN.pack(len(data)) + data)
    stream.flush()


def recv(stream: BinaryIO) -> Any:
    """Read one message, or None at end of input."""
    head = stream.read(_LEN.size)
    if len(head) < _LEN.size:
        return None
    (size,) = _LEN.unpack(head)
    data = stream.read(size)
    if len(data) < size:
        return None
    return pickle.loads(data)


class LaneError(ConnectionError):
    """The helper process failed a window; the sync retries as after any network error."""


class WorkerLane:
    """The parent's handle on one helper process."""

    def __init__(self, config: dict[str, Any]) -> None:
        root = str(Path(__file__).resolve().parents[2])
        env = {
            # glibc raises its mmap threshold to the largest buffer freed so far, after which a window's big
            # buffers come from the heap and stay there; a fixed threshold gives them back when freed
            # (the helper's peak RSS: 37 instead of 39-41 MB, 10,000-message first load)
            "MALLOC_MMAP_THRESHOLD_": "262144",
            **os.environ,
            "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p),
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "store.sync.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            cwd=root,
        )
        self.pending = 0
        send(self.proc.stdin, config)

    def submit(self, job: tuple) -> None:
        """Queue one window: ('bodies', folder, uidvalidity, [(message_id, uid, size), ...])."""
        send(self.proc.stdin, job)
        self.pending += 1

    def ready(self) -> bool:
        """Whether a result can be read without waiting."""
        return bool(select.select([self.proc.stdout], [], [], 0)[0])

    def result(self) -> tuple[int, int]:
        """Wait for the next finished window: (messages stored, bytes fetched)."""
        reply = recv(self.proc.stdout)
        self.pending -= 1
        if reply is None:
            raise LaneError("the body helper process ended unexpectedly")
        if reply[0] == "error":
            if reply[1]:
                raise LaneError(reply[2])
            raise RuntimeError(reply[2])
        return reply[1], reply[2]

    def close(self) -> None:
        """Stop the helper (it finishes nothing further) and reap it."""
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()


class _Secret(str):
    """The password as store.net takes it (reveal()) and store.secrets.redact masks it (a str), shown masked.

    Not store.secrets.Secret: importing that module (keyring, cryptography) would cost the helper about
    60 ms and 10 MB. The parent redacts the helper's error texts again with its own Secret."""

    __slots__ = ()

    def reveal(self) -> str:
        return str.__str__(self)

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)


class _Inline:
    """Stands in for the storer's queue in serial mode: what is put is handled at once, by the caller."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle

    def put(self, item: tuple[str, Any] | None) -> None:
        if item is not None:
            self.handle(*item)


def _connect_db(path: str) -> sqlite3.Connection:
    from urllib.parse import quote

    # mode=rw: never create the file (it may have been deleted since the parent opened it)
    uri = f"file:{quote(path)}?mode=rw"
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 15000")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA synchronous = NORMAL")
    return conn


def main() -> None:
    """Serve windows until the parent closes the pipe."""
    from store.net import Endpoint, imap_login
    from store.sync import writer
    from store.sync.bodies import check_whole
    from store.sync.engine import _is_transient
    from store.sync.imap import Session, uid_set
    from store.sync.packs import PackWriter
    from store.sync.parse import process_batch

    inp, out = sys.stdin.buffer, sys.stdout.buffer
    cfg = recv(inp)
    if cfg is None:
        return
    conn = _connect_db(cfg["db"])
    notes = _connect_db(cfg["db"])  # this thread's own, for check_whole's notes: the storer uses conn
    packs = PackWriter(cfg["db"])  # a pack file of its own, locked while this process lives
    # Fetching (this thread) overlaps parsing and storing (the storer thread), which alone replies, so
    # replies keep the order of the jobs; a fetch's own failure or skip is queued as a ready reply.
    work: queue.Queue[tuple[str, Any] | None] = queue.Queue(1)

    def handle(kind: str, payload: Any) -> None:
        if kind == "reply":
            send(out, payload)
            return
        uids, raws = payload
        del payload
        try:
            parsed = process_batch([(uids[uid], raw) for uid, raw in raws.items() if uid in uids])
            stored = writer.store_bodies(conn, parsed, packs=packs)
            send(out, ("done", stored, sum(len(r) for r in raws.values())))
        except Exception as exc:  # noqa: BLE001 - reported to the parent, which decides
            send(out, ("error", _is_transient(exc), f"{type(exc).__name__}: {exc}"))

    def store_loop() -> None:
        while (item := work.get()) is not None:
            handle(*item)
            del item

    storer: threading.Thread | None = None
    if cfg.get("serial"):
        # One window at a time, fetched, then parsed and stored, in this thread: half the memory of the
        # overlapped way, for a helper that only uses what the parent leaves idle (early.EarlyLane).
        work = _Inline(handle)  # type: ignore[assignment]
    else:
        storer = threading.Thread(target=store_loop, name="mailroom-helper-storer", daemon=True)
        storer.start()
    session: Session | None = None
    validity = 0  # the UIDVALIDITY of the folder the session selected, as that SELECT reported it
    while True:
        job = recv(inp)
        if job is None:
            break
        _, folder, uidvalidity, items = job
        try:
            if session is None:
                client = imap_login(
                    Endpoint(**cfg["endpoint"]),
                    cfg["login"],
                    _Secret(cfg["password"]),
                    timeout=cfg["timeout"],
                )
                session = Session(client, cfg["condstore"], cfg["qresync"])
            if session.selected != folder:
                validity = session.select(folder).uidvalidity
            if validity != uidvalidity:  # every window of a recreated folder: its UIDs name other mail now
                work.put(("reply", ("done", 0, 0)))
                continue
            uids = {uid: mid for mid, uid, _ in items}
            raws = session.fetch_bodies(uid_set(uids))
            check_whole(raws, {uid: size for _, uid, size in items}, notes, uids)
            work.put(("bodies", (uids, raws)))
            del raws
        except Exception as exc:  # noqa: BLE001 - reported to the parent, which decides
            work.put(("reply", ("error", _is_transient(exc), f"{type(exc).__name__}: {exc}")))
            if session is not None:
                session.close()
                session = None
    work.put(None)
    if storer is not None:
        storer.join()
    if session is not None:
        session.close()
    packs.close()
    conn.close()
    notes.close()


if __name__ == "__main__":
    main()
