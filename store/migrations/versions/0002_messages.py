"""Messages: stored once, their raw bytes, attachments, addresses and folder locations per mailbox.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "messages",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("dedupe_key", sa.String(64), nullable=False),
        sa.Column("header_message_id", sa.Text, nullable=False, server_default=""),
        sa.Column("in_reply_to", sa.Text, nullable=False, server_default=""),
        sa.Column("reference_ids", sa.Text, nullable=False, server_default=""),
        sa.Column("subject", sa.Text, nullable=False, server_default=""),
        sa.Column("from_address", sa.Text, nullable=False, server_default=""),
        sa.Column("from_name", sa.Text, nullable=False, server_default=""),
        sa.Column("sent_at", sa.Integer, nullable=False),
        sa.Column("size", sa.Integer, nullable=False, server_default="0"),
        sa.Column("has_attachments", sa.Boolean, nullable=False, server_default="0"),
        sa.Column("body_loaded", sa.Boolean, nullable=False, server_default="0"),
        sa.Column("body_text", sa.Text, nullable=False, server_default=""),
        sa.Column("problems", sa.Text, nullable=False, server_default=""),
        sa.UniqueConstraint("dedupe_key", name="uq_messages_dedupe_key"),
    )
    op.create_index("ix_messages_header_message_id", "messages", ["header_message_id"])
    op.create_index("ix_messages_body_pending", "messages", ["id"], sqlite_where=sa.text("body_loaded = 0"))
    op.create_table(
        "message_raw",
        sa.Column(
            "message_id", sa.Integer, sa.ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("codec", sa.String(8), nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "message_attachments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("message_id", sa.Integer, sa.ForeignKey("messages.id", ondelete="CASCADE"), nullable=False),
        sa.Column("part", sa.String(64), nullable=False),
        sa.Column("filename", sa.Text, nullable=False, server_default=""),
        sa.Column("content_type", sa.String(255), nullable=False, server_default=""),
        sa.Column("size", sa.Integer, nullable=False, server_default="0"),
        sa.Column("content_id", sa.Text, nullable=False, server_default=""),
        sa.Column("inline", sa.Boolean, nullable=False, server_default="0"),
    )
    op.create_index("ix_message_attachments_message", "message_attachments", ["message_id"])
    op.create_table(
        "message_addresses",
        sa.Column(
            "message_id", sa.Integer, sa.ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("kind", sa.String(4), primary_key=True),
        sa.Column("address", sa.String(320), primary_key=True),
        sa.Column("name", sa.Text, nullable=False, server_default=""),
        sa.CheckConstraint("kind IN ('from', 'to', 'cc')", name="ck_message_addresses_kind"),
    )
    op.create_index("ix_message_addresses_address", "message_addresses", ["address"])
    op.create_table(
        "message_locations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "mailbox_id", sa.Integer, sa.ForeignKey("mailboxes.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column(
            "folder_id", sa.Integer, sa.ForeignKey("sync_folders.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("uid", sa.Integer, nullable=False),
        sa.Column("message_id", sa.Integer, sa.ForeignKey("messages.id", ondelete="CASCADE"), nullable=False),
        sa.Column("flags", sa.Text, nullable=False, server_default=""),
        sa.Column("modseq", sa.Integer),
        sa.Column("sent_at", sa.Integer, nullable=False),
        sa.Column("flags_add", sa.Text, nullable=False, server_default=""),
        sa.Column("flags_remove", sa.Text, nullable=False, server_default=""),
        sa.UniqueConstraint("folder_id", "uid", name="uq_message_locations_folder_uid"),
    )
    op.create_index("ix_message_locations_mailbox_sent", "message_locations", ["mailbox_id", "sent_at"])
    op.create_index("ix_message_locations_folder_sent", "message_locations", ["folder_id", "sent_at"])
    op.create_index("ix_message_locations_message", "message_locations", ["message_id"])
    op.create_index(
        "ix_message_locations_pending_flags",
        "message_locations",
        ["folder_id"],
        sqlite_where=sa.text("flags_add <> '' OR flags_remove <> ''"),
    )


def downgrade() -> None:
    for table in ("message_locations", "message_addresses", "message_attachments", "message_raw", "messages"):
        op.drop_table(table)
