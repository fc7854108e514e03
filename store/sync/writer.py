"""The store side of a sync: short write transactions on one DB-API connection, each a consistent step.

Every function that changes data runs in its own BEGIN IMMEDIATE transaction, and a window of messages is
written together with the folder's progress, so a crash at any point leaves a state a restart resumes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from store.dbfile import check_file
from store.sync.codec import CODEC
from store.sync.packs import PackWriter

if TYPE_CHECKING:  # parse.py imports the MIME walker and the CRM rules, which a sync without new mail skips
    from store.sync.parse import Envelope, Parsed

PARAMS = 500  # ids per IN (...) list


@dataclass
class FolderRow:
    """The stored sync state of one folder."""

    id: int
    name: str
    delimiter: str
    uidvalidity: int | None
    uidnext: int | None
    highest_uid: int
    highestmodseq: int | None
    lowest_uid_loaded: int | None
    since_loaded: str | None
    gone: bool


@dataclass(frozen=True)
class HeaderRow:
    """One message as the header phase fetched it."""

    uid: int
    flags: str
    modseq: int | None
    size: int
    envelope: Envelope


@dataclass(frozen=True)
class BodyJob:
    """A message whose body is still to be fetched: where to fetch it from and how big it is."""

    message_id: int
    folder_id: int
    uid: int
    size: int


@contextmanager
def tx(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction that takes SQLite's write lock at once, on the file the connection opened."""
    check_file(conn)  # a deleted or replaced database file: stop, never write where no one looks
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        if conn.in_transaction:  # SQLite already rolled back after some errors (a full disk)
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _chunks(seq: Sequence, size: int = PARAMS) -> Iterator[Sequence]:
    for i in range(0, len(seq), size):
        yield seq[i : i + size]


# -- folders ---------------------------------------------------------------------------------------

_FOLDER_COLS = (
    "id, name, delimiter, uidvalidity, uidnext, highest_uid, highestmodseq, lowest_uid_loaded, "
    "since_loaded, gone"
)


def folders(conn: sqlite3.Connection, mailbox_id: int) -> dict[str, FolderRow]:
    """The stored folders of a mailbox by name."""
    rows = conn.execute(f"SELECT {_FOLDER_COLS} FROM sync_folders WHERE mailbox_id = ?", (mailbox_id,))
    return {r[1]: FolderRow(*r[:9], bool(r[9])) for r in rows}


def folder(conn: sqlite3.Connection, folder_id: int) -> FolderRow:
    """One stored folder by id."""
    r = conn.execute(f"SELECT {_FOLDER_COLS} FROM sync_folders WHERE id = ?", (folder_id,)).fetchone()
    return FolderRow(*r[:9], bool(r[9]))


def add_folder(conn: sqlite3.Connection, mailbox_id: int, name: str, delimiter: str) -> FolderRow:
    """Create (or bring back a gone) folder row with no sync state."""
    with tx(conn):
        conn.execute(
            "INSERT INTO sync_folders (mailbox_id, name, delimiter, highest_uid, gone) VALUES (?, ?, ?, 0, 0)"
            " "
            "ON CONFLICT (mailbox_id, name) DO UPDATE SET gone = 0, delimiter = excluded.delimiter, "
            "uidvalidity = NULL, uidnext = NULL, highest_uid = 0, highestmodseq = NULL, "
            "lowest_uid_loaded = NULL, since_loaded = NULL",
            (mailbox_id, name, delimiter),
        )
    return folders(conn, mailbox_id)[name]


def rename_folder(conn: sqlite3.Connection, folder_id: int, new_name: str) -> None:
    """Follow a rename on the server, keeping every stored message location."""
    with tx(conn):
        row = conn.execute("SELECT mailbox_id FROM sync_folders WHERE id = ?", (folder_id,)).fetchone()
        conn.execute(
            "DELETE FROM sync_folders WHERE mailbox_id = ? AND name = ? AND id <> ?",
            (row[0], new_name, folder_id),
        )
        conn.execute("UPDATE sync_folders SET name = ?, gone = 0 WHERE id = ?", (new_name, folder_id))


def drop_folder_locations(conn: sqlite3.Connection, folder_id: int, gone: bool, reset: bool) -> int:
    """Remove a folder's locations (deleted or out of scope: *gone*; UIDVALIDITY changed: *reset*)."""
    with tx(conn):
        n = conn.execute("DELETE FROM message_locations WHERE folder_id = ?", (folder_id,)).rowcount
        if gone:
            conn.execute("UPDATE sync_folders SET gone = 1 WHERE id = ?", (folder_id,))
        if reset or gone:
            conn.execute(
                "UPDATE sync_folders SET uidvalidity = NULL, uidnext = NULL, highest_uid = 0, "
                "highestmodseq = NULL, lowest_uid_loaded = NULL, since_loaded = NULL WHERE id = ?",
                (folder_id,),
            )
    return n


