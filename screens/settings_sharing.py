"""The sharing section of a mailbox's settings page: "Access for other users" and the table of rights."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.coordinate import Coordinate
from textual.message import Message
from textual.widgets import Checkbox, DataTable, Label, Static

from screens.settings_sections import Section
from screens.share_add import ShareAddScreen
from store.identity import Actor, Principal
from store.service import Store
from store.sharing import ShareRow, SharingState

CHECKED, UNCHECKED = "☑", "☐"
RIGHTS = ("read", "send", "configure")
RIGHT_LABELS = {"read": "Read\nemails", "send": "Send\nemails", "configure": "Configure\nmailbox"}
EMPTY_NOTE = "No users or roles have access yet. Press + to add one."
OFF_NOTE = "Off: the rows below grant nothing until the option is on again."


def who(row: ShareRow) -> str:
    """The first cell of a row: the name, and "(role)" for a role."""
    return f"{row.principal_name} (role)" if row.kind == "role" else row.principal_name


class ShareTable(DataTable[str]):
    """The rows of the sharing table; space toggles the right under the cursor, delete or x removes a row."""

    BINDINGS = [
        Binding("space", "toggle", "Tick / untick", id="sharing.toggle"),
        Binding("delete,x", "remove", "Remove row", id="sharing.remove"),
    ]

    @dataclass
    class Toggled(Message):
        """The right *right* of row *name* was toggled."""

        name: str
        right: str

    @dataclass
    class RemoveWanted(Message):
        """The user asked to remove row *name*."""

        name: str

    def _cursor_name(self) -> str | None:
        if not self.row_count:
            return None
        return str(self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value)

    def action_toggle(self) -> None:
        """Tick or untick the right under the cursor (on a name, the Read right)."""
        name = self._cursor_name()
        if name is not None:
            column = self.cursor_coordinate.column
            self.post_message(self.Toggled(name, RIGHTS[max(column - 1, 0)]))

    def action_remove(self) -> None:
        """Remove the row under the cursor."""
        name = self._cursor_name()
        if name is not None:
            self.post_message(self.RemoveWanted(name))


class SharingSection(Section):
    """Who else may read, send from or configure this mailbox; saved with the page's Save."""

    TITLE = "Sharing"
    BINDINGS = [Binding("plus", "add", "Add user or role", id="sharing.add")]
    DEFAULT_CSS = """
    SharingSection #share-table { height: auto; max-height: 12; margin-top: 1; }
    SharingSection #share-empty, SharingSection #share-off { color: $text-muted; height: auto; }
    SharingSection #share-owner { color: $text-muted; height: auto; }
    SharingSection #error-sharing { height: auto; margin-left: 0; }
    """

    def __init__(self, state: SharingState, store: Store, actor: Actor) -> None:
        super().__init__(id="sharing-section", classes="settings-section")
        self.store = store
        self.actor = actor
        self.initial = state
        self.rows: dict[str, ShareRow] = {r.principal_name: r for r in state.rows}

    def compose(self) -> ComposeResult:
        yield Checkbox("Access for other users", self.initial.enabled, compact=True, id="sharing_enabled")
        yield Static(OFF_NOTE, id="share-off", classes="setting-note", markup=False)
        yield Static(f"Owner: {self.initial.owner_name} (every right)", id="share-owner", markup=False)
        yield ShareTable(cursor_type="cell", header_height=2, zebra_stripes=False, id="share-table")
        yield Static(EMPTY_NOTE, id="share-empty", markup=False)
        yield Label(id="error-sharing", classes="setting-error", markup=False)

    def on_mount(self) -> None:
        super().on_mount()
        table = self.query_one(ShareTable)
        table.add_column("User / Role", width=22, key="who")
        for right in RIGHTS:
            table.add_column(RIGHT_LABELS[right], key=right)
        self._refill()
        self.sync_state()

    # -- state -------------------------------------------------------------------------------------
    def state(self) -> SharingState:
        """The option and table as the section shows them now."""
        enabled = self.query_one("#sharing_enabled", Checkbox).value
        return SharingState(enabled, list(self.rows.values()), self.initial.owner_name)

    @property
    def dirty(self) -> bool:
        """Whether the option or any row differs from what was stored when the page opened."""
        now = self.state()
        before = {r.principal_name: r.rights for r in self.initial.rows}
        return now.enabled != self.initial.enabled or {n: r.rights for n, r in self.rows.items()} != before

    def sync_state(self) -> None:
        """Show the note for an option turned off, and the empty-table line instead of an empty table."""
        enabled = self.query_one("#sharing_enabled", Checkbox).value
        self.query_one("#share-off").display = not enabled and bool(self.rows)
        self.query_one("#share-table").display = bool(self.rows)
        self.query_one("#share-empty").display = not self.rows

    def show_errors(self, errors: Mapping[str, str]) -> None:
        """Show the store's errors (keyed by user or role) under the table."""
        label = self.query_one("#error-sharing", Label)
        text = "\n".join(f"{name}: {message}" if name else message for name, message in errors.items())
        label.update(text)
        label.set_class(bool(text), "-shown")

    def refused(self, errors: Mapping[str, str]) -> None:
        """The store refused the table (so nothing was saved): say why under it and focus it."""
        self.show_errors({"": "Nothing saved: the sharing table was refused.", **errors})
        self.query_one("#share-table" if self.rows else "#sharing_enabled").focus()

    # -- editing -----------------------------------------------------------------------------------
    def add(self, name: str, kind: str) -> None:
        """Add a row with Read ticked and put the cursor on it (a name already there just gets the cursor)."""
        if name not in self.rows:
            self.rows[name] = ShareRow(name, kind, read=True)
        self._refill()
        table = self.query_one(ShareTable)
        table.focus()
        table.cursor_coordinate = Coordinate(table.get_row_index(name), 1)

    def _refill(self) -> None:
        table = self.query_one(ShareTable)
        where = table.cursor_coordinate
        table.clear()
        for row in self.rows.values():
            send = row.send
            cells = [CHECKED if value else UNCHECKED for value in (row.read or send, send, row.configure)]
            table.add_row(who(row), *cells, key=row.principal_name)
        if self.rows:
            table.cursor_coordinate = Coordinate(min(where.row, len(self.rows) - 1), where.column)
        self.sync_state()

    @on(ShareTable.Toggled)
    def _toggled(self, event: ShareTable.Toggled) -> None:
        event.stop()
        row = self.rows[event.name]
        value = not getattr(row, event.right)
        if event.right == "read" and row.send:
            value = True  # Send implies Read: untick Send first
        self.rows[event.name] = replace(row, **{event.right: value})
        self.show_errors({})
        self._refill()

    @on(ShareTable.RemoveWanted)
    def _remove(self, event: ShareTable.RemoveWanted) -> None:
        event.stop()
        self.rows.pop(event.name, None)
        self.show_errors({})
        self._refill()
        if not self.rows:
            self.query_one("#sharing_enabled").focus()

    def action_add(self) -> None:
        """Open the dialog that finds a user or role, and add the one picked."""
        taken = set(self.rows) | {self.initial.owner_name}
        self.app.push_screen(ShareAddScreen(self.store, self.actor, taken), self._picked)

    def _picked(self, principal: Principal | None) -> None:
        if principal is not None:
            self.add(principal.name, principal.kind)

    @on(Checkbox.Changed, "#sharing_enabled")
    def _option_changed(self) -> None:
        self.sync_state()
