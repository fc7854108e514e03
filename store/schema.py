"""Tables of the store, in SQLAlchemy Core; migrations create them, this module names them."""

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
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

metadata = MetaData()

# Users and roles share one namespace, so "USER_OR_ROLE" arguments are never ambiguous.
principals = Table(
    "principals",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(8), nullable=False),
    Column("name", String(128), nullable=False, unique=True),
    Column("display_name", String(256), nullable=False, server_default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("kind IN ('user', 'role')", name="ck_principals_kind"),
)

role_members = Table(
    "role_members",
    metadata,
    Column("role_id", Integer, ForeignKey("principals.id", ondelete="CASCADE"), primary_key=True),
    Column("member_id", Integer, ForeignKey("principals.id", ondelete="CASCADE"), primary_key=True),
    CheckConstraint("role_id <> member_id", name="ck_role_members_not_self"),
)

operation_grants = Table(
    "operation_grants",
    metadata,
    Column("operation", String(64), primary_key=True),
    Column("principal_id", Integer, ForeignKey("principals.id", ondelete="CASCADE"), primary_key=True),
)

system_settings = Table(
    "system_settings",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

providers = Table(
    "providers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("imap_host", String(255), nullable=False),
    Column("imap_port", Integer, nullable=False),
    Column("imap_tls", String(16), nullable=False),
    Column("smtp_host", String(255), nullable=False),
    Column("smtp_port", Integer, nullable=False),
    Column("smtp_tls", String(16), nullable=False),
    Column("auth_kind", String(16), nullable=False, server_default="password"),
    Column("login_format", String(16), nullable=False, server_default="address"),
    Column("app_password_required", Boolean, nullable=False, server_default="0"),
    Column("help_url", Text, nullable=False, server_default=""),
    Column("ca_file", Text, nullable=False, server_default=""),
    Column("mx_suffixes", Text, nullable=False, server_default=""),
    Column("builtin", Boolean, nullable=False, server_default="0"),
    CheckConstraint("imap_tls IN ('ssl', 'starttls')", name="ck_providers_imap_tls"),
    CheckConstraint("smtp_tls IN ('ssl', 'starttls')", name="ck_providers_smtp_tls"),
    CheckConstraint("auth_kind IN ('password', 'app_password', 'oauth2')", name="ck_providers_auth"),
    CheckConstraint("login_format IN ('address', 'local_part', 'ask')", name="ck_providers_login"),
)

provider_domains = Table(
    "provider_domains",
    metadata,
    Column("domain", String(255), primary_key=True),
    Column("provider_id", Integer, ForeignKey("providers.id", ondelete="RESTRICT"), nullable=False),
    Column("source", String(16), nullable=False, server_default="admin"),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

mailboxes = Table(
    "mailboxes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("owner_id", Integer, ForeignKey("principals.id", ondelete="RESTRICT"), nullable=False),
    Column("provider_id", Integer, ForeignKey("providers.id", ondelete="RESTRICT"), nullable=False),
    Column("login", String(320), nullable=False),
    Column("secret_ref", String(128), nullable=False),
    Column("password_command", Text, nullable=False, server_default=""),
    Column("load_period", String(16), nullable=False, server_default="week"),
    Column("auto_load", Boolean, nullable=False, server_default="1"),
    Column("folder_scope", String(16), nullable=False, server_default="inbox"),
    Column("send_enabled", Boolean, nullable=False, server_default="1"),
    Column("alias", String(256), nullable=False, server_default=""),
    Column("is_default_sender", Boolean, nullable=False, server_default="0"),
    Column("use_signature", Boolean, nullable=False, server_default="0"),
    Column("signature", Text, nullable=False, server_default=""),
    Column("status", String(24), nullable=False, server_default="ok"),
    Column("status_reason", Text, nullable=False, server_default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_sync_at", DateTime(timezone=True)),
    CheckConstraint(
        "load_period IN ('day', 'week', 'month', '3months', '6months', 'year', 'all')",
        name="ck_mailboxes_period",
    ),
    CheckConstraint("folder_scope IN ('inbox', 'all', 'selected')", name="ck_mailboxes_scope"),
    CheckConstraint("status IN ('ok', 'needs_attention')", name="ck_mailboxes_status"),
)

mailbox_selected_folders = Table(
    "mailbox_selected_folders",
    metadata,
    Column("mailbox_id", Integer, ForeignKey("mailboxes.id", ondelete="CASCADE"), primary_key=True),
    Column("folder", Text, primary_key=True),
)

sync_folders = Table(
    "sync_folders",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("mailbox_id", Integer, ForeignKey("mailboxes.id", ondelete="CASCADE"), nullable=False),
    Column("name", Text, nullable=False),
    Column("delimiter", String(4), nullable=False, server_default="/"),
    Column("uidvalidity", Integer),
    Column("uidnext", Integer),
    Column("highest_uid", Integer, nullable=False, server_default="0"),
    Column("highestmodseq", Integer),
    Column("lowest_uid_loaded", Integer),
    Column("since_loaded", String(10)),
    Column("last_sync_at", DateTime(timezone=True)),
    Column("gone", Boolean, nullable=False, server_default="0"),
    UniqueConstraint("mailbox_id", "name", name="uq_sync_folders_mailbox_name"),
)

# Mail: each message is stored once (dedupe_key) and sits in folders of mailboxes (message_locations).
messages = Table(
    "messages",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("dedupe_key", String(64), nullable=False),
    Column("header_message_id", Text, nullable=False, server_default=""),
    Column("in_reply_to", Text, nullable=False, server_default=""),
    Column("reference_ids", Text, nullable=False, server_default=""),
    Column("subject", Text, nullable=False, server_default=""),
    Column("from_address", Text, nullable=False, server_default=""),
    Column("from_name", Text, nullable=False, server_default=""),
    Column("sent_at", Integer, nullable=False),
    Column("size", Integer, nullable=False, server_default="0"),
    Column("has_attachments", Boolean, nullable=False, server_default="0"),
    Column("body_loaded", Boolean, nullable=False, server_default="0"),
    Column("body_text", Text, nullable=False, server_default=""),
    Column("problems", Text, nullable=False, server_default=""),
    UniqueConstraint("dedupe_key", name="uq_messages_dedupe_key"),
    Index("ix_messages_header_message_id", "header_message_id"),
    Index("ix_messages_body_pending", "id", sqlite_where=text("body_loaded = 0")),
)

message_raw = Table(
    "message_raw",
    metadata,
    Column("message_id", Integer, ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("codec", String(8), nullable=False),
    Column("data", LargeBinary, nullable=False),  # empty when the bytes are in a pack file
    Column("pack", Integer, nullable=True),  # store/sync/packs.py: which pack file, where, how long
    Column("pack_offset", Integer, nullable=True),
    Column("pack_length", Integer, nullable=True),
)

message_attachments = Table(
    "message_attachments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("message_id", Integer, ForeignKey("messages.id", ondelete="CASCADE"), nullable=False),
    Column("part", String(64), nullable=False),
    Column("filename", Text, nullable=False, server_default=""),
    Column("content_type", String(255), nullable=False, server_default=""),
    Column("size", Integer, nullable=False, server_default="0"),
    Column("content_id", Text, nullable=False, server_default=""),
    Column("inline", Boolean, nullable=False, server_default="0"),
    Index("ix_message_attachments_message", "message_id"),
)

message_addresses = Table(
    "message_addresses",
    metadata,
    Column("message_id", Integer, ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True),
    Column("kind", String(4), primary_key=True),
    Column("address", String(320), primary_key=True),
    Column("name", Text, nullable=False, server_default=""),
    CheckConstraint("kind IN ('from', 'to', 'cc')", name="ck_message_addresses_kind"),
    Index("ix_message_addresses_address", "address", "message_id"),  # covering: linking reads no rows
)

message_locations = Table(
    "message_locations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("mailbox_id", Integer, ForeignKey("mailboxes.id", ondelete="CASCADE"), nullable=False),
    Column("folder_id", Integer, ForeignKey("sync_folders.id", ondelete="CASCADE"), nullable=False),
    Column("uid", Integer, nullable=False),
    Column("message_id", Integer, ForeignKey("messages.id", ondelete="CASCADE"), nullable=False),
    Column("flags", Text, nullable=False, server_default=""),
    Column("modseq", Integer),
    Column("sent_at", Integer, nullable=False),
    Column("flags_add", Text, nullable=False, server_default=""),
    Column("flags_remove", Text, nullable=False, server_default=""),
    UniqueConstraint("folder_id", "uid", name="uq_message_locations_folder_uid"),
    Index("ix_message_locations_mailbox_sent", "mailbox_id", "sent_at"),
    Index("ix_message_locations_folder_sent", "folder_id", "sent_at"),
    Index("ix_message_locations_message", "message_id", "mailbox_id", "sent_at"),  # covering for timelines
    Index(
        "ix_message_locations_pending_flags",
        "folder_id",
        sqlite_where=text("flags_add <> '' OR flags_remove <> ''"),
    ),
)
