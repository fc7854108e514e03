"""Mail for CRM unit tests, stored through the sync engine's own parser and writer (no IMAP needed)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from email.utils import format_datetime

from store.service import Store
from store.sync import writer
from store.sync.parse import parse_envelope, process, split_header

_uids = itertools.count(1)


def connect_mailbox(store: Store, owner_name: str, email: str) -> int:
    """A mailbox row owned by *owner_name* (no secret: nothing here logs in)."""
    owner = store.identity.find(owner_name)
    provider = store.providers.get("Gmail")
    with store.engine.begin() as conn:
        return conn.exec_driver_sql(
            "INSERT INTO mailboxes (email, owner_id, provider_id, login, secret_ref, created_at) "
            "VALUES (?, ?, ?, ?, 'none', '2026-01-01')",
            (email, owner.id, provider.id, email),
        ).lastrowid


def message(
    sender: str,
    to: str,
    subject: str = "Hello",
    when: datetime | None = None,
    cc: str = "",
    body: str = "Hi.\n",
    message_id: str = "",
    in_reply_to: str = "",
    references: str = "",
    extra: str = "",
) -> bytes:
    """A raw RFC 5322 message."""
    when = when or datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    lines = [f"From: {sender}", f"To: {to}", f"Subject: {subject}", f"Date: {format_datetime(when)}"]
    if cc:
        lines.append(f"Cc: {cc}")
    lines.append(f"Message-ID: <{message_id or f'm{next(_uids)}@test'}>")
    if in_reply_to:
        lines.append(f"In-Reply-To: <{in_reply_to}>")
    if references:
        lines.append("References: " + " ".join(f"<{r}>" for r in references.split()))
    lines += [h for h in extra.split("\n") if h]
    lines += [
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n" + body.replace("\n", "\r\n")).encode()


def deliver(store: Store, mailbox_id: int, raw: bytes, folder: str = "INBOX") -> int:
    """Store *raw* in a folder of a mailbox as a sync would (deduplicated); returns the message's id."""
    fairy = store.engine.raw_connection()
    try:
        conn = fairy.driver_connection
        row = writer.folders(conn, mailbox_id).get(folder) or writer.add_folder(conn, mailbox_id, folder, "/")
        header, _ = split_header(raw)
        env = parse_envelope(header, len(raw), None)
        header_row = writer.HeaderRow(next(_uids), "", None, len(raw), env)
        writer.store_headers(conn, mailbox_id, row.id, [header_row], {})
        message_id = conn.execute(
            "SELECT id FROM messages WHERE dedupe_key = ?", (env.dedupe_key,)
        ).fetchone()[0]
        parsed = process((message_id, raw))
        writer.store_bodies(conn, [parsed])
        return message_id
    finally:
        fairy.close()