def update_folder(conn: sqlite3.Connection, folder_id: int, **values: object) -> None:
    """Set sync-state columns of one folder in a transaction of its own."""
    with tx(conn):
        _set_folder(conn, folder_id, values)


def _set_folder(conn: sqlite3.Connection, folder_id: int, values: dict[str, object]) -> None:
    if values:
        cols = ", ".join(f"{k} = ?" for k in values)
        conn.execute(f"UPDATE sync_folders SET {cols} WHERE id = ?", (*values.values(), folder_id))


# -- header phase ----------------------------------------------------------------------------------


def store_headers(
    conn: sqlite3.Connection, mailbox_id: int, folder_id: int, rows: Sequence[HeaderRow], progress: dict
) -> int:
    """Store a window of envelopes and locations together with the folder's progress; returns new messages."""
    with tx(conn):
        keys = [r.envelope.dedupe_key for r in rows]
        ids: dict[str, int] = {}
        for part in _chunks(keys):
            q = f"SELECT dedupe_key, id FROM messages WHERE dedupe_key IN ({','.join('?' * len(part))})"
            ids.update(conn.execute(q, part).fetchall())
        fresh: dict[str, HeaderRow] = {}
        for r in rows:
            if r.envelope.dedupe_key not in ids:
                fresh.setdefault(r.envelope.dedupe_key, r)
        if fresh:
            conn.executemany(
                "INSERT INTO messages (dedupe_key, header_message_id, in_reply_to, reference_ids, subject, "
                "from_address, from_name, sent_at, size, problems, is_automated) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                [
                    (
                        e.dedupe_key,
                        e.message_id,
                        e.in_reply_to,
                        e.references,
                        e.subject,
                        e.from_address,
                        e.from_name,
                        e.sent_at,
                        r.size,
                        e.problems,
                        e.automated,
                    )
                    for r in fresh.values()
                    for e in (r.envelope,)
                ],
            )
            new_keys = list(fresh)
            for part in _chunks(new_keys):
                q = f"SELECT dedupe_key, id FROM messages WHERE dedupe_key IN ({','.join('?' * len(part))})"
                ids.update(conn.execute(q, part).fetchall())
            conn.executemany(
                "INSERT OR IGNORE INTO message_addresses (message_id, kind, address, name) VALUES (?,?,?,?)",
                [
                    (ids[k], kind, addr, name)
                    for k, r in fresh.items()
                    for kind, addr, name in r.envelope.addresses
                ],
            )
        conn.executemany(
            "INSERT INTO message_locations (mailbox_id, folder_id, uid, message_id, flags, modseq, sent_at) "
            "VALUES (?,?,?,?,?,?,?) ON CONFLICT (folder_id, uid) DO UPDATE SET "
            "message_id = excluded.message_id, "
            "flags = excluded.flags, modseq = excluded.modseq, sent_at = excluded.sent_at",
            [
                (
                    mailbox_id,
                    folder_id,
                    r.uid,
                    ids[r.envelope.dedupe_key],
                    r.flags,
                    r.modseq,
                    r.envelope.sent_at,
                )
                for r in rows
            ],
        )
        _set_folder(conn, folder_id, progress)
    return len(fresh)


# -- body phase ------------------------------------------------------------------------------------


