"""The Mailroom terminal app, built by one factory that the CLI and the tests share."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, cast

from textual import on
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.dom import DOMNode
from textual.events import DescendantFocus
from textual.screen import Screen
from textual.widgets import Input, TextArea
from textual.worker import Worker, WorkerState

from screens.domains import DomainsScreen
from screens.panel import MailboxesChanged, PanelScreen
from screens.providers import ProvidersScreen
from store.clock import Clock, utc_now
from store.errors import Forbidden, StoreError
from store.identity import Actor, Operation
from store.mailboxes import Mailbox
from store.service import Store
from tui.crm_areas import CRM_COMMANDS, open_area
from tui.delivery_runner import DeliveryRunner, OutboxChanged, report_text
from tui.settings import Settings
from tui.sync_runner import SyncRunner
from tui.widgets.account_menu import MenuCommand, account_commands, edit_settings_commands

if TYPE_CHECKING:
    from tui.cli.common import Context

log = logging.getLogger("mailroom.tui")


class MailroomCommands(Provider):
    """The command palette: every account-menu command, one per mailbox to edit, Quit, then Textual's own."""

    async def startup(self) -> None:
        """Read the user's mailboxes in a thread, so the palette lists their settings."""
        app = cast(MailroomApp, self.app)
        mailboxes = await asyncio.to_thread(app.store.mailboxes.visible, app.actor)
        self._entries = [
            (c.title, c.help, partial(app.run_action, c.action)) for c in app.palette_commands(mailboxes)
        ]
        self._entries += [(c.title, c.help, c.callback) for c in app.get_system_commands(self.screen)]

    async def discover(self) -> Hits:
        for title, help_text, callback in self._entries:
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, callback in self._entries:
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)


