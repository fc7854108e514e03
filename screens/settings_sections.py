"""The sections of a mailbox's settings page; each shows its settings and the errors beside its fields."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import (
    Button,
    Checkbox,
    ContentSwitcher,
    Input,
    Label,
    RadioButton,
    RadioSet,
    Select,
    Static,
    TextArea,
)

from screens.folder_tree import FolderPicker, FolderTree
from store.mailbox_settings import PERIOD_LABELS, SCOPE_LABELS, ServerFolder
from store.mailboxes import Mailbox
from store.net import Endpoint, NetError
from store.providers import Provider

log = logging.getLogger("mailroom.tui")
FOLDER_FAILURES = {
    "auth": "The server refused the stored password",
    "dns": "Server not found",
    "refused": "Cannot reach the server",
    "timeout": "Cannot reach the server",
    "network": "Cannot reach the server",
    "cert": "TLS certificate not trusted",
    "tls": "TLS connection failed",
    "starttls": "Encryption (STARTTLS) not available",
}
SEND_OFF_NOTE = "Off: this mailbox is not offered as a sender anywhere."
SCOPE_NOTES = {
    "inbox": "The Inbox is loaded (and sent mail, always). Choose Selected folders to pick folders.",
    "all": "Every folder on the server is loaded. Choose Selected folders to pick some of them.",
}


def error_label(field: str) -> Label:
    """The hidden line beside *field* that shows its validation error."""
    return Label(id=f"error-{field}", classes="setting-error", markup=False)


class Section(Vertical):
    """A bordered group of settings with a title."""

    TITLE = ""
    FIELDS: tuple[str, ...] = ()

    def on_mount(self) -> None:
        self.border_title = self.TITLE

    def values(self) -> dict[str, Any]:
        """This section's settings, as SettingsDraft takes them."""
        return {}

    def show_errors(self, errors: Mapping[str, str]) -> None:
        """Show each of this section's fields' errors beside it; clear the others."""
        for field in self.FIELDS:
            label = self.query_one(f"#error-{field}", Label)
            message = errors.get(field, "")
            label.update(message)
            label.set_class(bool(message), "-shown")


class LoadSection(Section):
    """How much mail to load, when, and from which folders."""

    TITLE = "Load mail into the app"
    FIELDS = ("load_period", "auto_load", "folder_scope")

    def __init__(self, box: Mailbox) -> None:
        super().__init__(id="load-section", classes="settings-section")
        self.box = box

    def compose(self) -> ComposeResult:
        with Horizontal(classes="setting-row"):
            yield Label("First load", classes="setting-label")
            periods = [(label, value) for value, label in PERIOD_LABELS.items()]
            yield Select(
                periods, value=self.box.load_period, allow_blank=False, compact=True, id="load_period"
            )
        yield error_label("load_period")
        yield Checkbox("Load new messages automatically", self.box.auto_load, compact=True, id="auto_load")
        yield error_label("auto_load")
        yield Label("Load mail from", classes="setting-caption")
        with RadioSet(compact=True, id="folder_scope"):
            for value, label in SCOPE_LABELS.items():
                yield RadioButton(label, value == self.box.folder_scope, id=f"scope-{value}")
        yield error_label("folder_scope")

    def on_mount(self) -> None:
        super().on_mount()
        self.call_after_refresh(self._cursor_on_scope)

    def _cursor_on_scope(self) -> None:
        """Start the keyboard cursor on the chosen scope (the radio set starts it on the first option)."""
        radio_set = self.query_one("#folder_scope", RadioSet)
        radio_set._selected = radio_set.pressed_index

    @property
    def scope(self) -> str:
        """The folder scope chosen now."""
        pressed = self.query_one("#folder_scope", RadioSet).pressed_button
        return (pressed.id or "scope-inbox").removeprefix("scope-") if pressed else self.box.folder_scope

    def values(self) -> dict[str, Any]:
        return {
            "load_period": self.query_one("#load_period", Select).value,
            "auto_load": self.query_one("#auto_load", Checkbox).value,
            "folder_scope": self.scope,
        }


