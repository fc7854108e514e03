"""CRM: companies and their domains, contacts with addresses and phones, enrichment proposals, ignored
addresses; messages.is_automated (backfilled) and the domain of each message address.

Revision ID: crm1
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "crm1"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
HEADER_BYTES = 64 * 1024  # enough of a raw message to hold its header block


def upgrade() -> None:
    op.add_column("messages", sa.Column("is_automated", sa.Boolean, nullable=False, server_default="0"))
    op.add_column(
        "message_addresses",
        sa.Column(
            "domain", sa.String(320), sa.Computed("substr(address, instr(address, '@') + 1)", persisted=False)
        ),
    )
    op.create_index("ix_message_addresses_domain", "message_addresses", ["domain"])
    op.create_table(
        "companies",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("name_key", sa.String(256), nullable=False, unique=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "company_domains",
        sa.Column("domain", sa.String(253), primary_key=True),
        sa.Column(
            "company_id", sa.Integer, sa.ForeignKey("companies.id", ondelete="CASCADE"), nullable=False
        ),
    )
    op.create_index("ix_company_domains_company", "company_domains", ["company_id"])
    op.create_table(
        "contacts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("job_title", sa.String(128), nullable=False, server_default=""),
        sa.Column("company_id", sa.Integer, sa.ForeignKey("companies.id", ondelete="SET NULL")),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_contacts_company", "contacts", ["company_id"])
    op.create_table(
        "contact_emails",
        sa.Column("address", sa.String(320), primary_key=True),
        sa.Column("contact_id", sa.Integer, sa.ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("position", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_index("ix_contact_emails_contact", "contact_emails", ["contact_id"])
    op.create_table(
        "contact_phones",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("contact_id", sa.Integer, sa.ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("number", sa.String(64), nullable=False),
        sa.Column("digits", sa.String(32), nullable=False),
        sa.UniqueConstraint("contact_id", "digits", name="uq_contact_phones_contact_digits"),
    )
    op.create_table(
        "enrichment_proposals",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("contact_id", sa.Integer, sa.ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("field", sa.String(16), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("value_key", sa.Text, nullable=False),
        sa.Column("message_id", sa.Integer, sa.ForeignKey("messages.id", ondelete="SET NULL")),
        sa.Column("state", sa.String(16), nullable=False, server_default="proposed"),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("decided_at", TS),
        sa.Column("decided_by", sa.Integer, sa.ForeignKey("principals.id", ondelete="SET NULL")),
        sa.CheckConstraint(
            "field IN ('phone', 'job_title', 'company')", name="ck_enrichment_proposals_field"
        ),
        sa.CheckConstraint(
            "state IN ('proposed', 'accepted', 'rejected')", name="ck_enrichment_proposals_state"
        ),
        sa.UniqueConstraint("contact_id", "field", "value_key", name="uq_enrichment_proposals_value"),
    )
    op.create_table(
        "ignored_addresses",
        sa.Column("address", sa.String(320), primary_key=True),
        sa.Column("ignored_by", sa.Integer, sa.ForeignKey("principals.id", ondelete="SET NULL")),
        sa.Column("created_at", TS, nullable=False),
    )
    _backfill_automated(op.get_bind())


def _backfill_automated(conn: sa.Connection) -> None:
    """Flag stored automated mail: from the header of the raw message when loaded, else from the sender."""
    import io

    from store.crm.automated import AUTOMATION_HEADERS, is_automated
    from store.sync.parse import CODEC, header_fields, split_header

    flagged: list[dict] = []
    rows = conn.execute(
        sa.text(
            "SELECT m.id, m.from_address, r.codec, r.data FROM messages m "
            "LEFT JOIN message_raw r ON r.message_id = m.id AND r.seq = 0"
        )
    )
    for message_id, from_address, codec, data in rows:
        headers: dict = {b"from": from_address.encode()}
        if data is not None:
            if codec == CODEC:
                import zstandard

                raw = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)).read(HEADER_BYTES)
            else:
                from store.sync.parse import decompress

                raw = decompress(codec, data)[:HEADER_BYTES]
            headers = {b"from": headers[b"from"], **header_fields(split_header(raw)[0], AUTOMATION_HEADERS)}
        if is_automated(headers):
            flagged.append({"id": message_id})
    if flagged:
        conn.execute(sa.text("UPDATE messages SET is_automated = 1 WHERE id = :id"), flagged)


def downgrade() -> None:
    for table in (
        "ignored_addresses",
        "enrichment_proposals",
        "contact_phones",
        "contact_emails",
        "contacts",
        "company_domains",
        "companies",
    ):
        op.drop_table(table)
    op.drop_index("ix_message_addresses_domain", "message_addresses")
    op.drop_column("message_addresses", "domain")
    op.drop_column("messages", "is_automated")
