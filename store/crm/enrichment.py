"""Proposals from signatures: phones, job title and company found in a contact's recent mail, for review.

Nothing is written to a contact until a user accepts; a rejected value is remembered and never proposed
again. Only mail the contact sent is read, never automated mail, and a user sees only proposals whose
source message sits in a mailbox they may read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from sqlalchemy import Connection, Engine, insert, select, update

from store import db
from store.clock import Clock
from store.crm.companies import Companies, name_key
from store.crm.contacts import Contact, Contacts
from store.crm.domains import domain_of
from store.crm.drafts import phone_digits
from store.crm.linking import held_in
from store.crm.signatures import extract
from store.crm.tables import companies, company_domains, contact_phones, contacts, enrichment_proposals
from store.errors import Invalid, NotFound
from store.identity import Actor
from store.schema import message_addresses, messages

if TYPE_CHECKING:
    from store.mailboxes import Mailboxes

Field = Literal["phone", "job_title", "company"]
RECENT = 20  # messages of the contact read per refresh


@dataclass(frozen=True)
class Proposal:
    """A value found in a signature, waiting for (or having had) a user's decision."""

    id: int
    contact_id: int
    contact: str
    field: Field
    value: str
    message_id: int | None
    state: str
    created_at: datetime


def value_key(field: str, value: str) -> str:
    """What makes two proposed values the same value (a phone's digits, a name in any case)."""
    if field == "phone":
        return phone_digits(value)
    if field == "company":
        return name_key(value)
    return " ".join(value.casefold().split())


