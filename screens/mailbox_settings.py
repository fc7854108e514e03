"""A mailbox's settings page: what mail to load and from which folders, how it sends, and its connection."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Checkbox, Footer, Header, Input, RadioSet, Select, Static, TextArea
from textual.worker import Worker, WorkerState

from screens.change_password import ChangePasswordScreen
from screens.closing import dismiss_when_active
from screens.confirm import ConfirmScreen
from screens.folder_tree import FolderTree
from screens.settings_sections import ConnectionSection, FoldersSection, LoadSection, SendSection
from screens.settings_sharing import SharingSection
from store.errors import Invalid, StoreError
from store.identity import Actor
from store.mailbox_settings import ServerFolder, SettingsDraft
from store.mailboxes import Mailbox
from store.net import Endpoint
from store.providers import Provider
from store.secrets import SecretStore
from store.service import Store
from store.sharing import SharingRefused, SharingState

log = logging.getLogger("mailroom.tui")
FIELDS = (
    "load_period",
    "auto_load",
    "folder_scope",
    "selected_folders",
    "send_enabled",
    "alias",
    "is_default_sender",
    "use_signature",
    "signature",
)


def place_errors(errors: Mapping[str, str], values: Mapping[str, Any]) -> dict[str, str]:
    """Put an error that concerns two settings (the model's own checks) beside the one to fix."""
    placed = {field: message for field, message in errors.items() if field}
    general = errors.get("")
    if general:
        if values["folder_scope"] == "selected" and not values["selected_folders"]:
            field = "selected_folders"
        elif values["use_signature"] and not values["signature"].strip():
            field = "signature"
        elif values["is_default_sender"] and not values["send_enabled"]:
            field = "is_default_sender"
        else:
            field = ""
        placed.setdefault(field, general)
    return placed


class MailboxSettingsScreen(Screen[bool]):
    """Every setting of one mailbox; Save stores them in one transaction, esc asks before discarding edits."""

    AUTO_FOCUS = ""
    BINDINGS = [
        Binding("ctrl+s", "save", "Save", priority=True, id="settings.save"),
        Binding("escape", "cancel", "Cancel", id="settings.cancel"),
        Binding("r", "retry_folders", "Retry folders", id="settings.retry_folders"),
    ]
    DEFAULT_CSS = """
    MailboxSettingsScreen #opening { padding: 1 2; color: $text-muted; }
    MailboxSettingsScreen #settings-body { height: 1fr; margin: 0 1; }
    MailboxSettingsScreen #settings-left, MailboxSettingsScreen #settings-right { width: 1fr; height: 100%; }
    MailboxSettingsScreen #settings-right { margin-left: 1; }
    MailboxSettingsScreen .settings-section {
        height: auto; border: round $panel-lighten-2; border-title-color: $text; padding: 0 1;
    }
    MailboxSettingsScreen .settings-section:focus-within { border: round $primary; }
    MailboxSettingsScreen #folders-section { height: 1fr; }
    MailboxSettingsScreen #folders-switcher { height: 1fr; }
    MailboxSettingsScreen .setting-row, MailboxSettingsScreen .fact-row { height: 1; }
    MailboxSettingsScreen .setting-label { width: 12; color: $text-muted; }
    MailboxSettingsScreen .setting-row Select, MailboxSettingsScreen .setting-row Input { width: 1fr; }
    MailboxSettingsScreen .fact { width: 1fr; }
    MailboxSettingsScreen .setting-caption { margin-top: 1; color: $text-muted; }
    MailboxSettingsScreen .setting-note { color: $text-muted; margin-left: 4; height: auto; }
    MailboxSettingsScreen #folders-section .setting-note { margin-left: 0; }
    MailboxSettingsScreen #folders-error { height: auto; }
    MailboxSettingsScreen .setting-error { display: none; color: $text-error; margin-left: 4; }
    MailboxSettingsScreen .setting-error.-shown { display: block; }
    MailboxSettingsScreen #signature { height: 7; margin-top: 1; }
    MailboxSettingsScreen #signature.-off { opacity: 60%; }
    MailboxSettingsScreen #change-password { margin-top: 1; }
    MailboxSettingsScreen #form-error {
        display: none; margin: 0 1; padding: 0 1; color: $text-error; background: $error-muted;
    }
    MailboxSettingsScreen #form-error.-shown { display: block; }
    MailboxSettingsScreen #settings-buttons { height: auto; align-horizontal: right; padding: 0 1; }
    MailboxSettingsScreen #settings-buttons Button { margin-left: 2; }
    """

    @dataclass
    class Opened(Message):
        """The worker read the mailbox, its provider and the user's current default sender."""

        box: Mailbox
        provider: Provider
        other_default: str
        sharing: SharingState | None = None  # None: the user may not share, so the section is not shown

    @dataclass
    class OpenFailed(Message):
        """The mailbox cannot be configured by this user (or no longer exists)."""

        message: str

    @dataclass
    class Saved(Message):
        """The settings are stored."""

        box: Mailbox

    @dataclass
    class SaveRefused(Message):
        """The store refused the settings (field → message) or the sharing table (name → message)."""

        errors: dict[str, str]
        sharing: bool = False

    def __init__(
        self,
        store: Store,
        actor: Actor,
        mailbox_id: int,
        open_secrets: Callable[[], SecretStore] | None = None,
    ) -> None:
        super().__init__()
        self.store = store
        self.actor = actor
        self.mailbox_id = mailbox_id
        self._open_secrets = open_secrets
        self.box: Mailbox | None = None
        self.provider: Provider | None = None
        self.initial: dict[str, Any] = {}
        self.saving = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Opening the settings…", id="opening")
        yield Static(id="form-error", markup=False)
        with Horizontal(id="settings-buttons"):
            yield Button("Cancel (esc)", id="cancel")
            yield Button("Save (ctrl+s)", variant="primary", id="save")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "Mailbox settings"
        self.query_one("#settings-buttons").display = False
        self._open()

    def open_secrets(self) -> SecretStore:
        """The app's secret store, opened the way the new-account wizard opens it (call from a worker)."""
        if self._open_secrets is None:
            from screens.wizard import open_secrets_for

            self._open_secrets = open_secrets_for(self.app)
        return self._open_secrets()

    # -- opening ----------------------------------------------------------------------------
    @work(
        thread=True, exclusive=True, exit_on_error=False, group="settings.open", description="Open settings"
    )
    def _open(self) -> None:
        try:
            box = self.store.settings.open(self.actor, self.mailbox_id)
            provider = self.store.providers.get(box.provider_id)
            others = [
                b.email
                for b in self.store.mailboxes.visible(self.actor)
                if b.is_default_sender and b.owner_id == box.owner_id and b.id != box.id
            ]
            may_share = self.store.sharing.may_share(self.actor)
            sharing = self.store.sharing.get(self.actor, box.id) if may_share else None
        except StoreError as exc:
            self.post_message(self.OpenFailed(str(exc)))
            return
        self.post_message(self.Opened(box, provider, others[0] if others else "", sharing))

    @on(OpenFailed)
    def _open_failed(self, event: OpenFailed) -> None:
        self.notify(event.message, title="Edit settings", severity="error", timeout=12)
        dismiss_when_active(self, False)

    @on(Opened)
    async def _opened(self, event: Opened) -> None:
        self.box, self.provider = event.box, event.provider
        self.sub_title = f"Settings of {event.box.email}"
        body = Horizontal(
            Vertical(
                LoadSection(event.box),
                FoldersSection(
                    self._list_folders, str(Endpoint.imap_of(event.provider)), event.box.selected_folders
                ),
                id="settings-left",
            ),
            VerticalScroll(
                SendSection(event.box, event.other_default),
                ConnectionSection(event.box, event.provider),
                *([SharingSection(event.sharing, self.store, self.actor)] if event.sharing else []),
                id="settings-right",
            ),
            id="settings-body",
        )
        await self.mount(body, after="#opening")
        await self.query_one("#opening").remove()
        self.query_one("#settings-buttons").display = True
        self.initial = self.values()
        self._show_scope()
        self.query_one("#load_period").focus()

    # -- values and errors ------------------------------------------------------------------
    def values(self) -> dict[str, Any]:
        """Every setting as the page shows it now, as SettingsDraft takes them."""
        values: dict[str, Any] = {"selected_folders": self.query_one(FoldersSection).selected}
        values.update(self.query_one(LoadSection).values())
        values.update(self.query_one(SendSection).values())
        return values

    @property
    def dirty(self) -> bool:
        """Whether anything differs from what was stored when the page opened."""
        edited = self.values() != self.initial or any(s.dirty for s in self.query(SharingSection))
        return bool(self.initial) and edited

    def show_errors(self, errors: Mapping[str, str]) -> None:
        """Show each error beside its field (any other above the buttons); focus the first field in error."""
        for section in (LoadSection, FoldersSection, SendSection):
            self.query_one(section).show_errors(errors)
        form_error = self.query_one("#form-error", Static)
        form_error.update(errors.get("", ""))
        form_error.set_class(bool(errors.get("")), "-shown")
        first = next((f for f in FIELDS if f in errors), None)
        if first == "selected_folders":
            tree_shown = self.query_one(FoldersSection).state == "tree"
            self.query_one("#folder-tree" if tree_shown else "#folder_scope").focus()
        elif first is not None:
            self.query_one(f"#{first}").focus()

    def _clear_error(self, field: str) -> None:
        label = self.query(f"#error-{field}")
        if label:
            label.first().set_class(False, "-shown")

    @on(Select.Changed)
    @on(Checkbox.Changed)
    @on(Input.Changed)
    @on(TextArea.Changed)
    def _changed(self, event: Message) -> None:
        control = getattr(event, "control", None)
        if control is not None and control.id:
            self._clear_error(control.id)
        if control is not None and control.id in ("send_enabled", "is_default_sender", "use_signature"):
            self.query_one(SendSection).sync_state()
            self._clear_error("is_default_sender")
            self._clear_error("signature")

    # -- folders ------------------------------------------------------------------------------
    @on(RadioSet.Changed, "#folder_scope")
    def _show_scope(self) -> None:
        self._clear_error("folder_scope")
        self._clear_error("selected_folders")
        self.query_one(FoldersSection).show_scope(self.query_one(LoadSection).scope)

    def action_retry_folders(self) -> None:
        """List the server's folders again after a failure."""
        self.query_one(FoldersSection).retry()

    def _list_folders(self) -> list[ServerFolder]:
        """The mailbox's folders as the server lists them (network: called in a worker)."""
        assert self.box is not None and self.provider is not None
        secret = self.store.mailboxes.credentials(self.box, self.open_secrets())
        return self.store.settings.server_folders(self.box, self.provider, secret)

    @on(FolderTree.Changed)
    def _folders_checked(self) -> None:
        self._clear_error("selected_folders")

    # -- password -------------------------------------------------------------------------------
    @on(Button.Pressed, "#change-password")
    def _change_password(self) -> None:
        assert self.box is not None and self.provider is not None
        screen = ChangePasswordScreen(self.store, self.actor, self.box, self.provider, self.open_secrets)
        self.app.push_screen(screen, self._password_changed)

    def _password_changed(self, box: Mailbox | None) -> None:
        if box is None:
            return
        self.box = box
        self.query_one(ConnectionSection).show_status(box)
        self.notify(f"The new password of {box.email} works and is stored.", title="Password changed")
        self._tell_panel()
        if self.query_one(FoldersSection).state == "error":
            self.action_retry_folders()

    # -- saving and leaving -----------------------------------------------------------------------
    @on(Button.Pressed, "#save")
    def action_save(self) -> None:
        """Check every setting with the store's model, then store them all in one transaction."""
        if self.box is None or self.saving:
            return
        values = self.values()
        try:
            draft = SettingsDraft.parse(**values)
        except Invalid as exc:
            self.show_errors(place_errors(exc.errors, values))
            return
        self.show_errors({})
        self.saving = True
        sharing = self.query(SharingSection)
        self._save(draft, sharing.first().state() if sharing else None)

    @work(
        thread=True, exclusive=True, exit_on_error=False, group="settings.save", description="Save settings"
    )
    def _save(self, draft: SettingsDraft, sharing: SharingState | None) -> None:
        """Store the settings and, when shown, the sharing table, in one transaction."""
        try:
            if sharing is None:
                box = self.store.settings.save(self.actor, self.mailbox_id, draft)
            else:
                box = self.store.sharing.save_with_settings(
                    self.store.settings, self.actor, self.mailbox_id, draft, sharing
                )
        except Invalid as exc:
            self.post_message(self.SaveRefused(exc.errors, sharing=isinstance(exc, SharingRefused)))
            return
        except StoreError as exc:
            self.post_message(self.SaveRefused({"": str(exc)}))
            return
        self.post_message(self.Saved(box))

    @on(SaveRefused)
    def _save_refused(self, event: SaveRefused) -> None:
        self.saving = False
        if event.sharing:
            self.query_one(SharingSection).refused(event.errors)
            return
        self.show_errors(place_errors(event.errors, self.values()))

    @on(Saved)
    def _saved(self, event: Saved) -> None:
        log.info("saved the settings of mailbox %s", event.box.email)
        self.notify(f"Saved the settings of {event.box.email}.", title="Settings")
        self._tell_panel()
        dismiss_when_active(self, True)

    def _tell_panel(self) -> None:
        changed = getattr(self.app, "mailboxes_changed", None)
        if changed is not None:
            changed()

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        """Leave the page; with unsaved changes, only after the user agrees to discard them."""
        if self.saving:
            return
        if not self.dirty:
            self.dismiss(False)
            return
        assert self.box is not None
        question = ConfirmScreen(
            f"Discard your changes to the settings of {self.box.email}?",
            "Nothing is saved; the mailbox keeps the settings it had.",
            yes_label="Discard",
        )
        self.app.push_screen(question, lambda yes: self.dismiss(False) if yes else None)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Offer Save once the page is open, and Retry folders only after listing them failed."""
        if action == "save":
            return self.box is not None
        if action == "retry_folders":
            sections = self.query(FoldersSection)
            return bool(sections) and sections.first().state == "error"
        return True

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        """An unexpected failure (the app reports it) must not leave the page half-open or stuck saving."""
        if event.state != WorkerState.ERROR or event.worker.node is not self:
            return
        self.app.post_message(event)
        if event.worker.group == "settings.open":
            dismiss_when_active(self, False)
        elif event.worker.group == "settings.save":
            self.saving = False
