"""CRM: the index of message_locations by message also holds mailbox_id and sent_at, so a timeline learns
which of a record's messages the user may read, and when they were sent, without reading location rows.

Revision ID: crm4
Revises: crm3
"""

from alembic import op

revision = "crm4"
down_revision = "crm3"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_message_locations_message", "message_locations")
    op.create_index(
        "ix_message_locations_message", "message_locations", ["message_id", "mailbox_id", "sent_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_message_locations_message", "message_locations")
    op.create_index("ix_message_locations_message", "message_locations", ["message_id"])
