"""Contacts (people): names, addresses, phones, job title and company; adding one from a message."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, delete, func, insert, or_, select, update

from store import db
from store.clock import Clock
from store.crm.automated import is_automated_sender
from store.crm.companies import Companies, _like
from store.crm.domains import domain_of
from store.crm.drafts import ContactDraft, clean_address, phone_digits
from store.crm.tables import companies, company_domains, contact_emails, contact_phones, contacts
from store.errors import Conflict, Invalid, NotFound
from store.identity import Actor
from store.schema import mailboxes, message_addresses, messages


@dataclass(frozen=True)
class Contact:
    """A contact record; the first address is the one mail to the contact goes to."""

    id: int
    name: str
    emails: tuple[str, ...]
    phones: tuple[str, ...]
    job_title: str
    company_id: int | None
    company: str
    created_at: datetime
    updated_at: datetime


class Contacts:
    """Service for contact records; every user may read and edit them (mail on them is rights-filtered)."""

    def __init__(self, engine: Engine, clock: Clock, companies_: Companies) -> None:
        self._engine = engine
        self._clock = clock
        self._companies = companies_

    # -- reading -----------------------------------------------------------------------------------

    @staticmethod
    def load(conn: Connection, ids: list[int]) -> list[Contact]:
        """Contacts by id in the caller's transaction, in the order of *ids* (missing ones left out)."""
        if not ids:
            return []
        emails: dict[int, list[str]] = {}
        for address, cid in conn.execute(
            select(contact_emails.c.address, contact_emails.c.contact_id)
            .where(contact_emails.c.contact_id.in_(ids))
            .order_by(contact_emails.c.position, contact_emails.c.address)
        ):
            emails.setdefault(cid, []).append(address)
        phones: dict[int, list[str]] = {}
        for number, cid in conn.execute(
            select(contact_phones.c.number, contact_phones.c.contact_id)
            .where(contact_phones.c.contact_id.in_(ids))
            .order_by(contact_phones.c.id)
        ):
            phones.setdefault(cid, []).append(number)
        rows = (
            conn.execute(
                select(contacts, companies.c.name.label("company"))
                .outerjoin(companies, companies.c.id == contacts.c.company_id)
                .where(contacts.c.id.in_(ids))
            )
            .mappings()
            .all()
        )
        by_id = {
            r["id"]: Contact(
                r["id"],
                r["name"],
                tuple(emails.get(r["id"], ())),
                tuple(phones.get(r["id"], ())),
                r["job_title"],
                r["company_id"],
                r["company"] or "",
                r["created_at"],
                r["updated_at"],
            )
            for r in rows
        }
        return [by_id[i] for i in ids if i in by_id]

    def list(
        self, actor: Actor, search: str = "", company_id: int | None = None, limit: int = 200, offset: int = 0
    ) -> list[Contact]:
        """Contacts by name; *search* matches part of a name, an address, a phone or the company's name."""
        with db.read(self._engine) as conn:
            q = select(contacts.c.id)
            if company_id is not None:
                q = q.where(contacts.c.company_id == company_id)
            if search.strip():
                pattern = _like(search.strip().lower())
                q = q.where(
                    or_(
                        func.lower(contacts.c.name).like(pattern, escape="\\"),
                        contacts.c.id.in_(
                            select(contact_emails.c.contact_id).where(
                                contact_emails.c.address.like(pattern, escape="\\")
                            )
                        ),
                        contacts.c.id.in_(
                            select(contact_phones.c.contact_id).where(
                                contact_phones.c.number.like(pattern, escape="\\")
                            )
                        ),
                        contacts.c.company_id.in_(
                            select(companies.c.id).where(companies.c.name_key.like(pattern, escape="\\"))
                        ),
                    )
                )
            ids = list(
                conn.execute(
                    q.order_by(func.lower(contacts.c.name), contacts.c.id).limit(limit).offset(offset)
                ).scalars()
            )
            return self.load(conn, ids)

    def get(self, actor: Actor, contact_id: int) -> Contact:
        """One contact by id."""
        with db.read(self._engine) as conn:
            found = self.load(conn, [contact_id])
        if not found:
            raise NotFound(f"No contact {contact_id}.")
        return found[0]

    def find(self, actor: Actor, key: str | int) -> Contact:
        """A contact by id, one of its addresses, or its exact name (any case) when only one has it."""
        with db.read(self._engine) as conn:
            if isinstance(key, int) or key.strip().isdigit():
                ids = [int(key)]
            elif "@" in key:
                ids = list(
                    conn.execute(
                        select(contact_emails.c.contact_id).where(
                            contact_emails.c.address == key.strip().lower()
                        )
                    ).scalars()
                )
            else:
                ids = list(
                    conn.execute(
                        select(contacts.c.id).where(
                            func.lower(contacts.c.name) == " ".join(key.split()).lower()
                        )
                    ).scalars()
                )
            found = self.load(conn, ids)
        if not found:
            raise NotFound(f"No contact '{key}'.")
        if len(found) > 1:
            which = ", ".join(f"{c.id} ({c.emails[0] if c.emails else 'no address'})" for c in found)
            raise Conflict(f"{len(found)} contacts are named '{key}'; use an address or an id: {which}")
        return found[0]

    def by_address(self, actor: Actor, address: str) -> Contact | None:
        """The contact owning *address*, if any."""
        with db.read(self._engine) as conn:
            cid = conn.execute(
                select(contact_emails.c.contact_id).where(contact_emails.c.address == address.strip().lower())
            ).scalar()
            return self.load(conn, [cid])[0] if cid is not None else None

    # -- changing ----------------------------------------------------------------------------------

    def add(self, actor: Actor, draft: ContactDraft) -> Contact:
        """Store a new contact; without a company, one whose domain matches the first address is taken."""
        with db.write(self._engine) as conn:
            cid = self.insert(conn, draft)
            return self.load(conn, [cid])[0]

    def insert(self, conn: Connection, draft: ContactDraft) -> int:
        """Create a contact from a draft in the caller's transaction; returns its id."""
        now = self._clock()
        cid = conn.execute(
            insert(contacts).values(
                name=draft.name,
                job_title=draft.job_title,
                company_id=self._company_of(conn, draft),
                created_at=now,
                updated_at=now,
            )
        ).inserted_primary_key[0]
        self._add_emails(conn, cid, draft.emails)
        self._add_phones(conn, cid, draft.phones)
        return cid

    def _company_of(self, conn: Connection, draft: ContactDraft) -> int | None:
        if draft.company:
            return self._companies.ensure(conn, draft.company)
        for address in draft.emails:
            cid = conn.execute(
                select(company_domains.c.company_id).where(company_domains.c.domain == domain_of(address))
            ).scalar()
            if cid is not None:
                return cid
        return None

    def update(self, actor: Actor, contact_id: int, draft: ContactDraft) -> Contact:
        """Replace a contact's fields, addresses and phones with the draft's."""
        with db.write(self._engine) as conn:
            self._require(conn, contact_id)
            conn.execute(
                update(contacts)
                .where(contacts.c.id == contact_id)
                .values(
                    name=draft.name,
                    job_title=draft.job_title,
                    company_id=self._company_of(conn, draft),
                    updated_at=self._clock(),
                )
            )
            conn.execute(delete(contact_emails).where(contact_emails.c.contact_id == contact_id))
            conn.execute(delete(contact_phones).where(contact_phones.c.contact_id == contact_id))
            self._add_emails(conn, contact_id, draft.emails)
            self._add_phones(conn, contact_id, draft.phones)
            return self.load(conn, [contact_id])[0]

    def add_email(self, actor: Actor, contact_id: int, address: str) -> Contact:
        """Give a contact one more address; mail to and from it links to the contact at once."""
        try:
            clean = clean_address(address)
        except ValueError as exc:
            raise Invalid({"emails": str(exc)}) from None
        with db.write(self._engine) as conn:
            self._require(conn, contact_id)
            self.attach_email(conn, contact_id, clean)
            return self.load(conn, [contact_id])[0]

    def attach_email(self, conn: Connection, contact_id: int, address: str) -> None:
        """Add a clean address to a contact in the caller's transaction (refused when another has it)."""
        self._add_emails(conn, contact_id, (address,))
        conn.execute(update(contacts).where(contacts.c.id == contact_id).values(updated_at=self._clock()))

    def remove_email(self, actor: Actor, contact_id: int, address: str) -> Contact:
        """Take an address away from a contact."""
        with db.write(self._engine) as conn:
            self._require(conn, contact_id)
            conn.execute(
                delete(contact_emails).where(
                    contact_emails.c.contact_id == contact_id,
                    contact_emails.c.address == address.strip().lower(),
                )
            )
            return self.load(conn, [contact_id])[0]

    def add_phone(self, actor: Actor, contact_id: int, number: str) -> Contact:
        """Give a contact one more phone number (a number it has already is left as it is)."""
        clean = ContactDraft.parse(name="x", phones=(number,)).phones
        with db.write(self._engine) as conn:
            self._require(conn, contact_id)
            self._add_phones(conn, contact_id, clean)
            return self.load(conn, [contact_id])[0]

    def remove_phone(self, actor: Actor, contact_id: int, number: str) -> Contact:
        """Take a phone number away from a contact (any spelling of the same digits)."""
        with db.write(self._engine) as conn:
            self._require(conn, contact_id)
            conn.execute(
                delete(contact_phones).where(
                    contact_phones.c.contact_id == contact_id, contact_phones.c.digits == phone_digits(number)
                )
            )
            return self.load(conn, [contact_id])[0]

    def set_fields(self, conn: Connection, contact_id: int, **values: object) -> None:
        """Change columns of a contact in the caller's transaction (enrichment accepts through this)."""
        conn.execute(
            update(contacts).where(contacts.c.id == contact_id).values(**values, updated_at=self._clock())
        )

    def remove(self, actor: Actor, contact_id: int) -> Contact:
        """Delete a contact; its mail stays, unlinked."""
        with db.write(self._engine) as conn:
            self._require(conn, contact_id)
            found = self.load(conn, [contact_id])[0]
            conn.execute(delete(contacts).where(contacts.c.id == contact_id))
        return found

    @staticmethod
    def _require(conn: Connection, contact_id: int) -> None:
        if conn.execute(select(contacts.c.id).where(contacts.c.id == contact_id)).first() is None:
            raise NotFound(f"No contact {contact_id}.")

    @staticmethod
    def _add_emails(conn: Connection, contact_id: int, addresses: tuple[str, ...]) -> None:
        position = conn.execute(
            select(func.coalesce(func.max(contact_emails.c.position) + 1, 0)).where(
                contact_emails.c.contact_id == contact_id
            )
        ).scalar_one()
        for address in addresses:
            owner = conn.execute(
                select(contact_emails.c.contact_id, contacts.c.name)
                .join(contacts, contacts.c.id == contact_emails.c.contact_id)
                .where(contact_emails.c.address == address)
            ).first()
            if owner is not None and owner[0] != contact_id:
                raise Conflict(f"{address} already belongs to the contact '{owner[1]}'.")
            if owner is None:
                conn.execute(
                    insert(contact_emails).values(address=address, contact_id=contact_id, position=position)
                )
                position += 1

    @staticmethod
    def _add_phones(conn: Connection, contact_id: int, numbers: tuple[str, ...]) -> None:
        have = set(
            conn.execute(
                select(contact_phones.c.digits).where(contact_phones.c.contact_id == contact_id)
            ).scalars()
        )
        for number in numbers:
            digits = phone_digits(number)
            if digits not in have:
                conn.execute(
                    insert(contact_phones).values(contact_id=contact_id, number=number, digits=digits)
                )
                have.add(digits)

    # -- from mail ---------------------------------------------------------------------------------

    def add_from_message(self, actor: Actor, message_id: int, address: str | None = None) -> Contact:
        """Add a correspondent of a message the user may see as a contact, named as the header names them.

        Without *address* the sender is taken (or, for mail the user sent, the first recipient).
        Automated mail and no-reply senders never make a contact.
        """
        from store.crm.linking import held_in
        from store.rights import mailbox_ids_with

        with db.write(self._engine) as conn:
            visible = mailbox_ids_with(conn, actor, "panel") | mailbox_ids_with(conn, actor, "read")
            row = conn.execute(
                select(messages.c.is_automated).where(
                    messages.c.id == message_id, held_in(messages.c.id, visible)
                )
            ).first()
            if row is None:
                raise NotFound(f"No message {message_id}.")
            if row[0]:
                raise Invalid({"address": "this message is automated mail; it never makes a contact"})
            own = set(conn.execute(select(mailboxes.c.email)).scalars())
            people = [
                (kind, addr, name)
                for kind, addr, name in conn.execute(
                    select(
                        message_addresses.c.kind, message_addresses.c.address, message_addresses.c.name
                    ).where(message_addresses.c.message_id == message_id)
                )
            ]
            order = {"from": 0, "to": 1, "cc": 2}
            people.sort(key=lambda p: order[p[0]])
            if address is None:
                candidates = [p for p in people if p[1] not in own]
                if not candidates:
                    raise Invalid({"address": "every address on this message is a connected mailbox"})
                address = candidates[0][1]
            address = address.strip().lower()
            names = [n for _, a, n in people if a == address]
            if not names:
                raise Invalid({"address": f"{address} is not on message {message_id}"})
            if address in own:
                raise Invalid({"address": f"{address} is a connected mailbox, not a contact"})
            if is_automated_sender(address):
                raise Invalid({"address": f"{address} is an automated sender; it never makes a contact"})
            name = next((n for n in names if n), "") or address.partition("@")[0]
            draft = ContactDraft.parse(name=name[:256], emails=(address,))
            cid = self.insert(conn, draft)
            return self.load(conn, [cid])[0]
