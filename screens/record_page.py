"""What a contact's page and a company's page share: a Details tab and a Timeline tab whose pages of mail
(only from mailboxes the user may read) are read in thread workers, older pages on demand."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header, Static, TabbedContent, TabPane
from textual.worker import Worker, WorkerState

from store.crm.timeline import PAGE, TimelineView
from store.identity import Actor
from store.service import Store
from tui.widgets.timeline import TimelineMessageChosen, TimelineOlderWanted, TimelinePane


@dataclass
class TimelineRead(Message):
    """The worker built a page of the record's timeline (the first when *before* is None)."""

    view: TimelineView
    before: tuple[datetime, int] | None = None


def labelled_lines(lines: list[tuple[str, str]]) -> Content:
    """Lines of "Label: value" with the labels bold and aligned; an empty label continues the one above."""
    return Content("\n").join(
        Content.assemble(((f"{label}:" if label else "").ljust(13), "bold"), " ", value)
        for label, value in lines
    )


def listed(label: str, values: list[str]) -> list[tuple[str, str]]:
    """One line per value under *label* ("(none)" when there is none)."""
    return [(label if n == 0 else "", v) for n, v in enumerate(values or ["(none)"])]


class RecordPageScreen(Screen[None]):
    """Details and Timeline tabs of one CRM record; subclasses read and show the details."""

    KIND: ClassVar[str]  # "contact" or "company": ids of the widgets, the timeline's key
    DEFAULT_CSS = """
    RecordPageScreen TabbedContent { height: 1fr; }
    RecordPageScreen TabPane { padding: 1 1 0 1; }
    RecordPageScreen .record-details { padding: 0 1; }
    """

    def __init__(self, store: Store, actor: Actor, record_id: int, page_size: int = PAGE) -> None:
        super().__init__()
        self.page_size = page_size  # timeline messages per page
        self.store = store
        self.actor = actor
        self.record_id = record_id

    def compose(self) -> ComposeResult:
        yield Header()
        with TabbedContent(initial="details"):
            with TabPane("Details", id="details"):
                yield Static(f"Loading the {self.KIND}…", id=f"{self.KIND}-details", classes="record-details")
            with TabPane("Timeline", id="timeline"):
                yield TimelinePane(id=f"{self.KIND}-timeline")
        yield Footer()

    def on_mount(self) -> None:
        self.read_details()
        self.read_timeline()

    def read_details(self) -> None:
        """Start reading the record's details (a thread worker in the subclass)."""
        raise NotImplementedError

    def show_details(self, block: Content) -> None:
        """Put the details' text in the Details tab."""
        self.query_one(f"#{self.KIND}-details", Static).update(block)

    def _timeline(self, **cursor: Any) -> TimelineView:
        key = {f"{self.KIND}_id": self.record_id}
        return self.store.crm.timelines.open(self.actor, limit=self.page_size, **key, **cursor)

    @work(thread=True, exclusive=True, exit_on_error=False, group="record.timeline", description="Timeline")
    def read_timeline(self) -> None:
        """Build the timeline's first page off the UI thread."""
        self.post_message(TimelineRead(self._timeline()))

    @work(thread=True, exclusive=True, exit_on_error=False, group="record.older", description="Older mail")
    def read_older(self, before: tuple[datetime, int]) -> None:
        """Read the next, older page of the timeline off the UI thread."""
        self.post_message(TimelineRead(self._timeline(before=before), before))

    @on(Worker.StateChanged)
    def _pass_failure_to_app(self, event: Worker.StateChanged) -> None:
        """Hand a failed worker to the app, which reports it (worker messages do not bubble)."""
        if event.state == WorkerState.ERROR:
            self.app.post_message(event)

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

    @on(TimelineMessageChosen)
    def _open_message(self, event: TimelineMessageChosen) -> None:
        from screens.message_view import MessageViewScreen

        self.app.push_screen(MessageViewScreen(self.store, self.actor, event.item.message_id))

    def action_tab(self, tab: str) -> None:
        """Show the Details or the Timeline tab."""
        self.query_one(TabbedContent).active = tab
        if tab == "timeline":
            self.query_one("#timeline-table").focus()