class MailroomApp(App[None]):
    """Connect, share and sync the mailboxes of the CRM."""

    TITLE = "Mailroom"
    CSS_PATH = [
        "styles/app.tcss",
        "styles/panel.tcss",
        "styles/directories.tcss",
        "styles/forms.tcss",
        "styles/compose.tcss",
        "styles/mail.tcss",
    ]
    COMMANDS = {MailroomCommands}
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", priority=True, id="app.quit"),
        Binding("ctrl+p", "command_palette", "Commands", show=False, priority=True, id="app.command_palette"),
    ]

    def __init__(self, settings: Settings, store: Store, actor: Actor, clock: Clock) -> None:
        super().__init__()
        self.settings = settings
        self.store = store
        self.actor = actor
        self.clock = clock
        self.panel: PanelScreen | None = None
        self.delivery = DeliveryRunner(self)
        self.sync_runner = SyncRunner(self)

    def get_default_screen(self) -> Screen:
        self.panel = PanelScreen(self.store, self.actor, self.clock)
        return self.panel

    def on_mount(self) -> None:
        ui = self.settings.ui
        if ui.theme in self.available_themes:
            self.theme = ui.theme
        else:
            self.notify(
                f"Unknown theme '{ui.theme}' in the settings; using {self.theme}.", severity="warning"
            )
        unknown = sorted(set(ui.keymap) - binding_ids()) if ui.keymap else []
        if unknown:
            self.notify(
                f"Unknown binding ids in the keymap setting: {', '.join(unknown)}", severity="warning"
            )
        self.set_keymap(ui.keymap)
        self.sync_runner.start_automatic()
        self.delivery.start()
        log.info("Opened the app for user %s on %s", self.actor.user.name, self.store.path)

    async def on_unmount(self) -> None:
        """Stop delivering the outbox and watching for new mail when the app ends."""
        self.sync_runner.stop()
        await self.delivery.stop()

    @on(DescendantFocus)
    def _apply_cursor_blink(self, event: DescendantFocus) -> None:
        if isinstance(event.widget, Input | TextArea):
            event.widget.cursor_blink = self.settings.ui.cursor_blink

    @on(OutboxChanged)
    def _outbox_changed(self, event: OutboxChanged) -> None:
        """Tell every open screen (the outbox refreshes) and say what a delivery run did."""
        for screen in self.screen_stack:
            screen.post_message(OutboxChanged(event.report))
        note = report_text(event.report, self.actor.user.id) if event.report is not None else None
        if note is not None:
            self.notify(note[0], title="Outbox", severity=note[1], timeout=12)  # type: ignore[arg-type]

    @on(Worker.StateChanged)
    def _report_worker_failure(self, event: Worker.StateChanged) -> None:
        """Report a failed worker, the app's or one a screen handed over: a notification, and the log."""
        if event.state != WorkerState.ERROR:
            return
        worker = event.worker
        task = worker.description or worker.name
        if isinstance(worker.error, StoreError):
            log.info("%s refused: %s", task, worker.error)
            self.notify(str(worker.error), title=f"{task} failed", severity="error", timeout=12)
            return
        log.error("%s failed", task, exc_info=worker.error)
        self.notify(
            f"{worker.error!r}\nDetails are in {self.settings.log_path()}.",
            title=f"{task} failed",
            severity="error",
            timeout=20,
        )

    # -- commands for the menu and the palette ----------------------------------------
    def palette_commands(self, mailboxes: Iterable[Mailbox]) -> list[MenuCommand]:
        """What the command palette offers this user."""
        return [
            *account_commands(self.actor),
            *edit_settings_commands(list(mailboxes)),
            MenuCommand("New message", "app.compose", "Write an email from one of your mailboxes"),
            MenuCommand("Outbox", "app.open_outbox", "Messages waiting to be sent, refused or sent"),
            *CRM_COMMANDS,
            MenuCommand("Quit", "app.quit", "Leave Mailroom"),
        ]

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Textual's own commands (theme, keys, screenshot…) without its Quit, since Mailroom lists one."""
        for command in super().get_system_commands(screen):
            if command.callback != self.action_quit:
                yield command

    def mailboxes_changed(self) -> None:
        """Tell the panel to reload the mailboxes; call it after connecting, editing or syncing one."""
        if self.panel is not None:
            self.panel.post_message(MailboxesChanged())

    # -- actions -------------------------------------------------------------------------
    def action_new_account(self) -> None:
        """Connect a new mailbox."""
        self.open_new_account()

    def action_edit_settings(self, mailbox_id: int) -> None:
        """Edit the settings of one mailbox."""
        self.open_mailbox_settings(mailbox_id)

    def action_sync_now(self) -> None:
        """Load new mail of every mailbox now."""
        self.sync_now()

    def action_compose(self) -> None:
        """Write a new message."""
        from screens.compose import ComposeScreen, open_compose

        if not isinstance(self.screen, ComposeScreen):
            open_compose(self, self.store, self.actor)

    def action_open_outbox(self) -> None:
        """Show the outbox."""
        from screens.outbox import OutboxScreen

        if not isinstance(self.screen, OutboxScreen):
            self.push_screen(OutboxScreen(self.store, self.actor, self.clock))

    def action_open_crm(self, area: str) -> None:
        """Open a CRM screen: contacts, companies, proposals or unmatched."""
        open_area(self, self.store, self.actor, area)

    def action_open_providers(self) -> None:
        """Open the Providers directory (administrators)."""
        self.open_providers()

    def action_open_domains(self) -> None:
        """Open the Mail provider domains directory (administrators)."""
        self.open_domains()

    def open_new_account(self) -> None:
        """Start the wizard that connects a mailbox."""
        from screens.wizard import start_new_account_wizard

        start_new_account_wizard(self)

    def open_mailbox_settings(self, mailbox_id: int) -> None:
        """Open the settings page of mailbox *mailbox_id*."""
        from screens.mailbox_settings import MailboxSettingsScreen

        current = self.screen
        if not (isinstance(current, MailboxSettingsScreen) and current.mailbox_id == mailbox_id):
            self.push_screen(MailboxSettingsScreen(self.store, self.actor, mailbox_id))

    def sync_now(self, mailbox_id: int | None = None) -> None:
        """Sync one mailbox now, or every mailbox of the user when *mailbox_id* is None."""
        self.sync_runner.sync(mailbox_id)

    def open_providers(self) -> None:
        """Show the Providers directory, or refuse a user who may not manage it."""
        if self._may_manage_directories() and not isinstance(self.screen, ProvidersScreen):
            self.push_screen(ProvidersScreen(self.store, self.actor))

    def open_domains(self) -> None:
        """Show the Mail provider domains directory, or refuse a user who may not manage it."""
        if self._may_manage_directories() and not isinstance(self.screen, DomainsScreen):
            self.push_screen(DomainsScreen(self.store, self.actor))

    def _may_manage_directories(self) -> bool:
        try:
            self.actor.require(Operation.MANAGE_DIRECTORIES)
        except Forbidden as exc:
            self.notify(str(exc), title="Administrators only", severity="error", timeout=12)
            return False
        return True


def binding_ids() -> set[str]:
    """Every binding id of Mailroom's app, screens and widgets, to check the keymap setting against."""
    import importlib
    import pkgutil

    import screens
    import tui.widgets

    for package in (screens, tui.widgets):  # a screen not opened yet still names its bindings
        for module in pkgutil.iter_modules(package.__path__, f"{package.__name__}."):
            importlib.import_module(module.name)
    ids: set[str] = set()
    pending: list[type] = [DOMNode]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__module__.startswith(("screens.", "tui.")):
            ids.update(b.id for b in vars(cls).get("BINDINGS", []) if isinstance(b, Binding) and b.id)
    return ids


def create_app(settings: Settings, store: Store, actor: Actor, clock: Clock = utc_now) -> MailroomApp:
    """Build the app over an open store for *actor*; the one way both the CLI and the tests make it."""
    return MailroomApp(settings, store, actor, clock)


def configure_logging(path: Path) -> None:
    """Log to *path*, a file only the user can read, created in a private folder."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.close(os.open(path, os.O_CREAT | os.O_APPEND | os.O_WRONLY, 0o600))
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("mailroom")
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def run_app(ctx: Context) -> int:
    """Open the app for the CLI's settings, store and user; returns the exit code."""
    configure_logging(ctx.settings.log_path())
    app = create_app(ctx.settings, ctx.store, ctx.actor)
    try:
        app.run()
    finally:
        ctx.store.close()
    return app.return_code or 0
