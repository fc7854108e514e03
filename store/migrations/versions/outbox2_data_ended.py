"""Outbox: `data_ended_at`, committed right before the end-of-data line goes to the SMTP server, so a run
that died during DATA without sending it is known to have delivered nothing (queued again, not `check`).

Revision ID: outbox2
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "outbox2"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("data_ended_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("data_ended_at")