class FoldersSection(Section):
    """The server's folders to pick from once Selected folders is chosen (listed live); a note otherwise."""

    TITLE = "Folders"
    FIELDS = ("selected_folders",)

    @dataclass
    class Listed(Message):
        """The server listed its folders."""

        folders: list[ServerFolder]

    @dataclass
    class Failed(Message):
        """The folders could not be listed: what failed, and why."""

        title: str
        detail: str

    def __init__(
        self, list_folders: Callable[[], list[ServerFolder]], where: str, selected: tuple[str, ...]
    ) -> None:
        super().__init__(id="folders-section", classes="settings-section")
        self.list_folders = list_folders
        self.where = where
        self.selected = selected
        self.server_folders: list[ServerFolder] | None = None

    def compose(self) -> ComposeResult:
        with ContentSwitcher(initial="folders-note", id="folders-switcher"):
            yield Static(id="folders-note", classes="setting-note", markup=False)
            yield Static(id="folders-loading", classes="setting-note", markup=False)
            yield Static(id="folders-error")
            yield FolderPicker(id="folders-tree")
        yield error_label("selected_folders")

    @property
    def state(self) -> str:
        """Which of note, loading, error or tree is shown."""
        return (self.query_one(ContentSwitcher).current or "folders-note").removeprefix("folders-")

    def _switch(self, state: str) -> None:
        self.query_one(ContentSwitcher).current = f"folders-{state}"
        self.screen.refresh_bindings()

    def show_scope(self, scope: str) -> None:
        """The tree for Selected folders (listed on first use), else a note on what *scope* loads."""
        if scope != "selected":
            self.query_one("#folders-note", Static).update(SCOPE_NOTES.get(scope, ""))
            self._switch("note")
        elif self.server_folders is not None:
            self._switch("tree")
        elif self.state not in ("loading", "error"):
            self.retry()

    def retry(self) -> None:
        """List the server's folders (again)."""
        self.query_one("#folders-loading", Static).update(f"Loading the folder list from {self.where}…")
        self._switch("loading")
        self._list()

    @work(
        thread=True, exclusive=True, exit_on_error=False, group="settings.folders", description="List folders"
    )
    def _list(self) -> None:
        try:
            folders = self.list_folders()
        except NetError as exc:
            self.post_message(self.Failed(FOLDER_FAILURES.get(exc.kind, "Folders not listed"), str(exc)))
            return
        except Exception as exc:  # noqa: BLE001 - keyring, password command or server: say so in the section
            log.warning("listing folders from %s failed", self.where, exc_info=True)
            self.post_message(self.Failed("Folders not listed", str(exc) or type(exc).__name__))
            return
        self.post_message(self.Listed(folders))

    @on(Listed)
    def _listed(self, event: Listed) -> None:
        event.stop()
        self.server_folders = event.folders
        self.query_one(FolderTree).show_folders(event.folders, self.selected)
        self._switch("tree")

    @on(Failed)
    def _failed(self, event: Failed) -> None:
        event.stop()
        detail = event.detail
        if event.title == FOLDER_FAILURES["auth"]:
            detail += " Change the password under Connection, then press r."
        self.query_one("#folders-error", Static).update(
            Content.from_markup(
                "[$text-error][b]$title[/b][/]\n$detail\n\nSelected folders kept: $kept\n"
                "[$text-muted]Press r to try again.[/]",
                title=event.title,
                detail=detail,
                kept=", ".join(self.selected) if self.selected else "none yet",
            )
        )
        self._switch("error")

    @on(FolderTree.Changed)
    def _checked(self, event: FolderTree.Changed) -> None:
        self.selected = event.selected


