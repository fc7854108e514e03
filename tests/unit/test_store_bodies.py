"""writer.store_bodies: multi-row statements (UPDATE … FROM) store exactly what one statement per row did."""

from __future__ import annotations

import sqlite3

import pytest

from store.sync import writer
from store.sync.mime import Attachment
from store.sync.parse import Parsed

SCHEMA = """
CREATE TABLE messages (id INTEGER PRIMARY KEY, body_text TEXT NOT NULL DEFAULT '',
    has_attachments BOOLEAN NOT NULL DEFAULT 0, body_loaded BOOLEAN NOT NULL DEFAULT 0,
    problems TEXT NOT NULL DEFAULT '');
CREATE TABLE message_raw (message_id INTEGER NOT NULL, seq INTEGER NOT NULL, codec TEXT NOT NULL,
    data BLOB NOT NULL, PRIMARY KEY (message_id, seq));
CREATE TABLE message_attachments (id INTEGER PRIMARY KEY, message_id INTEGER NOT NULL, part TEXT NOT NULL,
    filename TEXT NOT NULL, content_type TEXT NOT NULL, size INTEGER NOT NULL, content_id TEXT NOT NULL,
    inline BOOLEAN NOT NULL);
"""


def _store(update_from: bool, monkeypatch: pytest.MonkeyPatch) -> list[list[tuple]]:
    monkeypatch.setattr(writer, "_UPDATE_FROM", update_from)
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.executescript(SCHEMA)
    conn.executemany(
        "INSERT INTO messages (id, problems) VALUES (?, ?)",
        [(i, "no readable Date" if i % 3 == 0 else "") for i in range(1, 251)],
    )
    parsed = [
        Parsed(
            i,
            f"text {i}",
            tuple(Attachment(str(n + 2), f"f{n}.pdf", "application/pdf", n * 10) for n in range(i % 3)),
            "bad base64" if i % 2 else "",
            tuple(bytes([i % 256]) * (n + 1) for n in range(1 + i % 2)),
        )
        for i in range(1, 251)
    ]
    parsed.append(parsed[4])  # a second UID of message 5 in the same window
    assert writer.store_bodies(conn, parsed) == 250
    return [
        conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
        for table in ("messages", "message_raw", "message_attachments")
    ]


def test_multi_row_statements_store_what_row_by_row_statements_stored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fast = _store(True, monkeypatch)
    slow = _store(False, monkeypatch)
    assert fast == slow
    messages, raw, attachments = fast
    assert all(loaded for *_, loaded, _ in messages)
    assert messages[2] == (3, "text 3", 0, 1, "no readable Date; bad base64")
    assert messages[3] == (4, "text 4", 1, 1, "")
    assert len(raw) == sum(1 + i % 2 for i in range(1, 251)) and len(attachments) == sum(
        i % 3 for i in range(1, 251)
    )
