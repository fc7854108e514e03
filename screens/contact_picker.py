"""A small dialog that picks one contact by searching; it returns the contact's id or None."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Input, Static

from store.crm.contacts import Contact
from store.identity import Actor
from store.service import Store


@dataclass
class PickerLoaded(Message):
    """The worker read the contacts matching *search*."""

    search: str
    contacts: list[Contact]


class ContactPicker(ModalScreen[int | None]):
    """Type to search, enter (or down) to the list, enter to pick."""

    AUTO_FOCUS = "#picker-search"
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="contact_picker.cancel")]
    DEFAULT_CSS = """
    #picker-dialog { width: 80; height: 24; }
    #picker-table { height: 1fr; }
    #picker-what { color: $text-muted; padding: 0 1; }
    """

    def __init__(self, store: Store, actor: Actor, what: str) -> None:
        super().__init__(classes="dialog-screen")
        self.store = store
        self.actor = actor
        self.what = what

    def compose(self) -> ComposeResult:
        with Vertical(id="picker-dialog", classes="dialog"):
            yield Static(self.what, id="picker-what", markup=False)
            yield Input(placeholder="Search contacts", id="picker-search")
            yield DataTable(id="picker-table", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#picker-dialog").border_title = "Choose a contact"
        self.query_one(DataTable).add_columns("Name", "Address", "Company")
        self.search("")

    @work(
        thread=True, exclusive=True, exit_on_error=False, group="picker.load", description="Search contacts"
    )
    def search(self, text: str) -> None:
        """Run the store's search off the UI thread."""
        found = self.store.crm.contacts.list(self.actor, search=text, limit=50)
        self.post_message(PickerLoaded(text, found))

    @on(Input.Changed, "#picker-search")
    def _changed(self, event: Input.Changed) -> None:
        self.search(event.value)

    @on(Input.Submitted, "#picker-search")
    def _to_table(self) -> None:
        self.query_one(DataTable).focus()

    @on(PickerLoaded)
    def _fill(self, event: PickerLoaded) -> None:
        if event.search != self.query_one("#picker-search", Input).value:
            return
        table = self.query_one(DataTable)
        table.clear()
        for c in event.contacts:
            table.add_row(c.name, c.emails[0] if c.emails else "", c.company, key=str(c.id))

    @on(DataTable.RowSelected, "#picker-table")
    def _picked(self, event: DataTable.RowSelected) -> None:
        self.dismiss(int(str(event.row_key.value)))

    def action_cancel(self) -> None:
        """Close without a contact."""
        self.dismiss(None)
