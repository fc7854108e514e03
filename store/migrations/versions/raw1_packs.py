"""Raw copies in pack files: `message_raw` rows may point into an append-only pack file beside the database
(`pack`, `pack_offset`, `pack_length`; `data` is then empty) instead of holding the compressed bytes, so a
first load writes each message's bytes once instead of twice (SQLite's WAL, then the checkpoint).

Revision ID: raw1
Revises: outbox3
"""

import sqlalchemy as sa
from alembic import op

revision = "raw1"
down_revision = "outbox3"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("message_raw") as batch:
        batch.add_column(sa.Column("pack", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("pack_offset", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("pack_length", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("message_raw") as batch:
        batch.drop_column("pack_length")
        batch.drop_column("pack_offset")
        batch.drop_column("pack")
