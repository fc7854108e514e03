"""One message: its headers, flags, attachments and plain text."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header, Static, TextArea
from textual.worker import Worker, WorkerState

from screens.compose import open_compose
from screens.compose_load import ComposeStart, StartKind
from store.identity import Actor
from store.service import Store
from store.sync.messages import MessageDetail, MessageRow

NOT_LOADED = "The text of this message is not loaded yet; it arrives with the next sync."
FLAG_NAMES = {"\\Answered": "answered", "\\Flagged": "flagged", "\\Draft": "draft", "\\Deleted": "deleted"}


@dataclass
class MessageRead(Message):
    """The worker read the message to show."""

    detail: MessageDetail


def person(address: str, name: str) -> str:
    """An address with its display name, as a header line shows it."""
    return f"{name} <{address}>" if name and address else name or address or "(nobody)"


def people(pairs: tuple[tuple[str, str], ...], limit: int = 4) -> str:
    """A few recipients, then how many more."""
    shown = ", ".join(person(a, n) for a, n in pairs[:limit])
    return shown + (f" and {len(pairs) - limit} more" if len(pairs) > limit else "")


def describe_flags(flags: tuple[str, ...]) -> str:
    """Read or unread, then the other flags in words."""
    words = ["read" if "\\Seen" in flags else "unread"]
    words += [FLAG_NAMES.get(f, f) for f in flags if f != "\\Seen"]
    return ", ".join(words)


def size_text(size: int) -> str:
    """A byte count in B, KB or MB."""
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def header_block(detail: MessageDetail, location: MessageRow | None) -> Content:
    """The header lines above the text."""
    lines = [("From", person(detail.from_address, detail.from_name))]
    lines.append(("To", people(detail.to)))
    if detail.cc:
        lines.append(("Cc", people(detail.cc)))
    lines.append(("Date", f"{detail.sent_at.astimezone():%a, %d %b %Y %H:%M %Z}"))
    if location is not None:
        lines.append(("Mailbox", f"{location.mailbox} · {location.folder}"))
        lines.append(("Flags", describe_flags(location.flags)))
    files = [a for a in detail.attachments if not a.inline]
    if files:
        lines.append(
            (
                "Attachments",
                ", ".join(
                    f"{a.filename or '(unnamed)'} ({a.content_type}, {size_text(a.size)})" for a in files
                ),
            )
        )
    if detail.problems:
        lines.append(("Problems", detail.problems))
    return Content("\n").join(
        Content.assemble((f"{label}:".ljust(13), "bold"), value) for label, value in lines
    )


class MessageViewScreen(Screen[None]):
    """Reads one message in a worker and shows it; escape goes back to the list."""

    SUB_TITLE = "Message"
    AUTO_FOCUS = "#message-body"
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="message.back"),
        Binding("r", "answer('reply')", "Reply", id="message.reply"),
        Binding("a", "answer('reply_all')", "Reply all", id="message.reply_all"),
        Binding("f", "answer('forward')", "Forward", id="message.forward"),
    ]

    def __init__(self, store: Store, actor: Actor, message_id: int, location_id: int | None = None) -> None:
        super().__init__()
        self.store = store
        self.actor = actor
        self.message_id = message_id
        self.location_id = location_id
        self.detail: MessageDetail | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Loading the message…", id="message-head")
        yield TextArea("", id="message-body", read_only=True, show_cursor=False, highlight_cursor_line=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#message-body").border_title = "Text"
        self.read_message()

    @work(thread=True, exclusive=True, exit_on_error=False, group="message.read", description="Open message")
    def read_message(self) -> None:
        """Read the message off the UI thread."""
        self.post_message(MessageRead(self.store.messages.get(self.actor, self.message_id)))

    @on(MessageRead)
    def _show(self, event: MessageRead) -> None:
        detail = self.detail = event.detail
        location = next(
            (loc for loc in detail.locations if loc.location_id == self.location_id),
            detail.locations[0] if detail.locations else None,
        )
        head = self.query_one("#message-head", Static)
        head.border_title = detail.subject or "(no subject)"
        head.update(header_block(detail, location))
        body = detail.body_text if detail.body_loaded else NOT_LOADED
        self.query_one("#message-body", TextArea).load_text(body or "(This message has no text.)")

    def action_answer(self, kind: StartKind) -> None:
        """Write a reply, a reply to all, or a forward of this message."""
        open_compose(self.app, self.store, self.actor, ComposeStart(kind, self.message_id))

    @on(Worker.StateChanged)
    def _failed(self, event: Worker.StateChanged) -> None:
        """Report a failed read through the app and say so in place of the headers."""
        if event.state == WorkerState.ERROR:
            head = self.query_one("#message-head", Static)
            head.update(f"Could not open the message: {event.worker.error}")
            self.app.post_message(event)
