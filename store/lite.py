"""The store as `mailroom sync --once` needs it: plain sqlite3, no SQLAlchemy, pydantic or Alembic.

Importing SQLAlchemy and the models costs a short headless run several times what the sync itself does, and
the sync engine writes through sqlite3 anyway. `open_lite_store` gives the few services a sync uses
(mailboxes for sync, their credentials and status, provider servers, the connection) over one sqlite3
connection, set up as the engine's (store/db.py). It opens only a database that is already at the newest
schema; anything else (a new file, one to migrate) goes through `store.service.open_store`.
tests/unit/test_lite_store.py checks its answers against the full store's."""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from store import db
from store.clock import Clock, utc_now
from store.dbfile import check_file, disk_full, is_disk_full
from store.errors import NotFound
from store.mailbox_record import Mailbox, credentials

if TYPE_CHECKING:
    from collections.abc import Iterator

    from store.secrets import Secret, SecretStore
    from store.sync.engine import SyncService

SENT_KEPT = timedelta(days=7)  # as store/outbox.py: delivered items older than this are pruned by a drain
_MAILBOX_COLUMNS = (
    "id, email, owner_id, provider_id, login, secret_ref, password_command, load_period, auto_load, "
    "folder_scope, send_enabled, alias, is_default_sender, use_signature, signature, status, "
    "status_reason, created_at, last_sync_at"
)
_BOOLEANS = ("auto_load", "send_enabled", "is_default_sender", "use_signature")


def db_time(value: datetime) -> str:
    """A datetime as SQLAlchemy's SQLite DateTime stores it (its own fields, no zone)."""
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")


def _time(text: str | None) -> datetime | None:
    """A stored datetime read back as SQLAlchemy reads it."""
    return None if text is None else datetime.fromisoformat(text)


@dataclass(frozen=True)
class ProviderServers:
    """The servers of a provider: what a sync connects to (store/providers.Provider has the rest)."""

    id: int
    name: str
    imap_host: str
    imap_port: int
    imap_tls: str
    smtp_host: str
    smtp_port: int
    smtp_tls: str
    ca_file: str


class _Borrowed:
    """The store's connection lent to the sync engine, shaped like SQLAlchemy's raw connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.driver_connection = conn

    def close(self) -> None:
        """Nothing: the connection stays the store's."""


class LiteStore:
    """The services `SyncService.run` uses, over one sqlite3 connection."""

    def __init__(self, path: Path, conn: sqlite3.Connection, clock: Clock) -> None:
        self.path, self.conn, self.clock = path, conn, clock
        self.mailboxes = LiteMailboxes(self)
        self.providers = LiteProviders(self)

    @cached_property
    def sync(self) -> SyncService:
        """The sync engine."""
        from store.sync.engine import SyncService

        return SyncService(self)

    def raw_connection(self) -> _Borrowed:
        """The sqlite3 connection for the sync engine."""
        return _Borrowed(self.conn)

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One BEGIN IMMEDIATE transaction on the file opened; a full disk is reported as DiskFull."""
        check_file(self.conn)
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.rollback()
                raise
            self.conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if is_disk_full(exc):
                raise disk_full(self.path) from exc
            raise

    def outbox_idle(self, now: datetime | None = None) -> bool:
        """Whether a delivery run would find nothing to do: nothing queued or in flight, no Sent copy
        pending, nothing old enough to prune (store/delivery.py `drain`)."""
        from store.delivery_policy import COPY_GIVE_UP

        now = (now or self.clock()).astimezone(UTC)
        row = self.conn.execute(
            "SELECT 1 FROM outbox WHERE state IN ('queued', 'sending') "
            "OR (state = 'sent' AND ((copy_done = 0 AND copy_refusals < ?) OR sent_at < ?)) LIMIT 1",
            (COPY_GIVE_UP, db_time(now - SENT_KEPT)),
        ).fetchone()
        return row is None

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()


class LiteMailboxes:
    """`store.mailboxes` as the sync engine uses it."""

    def __init__(self, store: LiteStore) -> None:
        self._store = store

    def all_for_sync(self) -> list[Mailbox]:
        """Every mailbox, as `Mailboxes.all_for_sync` returns them (ordered by address)."""
        conn = self._store.conn
        conn.execute("BEGIN")
        try:
            cur = conn.execute(
                f"SELECT {', '.join('m.' + c.strip() for c in _MAILBOX_COLUMNS.split(','))}, "
                "p.name AS provider_name FROM mailboxes m JOIN providers p ON p.id = m.provider_id "
                "WHERE m.id > 0 ORDER BY m.email"
            )
            names = [d[0] for d in cur.description]
            rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
            folders: dict[int, list[str]] = {}
            for box_id, folder in conn.execute("SELECT mailbox_id, folder FROM mailbox_selected_folders"):
                folders.setdefault(box_id, []).append(folder)
        finally:
            conn.execute("COMMIT")
        out = []
        for r in rows:
            for key in _BOOLEANS:
                r[key] = bool(r[key])
            r["created_at"], r["last_sync_at"] = _time(r["created_at"]), _time(r["last_sync_at"])
            out.append(Mailbox(**r, selected_folders=tuple(sorted(folders.get(r["id"], [])))))
        return out

    def credentials(self, box: Mailbox, secrets: SecretStore) -> Secret:
        """The mailbox's password (as `Mailboxes.credentials`)."""
        return credentials(box, secrets)

    def set_status(self, mailbox_id: int, status: str, reason: str = "") -> None:
        """Mark a mailbox ok or needs_attention."""
        with self._store.write() as conn:
            conn.execute(
                "UPDATE mailboxes SET status = ?, status_reason = ? WHERE id = ?",
                (status, reason, mailbox_id),
            )

    def mark_synced(self, mailbox_id: int) -> None:
        """Record the time of the last successful sync."""
        with self._store.write() as conn:
            conn.execute(
                "UPDATE mailboxes SET last_sync_at = ? WHERE id = ?",
                (db_time(self._store.clock()), mailbox_id),
            )


class LiteProviders:
    """`store.providers.get` for the servers of a provider."""

    def __init__(self, store: LiteStore) -> None:
        self._store = store

    def get(self, provider_id: int) -> ProviderServers:
        """The servers of the provider with this id."""
        row = self._store.conn.execute(
            "SELECT id, name, imap_host, imap_port, imap_tls, smtp_host, smtp_port, smtp_tls, ca_file "
            "FROM providers WHERE id = ?",
            (provider_id,),
        ).fetchone()
        if row is None:
            raise NotFound(f"No provider named '{provider_id}'.")
        return ProviderServers(*row)


def open_lite_store(path: Path, clock: Clock = utc_now) -> LiteStore | None:
    """The lite store on the database at *path*, or None when it does not exist or needs migrating."""
    from store.migrations import HEAD

    if not path.is_file():
        return None
    conn = db.connect(path)
    try:
        version = _revision(conn)
    except BaseException:
        conn.close()
        raise
    if version != HEAD:
        conn.close()
        return None
    return LiteStore(path, conn, clock)


def _revision(conn: sqlite3.Connection) -> str | None:
    """The schema revision of the database (as store/migrate.py `current_revision`)."""
    exists = "SELECT 1 FROM sqlite_master WHERE type='table' AND name='alembic_version'"
    if conn.execute(exists).fetchone() is None:
        return None
    row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    return row[0] if row else None
