"""Outbox: messages written before delivery, with their bytes, state, attempts and the Sent copy's state.

Revision ID: outbox1
Revises: crm1
"""

import sqlalchemy as sa
from alembic import op

revision = "outbox1"
down_revision = "crm1"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "mailbox_id", sa.Integer, sa.ForeignKey("mailboxes.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("principals.id", ondelete="CASCADE"), nullable=False),
        sa.Column("state", sa.String(12), nullable=False, server_default="queued"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True)),
        sa.Column("last_error", sa.Text, nullable=False, server_default=""),
        sa.Column("error_kind", sa.String(16), nullable=False, server_default=""),
        sa.Column("message_id", sa.Text, nullable=False),
        sa.Column("subject", sa.Text, nullable=False, server_default=""),
        sa.Column("envelope_from", sa.String(320), nullable=False),
        sa.Column("recipients", sa.Text, nullable=False),
        sa.Column("draft", sa.Text, nullable=False),
        sa.Column("raw", sa.LargeBinary, nullable=False),
        sa.Column("bcc_header", sa.LargeBinary, nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data_started_at", sa.DateTime(timezone=True)),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.Column("copy_done", sa.Boolean, nullable=False, server_default="0"),
        sa.Column("copy_error", sa.Text, nullable=False, server_default=""),
        sa.CheckConstraint(
            "state IN ('queued', 'sending', 'sent', 'failed', 'check')", name="ck_outbox_state"
        ),
    )
    op.create_index("ix_outbox_state_due", "outbox", ["state", "next_attempt_at"])
    op.create_index("ix_outbox_user", "outbox", ["user_id", "created_at"])


def downgrade() -> None:
    op.drop_table("outbox")
