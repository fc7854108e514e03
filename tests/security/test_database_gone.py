"""The local database deleted or replaced by another file while a sync runs.

SQLite keeps writing to the open file whatever happened to its name: to a deleted inode no later start
sees, or past a file someone put in its place. The store compares the path's file with the one it opened
at every transaction, stops with a clear error, and touches nothing on the server; the next start with an
empty database loads everything again.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from store.errors import DatabaseGone
from store.sync.engine import SyncOptions
from store.sync.events import FolderProgress
from tests.security.conftest import TODAY, make_box_env
from tests.security.faults import assert_exactly, fault_mailbox, integrity, serve, server_messages

READ_ONLY = {"CAPABILITY", "LOGIN", "AUTHENTICATE", "ENABLE", "ID", "NOOP", "LIST", "LSUB", "STATUS",
             "EXAMINE", "UID FETCH", "UID SEARCH", "CLOSE", "UNSELECT", "LOGOUT"}  # fmt: skip


def sync_with(env, when, phase="headers", workers=0):  # noqa: ANN001, ANN201
    """Sync once, calling *when* at the first progress of *phase* ('headers' or 'bodies')."""
    fired = []

    def progress(event: object) -> None:
        if isinstance(event, FolderProgress) and event.phase == phase and not fired:
            fired.append(event)
            when()

    opts = SyncOptions(retry_delays=(), today=TODAY, timeout=5.0, workers=workers, body_window_count=2)
    summary = env.store.sync.run(env.store.mailboxes.get(env.admin, env.box.id), env.secrets, progress, opts)
    assert fired, f"the sync never reported {phase}"
    return summary


def commands(server) -> set[str]:  # noqa: ANN001
    return {name for t in server.wait(len(server.transcripts)) for name in t.names()}


@pytest.mark.parametrize(
    "phase,workers", [("headers", 0), ("bodies", 1)], ids=["in-headers", "in-bodies-with-a-helper"]
)
def test_database_deleted_during_a_sync(hostile, pki, tmp_path: Path, phase, workers):
    box = fault_mailbox(12, 2000, ("INBOX", "Archive"))
    server = serve(hostile, pki, box)
    env = make_box_env(tmp_path, server.port, pki.ca_file)
    path = env.store.path
    summary = sync_with(env, lambda: os.unlink(path), phase, workers)
    assert not summary.ok
    assert summary.error_kind == "database", (summary.error_kind, summary.error)
    assert "deleted" in summary.error and str(path) in summary.error, summary.error
    with pytest.raises(DatabaseGone):  # the app cannot go on using the deleted file unawares
        env.store.mailboxes.get(env.admin, env.box.id)
    env.store.close()
    assert not path.exists(), "something recreated the deleted database"
    assert commands(server) <= READ_ONLY, f"the server was changed: {commands(server) - READ_ONLY}"

    # The next start, at the same path: a new, empty database (what the old WAL held must not leak in).
    again = make_box_env(tmp_path, server.port, pki.ca_file)
    try:
        assert again.sync().ok
        assert_exactly(again, server_messages(box))
        assert integrity(path) == "ok"
    finally:
        again.store.close()
    assert sum(len(f.messages) for f in box.folders.values()) == 12, "a message left the server"


def test_database_replaced_during_a_sync(hostile, pki, tmp_path: Path):
    box = fault_mailbox(12, 2000, ("INBOX", "Archive"))
    server = serve(hostile, pki, box)
    env = make_box_env(tmp_path, server.port, pki.ca_file)
    path = env.store.path
    backup = tmp_path / "backup.db"
    with sqlite3.connect(path) as conn:  # a consistent copy, as a user restoring a backup would have
        conn.execute("VACUUM INTO ?", (str(backup),))

    def put_back() -> None:
        shutil.copyfile(backup, tmp_path / "restoring.db")
        os.replace(tmp_path / "restoring.db", path)

    summary = sync_with(env, put_back)
    assert not summary.ok
    assert summary.error_kind == "database", (summary.error_kind, summary.error)
    assert "replaced" in summary.error and str(path) in summary.error, summary.error
    with pytest.raises(DatabaseGone):
        env.store.messages.count(env.admin)
    env.store.close()
    assert commands(server) <= READ_ONLY, f"the server was changed: {commands(server) - READ_ONLY}"
    # The file put in place is untouched: sound, and none of the sync's writes went into it.
    assert integrity(path) == "ok"
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM messages").fetchone() == (0,)


def test_headless_sync_stops_when_its_database_is_deleted(hostile, pki, tmp_path: Path):
    """`mailroom sync` runs the Scheduler: it must end with the error (the CLI prints a StoreError and exits
    1), not go on syncing into a deleted file."""
    import threading

    from store.sync.scheduler import Scheduler

    server = serve(hostile, pki, fault_mailbox(4, 2000))
    env = make_box_env(tmp_path, server.port, pki.ca_file)
    synced = threading.Event()
    opts = SyncOptions(retry_delays=(), today=TODAY, timeout=5.0, workers=0)
    scheduler = Scheduler(env.store, env.secrets, opts, interval_minutes=60, idle=False,
                          on_summary=lambda s: synced.set())  # fmt: skip
    ended: list[BaseException | None] = []

    def run() -> None:
        try:
            scheduler.run()
            ended.append(None)
        except BaseException as exc:  # noqa: BLE001 - what the CLI would see
            ended.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        assert synced.wait(30), "the scheduler never synced"
        os.unlink(env.store.path)
        thread.join(15)
        assert not thread.is_alive(), "the scheduler goes on after its database was deleted"
        assert ended and isinstance(ended[0], DatabaseGone), ended
        assert "deleted" in str(ended[0])
    finally:
        scheduler.stop()
        thread.join(10)
        env.store.close()


def test_a_connection_opened_after_the_deletion_leaves_no_empty_database(tmp_path: Path):
    """The app's pool opens connections lazily; one opened after the file was deleted must not create a new,
    empty database at the path (the next start would take it for a fresh install)."""
    from store import db

    path = tmp_path / "data dir" / "mail #1.db"
    engine = db.make_engine(path)
    with db.write(engine) as conn:
        conn.exec_driver_sql("CREATE TABLE t (x)")
    engine.dispose()  # the pool is empty: the next use opens a new connection
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        name.unlink(missing_ok=True)
    with pytest.raises(DatabaseGone, match="deleted"), db.read(engine):
        pass
    with pytest.raises(DatabaseGone, match="deleted"):
        db.connect(path)
    assert not path.exists()
