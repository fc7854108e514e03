"""SQLite engine for the store: WAL, foreign keys, busy timeout and one writer at a time.

SQLAlchemy is imported when an engine is made, not with this module: `connect` gives a plain sqlite3
connection set up the same way (the headless sync's store/lite.py uses it)."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from store.dbfile import OPENED, check_file, disk_full, file_identity, is_disk_full
from store.errors import DatabaseGone

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

BUSY_TIMEOUT_MS = 15_000


def _prepare_file(path: Path) -> None:
    """Create the database's folder 0700 and the file 0600 before SQLite opens it."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
        os.close(fd)
    os.chmod(path, 0o600)


def _rw_uri(path: Path) -> str:
    """An SQLite URI that opens the existing file read-write and never creates one: a connection opened after
    the file was deleted fails (DatabaseGone) instead of leaving an empty database at the path."""
    from urllib.parse import quote

    return f"file:{quote(str(path))}?mode=rw"


def _open(path: Path) -> sqlite3.Connection:
    """Open the existing file read-write; a file that is gone is DatabaseGone, not a new empty database."""
    try:
        return sqlite3.connect(_rw_uri(path), uri=True, check_same_thread=False)
    except sqlite3.OperationalError:
        if file_identity(path) is None:
            raise DatabaseGone(path, replaced=False) from None
        raise


def _on_connect(ident: tuple[str, int, int], dbapi_conn: sqlite3.Connection, _record: object) -> None:
    """Turn on the pragmas every connection needs and let us issue BEGIN ourselves."""
    _configure(ident, dbapi_conn)


def _configure(ident: tuple[str, int, int], dbapi_conn: sqlite3.Connection) -> None:
    path, dev, ino = ident
    now = file_identity(path)
    if now != (dev, ino):
        dbapi_conn.close()
        raise DatabaseGone(path, replaced=now is not None)
    OPENED[id(dbapi_conn)] = ident
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA journal_mode = WAL")
    cur.execute("PRAGMA foreign_keys = ON")
    cur.execute("PRAGMA synchronous = NORMAL")
    cur.execute("PRAGMA temp_store = MEMORY")  # sorts and the CRM triggers' temp tables stay off the disk
    cur.close()


def _on_begin(conn: Connection) -> None:
    """Start every transaction as BEGIN IMMEDIATE or DEFERRED, as the caller asked, on the file opened."""
    check_file(conn.connection.driver_connection)
    mode = conn.info.get("begin", "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")


def _on_error(path: Path, context: object) -> BaseException | None:
    """A full disk becomes DiskFull naming the file, whatever statement hit it."""
    original = getattr(context, "original_exception", None)
    if original is not None and is_disk_full(original):
        return disk_full(path)
    return None


def connect(path: Path) -> sqlite3.Connection:
    """A plain sqlite3 connection to the existing file at *path*, set up as the engine's connections are
    (pragmas, autocommit so callers issue BEGIN themselves, the file's identity for `check_file`)."""
    dev, ino = file_identity(path) or (0, 0)
    old_umask = os.umask(0o077)
    try:
        conn = _open(path)
        _configure((str(path), dev, ino), conn)
    finally:
        os.umask(old_umask)
    return conn


def make_engine(path: Path) -> Engine:
    """Open the SQLite file at *path* (created 0600 in a 0700 folder)."""
    from sqlalchemy import create_engine, event

    _prepare_file(path)
    dev, ino = file_identity(path) or (0, 0)
    old_umask = os.umask(0o077)  # the -wal and -shm files SQLite creates are private too
    try:
        engine = create_engine(
            f"sqlite:///{path}",  # names the file for SQLAlchemy's pool choice; `creator` opens it
            creator=partial(_open, path),
            pool_size=4,
            max_overflow=8,
        )
        event.listen(engine, "connect", partial(_on_connect, (str(path), dev, ino)))
        event.listen(engine, "begin", _on_begin)
        event.listen(engine, "handle_error", partial(_on_error, path))
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    finally:
        os.umask(old_umask)
    return engine


@contextmanager
def write(engine: Engine) -> Iterator[Connection]:
    """A write transaction that takes SQLite's write lock at once (BEGIN IMMEDIATE)."""
    with engine.connect() as conn:
        conn.info["begin"] = "IMMEDIATE"
        with conn.begin():
            yield conn


@contextmanager
def read(engine: Engine) -> Iterator[Connection]:
    """A read transaction that sees one consistent snapshot."""
    with engine.connect() as conn:
        conn.info["begin"] = "DEFERRED"
        with conn.begin():
            yield conn
