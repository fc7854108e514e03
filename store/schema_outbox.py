"""The outbox table: every message the user sends is written here first, with the exact bytes to deliver."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
)

from store.schema import metadata

# state: queued → sending → sent; failed (permanent, editable); check (may or may not have gone out).
OUTBOX_STATES = ("queued", "sending", "sent", "failed", "check")

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("mailbox_id", Integer, ForeignKey("mailboxes.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", Integer, ForeignKey("principals.id", ondelete="CASCADE"), nullable=False),
    Column("state", String(12), nullable=False, server_default="queued"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True)),
    Column("last_error", Text, nullable=False, server_default=""),
    Column("error_kind", String(16), nullable=False, server_default=""),
    Column("message_id", Text, nullable=False),
    Column("subject", Text, nullable=False, server_default=""),
    Column("envelope_from", String(320), nullable=False),
    Column("recipients", Text, nullable=False),
    Column("draft", Text, nullable=False),
    Column("raw", LargeBinary, nullable=False),
    Column("bcc_header", LargeBinary, nullable=False, server_default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("data_started_at", DateTime(timezone=True)),  # the server answered 354 to DATA
    Column("data_ended_at", DateTime(timezone=True)),  # just before the end-of-data line was sent
    Column("sent_at", DateTime(timezone=True)),
    Column("copy_done", Boolean, nullable=False, server_default="0"),
    Column("copy_error", Text, nullable=False, server_default=""),
    Column("copy_refusals", Integer, nullable=False, server_default="0"),  # the server's NOs to the Sent copy
    CheckConstraint("state IN ('queued', 'sending', 'sent', 'failed', 'check')", name="ck_outbox_state"),
    Index("ix_outbox_state_due", "state", "next_attempt_at"),
    Index("ix_outbox_user", "user_id", "created_at"),
)
