"""Tables of the CRM, on the store's metadata; migration crm1 creates them.

Links between mail and records are not stored: a message is linked to a contact when one of its
From/To/Cc addresses is the contact's, and to a company when an address's domain is the company's.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Computed,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from store.schema import message_addresses, messages, metadata

TS = DateTime(timezone=True)

# Columns the CRM adds to the sync engine's tables (created by crm1, kept here so metadata matches).
if "is_automated" not in messages.c:
    messages.append_column(Column("is_automated", Boolean, nullable=False, server_default="0"))
if "domain" not in message_addresses.c:
    message_addresses.append_column(
        Column("domain", String(320), Computed("substr(address, instr(address, '@') + 1)", persisted=False))
    )
    Index("ix_message_addresses_domain_message", message_addresses.c.domain, message_addresses.c.message_id)

companies = Table(
    "companies",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(256), nullable=False),
    Column("name_key", String(256), nullable=False, unique=True),  # casefolded name: one "Acme" only
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
)

company_domains = Table(
    "company_domains",
    metadata,
    Column("domain", String(253), primary_key=True),
    Column("company_id", Integer, ForeignKey("companies.id", ondelete="CASCADE"), nullable=False),
    Index("ix_company_domains_company", "company_id"),
)

contacts = Table(
    "contacts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(256), nullable=False),
    Column("job_title", String(128), nullable=False, server_default=""),
    Column("company_id", Integer, ForeignKey("companies.id", ondelete="SET NULL")),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
    Index("ix_contacts_company", "company_id"),
)

contact_emails = Table(
    "contact_emails",
    metadata,
    Column("address", String(320), primary_key=True),
    Column("contact_id", Integer, ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False),
    Column("position", Integer, nullable=False, server_default="0"),
    Index("ix_contact_emails_contact", "contact_id"),
)

contact_phones = Table(
    "contact_phones",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("contact_id", Integer, ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False),
    Column("number", String(64), nullable=False),
    Column("digits", String(32), nullable=False),
    UniqueConstraint("contact_id", "digits", name="uq_contact_phones_contact_digits"),
)

enrichment_proposals = Table(
    "enrichment_proposals",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("contact_id", Integer, ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False),
    Column("field", String(16), nullable=False),
    Column("value", Text, nullable=False),
    Column("value_key", Text, nullable=False),  # what makes two values the same (digits of a phone)
    Column("message_id", Integer, ForeignKey("messages.id", ondelete="SET NULL")),
    Column("state", String(16), nullable=False, server_default="proposed"),
    Column("created_at", TS, nullable=False),
    Column("decided_at", TS),
    Column("decided_by", Integer, ForeignKey("principals.id", ondelete="SET NULL")),
    CheckConstraint("field IN ('phone', 'job_title', 'company')", name="ck_enrichment_proposals_field"),
    CheckConstraint("state IN ('proposed', 'accepted', 'rejected')", name="ck_enrichment_proposals_state"),
    UniqueConstraint("contact_id", "field", "value_key", name="uq_enrichment_proposals_value"),
)

ignored_addresses = Table(
    "ignored_addresses",
    metadata,
    Column("address", String(320), primary_key=True),
    Column("ignored_by", Integer, ForeignKey("principals.id", ondelete="SET NULL")),
    Column("created_at", TS, nullable=False),
)

# How many non-automated messages carry each address, per set of mailboxes holding them (" 1 3 "): the
# unmatched queue sums the sets a user may read. Kept by the triggers of migration crm3.
address_counts = Table(
    "address_counts",
    metadata,
    Column("address", String(320), primary_key=True),
    Column("boxes", String(200), primary_key=True),
    Column("messages", Integer, nullable=False),
    Column("last_at", Integer, nullable=False),
    sqlite_with_rowid=False,
)
