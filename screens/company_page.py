"""One company: its domains and contacts, and its timeline of mail across the mailboxes the user may read."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on, work
from textual.binding import Binding
from textual.content import Content
from textual.message import Message

from screens.company_form import CompanyEditor
from screens.record_page import RecordPageScreen, labelled_lines, listed
from store.crm.companies import Company
from store.crm.contacts import Contact
from store.crm.timeline import PAGE
from store.identity import Actor
from store.service import Store


@dataclass
class CompanyRead(Message):
    """The worker read the company and its contacts."""

    company: Company
    contacts: list[Contact]


def company_block(company: Company, people: list[Contact]) -> Content:
    """The company's name, domains and contacts as labelled lines, one line per domain and contact."""
    names = [f"{c.name} <{c.emails[0]}>" if c.emails else c.name for c in people]
    return labelled_lines(
        [("Name", company.name), *listed("Domains", list(company.domains)), *listed("Contacts", names)]
    )


class CompanyPageScreen(RecordPageScreen):
    """Details and Timeline tabs of one company; e edits it, enter on the timeline opens a message."""

    KIND = "company"
    SUB_TITLE = "Company"
    BINDINGS = [
        Binding("e", "edit", "Edit", id="company_page.edit"),
        Binding("d", "tab('details')", "Details", id="company_page.details"),
        Binding("t", "tab('timeline')", "Timeline", id="company_page.timeline"),
        Binding("escape", "app.pop_screen", "Back", id="company_page.back"),
    ]

    def __init__(self, store: Store, actor: Actor, company_id: int, page_size: int = PAGE) -> None:
        super().__init__(store, actor, company_id, page_size)
        self.company_id = company_id
        self.company: Company | None = None
        self.editor = CompanyEditor(self, store, actor, self._edited)

    @work(thread=True, exclusive=True, exit_on_error=False, group="company.read", description="Open company")
    def read_details(self) -> None:
        """Read the company and its contacts off the UI thread."""
        crm = self.store.crm
        company = crm.companies.get(self.actor, self.company_id)
        self.post_message(CompanyRead(company, crm.contacts.list(self.actor, company_id=self.company_id)))

    @on(CompanyRead)
    def _show(self, event: CompanyRead) -> None:
        self.company = event.company
        self.sub_title = f"Company · {event.company.name}"
        self.show_details(company_block(event.company, event.contacts))

    def action_edit(self) -> None:
        """Edit the company's name and domains in the form."""
        if self.company is not None:
            self.editor.open(self.company)

    def _edited(self, company: Company) -> None:
        self.read_details()
        self.read_timeline()  # other domains link other mail
