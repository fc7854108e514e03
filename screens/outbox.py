"""The outbox: what waits to be sent, what failed with the server's words, and what went out this week."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static
from textual.worker import Worker, WorkerState

from screens.compose import open_compose
from screens.compose_load import ComposeStart
from screens.confirm import ConfirmScreen
from store.clock import Clock
from store.errors import StoreError
from store.identity import Actor
from store.outbox import OutboxItem
from store.service import Store
from tui.delivery_runner import OutboxChanged
from tui.widgets.relative_time import ago

EMPTY = "The outbox is empty. Messages you send wait here until the server accepts them, then stay a week."
INTRO = "r retry now · e edit and resend · d drop · escape back to the panel"
COLUMNS = (("State", 8), ("To", 24), ("Subject", 24), ("Status", 36), ("Next attempt", 12))
STATE_STYLES = {
    "queued": "bold",
    "sending": "bold",
    "sent": "green",
    "failed": "bold red",
    "check": "bold yellow",
}
EDITABLE = ("queued", "failed", "check")


@dataclass
class OutboxLoaded(Message):
    """The worker read the user's outbox."""

    items: list[OutboxItem]


@dataclass
class OutboxActionDone(Message):
    """A retry or drop finished; *text* says what happened."""

    text: str


def relative(when: datetime | None, now: datetime) -> str:
    """When an attempt is due, in words relative to *now*."""
    if when is None:
        return "—"
    seconds = (when - now).total_seconds()
    if seconds <= 30:
        return "now"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"in {minutes} min"
    if minutes < 24 * 60:
        return f"in {minutes // 60} h {minutes % 60:02d}"
    return f"{when:%d %b %H:%M} UTC"


def clip(text: str, width: int) -> str:
    """*text* cut to *width* characters, with an ellipsis when cut."""
    return text if len(text) <= width else text[: width - 1] + "…"


def recipients_text(item: OutboxItem) -> str:
    """The first recipient and how many more."""
    if not item.recipients:
        return "(nobody)"
    more = len(item.recipients) - 1
    return item.recipients[0] + (f" +{more}" if more else "")


def details(item: OutboxItem, now: datetime) -> str:
    """The highlighted item in full: status in the server's words, sender, attempts."""
    lines = [item.status, f"From {item.mailbox} to {', '.join(item.recipients) or '(nobody)'}"]
    if item.state == "sent" and item.sent_at is not None:
        copy = "its copy is in Sent" if item.copy_done else "its copy in Sent is still to be saved"
        lines.append(f"Sent {ago(item.sent_at, now)}; {copy}")
    else:
        hint = " · edit and resend with e" if item.state == "failed" else ""
        lines.append(f"{item.attempts} attempt(s){hint}")
    if item.state == "check":
        lines.append("Ask a recipient whether it arrived: r sends it again, s marks it sent, d drops it.")
    return "\n".join(lines)


