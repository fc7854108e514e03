"""SQLite engine for the store: WAL, foreign keys, busy timeout and one writer at a time."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event

BUSY_TIMEOUT_MS = 15_000


def _prepare_file(path: Path) -> None:
    """Create the database's folder 0700 and the file 0600 before SQLite opens it."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
        os.close(fd)
    os.chmod(path, 0o600)


def _on_connect(dbapi_conn: sqlite3.Connection, _record: object) -> None:
    """Turn on the pragmas every connection needs and let us issue BEGIN ourselves."""
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA journal_mode = WAL")
    cur.execute("PRAGMA foreign_keys = ON")
    cur.execute("PRAGMA synchronous = NORMAL")
    cur.close()


def _on_begin(conn: Connection) -> None:
    """Start every transaction as BEGIN IMMEDIATE or DEFERRED, as the caller asked."""
    mode = conn.info.get("begin", "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")


def make_engine(path: Path) -> Engine:
    """Open the SQLite file at *path* (created 0600 in a 0700 folder)."""
    _prepare_file(path)
    old_umask = os.umask(0o077)  # the -wal and -shm files SQLite creates are private too
    try:
        engine = create_engine(f"sqlite:///{path}", pool_size=4, max_overflow=8)
        event.listen(engine, "connect", _on_connect)
        event.listen(engine, "begin", _on_begin)
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
