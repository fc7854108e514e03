"""One contact: its details, and its timeline of mail across the mailboxes the user may read."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on, work
from textual.binding import Binding
from textual.content import Content
from textual.message import Message

from screens.contact_form import ContactForm
from screens.record_page import RecordPageScreen, labelled_lines, listed
from store.crm.contacts import Contact
from store.crm.drafts import ContactDraft
from store.crm.timeline import PAGE
from store.errors import Conflict, Invalid, StoreError
from store.identity import Actor
from store.service import Store


@dataclass
class ContactRead(Message):
    """The worker read the contact."""

    contact: Contact


@dataclass
class ContactUpdateRefused(Message):
    """The store refused the edit; the form reopens with the draft and the error."""

    error: StoreError
    draft: ContactDraft


def details_block(contact: Contact) -> Content:
    """The contact's fields as labelled lines, one line per address and phone."""
    return labelled_lines(
        [
            ("Name", contact.name),
            *listed("Addresses", list(contact.emails)),
            *listed("Phones", list(contact.phones)),
            ("Job title", contact.job_title or "(none)"),
            ("Company", contact.company or "(none)"),
        ]
    )


class ContactPageScreen(RecordPageScreen):
    """Details and Timeline tabs of one contact; e edits it, enter on the timeline opens a message."""

    KIND = "contact"
    SUB_TITLE = "Contact"
    BINDINGS = [
        Binding("e", "edit", "Edit", id="contact_page.edit"),
        Binding("d", "tab('details')", "Details", id="contact_page.details"),
        Binding("t", "tab('timeline')", "Timeline", id="contact_page.timeline"),
        Binding("p", "review", "Proposals", id="contact_page.review"),
        Binding("escape", "app.pop_screen", "Back", id="contact_page.back"),
    ]

    def __init__(self, store: Store, actor: Actor, contact_id: int, page_size: int = PAGE) -> None:
        super().__init__(store, actor, contact_id, page_size)
        self.contact_id = contact_id
        self.contact: Contact | None = None

    # -- workers -------------------------------------------------------------------------
    @work(thread=True, exclusive=True, exit_on_error=False, group="contact.read", description="Open contact")
    def read_details(self) -> None:
        """Read the contact off the UI thread."""
        self.post_message(ContactRead(self.store.crm.contacts.get(self.actor, self.contact_id)))

    @work(thread=True, exclusive=True, exit_on_error=False, group="contact.write", description="Edit contact")
    def save(self, draft: ContactDraft) -> None:
        """Store the edited fields; a refusal goes back to the form."""
        try:
            contact = self.store.crm.contacts.update(self.actor, self.contact_id, draft)
        except (Invalid, Conflict) as exc:
            self.post_message(ContactUpdateRefused(exc, draft))
            return
        self.post_message(ContactRead(contact))
        self.read_timeline()  # new addresses link other mail

    # -- handlers ------------------------------------------------------------------------
    @on(ContactRead)
    def _show(self, event: ContactRead) -> None:
        self.contact = event.contact
        self.sub_title = f"Contact · {event.contact.name}"
        self.show_details(details_block(event.contact))

    @on(ContactUpdateRefused)
    def _refused(self, event: ContactUpdateRefused) -> None:
        errors = event.error.errors if isinstance(event.error, Invalid) else {"": str(event.error)}
        self.app.push_screen(ContactForm(self.contact, draft=event.draft, errors=errors), self._form_closed)

    # -- actions -------------------------------------------------------------------------
    def _form_closed(self, draft: ContactDraft | None) -> None:
        if draft is not None:
            self.save(draft)

    def action_edit(self) -> None:
        """Edit the contact's fields in the form."""
        if self.contact is not None:
            self.app.push_screen(ContactForm(self.contact), self._form_closed)

    def action_review(self) -> None:
        """Read the contact's recent signatures and review what they propose."""
        from screens.enrichment_review import EnrichmentReviewScreen

        self.app.push_screen(
            EnrichmentReviewScreen(self.store, self.actor, contact_id=self.contact_id),
            lambda _: self.read_details(),
        )