class Enrichment:
    """Finds, lists, accepts and rejects proposals for contacts."""

    def __init__(
        self, engine: Engine, clock: Clock, mailboxes_: Mailboxes, contacts_: Contacts, companies_: Companies
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._mailboxes = mailboxes_
        self._contacts = contacts_
        self._companies = companies_

    def refresh(self, actor: Actor, contact_id: int, recent: int = RECENT) -> list[Proposal]:
        """Read the signatures of the contact's recent mail the user may read; returns the open proposals."""
        readable = sorted(self._mailboxes.readable_ids(actor))
        with db.read(self._engine) as conn:  # read and parse first; the write lock is taken only to insert
            contact = Contacts.load(conn, [contact_id])
            if not contact:
                raise NotFound(f"No contact {contact_id}.")
            found = self._scan(conn, contact[0], readable, recent)
        with db.write(self._engine) as conn:
            if not Contacts.load(conn, [contact_id]):
                raise NotFound(f"No contact {contact_id}.")  # removed meanwhile
            known = {
                (f, k)
                for f, k in conn.execute(
                    select(enrichment_proposals.c.field, enrichment_proposals.c.value_key).where(
                        enrichment_proposals.c.contact_id == contact_id
                    )
                )
            }
            now = self._clock()
            for field, value, message_id in found:
                key = value_key(field, value)
                if (field, key) not in known:
                    known.add((field, key))
                    conn.execute(
                        insert(enrichment_proposals).values(
                            contact_id=contact_id,
                            field=field,
                            value=value,
                            value_key=key,
                            message_id=message_id,
                            state="proposed",
                            created_at=now,
                        )
                    )
        return self.proposals(actor, contact_id)

    def _scan(
        self, conn: Connection, contact: Contact, readable: list[int], recent: int
    ) -> list[tuple[Field, str, int]]:
        if not contact.emails or not readable:
            return []
        rows = conn.execute(
            select(messages.c.id, messages.c.body_text, messages.c.from_name)
            .where(
                messages.c.id.in_(
                    select(message_addresses.c.message_id).where(
                        message_addresses.c.kind == "from", message_addresses.c.address.in_(contact.emails)
                    )
                ),
                messages.c.is_automated.is_(False),
                messages.c.body_loaded.is_(True),
                held_in(messages.c.id, readable),
            )
            .order_by(messages.c.sent_at.desc())
            .limit(recent)
        ).all()
        domains = {domain_of(a) for a in contact.emails}
        known_companies = list(
            conn.execute(
                select(companies.c.name)
                .join(company_domains, company_domains.c.company_id == companies.c.id)
                .where(company_domains.c.domain.in_(domains))
            ).scalars()
        )
        have_phones = {phone_digits(p) for p in contact.phones}
        out: list[tuple[Field, str, int]] = []
        title_done = company_done = False
        for message_id, body, from_name in rows:  # newest first: the newest title and company win
            facts = extract(body, contact.name or from_name, known_companies)
            for number in facts.phones:
                if phone_digits(number) not in have_phones:
                    have_phones.add(phone_digits(number))
                    out.append(("phone", number, message_id))
            if facts.job_title and not title_done:
                title_done = True
                if value_key("job_title", facts.job_title) != value_key("job_title", contact.job_title):
                    out.append(("job_title", facts.job_title, message_id))
            if facts.company and not company_done:
                company_done = True
                if name_key(facts.company) != name_key(contact.company):
                    out.append(("company", facts.company, message_id))
        return out

    def proposals(
        self, actor: Actor, contact_id: int | None = None, state: str = "proposed"
    ) -> list[Proposal]:
        """Proposals in *state* (of one contact, or of all), newest first, whose source the user may read."""
        readable = sorted(self._mailboxes.readable_ids(actor))
        with db.read(self._engine) as conn:
            return self._visible(conn, readable, contact_id=contact_id, state=state)

    @staticmethod
    def _visible(
        conn: Connection,
        readable: list[int],
        contact_id: int | None = None,
        state: str | None = None,
        proposal_id: int | None = None,
    ) -> list[Proposal]:
        p = enrichment_proposals
        q = (
            select(
                p.c.id,
                p.c.contact_id,
                contacts.c.name,
                p.c.field,
                p.c.value,
                p.c.message_id,
                p.c.state,
                p.c.created_at,
            )
            .join(contacts, contacts.c.id == p.c.contact_id)
            .where(held_in(p.c.message_id, readable))
        )
        if contact_id is not None:
            q = q.where(p.c.contact_id == contact_id)
        if state is not None:
            q = q.where(p.c.state == state)
        if proposal_id is not None:
            q = q.where(p.c.id == proposal_id)
        return [Proposal(*r) for r in conn.execute(q.order_by(p.c.created_at.desc(), p.c.id))]

    def _open(self, conn: Connection, actor: Actor, proposal_id: int) -> Proposal:
        found = self._visible(conn, sorted(self._mailboxes.readable_ids(actor)), proposal_id=proposal_id)
        if not found:
            raise NotFound(f"No proposal {proposal_id}.")
        if found[0].state != "proposed":
            raise Invalid({"": f"proposal {proposal_id} was already {found[0].state}"})
        return found[0]

    def accept(self, actor: Actor, proposal_id: int) -> Contact:
        """Write a proposed value to its contact; returns the contact as it now is."""
        with db.write(self._engine) as conn:
            prop = self._open(conn, actor, proposal_id)
            if prop.field == "phone":
                digits = phone_digits(prop.value)
                have = conn.execute(
                    select(contact_phones.c.id).where(
                        contact_phones.c.contact_id == prop.contact_id, contact_phones.c.digits == digits
                    )
                ).first()
                if have is None:
                    conn.execute(
                        insert(contact_phones).values(
                            contact_id=prop.contact_id, number=prop.value[:64], digits=digits
                        )
                    )
            elif prop.field == "job_title":
                self._contacts.set_fields(conn, prop.contact_id, job_title=prop.value[:128])
            else:
                company_id = self._companies.ensure(conn, prop.value[:256])
                self._contacts.set_fields(conn, prop.contact_id, company_id=company_id)
            self._decide(conn, actor, proposal_id, "accepted")
            return Contacts.load(conn, [prop.contact_id])[0]

    def reject(self, actor: Actor, proposal_id: int) -> Proposal:
        """Refuse a proposed value; it is never proposed for this contact again."""
        with db.write(self._engine) as conn:
            prop = self._open(conn, actor, proposal_id)
            self._decide(conn, actor, proposal_id, "rejected")
        return Proposal(**{**prop.__dict__, "state": "rejected"})

    def _decide(self, conn: Connection, actor: Actor, proposal_id: int, state: str) -> None:
        conn.execute(
            update(enrichment_proposals)
            .where(enrichment_proposals.c.id == proposal_id)
            .values(state=state, decided_at=self._clock(), decided_by=actor.user.id)
        )
