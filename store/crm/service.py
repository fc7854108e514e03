"""The CRM's services in one place, as `store.crm` hands them out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from sqlalchemy import Engine

from store.clock import Clock
from store.crm.companies import Companies
from store.crm.contacts import Contacts
from store.crm.enrichment import Enrichment
from store.crm.linking import Linking
from store.crm.timeline import Timelines
from store.crm.unmatched import Unmatched
from store.errors import Conflict, Invalid, NotFound
from store.identity import Actor

if TYPE_CHECKING:
    from store.mailboxes import Mailboxes


@dataclass(frozen=True)
class Record:
    """A contact or a company, as one name on the command line resolved it."""

    kind: Literal["contact", "company"]
    id: int
    name: str


class Crm:
    """Contacts, companies, links, timelines, enrichment and the unmatched queue over one database."""

    def __init__(self, engine: Engine, clock: Clock, mailboxes_: Mailboxes) -> None:
        self.companies = Companies(engine, clock)
        self.contacts = Contacts(engine, clock, self.companies)
        self.linking = Linking(engine)
        self.timelines = Timelines(engine, clock, mailboxes_)
        self.enrichment = Enrichment(engine, clock, mailboxes_, self.contacts, self.companies)
        self.unmatched = Unmatched(engine, clock, mailboxes_, self.contacts)

    def resolve(self, actor: Actor, text: str) -> Record:
        """The contact or company *text* names: contact:ID, company:ID, an address, a domain, or a name."""
        kind, sep, rest = text.strip().partition(":")
        if sep and kind in ("contact", "company") and rest.strip().isdigit():
            if kind == "contact":
                c = self.contacts.get(actor, int(rest))
                return Record("contact", c.id, c.name)
            co = self.companies.get(actor, int(rest))
            return Record("company", co.id, co.name)
        if text.strip().isdigit():
            raise Invalid({"": f"say contact:{text.strip()} or company:{text.strip()}"})
        if "@" in text:
            c = self.contacts.find(actor, text)
            return Record("contact", c.id, c.name)
        found: list[Record] = []
        try:
            co = self.companies.find(actor, text)
            found.append(Record("company", co.id, co.name))
        except NotFound:
            pass
        try:
            c = self.contacts.find(actor, text)
            found.append(Record("contact", c.id, c.name))
        except NotFound:
            pass
        if not found:
            raise NotFound(f"No contact or company '{text}'.")
        if len(found) > 1:
            raise Conflict(
                f"'{text}' names a contact and a company; say contact:{found[1].id} or company:{found[0].id}."
            )
        return found[0]
