"""The unmatched senders: people in readable mail who are no contact, most frequent first."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static
from textual.worker import Worker, WorkerState

from screens.contact_picker import ContactPicker
from store.crm.unmatched import UnmatchedAddress
from store.identity import Actor
from store.service import Store


@dataclass
class QueueLoaded(Message):
    """The worker read the queue."""

    entries: list[UnmatchedAddress]


@dataclass
class EntryResolved(Message):
    """The store resolved an address; *done* says how, for the notification."""

    address: str
    done: str


class UnmatchedScreen(Screen[None]):
    """Address, name, message count and last mail; a adds, l links, i ignores."""

    SUB_TITLE = "Unmatched senders"
    AUTO_FOCUS = "#unmatched-table"
    BINDINGS = [
        Binding("a", "add", "Add as contact", id="unmatched.add"),
        Binding("l", "link", "Link to contact", id="unmatched.link"),
        Binding("i", "ignore", "Ignore", id="unmatched.ignore"),
        Binding("escape", "app.pop_screen", "Back", id="unmatched.back"),
    ]
    DEFAULT_CSS = """
    UnmatchedScreen #unmatched-intro { padding: 1 1 0 1; color: $text-muted; }
    UnmatchedScreen #unmatched-table { height: 1fr; margin: 1 1 0 1; }
    """

    def __init__(self, store: Store, actor: Actor) -> None:
        super().__init__()
        self.store = store
        self.actor = actor
        self.entries: dict[str, UnmatchedAddress] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Reading the queue…", id="unmatched-intro", markup=False)
        yield DataTable(id="unmatched-table", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns("Address", "Name", "Messages", "Last mail")
        self.load()

    # -- workers -------------------------------------------------------------------------
    @work(thread=True, exclusive=True, exit_on_error=False, group="unmatched.load", description="Read queue")
    def load(self) -> None:
        """Read the queue off the UI thread."""
        self.post_message(QueueLoaded(self.store.crm.unmatched.queue(self.actor)))

    @work(thread=True, exit_on_error=False, group="unmatched.write", description="Add contact")
    def add(self, entry: UnmatchedAddress) -> None:
        """Make the address a contact named as its mail names it."""
        contact = self.store.crm.unmatched.add(self.actor, entry.address, entry.name or None)
        self.post_message(EntryResolved(entry.address, f"Added {contact.name} as a contact."))

    @work(thread=True, exit_on_error=False, group="unmatched.write", description="Link address")
    def link(self, entry: UnmatchedAddress, contact_id: int) -> None:
        """Give the address to an existing contact."""
        contact = self.store.crm.unmatched.link(self.actor, entry.address, contact_id)
        self.post_message(EntryResolved(entry.address, f"{entry.address} now belongs to {contact.name}."))

    @work(thread=True, exit_on_error=False, group="unmatched.write", description="Ignore address")
    def ignore(self, entry: UnmatchedAddress) -> None:
        """Leave the address out of the queue from now on."""
        self.store.crm.unmatched.ignore(self.actor, entry.address)
        self.post_message(EntryResolved(entry.address, f"Ignoring {entry.address}."))

    @on(Worker.StateChanged)
    def _pass_failure_to_app(self, event: Worker.StateChanged) -> None:
        """Hand a failed worker to the app, which reports it (worker messages do not bubble)."""
        if event.state == WorkerState.ERROR:
            self.app.post_message(event)

    # -- handlers ------------------------------------------------------------------------
    @on(QueueLoaded)
    def _fill(self, event: QueueLoaded) -> None:
        table = self.query_one(DataTable)
        table.clear()
        self.entries = {e.address: e for e in event.entries}
        for e in event.entries:
            table.add_row(e.address, e.name, str(e.messages), f"{e.last_at:%Y-%m-%d}", key=e.address)
        self._say_count()

    def _say_count(self) -> None:
        n = len(self.entries)
        self.query_one("#unmatched-intro", Static).update(
            f"{n} address{'es' if n != 1 else ''} in your mail belong to no contact; most messages first."
            if n
            else "Everyone in your mail is a contact or ignored."
        )

    @on(EntryResolved)
    def _resolved(self, event: EntryResolved) -> None:
        self.entries.pop(event.address, None)
        table = self.query_one(DataTable)
        if event.address in {str(k.value) for k in table.rows}:
            table.remove_row(event.address)
        self.notify(event.done, title="Unmatched senders")
        self._say_count()

    # -- actions -------------------------------------------------------------------------
    def _current(self) -> UnmatchedAddress | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        return self.entries.get(str(key.value))

    def action_add(self) -> None:
        """Add the address under the cursor as a contact, with the name from its mail."""
        entry = self._current()
        if entry is not None:
            self.add(entry)

    def action_link(self) -> None:
        """Choose a contact to give the address under the cursor to."""
        entry = self._current()
        if entry is not None:

            def picked(contact_id: int | None) -> None:
                if contact_id is not None:
                    self.link(entry, contact_id)

            self.app.push_screen(ContactPicker(self.store, self.actor, f"Give {entry.address} to:"), picked)

    def action_ignore(self) -> None:
        """Leave the address under the cursor out of the queue."""
        entry = self._current()
        if entry is not None:
            self.ignore(entry)
