"""The Timeline tab of a contact or a company: a weekly volume chart above its threads, newest first.

The first page comes from the screen; when the cursor reaches the last row (or the table is scrolled to
its end) the pane posts `TimelineOlderWanted`, the screen reads the next page in a thread worker and
hands it to `TimelinePane.append`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Sparkline, Static

from store.crm.timeline import TimelineItem, TimelineView

ARROWS = {"in": "←", "out": "→"}
"""Mail that came in points left (towards the user), mail sent points right."""


@dataclass
class TimelineMessageChosen(Message):
    """The user pressed enter on a message (or a thread, meaning its newest message)."""

    item: TimelineItem


@dataclass
class TimelineOlderWanted(Message):
    """The user reached the end of the list: the screen should read the page before *before*."""

    before: tuple[datetime, int]


MORE_KEY = "older"


class TimelineTable(DataTable):
    """The timeline's rows; home and end go to the first and last row (the columns never scroll)."""

    BINDINGS = [
        Binding("home", "scroll_top", "First", show=False),
        Binding("end", "scroll_bottom", "Last", show=False),
    ]


def chart_caption(view: TimelineView) -> str:
    """What the chart shows, in words: the weeks it covers and how much came in and went out."""
    if not view.weekly:
        return ""
    incoming = sum(w.incoming for w in view.weekly)
    outgoing = sum(w.outgoing for w in view.weekly)
    return (
        f"Mail per week, {view.weekly[0].week:%d %b %Y} – this week: {incoming} received ←, {outgoing} sent →"
    )


class TimelinePane(Vertical):
    """Shows one TimelineView; enter on a row posts TimelineMessageChosen."""

    DEFAULT_CSS = """
    TimelinePane { height: 1fr; }
    TimelinePane #timeline-caption { height: 1; color: $text-muted; padding: 0 1; }
    TimelinePane #timeline-chart { height: 3; margin: 0 1 1 1; }
    TimelinePane #timeline-table { height: 1fr; }
    TimelinePane #timeline-empty { display: none; padding: 1 1; color: $text-muted; }
    TimelinePane.-empty #timeline-empty { display: block; }
    TimelinePane.-empty #timeline-table { display: none; }
    """

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self._items: dict[str, TimelineItem] = {}
        self._threads = 0  # thread rows so far (their keys run on across pages)
        self._next: tuple[datetime, int] | None = None  # where the next, older page starts
        self._asked = False  # TimelineOlderWanted posted for _next, not answered yet
        self._left = 0  # messages older than those listed

    def compose(self) -> ComposeResult:
        yield Static("Loading the timeline…", id="timeline-caption", markup=False)
        yield Sparkline([], id="timeline-chart")
        yield Static("", id="timeline-empty", markup=False)
        yield TimelineTable(id="timeline-table", cursor_type="row", zebra_stripes=False)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("", "Date", "Mailbox", "Subject")
        self.watch(table, "scroll_y", self._scrolled, init=False)

    @property
    def loading_older(self) -> bool:
        """Whether a request for the next page is out."""
        return self._asked

    def show(self, view: TimelineView) -> None:
        """Draw the chart and list the first page of threads, a bold subject line above each thread's
        messages, and a last row saying how much older mail there is."""
        self.query_one("#timeline-caption", Static).update(chart_caption(view))
        self.query_one(Sparkline).data = [w.incoming + w.outgoing for w in view.weekly]
        table = self.query_one(DataTable)
        table.clear()
        self._items.clear()
        self._threads = 0
        self._left = view.messages
        self._add_page(view)
        empty = not view.threads
        self.set_class(empty, "-empty")
        self.query_one("#timeline-empty", Static).update(
            f"No mail with {view.title} in the mailboxes you may read." if empty else ""
        )

    def append(self, view: TimelineView, before: tuple[datetime, int]) -> None:
        """Add the page that starts at *before* below the rows shown (a page for an older request, after
        the list was redrawn, is dropped)."""
        if before != self._next:
            return
        table = self.query_one(DataTable)
        if MORE_KEY in table.rows:
            table.remove_row(MORE_KEY)
        self._left = view.messages
        self._add_page(view)
        self._want_more(scrolled=False)  # the list grew: only a cursor still on its last row asks again

    def _add_page(self, view: TimelineView) -> None:
        table = self.query_one(DataTable)
        for thread in view.threads:
            count = f" ({len(thread.items)})" if len(thread.items) > 1 else ""
            key = f"thread-{self._threads}"
            self._threads += 1
            self._items[key] = thread.items[0]
            table.add_row(
                "",
                f"{thread.last_at:%Y-%m-%d}",
                "",
                Text(f"▾ {thread.subject or '(no subject)'}{count}", style="bold"),
                key=key,
            )
            for item in thread.items:
                key = f"message-{item.message_id}"
                self._items[key] = item
                table.add_row(
                    Text(f" {ARROWS[item.direction]}"),
                    f"{item.sent_at:%Y-%m-%d %H:%M}",
                    item.mailbox,
                    Text(f"  {item.subject or '(no subject)'}"),
                    key=key,
                )
            self._left -= len(thread.items)
        self._next, self._asked = view.next_before, False
        if self._next is not None:
            table.add_row(
                "",
                "",
                "",
                Text(f"… {self._left} older messages: ↓, end or enter loads them", style="italic"),
                key=MORE_KEY,
            )

    def _want_more(self, scrolled: bool) -> None:
        """Ask for the next page if the cursor sits on the last row, or (*scrolled*) the table was just
        scrolled to its end."""
        table = self.query_one(DataTable)
        at_end = table.row_count and (
            table.cursor_row >= table.row_count - 1
            or (scrolled and table.max_scroll_y > 0 and table.scroll_y >= table.max_scroll_y)
        )
        if self._next is not None and not self._asked and at_end:
            self._asked = True
            self.post_message(TimelineOlderWanted(self._next))

    def _scrolled(self, _value: float) -> None:
        self._want_more(scrolled=True)

    @on(DataTable.RowHighlighted, "#timeline-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self._want_more(scrolled=False)

    @on(DataTable.RowSelected, "#timeline-table")
    def _chosen(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value == MORE_KEY:
            self._want_more(scrolled=False)
            return
        item = self._items.get(str(event.row_key.value))
        if item is not None:
            self.post_message(TimelineMessageChosen(item))
