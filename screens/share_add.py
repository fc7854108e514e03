"""The dialog that finds a user or role to add to a mailbox's sharing table."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, OptionList, Static
from textual.widgets.option_list import Option

from store.errors import StoreError
from store.identity import Actor, Principal
from store.service import Store


def principal_label(principal: Principal) -> str:
    """How a search result reads: the name, its kind, and the display name when there is one."""
    shown = f"{principal.name} ({principal.kind})"
    return f"{shown} · {principal.display_name}" if principal.display_name else shown


class ShareAddScreen(ModalScreen[Principal | None]):
    """Type to search users and roles; down moves into the results, enter picks one, esc closes."""

    AUTO_FOCUS = "#share-search"
    BINDINGS = [Binding("escape", "close", "Cancel", id="share_add.cancel")]
    DEFAULT_CSS = """
    ShareAddScreen { align: center middle; }
    ShareAddScreen #share-add-dialog {
        width: 60; height: auto; max-height: 24; border: round $primary; padding: 0 1; background: $surface;
    }
    ShareAddScreen #share-results { height: auto; max-height: 12; }
    ShareAddScreen #share-note { color: $text-muted; height: auto; }
    """

    @dataclass
    class Found(Message):
        """The search for *text* finished with these users and roles (or an error)."""

        text: str
        principals: list[Principal]
        error: str = ""

    def __init__(self, store: Store, actor: Actor, taken: set[str]) -> None:
        super().__init__()
        self.store = store
        self.actor = actor
        self.taken = taken
        self.found: list[Principal] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="share-add-dialog"):
            yield Input(placeholder="Name of a user or role", id="share-search")
            yield OptionList(id="share-results")
            yield Static("Type to search; ↓ then enter picks.", id="share-note", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#share-add-dialog").border_title = "Add a user or role"
        self._search("")

    @on(Input.Changed, "#share-search")
    def _typed(self, event: Input.Changed) -> None:
        self._search(event.value)

    @on(Input.Submitted, "#share-search")
    def _submitted(self) -> None:
        """Enter in the search field picks the first result."""
        if self.found:
            self.dismiss(self.found[0])

    @work(thread=True, exclusive=True, exit_on_error=False, group="share_add.search", description="Search")
    def _search(self, text: str) -> None:
        try:
            found = self.store.sharing.search_principals(self.actor, text)
        except StoreError as exc:
            self.post_message(self.Found(text, [], str(exc)))
            return
        self.post_message(self.Found(text, found))

    @on(Found)
    def _found(self, event: Found) -> None:
        if event.text != self.query_one("#share-search", Input).value:
            return  # an older search; a newer one is on its way
        self.found = [p for p in event.principals if p.name not in self.taken]
        results = self.query_one("#share-results", OptionList)
        results.clear_options()
        results.add_options([Option(principal_label(p), id=p.name) for p in self.found])
        note = event.error or ("" if self.found else "No user or role matches.")
        self.query_one("#share-note", Static).update(note or "Type to search; ↓ then enter picks.")

    def key_down(self) -> None:
        """From the search field, down moves into the results."""
        results = self.query_one("#share-results", OptionList)
        if self.focused is self.query_one("#share-search") and results.option_count:
            results.focus()
            results.highlighted = 0

    @on(OptionList.OptionSelected, "#share-results")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.found[event.option_index])

    def action_close(self) -> None:
        """Close without adding anyone."""
        self.dismiss(None)
