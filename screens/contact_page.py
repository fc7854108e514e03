"""One contact: its details, and its timeline of mail across the mailboxes the user may read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header, Static, TabbedContent, TabPane
from textual.worker import Worker, WorkerState

from screens.contact_form import ContactForm
from store.crm.contacts import Contact
from store.crm.drafts import ContactDraft
from store.crm.timeline import PAGE, TimelineView
from store.errors import Conflict, Invalid, StoreError
from store.identity import Actor
from store.service import Store
from tui.widgets.timeline import TimelineMessageChosen, TimelineOlderWanted, TimelinePane


@dataclass
class ContactRead(Message):
    """The worker read the contact."""

    contact: Contact


@dataclass
class TimelineRead(Message):
    """The worker built a page of the contact's timeline (the first when *before* is None)."""

    view: TimelineView
    before: tuple[datetime, int] | None = None


@dataclass
class ContactUpdateRefused(Message):
    """The store refused the edit; the form reopens with the draft and the error."""

    error: StoreError
    draft: ContactDraft


def details_block(contact: Contact) -> Content:
    """The contact's fields as labelled lines, one line per address and phone."""
    lines = [("Name", contact.name)]
    for label, values in (("Addresses", list(contact.emails)), ("Phones", list(contact.phones))):
        lines += [(label if n == 0 else "", v) for n, v in enumerate(values or ["(none)"])]
    lines += [("Job title", contact.job_title or "(none)"), ("Company", contact.company or "(none)")]
    return Content("\n").join(
        Content.assemble(((f"{label}:" if label else "").ljust(13), "bold"), " ", value)
        for label, value in lines)


class ContactPageScreen(Screen[None]):
    """Details and Timeline tabs of one contact; e edits it, enter on the timeline opens a message."""

    SUB_TITLE = "Contact"
    BINDINGS = [
        Binding("e", "edit", "Edit", id="contact_page.edit"),
        Binding("d", "tab('details')", "Details", id="contact_page.details"),
        Binding("t", "tab('timeline')", "Timeline", id="contact_page.timeline"),
        Binding("p", "review", "Proposals", id="contact_page.review"),
        Binding("escape", "app.pop_screen", "Back", id="contact_page.back"),
    ]
    DEFAULT_CSS = """
    ContactPageScreen TabbedContent { height: 1fr; }
    ContactPageScreen TabPane { padding: 1 1 0 1; }
    ContactPageScreen #contact-details { padding: 0 1; }
    """

    def __init__(self, store: Store, actor: Actor, contact_id: int, page_size: int = PAGE) -> None:
        super().__init__()
        self.page_size = page_size  # timeline messages per page
        self.store = store
        self.actor = actor
        self.contact_id = contact_id
        self.contact: Contact | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with TabbedContent(initial="details"):
            with TabPane("Details", id="details"):
                yield Static("Loading the contact…", id="contact-details")
            with TabPane("Timeline", id="timeline"):
                yield TimelinePane(id="contact-timeline")
        yield Footer()

    def on_mount(self) -> None:
        self.read_contact()
        self.read_timeline()

    # -- workers -------------------------------------------------------------------------
    @work(thread=True, exclusive=True, exit_on_error=False, group="contact.read", description="Open contact")
    def read_contact(self) -> None:
        """Read the contact off the UI thread."""
        self.post_message(ContactRead(self.store.crm.contacts.get(self.actor, self.contact_id)))

    @work(thread=True, exclusive=True, exit_on_error=False, group="contact.timeline",
          description="Contact timeline")
    def read_timeline(self) -> None:
        """Build the timeline (only mail in mailboxes the user may read) off the UI thread."""
        view = self.store.crm.timelines.open(self.actor, contact_id=self.contact_id, limit=self.page_size)
        self.post_message(TimelineRead(view))

    @work(thread=True, exclusive=True, exit_on_error=False, group="contact.older", description="Older mail")
    def read_older(self, before: tuple[datetime, int]) -> None:
        """Read the next, older page of the timeline off the UI thread."""
        view = self.store.crm.timelines.open(self.actor, contact_id=self.contact_id, limit=self.page_size,
                                             before=before)
        self.post_message(TimelineRead(view, before))

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

    @on(Worker.StateChanged)
    def _pass_failure_to_app(self, event: Worker.StateChanged) -> None:
        """Hand a failed worker to the app, which reports it (worker messages do not bubble)."""
        if event.state == WorkerState.ERROR:
            self.app.post_message(event)

    # -- handlers ------------------------------------------------------------------------
    @on(ContactRead)
    def _show(self, event: ContactRead) -> None:
        self.contact = event.contact
        self.sub_title = f"Contact · {event.contact.name}"
        self.query_one("#contact-details", Static).update(details_block(event.contact))

    @on(TimelineRead)
    def _show_timeline(self, event: TimelineRead) -> None:
        pane = self.query_one(TimelinePane)
        if event.before is None:
            pane.show(event.view)
        else:
            pane.append(event.view, event.before)

    @on(TimelineOlderWanted)
    def _older_wanted(self, event: TimelineOlderWanted) -> None:
        self.read_older(event.before)

    @on(ContactUpdateRefused)
    def _refused(self, event: ContactUpdateRefused) -> None:
        errors = event.error.errors if isinstance(event.error, Invalid) else {"": str(event.error)}
        self.app.push_screen(ContactForm(self.contact, draft=event.draft, errors=errors), self._form_closed)

    @on(TimelineMessageChosen)
    def _open_message(self, event: TimelineMessageChosen) -> None:
        from screens.message_view import MessageViewScreen

        self.app.push_screen(MessageViewScreen(self.store, self.actor, event.item.message_id))

    # -- actions -------------------------------------------------------------------------
    def _form_closed(self, draft: ContactDraft | None) -> None:
        if draft is not None:
            self.save(draft)

    def action_edit(self) -> None:
        """Edit the contact's fields in the form."""
        if self.contact is not None:
            self.app.push_screen(ContactForm(self.contact), self._form_closed)

    def action_tab(self, tab: str) -> None:
        """Show the Details or the Timeline tab."""
        self.query_one(TabbedContent).active = tab
        if tab == "timeline":
            self.query_one("#timeline-table").focus()

    def action_review(self) -> None:
        """Read the contact's recent signatures and review what they propose."""
        from screens.enrichment_review import EnrichmentReviewScreen

        self.app.push_screen(EnrichmentReviewScreen(self.store, self.actor, contact_id=self.contact_id),
                             lambda _: self.read_contact())