def body_jobs(
    conn: sqlite3.Connection,
    mailbox_id: int,
    folder_id: int | None = None,
    after_uid: int = 0,
    limit: int = -1,
    few: bool = False,
) -> list[BodyJob]:
    """Messages of the mailbox that have an envelope but no body yet, one location each, by folder and UID
    (with *folder_id*: those that sit in that folder above *after_uid*, at most *limit*, to fetch there;
    *few*: start from the pending messages, not the folder, when only a few are pending in a big store)."""
    if folder_id is not None and few:
        rows = conn.execute(
            "SELECT m.id, l.uid, m.size FROM messages m CROSS JOIN message_locations l "
            "ON l.message_id = m.id WHERE m.body_loaded = 0 AND l.folder_id = ? AND l.uid > ? "
            "ORDER BY l.uid LIMIT ?",
            (folder_id, after_uid, limit),
        ).fetchall()
        return [BodyJob(mid, folder_id, uid, size) for mid, uid, size in rows]
    if folder_id is not None:
        rows = conn.execute(
            "SELECT m.id, l.uid, m.size FROM message_locations l JOIN messages m ON m.id = l.message_id "
            "WHERE l.folder_id = ? AND l.uid > ? AND m.body_loaded = 0 ORDER BY l.uid LIMIT ?",
            (folder_id, after_uid, limit),
        ).fetchall()
        return [BodyJob(mid, folder_id, uid, size) for mid, uid, size in rows]
    rows = conn.execute(
        "SELECT m.id, MIN(l.folder_id * 4294967296 + l.uid), m.size FROM messages m "
        "CROSS JOIN message_locations l ON l.message_id = m.id "  # CROSS: start from the partial index
        "WHERE m.body_loaded = 0 AND l.mailbox_id = ? GROUP BY m.id",
        (mailbox_id,),
    ).fetchall()
    jobs = [BodyJob(mid, key >> 32, key & 0xFFFFFFFF, size) for mid, key, size in rows]
    jobs.sort(key=lambda j: (j.folder_id, j.uid))
    return jobs


def pending_bodies(conn: sqlite3.Connection, mailbox_id: int) -> dict[int, tuple[int, int]]:
    """folder id → (messages, bytes) still without a body (a message in two folders counts twice)."""
    rows = conn.execute(
        "SELECT l.folder_id, count(*), sum(m.size) FROM messages m CROSS JOIN message_locations l "
        "ON l.message_id = m.id WHERE m.body_loaded = 0 AND l.mailbox_id = ? GROUP BY l.folder_id",
        (mailbox_id,),
    ).fetchall()
    return {fid: (n, size) for fid, n, size in rows}


def store_bodies(
    conn: sqlite3.Connection,
    parsed: Sequence[Parsed],
    keep_raw: bool = False,
    packs: PackWriter | None = None,
) -> int:
    """Store text, attachments and compressed raw bytes of a window of messages (*keep_raw*: streamed);
    returns how many messages got a body. Two UIDs of one message (identical copies in one folder) are
    stored once, from the first. With *packs* the raw bytes go to a pack file (appended and made durable
    before the rows that point at them commit), else into the rows themselves."""
    if len({p.message_id for p in parsed}) < len(parsed):
        first: dict[int, Parsed] = {}
        for p in parsed:
            first.setdefault(p.message_id, p)
        parsed = list(first.values())
    if not parsed:
        return 0
    raw_rows: list[tuple[int, int, str, bytes, int | None, int | None, int | None]]
    if packs is not None:
        refs = packs.append([chunk for p in parsed for chunk in p.chunks])
        packs.sync()
        keys = [(p.message_id, n) for p in parsed for n in range(len(p.chunks))]
        raw_rows = [(mid, n, CODEC, b"", *ref) for (mid, n), ref in zip(keys, refs, strict=True)]
    else:
        raw_rows = [
            (p.message_id, n, CODEC, chunk, None, None, None)
            for p in parsed
            for n, chunk in enumerate(p.chunks)
        ]
    with tx(conn):
        ids = [p.message_id for p in parsed]
        for part in _chunks(ids):
            marks = ",".join("?" * len(part))
            conn.execute(f"DELETE FROM message_attachments WHERE message_id IN ({marks})", part)
            if not keep_raw:
                conn.execute(f"DELETE FROM message_raw WHERE message_id IN ({marks})", part)
        conn.executemany(
            "INSERT INTO message_raw (message_id, seq, codec, data, pack, pack_offset, pack_length) "
            "VALUES (?,?,?,?,?,?,?)",
            raw_rows,
        )
        conn.executemany(
            "INSERT INTO message_attachments "
            "(message_id, part, filename, content_type, size, content_id, inline) "
            "VALUES (?,?,?,?,?,?,?)",
            [
                (p.message_id, a.part, a.filename, a.content_type, a.size, a.content_id, a.inline)
                for p in parsed
                for a in p.attachments
            ],
        )
        conn.executemany(
            "UPDATE messages SET body_text = ?, has_attachments = ?, body_loaded = 1, "
            "problems = CASE WHEN ? = '' THEN problems WHEN problems = '' THEN ? "
            "ELSE problems || '; ' || ? END "
            "WHERE id = ?",
            [(p.text, bool(p.attachments), p.problems, p.problems, p.problems, p.message_id) for p in parsed],
        )
    return len(parsed)


