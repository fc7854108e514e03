"""Outbox: `copy_refusals`, how often the IMAP server refused (NO/BAD) to take a sent message's copy into
Sent; after COPY_GIVE_UP refusals the copy is no longer tried until the user asks (a quota that stays full
must not be hit with an APPEND every few minutes forever).

Revision ID: outbox3
Revises: crm5
"""

import sqlalchemy as sa
from alembic import op

revision = "outbox3"
down_revision = "crm5"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("copy_refusals", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("copy_refusals")
