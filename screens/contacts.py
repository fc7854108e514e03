"""The contact list: search as you type, open a contact, add one."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Static
from textual.worker import Worker, WorkerState

from screens.contact_form import ContactForm
from store.crm.contacts import Contact
from store.crm.drafts import ContactDraft
from store.errors import Conflict, Invalid, StoreError
from store.identity import Actor
from store.service import Store


@dataclass
class ContactsLoaded(Message):
    """The worker read the contacts matching *search*."""

    search: str
    contacts: list[Contact]


@dataclass
class ContactSaved(Message):
    """The store added the contact."""

    contact: Contact


@dataclass
class ContactRefused(Message):
    """The store refused the new contact; the form reopens with the draft and the error."""

    error: StoreError
    draft: ContactDraft


class ContactsScreen(Screen[None]):
    """Contacts by name with their first address, company and job title."""

    SUB_TITLE = "Contacts"
    AUTO_FOCUS = "#contacts-table"
    BINDINGS = [
        Binding("a", "add", "Add", id="contacts.add"),
        Binding("slash", "focus_search", "Search", id="contacts.search"),
        Binding("escape", "back", "Back", id="contacts.back"),
    ]
    DEFAULT_CSS = """
    ContactsScreen #contacts-search { margin: 1 1 0 1; }
    ContactsScreen #contacts-count { height: 1; padding: 0 2; color: $text-muted; }
    ContactsScreen #contacts-table { height: 1fr; margin: 0 1; }
    """

    def __init__(self, store: Store, actor: Actor) -> None:
        super().__init__()
        self.store = store
        self.actor = actor
        self.contacts: dict[int, Contact] = {}
        self._loaded = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(placeholder="Search names, addresses, phones, companies (/)", id="contacts-search")
        yield Static("", id="contacts-count", markup=False)
        yield DataTable(id="contacts-table", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns("Name", "Address", "Company", "Job title")
        self.search("")

    def on_screen_resume(self) -> None:
        """Read the list again on coming back: the contact may have been edited."""
        if self._loaded:
            self.search(self.query_one("#contacts-search", Input).value)

    # -- workers -------------------------------------------------------------------------
    @work(
        thread=True, exclusive=True, exit_on_error=False, group="contacts.load", description="Search contacts"
    )
    def search(self, text: str) -> None:
        """Run the store's search off the UI thread; a newer search cancels this one."""
        self.post_message(ContactsLoaded(text, self.store.crm.contacts.list(self.actor, search=text)))

    @work(thread=True, exclusive=True, exit_on_error=False, group="contacts.write", description="Add contact")
    def add(self, draft: ContactDraft) -> None:
        """Store the new contact; a refusal goes back to the form."""
        try:
            contact = self.store.crm.contacts.add(self.actor, draft)
        except (Invalid, Conflict) as exc:
            self.post_message(ContactRefused(exc, draft))
            return
        self.post_message(ContactSaved(contact))

    @on(Worker.StateChanged)
    def _pass_failure_to_app(self, event: Worker.StateChanged) -> None:
        """Hand a failed worker to the app, which reports it (worker messages do not bubble)."""
        if event.state == WorkerState.ERROR:
            self.app.post_message(event)

    # -- handlers ------------------------------------------------------------------------
    @on(Input.Changed, "#contacts-search")
    def _search_changed(self, event: Input.Changed) -> None:
        self.search(event.value)

    @on(Input.Submitted, "#contacts-search")
    def _to_table(self) -> None:
        self.query_one(DataTable).focus()

    @on(ContactsLoaded)
    def _fill(self, event: ContactsLoaded) -> None:
        if event.search != self.query_one("#contacts-search", Input).value:
            return  # an older search finished after a newer one started
        self._loaded = True
        table = self.query_one(DataTable)
        table.clear()
        self.contacts = {c.id: c for c in event.contacts}
        for c in event.contacts:
            table.add_row(c.name, c.emails[0] if c.emails else "", c.company, c.job_title, key=str(c.id))
        found = len(event.contacts)
        what = f"{found} contact{'s' if found != 1 else ''}"
        self.query_one("#contacts-count", Static).update(
            f"{what} matching '{event.search}'" if event.search.strip() else what
        )

    @on(DataTable.RowSelected, "#contacts-table")
    def _open(self, event: DataTable.RowSelected) -> None:
        self.open_contact(int(str(event.row_key.value)))

    @on(ContactSaved)
    def _saved(self, event: ContactSaved) -> None:
        self.notify(f"Added {event.contact.name}.", title="Contacts")
        self.search(self.query_one("#contacts-search", Input).value)
        self.open_contact(event.contact.id)

    @on(ContactRefused)
    def _refused(self, event: ContactRefused) -> None:
        errors = event.error.errors if isinstance(event.error, Invalid) else {"": str(event.error)}
        self.app.push_screen(ContactForm(draft=event.draft, errors=errors), self._form_closed)

    # -- actions -------------------------------------------------------------------------
    def open_contact(self, contact_id: int) -> None:
        """Show the contact's page."""
        from screens.contact_page import ContactPageScreen

        self.app.push_screen(ContactPageScreen(self.store, self.actor, contact_id))

    def _form_closed(self, draft: ContactDraft | None) -> None:
        if draft is not None:
            self.add(draft)

    def action_add(self) -> None:
        """Open the form for a new contact."""
        self.app.push_screen(ContactForm(), self._form_closed)

    def action_focus_search(self) -> None:
        """Put the cursor in the search field."""
        self.query_one("#contacts-search", Input).focus()

    def action_back(self) -> None:
        """Leave the search field, else go back."""
        if self.focused is self.query_one("#contacts-search", Input):
            self.query_one(DataTable).focus()
        else:
            self.app.pop_screen()
