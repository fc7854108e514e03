"""How stored mail links to CRM records, derived by joins rather than stored.

A message is linked to a contact when one of its From/To/Cc addresses is one of the contact's, and to a
company when one of those addresses is on one of the company's domains or belongs to one of its contacts.
Because links are queries, a message is linked once however many folders and mailboxes hold it, and a
contact who gains an address is linked to its mail at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Engine, Select, exists, select, union

from store import db
from store.crm.automated import is_automated_sender
from store.crm.tables import companies, company_domains, contact_emails, contacts
from store.errors import NotFound
from store.identity import Actor
from store.schema import mailboxes, message_addresses, message_locations, messages


def held_in(message_id: ColumnElement[int], mailbox_ids: list[int] | set[int]) -> ColumnElement[bool]:
    """Whether the message sits in one of *mailbox_ids*: a correlated EXISTS, one index probe per message.

    ("+ 0" keeps SQLite on the message_id index instead of walking every location of those mailboxes.)
    """
    return exists().where(
        message_locations.c.message_id == message_id,
        (message_locations.c.mailbox_id + 0).in_(sorted(mailbox_ids)),
    )


def contact_message_ids(contact_id: int) -> Select:
    """Ids of the messages linked to a contact (each once)."""
    return (
        select(message_addresses.c.message_id)
        .where(
            message_addresses.c.address.in_(
                select(contact_emails.c.address).where(contact_emails.c.contact_id == contact_id)
            )
        )
        .distinct()
    )


def company_message_ids(company_id: int) -> Select:
    """Ids of the messages linked to a company: by its domains and by its contacts' addresses (each once)."""
    by_domain = select(message_addresses.c.message_id).where(
        message_addresses.c.domain.in_(
            select(company_domains.c.domain).where(company_domains.c.company_id == company_id)
        )
    )
    by_contact = select(message_addresses.c.message_id).where(
        message_addresses.c.address.in_(
            select(contact_emails.c.address)
            .join(contacts, contacts.c.id == contact_emails.c.contact_id)
            .where(contacts.c.company_id == company_id)
        )
    )
    return select(union(by_domain, by_contact).subquery().c.message_id)


@dataclass(frozen=True)
class LinkedContact:
    """A contact a message is linked to, and the address that links it."""

    id: int
    name: str
    address: str


@dataclass(frozen=True)
class LinkedCompany:
    """A company a message is linked to."""

    id: int
    name: str


@dataclass(frozen=True)
class Correspondent:
    """An address on a message that matches no contact; *addable* when it may become one."""

    kind: str
    address: str
    name: str
    addable: bool


@dataclass(frozen=True)
class MessageLinks:
    """The CRM records a message is linked to, and its correspondents not yet in the CRM."""

    message_id: int
    automated: bool
    contacts: tuple[LinkedContact, ...]
    companies: tuple[LinkedCompany, ...]
    unknown: tuple[Correspondent, ...]


class Linking:
    """Answers which records a message is linked to, for the message view."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def for_message(self, actor: Actor, message_id: int) -> MessageLinks:
        """Contacts and companies of a message the user may see, and its addresses that match no contact."""
        from store.rights import mailbox_ids_with

        with db.read(self._engine) as conn:
            visible = mailbox_ids_with(conn, actor, "panel") | mailbox_ids_with(conn, actor, "read")
            automated = conn.execute(
                select(messages.c.is_automated).where(
                    messages.c.id == message_id, held_in(messages.c.id, visible)
                )
            ).first()
            if automated is None:
                raise NotFound(f"No message {message_id}.")
            rows = conn.execute(
                select(
                    message_addresses.c.kind,
                    message_addresses.c.address,
                    message_addresses.c.name,
                    contacts.c.id,
                    contacts.c.name,
                    contacts.c.company_id,
                )
                .outerjoin(contact_emails, contact_emails.c.address == message_addresses.c.address)
                .outerjoin(contacts, contacts.c.id == contact_emails.c.contact_id)
                .where(message_addresses.c.message_id == message_id)
            ).all()
            company_rows = conn.execute(
                select(companies.c.id, companies.c.name)
                .where(
                    companies.c.id.in_(
                        select(company_domains.c.company_id)
                        .join(message_addresses, message_addresses.c.domain == company_domains.c.domain)
                        .where(message_addresses.c.message_id == message_id)
                        .union(
                            select(contacts.c.company_id)
                            .join(contact_emails, contact_emails.c.contact_id == contacts.c.id)
                            .join(message_addresses, message_addresses.c.address == contact_emails.c.address)
                            .where(
                                message_addresses.c.message_id == message_id,
                                contacts.c.company_id.is_not(None),
                            )
                        )
                    )
                )
                .order_by(companies.c.name_key)
            ).all()
            own = set(conn.execute(select(mailboxes.c.email)).scalars())
        linked: dict[int, LinkedContact] = {}
        unknown: dict[str, Correspondent] = {}
        for kind, address, name, cid, cname, _company in rows:
            if cid is not None:
                linked.setdefault(cid, LinkedContact(cid, cname, address))
            elif address not in own and address not in unknown:
                addable = not automated[0] and not is_automated_sender(address)
                unknown[address] = Correspondent(kind, address, name, addable)
        order = {"from": 0, "to": 1, "cc": 2}
        return MessageLinks(
            message_id,
            bool(automated[0]),
            tuple(sorted(linked.values(), key=lambda c: c.name.lower())),
            tuple(LinkedCompany(i, n) for i, n in company_rows),
            tuple(sorted(unknown.values(), key=lambda c: order[c.kind])),
        )
