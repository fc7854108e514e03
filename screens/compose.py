"""Writing a message: From, To, Cc, Bcc, Subject, the text and files; ctrl+s queues it in the outbox."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Center, Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Label, Select, Static, TextArea
from textual.worker import Worker, WorkerState, get_current_worker

from screens.attach_picker import AttachPicker, PickedFile
from screens.closing import dismiss_when_active
from screens.compose_load import ComposeLoaded, ComposeStart, label, load
from screens.confirm import ConfirmScreen
from store import compose
from store.compose import Attachment, Draft
from store.errors import Invalid, StoreError
from store.identity import Actor
from store.mailboxes import Mailbox
from store.outbox import OutboxItem
from store.service import Store
from tui.delivery_runner import OutboxChanged
from tui.widgets.compose_fields import AddressList, AddressSuggester, AttachedFile, AttachmentList

if TYPE_CHECKING:
    from collections.abc import Callable

FIELDS = ("from", "to", "cc", "bcc", "subject", "attachments", "body")
"""Fields whose errors show beside them, in screen order (store.outbox.queue's Invalid keys)."""
ADDRESS_FIELDS = (
    ("to", "To", "name or address; → accepts a suggestion; commas between recipients"),
    ("cc", "Cc", ""),
    ("bcc", "Bcc", "hidden from the other recipients"),
)
NO_SENDER = (
    "[b]You may not send from any mailbox yet.[/b]\n\n"
    "Turn on [b]Send mail from the app[/b] in a mailbox's settings (press escape, then "
    "[b]Account ▸ Edit settings[/b]), or connect a mailbox with [b]n[/b].\n\n"
    "[dim]A mailbox someone else owns appears here once they share it with you with the right to send.[/dim]"
)


@dataclass
class Queued(Message):
    """The worker stored the message in the outbox."""

    item: OutboxItem


@dataclass
class SendRefused(Message):
    """The store refused the draft; *errors* maps fields (or "" for the whole message) to messages."""

    errors: dict[str, str]


def _error_label(field: str) -> Label:
    return Label(id=f"error-{field}", classes="compose-error", markup=False)


class ComposeScreen(Screen[OutboxItem | None]):
    """One message being written; dismisses with the queued OutboxItem, or None when discarded."""

    BINDINGS = [
        Binding("ctrl+s", "send", "Send", priority=True, id="compose.send"),
        Binding("ctrl+o", "attach", "Attach file", priority=True, id="compose.attach"),
        Binding("escape", "close", "Close", id="compose.close"),
        # Priority, so keys typed right after tab land in the next field even when they arrive in one burst
        # (the focused field would otherwise take them before its unhandled tab reaches the screen).
        Binding("tab", "app.focus_next", "Next field", show=False, priority=True, id="compose.next"),
        Binding(
            "shift+tab",
            "app.focus_previous",
            "Previous field",
            show=False,
            priority=True,
            id="compose.previous",
        ),
    ]

    def __init__(self, store: Store, actor: Actor, start: ComposeStart, loaded: ComposeLoaded) -> None:
        super().__init__()
        self.store = store
        self.actor = actor
        self.start = start
        self.senders: list[Mailbox] = loaded.senders
        self.base: Draft = loaded.draft or Draft(0)
        self.replaces = loaded.replaces
        self.files: list[Path | Attachment] = list(self.base.attachments)
        self.sizes: list[int] = [len(a.data) if isinstance(a, Attachment) else 0 for a in self.files]
        self.last_folder: Path | None = None
        self.sending = False
        self._initial: tuple[Any, ...] | None = None
        self._values_in_error: dict[str, object] = {}

    # -- layout -------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header()
        if not self.senders:
            with Center(id="compose-none"):
                yield Static(Content.from_markup(NO_SENDER), id="no-sender-card")
            yield Footer()
            return
        draft = self.base
        with Vertical(id="compose-form"):
            yield Static(id="compose-general", classes="compose-general", markup=False)
            with Horizontal(classes="compose-row"):
                yield Label("From", classes="compose-label")
                yield Select(
                    [(Content(label(b)), b.id) for b in self.senders],
                    value=draft.from_mailbox_id,
                    allow_blank=False,
                    compact=True,
                    id="from",
                )
            yield _error_label("from")
            for field, title, placeholder in ADDRESS_FIELDS:
                with Horizontal(classes="compose-row"):
                    yield Label(title, classes="compose-label")
                    yield Input(
                        ", ".join(getattr(draft, field)),
                        placeholder=placeholder,
                        compact=True,
                        id=field,
                        suggester=AddressSuggester(self._suggest),
                        validators=[AddressList(field)],
                        validate_on=["blur", "submitted"],
                        select_on_focus=False,
                    )
                yield _error_label(field)
            with Horizontal(classes="compose-row"):
                yield Label("Subject", classes="compose-label")
                yield Input(draft.subject, compact=True, id="subject", select_on_focus=False)
            yield _error_label("subject")
            with Horizontal(classes="compose-row", id="files-row"):
                yield Label("Files", classes="compose-label")
                yield AttachmentList(id="attachments", compact=True)
            yield _error_label("attachments")
            yield TextArea(draft.body, id="body", placeholder="Write your message here.")
            yield _error_label("body")
            with VerticalScroll(id="compose-tail"):
                yield Static(id="signature", markup=False)
                yield Static(draft.quoted, id="quoted", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = self.start.title
        if not self.senders:
            self.query_one("#no-sender-card").border_title = "Nobody to send as"
            return
        self.query_one("#body").border_title = "Message"
        self.query_one("#quoted").display = bool(self.base.quoted.strip())
        self._show_files()
        self._show_signature()
        self._initial = self._state()
        first = "body" if self.start.kind in ("reply", "reply_all") else "to"
        self.query_one(f"#{first}").focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Without a mailbox to send from there is nothing to send or attach."""
        if action in ("send", "attach"):
            return bool(self.senders)
        return True

    # -- sender and signature ------------------------------------------------------------------
    def sender(self) -> Mailbox | None:
        """The mailbox chosen in From."""
        value = self.query_one("#from", Select).value
        return next((b for b in self.senders if b.id == value), None)

    @on(Select.Changed, "#from")
    def _show_signature(self) -> None:
        box = self.sender()
        if box is None:
            return
        block = compose.signature_block(box)
        signature = self.query_one("#signature", Static)
        signature.set_class(not block, "-none")
        signature.update(
            block or f"{box.email} adds no signature (its settings: Account ▸ Edit settings ▸ Send mail)."
        )
        tail = self.query_one("#compose-tail")
        tail.border_title = "Signature and quoted text, added below your message"
        tail.border_subtitle = f"from {box.email}"

    # -- files ---------------------------------------------------------------------------------
    def _show_files(self) -> None:
        names = [a.filename if isinstance(a, Attachment) else a.name for a in self.files]
        files = [AttachedFile(n, s) for n, s in zip(names, self.sizes, strict=True)]
        self.query_one(AttachmentList).show_files(files)
        self.query_one("#files-row").display = bool(files)

    def action_attach(self) -> None:
        """Choose a file to attach."""
        if self.senders:
            self.app.push_screen(AttachPicker(self.last_folder, self.store.attach_rules), self._attached)

    def _attached(self, picked: PickedFile | None) -> None:
        if picked is None:
            return
        self.last_folder = picked.path.parent
        self.files.append(picked.path)
        self.sizes.append(picked.size)
        self._show_files()
        self.show_error("attachments", "")

    @on(AttachmentList.Removed)
    def _removed(self, event: AttachmentList.Removed) -> None:
        del self.files[event.index], self.sizes[event.index]
        self._show_files()
        if not self.files:
            self.query_one("#body").focus()

    # -- errors beside the fields --------------------------------------------------------------
    def show_error(self, field: str, message: str) -> None:
        """Show *message* under *field*, or clear it when empty."""
        widget = self.query_one(f"#{field}")
        self._values_in_error[field] = getattr(widget, "value", None) if message else None
        label_widget = self.query_one(f"#error-{field}", Label)
        label_widget.update(message)
        label_widget.set_class(bool(message), "-shown")

    def show_errors(self, errors: dict[str, str]) -> None:
        """Replace every error shown by *errors*; focus the first field in error."""
        for field in FIELDS:
            self.show_error(field, errors.get(field, ""))
        general = [msg for field, msg in errors.items() if field not in FIELDS]
        box = self.query_one("#compose-general", Static)
        box.update("\n".join(general))
        box.set_class(bool(general), "-shown")
        first = next((f for f in FIELDS if f in errors), None)
        if first == "attachments" and not self.files:
            first = "body"
        if first is not None:
            self.query_one(f"#{first}").focus()

    @on(Input.Changed)
    def _clear_fixed_error(self, event: Input.Changed) -> None:
        """Once a field in error changes, check it again as the user types (fields check on leaving)."""
        field = event.input.id or ""
        if self._values_in_error.get(field) in (None, event.value):
            return
        result = event.input.validate(event.value)
        if result is None or result.is_valid:
            self.show_error(field, "")

    @on(Input.Blurred)
    def _show_check(self, event: Input.Blurred) -> None:
        result = event.validation_result
        if event.input.id in FIELDS and result is not None and not result.is_valid and event.value:
            self.show_error(event.input.id or "", "; ".join(result.failure_descriptions))

    @on(Input.Submitted)
    def _next_field(self) -> None:
        self.focus_next()

    # -- sending -------------------------------------------------------------------------------
    def draft(self) -> Draft:
        """The draft as typed, with what the start carried (quote, thread headers)."""
        box = self.sender()

        def recipients(field: str) -> tuple[str, ...]:
            return tuple(compose.split_list(self.query_one(f"#{field}", Input).value))

        return Draft(
            from_mailbox_id=box.id if box else 0,
            to=recipients("to"),
            cc=recipients("cc"),
            bcc=recipients("bcc"),
            subject=self.query_one("#subject", Input).value,
            body=self.query_one("#body", TextArea).text,
            quoted=self.base.quoted,
            attachments=tuple(self.files),
            in_reply_to=self.base.in_reply_to,
            references=self.base.references,
        )

    def action_send(self) -> None:
        """Queue the message in a worker; the outbox delivers it."""
        if not self.senders or self.sending:
            return
        self.sending = True
        self.sub_title = f"{self.start.title} · queueing…"
        self.queue(self.draft(), self.replaces)

    @work(thread=True, exclusive=True, exit_on_error=False, group="compose.send", description="Queue message")
    def queue(self, draft: Draft, replaces: int | None) -> None:
        """Check, build and store the message (files are read now) off the UI thread."""
        try:
            item = self.store.outbox.queue(self.actor, draft, replaces=replaces)
        except Invalid as exc:
            self.post_message(SendRefused(exc.errors))
        except StoreError as exc:
            self.post_message(SendRefused({"": str(exc)}))
        else:
            self.post_message(Queued(item))

    @on(SendRefused)
    def _refused(self, event: SendRefused) -> None:
        self.sending = False
        self.sub_title = self.start.title
        self.show_errors(event.errors)

    @on(Queued)
    def _queued(self, event: Queued) -> None:
        delivery = getattr(self.app, "delivery", None)
        if delivery is not None:
            delivery.wake()
        self.app.post_message(OutboxChanged())
        self.app.notify(f"Queued for delivery: {event.item.subject or '(no subject)'}", title="Outbox")
        dismiss_when_active(self, event.item)

    @on(Worker.StateChanged)
    def _failed(self, event: Worker.StateChanged) -> None:
        """A failed queue worker ends the sending state; the app reports the error."""
        if event.state == WorkerState.ERROR:
            self.sending = False
            self.sub_title = self.start.title
            self.app.post_message(event)

    # -- closing -------------------------------------------------------------------------------
    def _state(self) -> tuple[Any, ...]:
        draft = self.draft()
        return (
            draft.from_mailbox_id,
            draft.to,
            draft.cc,
            draft.bcc,
            draft.subject,
            draft.body,
            len(self.files),
        )

    def action_close(self) -> None:
        """Leave; ask first when the message was changed since the screen opened. Not while it is being
        queued: it may already be stored, and the screen closes by itself once it is in the outbox."""
        if self.sending:
            self.notify("The message is being queued; this screen closes once it is in the outbox.")
            return
        if not self.senders or self._state() == self._initial:
            self.dismiss(None)
            return

        def answered(discard: bool | None) -> None:
            if discard:
                self.dismiss(None)

        self.app.push_screen(
            ConfirmScreen("Discard this message?", "What you wrote is not kept.", yes_label="Discard"),
            answered,
        )

    def _suggest(self, prefix: str) -> list[str]:
        """Address completions (called in a thread by the suggester)."""
        return self.store.outbox.suggest(self.actor, prefix)


def open_compose(
    app: App[Any],
    store: Store,
    actor: Actor,
    start: ComposeStart | None = None,
    done: Callable[[OutboxItem | None], None] | None = None,
) -> None:
    """Read the senders and the first draft in a worker, then show the compose screen."""
    start = start or ComposeStart()

    def read() -> None:
        loaded = load(store, actor, start)
        if not get_current_worker().is_cancelled:
            app.call_from_thread(app.push_screen, ComposeScreen(store, actor, start, loaded), done)

    app.run_worker(
        read,
        thread=True,
        exclusive=True,
        exit_on_error=False,
        group="compose.open",
        description=f"Open {start.title.lower()}",
    )
