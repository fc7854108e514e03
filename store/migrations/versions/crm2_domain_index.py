"""CRM: the index on message_addresses.domain also holds message_id, so linking by domain reads no rows.

Revision ID: crm2
Revises: outbox1
"""

from alembic import op

revision = "crm2"
down_revision = "outbox1"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_message_addresses_domain", "message_addresses")
    op.create_index("ix_message_addresses_domain_message", "message_addresses", ["domain", "message_id"])


def downgrade() -> None:
    op.drop_index("ix_message_addresses_domain_message", "message_addresses")
    op.create_index("ix_message_addresses_domain", "message_addresses", ["domain"])