class OutboxScreen(Screen[None]):
    """The user's outbox items, newest first; refreshed whenever a delivery run reports."""

    SUB_TITLE = "Outbox"
    AUTO_FOCUS = "#outbox-table"
    BINDINGS = [
        Binding("r", "retry", "Retry now", id="outbox.retry"),
        Binding("e", "edit", "Edit and resend", id="outbox.edit"),
        Binding("d", "drop", "Drop", id="outbox.drop"),
        Binding("s", "mark_sent", "It arrived: mark sent", id="outbox.mark_sent"),
        Binding("escape", "back", "Back", id="outbox.back"),
    ]

    def __init__(self, store: Store, actor: Actor, clock: Clock) -> None:
        super().__init__()
        self.store = store
        self.actor = actor
        self.clock = clock
        self.items: list[OutboxItem] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(INTRO, classes="intro", markup=False)
        yield DataTable(id="outbox-table", cursor_type="row", zebra_stripes=True)
        yield Static(id="outbox-detail", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for title, width in COLUMNS:
            table.add_column(title, width=width, key=title)
        self.query_one("#outbox-detail").border_title = "Selected message"
        self.set_interval(30, self._show_items, name="outbox.clock")
        self.load()

    # -- reading -------------------------------------------------------------------------------
    @work(thread=True, exclusive=True, exit_on_error=False, group="outbox.load", description="Read outbox")
    def load(self) -> None:
        """Read the outbox off the UI thread."""
        self.post_message(OutboxLoaded(self.store.outbox.list(self.actor)))

    @on(OutboxChanged)
    def _changed(self) -> None:
        self.load()

    @on(OutboxLoaded)
    def _loaded(self, event: OutboxLoaded) -> None:
        self.items = event.items
        self._show_items()

    def _show_items(self) -> None:
        table = self.query_one(DataTable)
        kept = self.highlighted()
        now = self.clock()
        table.clear()
        widths = dict(COLUMNS)
        for item in self.items:
            due = item.next_attempt_at if item.state == "queued" else None
            table.add_row(
                Text(item.state, style=STATE_STYLES.get(item.state, "")),
                clip(recipients_text(item), widths["To"]),
                clip(item.subject or "(no subject)", widths["Subject"]),
                clip(item.status, widths["Status"]),
                relative(due, now),
                key=str(item.id),
            )
        if kept is not None and any(i.id == kept.id for i in self.items):
            table.move_cursor(row=table.get_row_index(str(kept.id)))
        self._show_detail()

    def highlighted(self) -> OutboxItem | None:
        """The item under the cursor."""
        table = self.query_one(DataTable)
        if not self.items or table.row_count == 0:
            return None
        row = table.cursor_row
        return self.items[row] if 0 <= row < len(self.items) else None

    @on(DataTable.RowHighlighted)
    def _show_detail(self) -> None:
        item = self.highlighted()
        detail = self.query_one("#outbox-detail", Static)
        detail.update(details(item, self.clock()) if item is not None else EMPTY)
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Offer only what fits the highlighted item's state (greyed out otherwise)."""
        item = self.highlighted() if self.is_mounted else None
        if action == "retry":
            return (
                item is not None
                and (item.state in EDITABLE or (item.state == "sent" and not item.copy_done))
                or None
            )
        if action == "edit":
            return (item is not None and item.state in EDITABLE) or None
        if action == "drop":
            return (item is not None and item.state != "sending") or None
        if action == "mark_sent":  # shown only for a message that may have been sent
            return item is not None and item.state == "check"
        return True

    # -- actions -------------------------------------------------------------------------------
    def action_retry(self) -> None:
        """Queue the highlighted item again now."""
        item = self.highlighted()
        if item is not None:
            self._run(item, "retry")

    def action_drop(self) -> None:
        """Remove the highlighted item, after asking."""
        item = self.highlighted()
        if item is None:
            return
        never = " It will not be sent." if item.state in EDITABLE else ""

        def answered(yes: bool | None) -> None:
            if yes:
                self._run(item, "drop")

        self.app.push_screen(
            ConfirmScreen(
                "Drop this message from the outbox?",
                f"{item.subject or '(no subject)'} to {recipients_text(item)}.{never}",
                yes_label="Drop",
            ),
            answered,
        )

    def action_mark_sent(self) -> None:
        """The user found the highlighted `check` message delivered: record it sent, save the Sent copy."""
        item = self.highlighted()
        if item is not None and item.state == "check":
            self._run(item, "mark_sent")

    def action_edit(self) -> None:
        """Open the highlighted item in the compose screen; sending it replaces the item."""
        item = self.highlighted()
        if item is not None and item.state in EDITABLE:
            open_compose(
                self.app, self.store, self.actor, ComposeStart("resend", item.id), lambda _queued: self.load()
            )

    def action_back(self) -> None:
        """Back to the panel."""
        self.dismiss(None)

    @work(thread=True, exit_on_error=False, group="outbox.change", description="Change outbox")
    def _run(self, item: OutboxItem, what: str) -> None:
        """Retry or drop *item* off the UI thread."""
        try:
            if what == "retry":
                self.store.outbox.retry(self.actor, item.id)
                text = "Queued again; sending now."
            elif what == "mark_sent":
                self.store.outbox.mark_sent(self.actor, item.id)
                text = "Marked sent; its copy is saved in Sent."
            else:
                self.store.outbox.drop(self.actor, item.id)
                text = "Dropped from the outbox."
        except StoreError as exc:
            text = str(exc)
        self.post_message(OutboxActionDone(text))

    @on(OutboxActionDone)
    def _done(self, event: OutboxActionDone) -> None:
        self.notify(event.text, title="Outbox")
        delivery = getattr(self.app, "delivery", None)
        if delivery is not None:
            delivery.wake()
        self.load()

    @on(Worker.StateChanged)
    def _pass_failure_to_app(self, event: Worker.StateChanged) -> None:
        """Hand a failed worker to the app, which reports it."""
        if event.state == WorkerState.ERROR:
            self.app.post_message(event)
