"""Tables for shared mailboxes and the audit log, on the store's one MetaData (see docs/sharing.md)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
)

from store.schema import metadata

# One row per (mailbox, user or role) given rights; a row always carries at least one right.
mailbox_shares = Table(
    "mailbox_shares",
    metadata,
    Column("mailbox_id", Integer, ForeignKey("mailboxes.id", ondelete="CASCADE"), primary_key=True),
    Column("principal_id", Integer, ForeignKey("principals.id", ondelete="CASCADE"), primary_key=True),
    Column("can_read", Boolean, nullable=False, server_default="0"),
    Column("can_send", Boolean, nullable=False, server_default="0"),
    Column("can_configure", Boolean, nullable=False, server_default="0"),
    CheckConstraint("can_read OR can_send OR can_configure", name="ck_mailbox_shares_some_right"),
    CheckConstraint("can_read OR NOT can_send", name="ck_mailbox_shares_send_reads"),
    Index("ix_mailbox_shares_principal", "principal_id"),
)

# "Access for other users": while off, the mailbox's share rows are kept but grant nothing.
mailbox_sharing = Table(
    "mailbox_sharing",
    metadata,
    Column("mailbox_id", Integer, ForeignKey("mailboxes.id", ondelete="CASCADE"), primary_key=True),
    Column("enabled", Boolean, nullable=False, server_default="0"),
)

# Who did what to which mailbox, and when; outlives the mailbox and the user (names are copied).
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor_user_id", Integer, ForeignKey("principals.id", ondelete="SET NULL")),
    Column("actor_name", String(128), nullable=False),
    Column("mailbox_id", Integer, ForeignKey("mailboxes.id", ondelete="SET NULL")),
    Column("mailbox_email", String(320), nullable=False, server_default=""),
    Column("action", String(32), nullable=False),
    Column("detail", JSON, nullable=False),
    Index("ix_audit_log_mailbox", "mailbox_id"),
)
