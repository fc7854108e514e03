"""The review queue of people who wrote or were written to but match no contact, most frequent first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, bindparam, delete, func, insert, or_, select

from store import db
from store.clock import Clock
from store.crm.automated import is_automated_sender
from store.crm.contacts import Contact, Contacts
from store.crm.drafts import ContactDraft, clean_address
from store.crm.linking import held_in
from store.crm.tables import address_counts, contact_emails, ignored_addresses
from store.errors import Conflict, Invalid, NotFound
from store.identity import Actor
from store.schema import mailboxes, message_addresses, messages

if TYPE_CHECKING:
    from store.mailboxes import Mailboxes


@dataclass(frozen=True)
class UnmatchedAddress:
    """An address on mail the user may read that no contact has, with how often and when it was last seen."""

    address: str
    name: str
    messages: int
    last_at: datetime


class Unmatched:
    """Lists the queue and resolves its entries: add as a contact, link to a contact, or ignore."""

    def __init__(self, engine: Engine, clock: Clock, mailboxes_: Mailboxes, contacts_: Contacts) -> None:
        self._engine = engine
        self._clock = clock
        self._mailboxes = mailboxes_
        self._contacts = contacts_

    def queue(self, actor: Actor, limit: int = 50, offset: int = 0) -> list[UnmatchedAddress]:
        """Unmatched addresses, most messages first (no-reply and other automated senders left out).

        Counts come from address_counts (messages per address and set of mailboxes, kept by triggers), so
        the queue costs one pass over that table, not over the mail: the sets holding a mailbox the user
        may read are summed, and addresses of contacts, ignored ones and connected mailboxes left out."""
        readable = sorted(self._mailboxes.readable_ids(actor))
        if not readable:
            return []
        c = address_counts.c
        with db.read(self._engine) as conn:
            where = []
            if set(conn.execute(select(mailboxes.c.id)).scalars()) - set(readable):
                where.append(or_(*(func.instr(c.boxes, f" {box} ") > 0 for box in readable)))
            n, last = func.sum(c.messages), func.max(c.last_at)
            q = (
                select(c.address, n, last)
                .where(*where)
                .group_by(c.address)
                .having(
                    c.address.not_in(select(contact_emails.c.address)),  # once per address, not row
                    c.address.not_in(select(ignored_addresses.c.address)),
                    c.address.not_in(select(mailboxes.c.email)),
                )
                .order_by(n.desc(), last.desc(), c.address)
            )
            batch = offset + limit + 50  # SQLite keeps only the top *batch* while sorting
            while True:  # automated senders (no-reply …) are left out here, so ask again for more if short
                rows = conn.execute(q.limit(batch)).all()
                kept = [(a, n, t) for a, n, t in rows if not is_automated_sender(a)]
                if len(kept) >= offset + limit or len(rows) < batch:
                    break
                batch *= 4
            out = kept[offset : offset + limit]
            names = self._names(conn, [a for a, _, _ in out], readable)
        return [
            UnmatchedAddress(a, names.get(a, ""), n, datetime.fromtimestamp(last, UTC)) for a, n, last in out
        ]

    @staticmethod
    def _names(conn: Connection, addresses: list[str], readable: list[int]) -> dict[str, str]:
        """The non-empty name each address was last stored with, on non-automated mail the user may read:
        one walk down the address index per address (newest stored first) that stops at the first name."""
        a = message_addresses.c
        q = (
            select(a.name)
            .join(messages, messages.c.id == a.message_id)
            .where(
                a.address == bindparam("address"),
                a.name != "",
                messages.c.is_automated.is_(False),
                held_in(a.message_id, readable),
            )
            .order_by(a.message_id.desc())
            .limit(1)
        )
        names = {}
        for address in addresses:
            name = conn.execute(q, {"address": address}).scalar()
            if name:
                names[address] = name
        return names

    def _check(self, conn: Connection, address: str, readable: list[int]) -> str:
        try:
            address = clean_address(address)
        except ValueError as exc:
            raise Invalid({"address": str(exc)}) from None
        if is_automated_sender(address):
            raise Invalid({"address": f"{address} is an automated sender; it never makes a contact"})
        if conn.execute(select(mailboxes.c.id).where(mailboxes.c.email == address)).first():
            raise Invalid({"address": f"{address} is a connected mailbox, not a contact"})
        a = message_addresses
        queued = conn.execute(
            select(a.c.message_id)
            .join(messages, messages.c.id == a.c.message_id)
            .where(
                a.c.address == address,
                messages.c.is_automated.is_(False),
                held_in(a.c.message_id, readable),
                a.c.address.not_in(select(contact_emails.c.address)),
                a.c.address.not_in(select(ignored_addresses.c.address)),
            )
            .limit(1)
        ).first()
        if queued is None:
            raise NotFound(f"{address} is not in the queue of unmatched addresses.")
        return address

    def add(self, actor: Actor, address: str, name: str | None = None) -> Contact:
        """Make a queued address a contact, named as its most recent mail names it unless *name* is given."""
        readable = sorted(self._mailboxes.readable_ids(actor))
        with db.write(self._engine) as conn:
            address = self._check(conn, address, readable)
            name = name or self._names(conn, [address], readable).get(address) or address.partition("@")[0]
            cid = self._contacts.insert(conn, ContactDraft.parse(name=name[:256], emails=(address,)))
            return Contacts.load(conn, [cid])[0]

    def link(self, actor: Actor, address: str, contact_id: int) -> Contact:
        """Give a queued address to an existing contact."""
        readable = sorted(self._mailboxes.readable_ids(actor))
        with db.write(self._engine) as conn:
            address = self._check(conn, address, readable)
            if not Contacts.load(conn, [contact_id]):
                raise NotFound(f"No contact {contact_id}.")
            self._contacts.attach_email(conn, contact_id, address)
            return Contacts.load(conn, [contact_id])[0]

    def ignore(self, actor: Actor, address: str) -> None:
        """Leave an address out of the queue from now on."""
        address = address.strip().lower()
        with db.write(self._engine) as conn:
            if conn.execute(
                select(contact_emails.c.address).where(contact_emails.c.address == address)
            ).first():
                raise Conflict(f"{address} belongs to a contact; remove it there instead.")
            if not conn.execute(
                select(ignored_addresses.c.address).where(ignored_addresses.c.address == address)
            ).first():
                conn.execute(
                    insert(ignored_addresses).values(
                        address=address, ignored_by=actor.user.id, created_at=self._clock()
                    )
                )

    def unignore(self, actor: Actor, address: str) -> None:
        """Put an ignored address back in the queue."""
        with db.write(self._engine) as conn:
            conn.execute(
                delete(ignored_addresses).where(ignored_addresses.c.address == address.strip().lower())
            )

    def ignored(self, actor: Actor) -> list[str]:
        """The ignored addresses, alphabetically."""
        with db.read(self._engine) as conn:
            return list(
                conn.execute(
                    select(ignored_addresses.c.address).order_by(ignored_addresses.c.address)
                ).scalars()
            )