def note_short(conn: sqlite3.Connection, shortfalls: dict[int, tuple[int, int]]) -> set[int]:
    """Note on each message (id → (bytes sent, bytes announced)) that the server sent less than it
    announced; returns the messages on which that same shortfall was noted before."""
    notes = {
        mid: f"the server announced {announced} bytes and sent {got}"
        for mid, (got, announced) in shortfalls.items()
    }
    with tx(conn):
        rows = conn.execute(
            f"SELECT id, problems FROM messages WHERE id IN ({','.join('?' * len(notes))})", list(notes)
        ).fetchall()
        seen = {mid for mid, problems in rows if notes[mid] in problems.split("; ")}
        conn.executemany(
            "UPDATE messages SET problems = CASE WHEN problems = '' THEN ? ELSE problems || '; ' || ? END "
            "WHERE id = ?",
            [(notes[mid], notes[mid], mid) for mid, _ in rows if mid not in seen],
        )
    return seen


def store_raw_chunk(conn: sqlite3.Connection, message_id: int, seq: int, data: bytes) -> None:
    """Store one compressed chunk of a large message (chunk 0 first clears any earlier partial copy)."""
    with tx(conn):
        if seq == 0:
            conn.execute("DELETE FROM message_raw WHERE message_id = ?", (message_id,))
        conn.execute(
            "INSERT OR REPLACE INTO message_raw (message_id, seq, codec, data) VALUES (?,?,?,?)",
            (message_id, seq, CODEC, data),
        )


# -- changes on known messages ---------------------------------------------------------------------


def stored_uids(conn: sqlite3.Connection, folder_id: int) -> dict[int, tuple[str, int | None]]:
    """UID → (flags, modseq) of every stored location in a folder."""
    rows = conn.execute("SELECT uid, flags, modseq FROM message_locations WHERE folder_id = ?", (folder_id,))
    return {uid: (flags, modseq) for uid, flags, modseq in rows}


def apply_changes(
    conn: sqlite3.Connection,
    folder_id: int,
    flags: Sequence[tuple[str, int | None, int]],
    expunged: Sequence[int],
    progress: dict,
) -> tuple[int, int]:
    """Update changed flags, drop expunged locations and save the folder's progress in one transaction."""
    changed = removed = 0
    with tx(conn):
        if flags:
            cur = conn.executemany(
                "UPDATE message_locations SET flags = ?, modseq = ? WHERE folder_id = ? AND uid = ? "
                "AND (flags <> ? OR modseq IS NOT ?)",
                [(f, m, folder_id, uid, f, m) for f, m, uid in flags],
            )
            changed = cur.rowcount
        if expunged:
            cur = conn.executemany(
                "DELETE FROM message_locations WHERE folder_id = ? AND uid = ?",
                [(folder_id, uid) for uid in expunged],
            )
            removed = cur.rowcount
        _set_folder(conn, folder_id, progress)
    return changed, removed


def pending_flag_changes(conn: sqlite3.Connection, folder_id: int) -> list[tuple[int, str, str]]:
    """(uid, flags to add, flags to remove) the user changed locally and the server has not seen yet."""
    return conn.execute(
        "SELECT uid, flags_add, flags_remove FROM message_locations "
        "WHERE folder_id = ? AND (flags_add <> '' OR flags_remove <> '')",
        (folder_id,),
    ).fetchall()


def folders_with_pending_flags(conn: sqlite3.Connection, mailbox_id: int) -> set[int]:
    """Folders that hold local flag changes to push."""
    rows = conn.execute(
        "SELECT DISTINCT l.folder_id FROM message_locations l "
        "WHERE (l.flags_add <> '' OR l.flags_remove <> '') "
        "AND l.folder_id IN (SELECT id FROM sync_folders WHERE mailbox_id = ?)",
        (mailbox_id,),
    )
    return {r[0] for r in rows}


def clear_pending(conn: sqlite3.Connection, folder_id: int, done: Sequence[tuple[int, str, str]]) -> None:
    """Forget local flag changes once the server has them (unless the user changed them again meanwhile)."""
    with tx(conn):
        conn.executemany(
            "UPDATE message_locations SET flags_add = '', flags_remove = '' "
            "WHERE folder_id = ? AND uid = ? AND flags_add = ? AND flags_remove = ?",
            [(folder_id, uid, add, rem) for uid, add, rem in done],
        )


def remove_orphans(conn: sqlite3.Connection) -> int:
    """Delete messages no folder of any mailbox holds any more (their raw bytes and metadata go with them)."""
    with tx(conn):
        return conn.execute(
            "DELETE FROM messages WHERE NOT EXISTS "
            "(SELECT 1 FROM message_locations l WHERE l.message_id = messages.id)"
        ).rowcount
