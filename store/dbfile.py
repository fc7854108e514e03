"""Which file an open SQLite connection works on, and whether a failure means the disk is full.

Kept apart from store/db.py so the sync's helper process (plain sqlite3, no SQLAlchemy) can use it."""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
from pathlib import Path

from store.errors import DatabaseGone, DiskFull

# Which file each open SQLite connection was opened on, (path, st_dev, st_ino), keyed by id(connection):
# a write to a file that was deleted or replaced meanwhile would go nowhere a later start can see.
OPENED: dict[int, tuple[str, int, int]] = {}


def file_identity(path: str | Path) -> tuple[int, int] | None:
    """(st_dev, st_ino) of the file at *path*, or None when there is none."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


def check_file(conn: sqlite3.Connection) -> None:
    """Raise DatabaseGone unless the file at the connection's path is still the one it opened.

    Connections of `make_engine` know their file; any other (a helper process's) learns it at its first
    check. Costs one stat."""
    known = OPENED.get(id(conn))
    if known is None:
        path = _main_path(conn)
        if not path:
            return  # an in-memory database
        ident = file_identity(path)
        if ident is None:
            _empty_wal(conn)
            raise DatabaseGone(path, replaced=False)
        OPENED[id(conn)] = known = (path, *ident)
    path, dev, ino = known
    now = file_identity(path)
    if now != (dev, ino):
        actual = _main_path(conn)
        if actual and os.path.realpath(actual) != os.path.realpath(path):
            del OPENED[id(conn)]  # another connection, reusing the id of a closed one: learn its file
            return check_file(conn)
        _empty_wal(conn)
        raise DatabaseGone(path, replaced=now is not None)


def _main_path(conn: sqlite3.Connection) -> str:
    """The file of the connection's main database ('' in memory)."""
    return next((row[2] for row in conn.execute("PRAGMA database_list") if row[1] == "main"), "")


def _empty_wal(conn: sqlite3.Connection) -> None:
    """Move what our WAL holds into the file we opened and empty the WAL.

    The WAL is found by name (`<path>-wal`): left full, it would be read as the WAL of whatever file is at
    the path now, or of a new database created there, and corrupt it. SQLite itself does not checkpoint
    (nor remove the WAL) when it closes a file that has moved."""
    try:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except sqlite3.Error:
        pass


def is_disk_full(exc: BaseException) -> bool:
    """Whether *exc* or what it arose from (SQLite's error, SQLAlchemy's wrapper, an OSError, a helper
    process's text) says the disk is full."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, DiskFull):
            return True
        if isinstance(e, sqlite3.Error) and getattr(e, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
            return True
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if "database or disk is full" in str(e) or "Disk full: could not write" in str(e):
            return True  # SQLite's words or DiskFull's (a pack file), as a helper process reports them
        todo += [getattr(e, "orig", None), e.__cause__, e.__context__]
    return False


def disk_full(path: str | Path) -> DiskFull:
    """The DiskFull error for the database at *path*, with the room left on its disk."""
    try:
        free: int | None = shutil.disk_usage(Path(path).parent).free
    except OSError:
        free = None
    return DiskFull(path, free)