class SendSection(Section):
    """Whether and how the mailbox sends: alias, default sender, signature."""

    TITLE = "Send mail from the app"
    FIELDS = ("send_enabled", "alias", "is_default_sender", "use_signature", "signature")

    def __init__(self, box: Mailbox, other_default: str = "") -> None:
        super().__init__(id="send-section", classes="settings-section")
        self.box = box
        self.other_default = other_default
        self._default_before_off = box.is_default_sender

    def compose(self) -> ComposeResult:
        box = self.box
        yield Checkbox("Send mail from the app", box.send_enabled, compact=True, id="send_enabled")
        yield Static(SEND_OFF_NOTE, id="send-off-note", classes="setting-note", markup=False)
        yield error_label("send_enabled")
        with Horizontal(classes="setting-row"):
            yield Label("Alias", classes="setting-label")
            yield Input(
                box.alias,
                placeholder="name shown in From, e.g. Anna Petrova",
                max_length=256,
                compact=True,
                id="alias",
            )
        yield error_label("alias")
        yield Checkbox(
            f"Use {box.email} as default sender", box.is_default_sender, compact=True, id="is_default_sender"
        )
        yield Static(id="default-note", classes="setting-note", markup=False)
        yield error_label("is_default_sender")
        yield Checkbox("Use a signature", box.use_signature, compact=True, id="use_signature")
        yield error_label("use_signature")
        yield TextArea(
            box.signature,
            soft_wrap=True,
            show_line_numbers=False,
            highlight_cursor_line=False,
            tab_behavior="focus",
            placeholder="Type or paste your signature; line breaks are kept.",
            id="signature",
        )
        yield error_label("signature")

    def on_mount(self) -> None:
        super().on_mount()
        self.sync_state()

    def sync_state(self) -> None:
        """Hide or show the notes and enable the default-sender box as sending is turned on or off."""
        sending = self.query_one("#send_enabled", Checkbox).value
        default = self.query_one("#is_default_sender", Checkbox)
        self.query_one("#send-off-note").display = not sending
        if not sending and not default.disabled:
            self._default_before_off = default.value
            default.value = False
        elif sending and default.disabled:
            default.value = self._default_before_off
        default.disabled = not sending
        note = self.query_one("#default-note", Static)
        replaces = default.value and not self.box.is_default_sender and self.other_default
        note.update(f"Replaces {self.other_default} as your default sender." if replaces else "")
        note.display = bool(replaces)
        self.query_one("#signature").set_class(not self.query_one("#use_signature", Checkbox).value, "-off")

    def values(self) -> dict[str, Any]:
        return {
            "send_enabled": self.query_one("#send_enabled", Checkbox).value,
            "alias": self.query_one("#alias", Input).value,
            "is_default_sender": self.query_one("#is_default_sender", Checkbox).value,
            "use_signature": self.query_one("#use_signature", Checkbox).value,
            "signature": self.query_one("#signature", TextArea).text,
        }


class ConnectionSection(Section):
    """Read-only facts of the connection, and the way to change the password."""

    TITLE = "Connection"

    def __init__(self, box: Mailbox, provider: Provider) -> None:
        super().__init__(id="connection-section", classes="settings-section")
        self.box = box
        self.provider = provider

    def compose(self) -> ComposeResult:
        box, p = self.box, self.provider
        facts = [
            ("Provider", p.name),
            ("IMAP", str(Endpoint.imap_of(p))),
            ("SMTP", str(Endpoint.smtp_of(p))),
            ("Login", box.login),
        ]
        for name, value in facts:
            with Horizontal(classes="fact-row"):
                yield Label(name, classes="setting-label")
                yield Static(value, classes="fact", markup=False)
        with Horizontal(classes="fact-row"):
            yield Label("Status", classes="setting-label")
            yield Static(self.status_text(box), id="status", classes="fact")
        if box.password_command:
            yield Static(
                "The password comes from a command; change it where that command reads it.",
                classes="setting-note",
                markup=False,
            )
        else:
            yield Button("Change password…", compact=True, id="change-password")

    @staticmethod
    def status_text(box: Mailbox) -> Content:
        """The mailbox's status in words."""
        if box.status == "ok":
            return Content.from_markup("[$text-success]● ok[/]")
        reason = box.status_reason or "no reason recorded"
        return Content.from_markup("[$text-warning]▲ Needs attention:[/] $reason", reason=reason)

    def show_status(self, box: Mailbox) -> None:
        """Show the status of *box* after a change."""
        self.box = box
        self.query_one("#status", Static).update(self.status_text(box))
