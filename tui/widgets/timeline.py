"""The Timeline tab of a contact or a company: a weekly volume chart above its threads, newest first."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
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


def chart_caption(view: TimelineView) -> str:
    """What the chart shows, in words: the weeks it covers and how much came in and went out."""
    if not view.weekly:
        return ""
    incoming = sum(w.incoming for w in view.weekly)
    outgoing = sum(w.outgoing for w in view.weekly)
    return (f"Mail per week, {view.weekly[0].week:%d %b %Y} – this week: "
            f"{incoming} received ←, {outgoing} sent →")


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

    def compose(self) -> ComposeResult:
        yield Static("Loading the timeline…", id="timeline-caption", markup=False)
        yield Sparkline([], id="timeline-chart")
        yield Static("", id="timeline-empty", markup=False)
        yield DataTable(id="timeline-table", cursor_type="row", zebra_stripes=False)

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns("", "Date", "Mailbox", "Subject")

    def show(self, view: TimelineView) -> None:
        """Draw the chart and list the threads, a bold subject line above each thread's messages."""
        self.query_one("#timeline-caption", Static).update(chart_caption(view))
        self.query_one(Sparkline).data = [w.incoming + w.outgoing for w in view.weekly]
        table = self.query_one(DataTable)
        table.clear()
        self._items.clear()
        for n, thread in enumerate(view.threads):
            count = f" ({len(thread.items)})" if len(thread.items) > 1 else ""
            key = f"thread-{n}"
            self._items[key] = thread.items[0]
            table.add_row("", f"{thread.last_at:%Y-%m-%d}", "",
                          Text(f"▾ {thread.subject or '(no subject)'}{count}", style="bold"), key=key)
            for item in thread.items:
                key = f"message-{item.message_id}"
                self._items[key] = item
                table.add_row(Text(f" {ARROWS[item.direction]}"), f"{item.sent_at:%Y-%m-%d %H:%M}",
                              item.mailbox, Text(f"  {item.subject or '(no subject)'}"), key=key)
        empty = not view.threads
        self.set_class(empty, "-empty")
        self.query_one("#timeline-empty", Static).update(
            f"No mail with {view.title} in the mailboxes you may read." if empty else "")

    @on(DataTable.RowSelected, "#timeline-table")
    def _chosen(self, event: DataTable.RowSelected) -> None:
        event.stop()
        item = self._items.get(str(event.row_key.value))
        if item is not None:
            self.post_message(TimelineMessageChosen(item))
