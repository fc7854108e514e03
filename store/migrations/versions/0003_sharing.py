"""Sharing: mailbox shares, the per-mailbox "Access for other users" flag, the audit log.

Revision ID: 0003
Revises: crm2
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "crm2"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "mailbox_shares",
        sa.Column(
            "mailbox_id", sa.Integer, sa.ForeignKey("mailboxes.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column(
            "principal_id", sa.Integer, sa.ForeignKey("principals.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("can_read", sa.Boolean, nullable=False, server_default="0"),
        sa.Column("can_send", sa.Boolean, nullable=False, server_default="0"),
        sa.Column("can_configure", sa.Boolean, nullable=False, server_default="0"),
        sa.CheckConstraint("can_read OR can_send OR can_configure", name="ck_mailbox_shares_some_right"),
        sa.CheckConstraint("can_read OR NOT can_send", name="ck_mailbox_shares_send_reads"),
    )
    op.create_index("ix_mailbox_shares_principal", "mailbox_shares", ["principal_id"])
    op.create_table(
        "mailbox_sharing",
        sa.Column(
            "mailbox_id", sa.Integer, sa.ForeignKey("mailboxes.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default="0"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor_user_id", sa.Integer, sa.ForeignKey("principals.id", ondelete="SET NULL")),
        sa.Column("actor_name", sa.String(128), nullable=False),
        sa.Column("mailbox_id", sa.Integer, sa.ForeignKey("mailboxes.id", ondelete="SET NULL")),
        sa.Column("mailbox_email", sa.String(320), nullable=False, server_default=""),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
    )
    op.create_index("ix_audit_log_mailbox", "audit_log", ["mailbox_id"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_mailbox", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_table("mailbox_sharing")
    op.drop_index("ix_mailbox_shares_principal", table_name="mailbox_shares")
    op.drop_table("mailbox_shares")
