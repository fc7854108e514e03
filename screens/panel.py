"""The communication panel: the main screen, whose first section is Email."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Center, Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import (
    Button,
    ContentSwitcher,
    Footer,
    Header,
    OptionList,
    Static,
    TabbedContent,
    TabPane,
)
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState

from store.clock import Clock
from store.identity import Actor, Operation
from store.mailboxes import Mailbox
from store.service import Store
from tui.sync_runner import (
    MailboxNewMail,
    MailboxSyncFinished,
    MailboxSyncProgress,
    MailboxSyncQueued,
    MailboxSyncRetrying,
    MailboxSyncStarted,
)
from tui.widgets.account_menu import AccountMenu, account_commands
from tui.widgets.mailbox_status import SyncState, all_mailboxes_prompt, mailbox_prompt
from tui.widgets.message_list import MessageList

ALL_MAILBOXES = "all"
"""Option id of the list entry that shows the mail of every mailbox."""

EMPTY_STATE = (
    "[b]No mailbox connected yet.[/b]\n\n"
    "Press [b]n[/b] or choose [b]Account ▸ New account[/b] to connect one.\n\n"
    "[dim]Once connected, its mail appears here. Press ctrl+p to see every command.[/dim]"
)


@dataclass
class MailboxesChanged(Message):
    """The current user's mailboxes changed (connected, edited, synced); the panel reloads them."""


@dataclass
class MailboxesLoaded(Message):
    """The worker read the mailboxes the current user sees."""

    mailboxes: list[Mailbox]


def user_status(actor: Actor) -> Content:
    """Who is signed in and what they may administer."""
    user = actor.user
    name = f"{user.display_name} ({user.name})" if user.display_name else user.name
    if actor.can(Operation.MANAGE_USERS):
        role = "administrator"
    elif actor.can(Operation.MANAGE_DIRECTORIES):
        role = "user · manages providers and domains"
    else:
        role = "user"
    return Content.from_markup("Signed in as [b]$name[/b] · $role", name=name, role=role)


class PanelScreen(Screen[None]):
    """The main screen: sections as tabs, the Email section with its mailboxes and messages."""

    SUB_TITLE = "Communication panel"
    AUTO_FOCUS = "#account-button"
    BINDINGS = [
        Binding("n", "app.new_account", "New account", id="panel.new_account"),
        Binding("a", "open_menu", "Account menu", id="panel.account_menu"),
        Binding("e", "edit_highlighted", "Edit settings", id="panel.edit_settings"),
        Binding("s", "app.sync_now", "Sync now", id="panel.sync"),
        Binding("c", "app.compose", "New message", id="panel.compose"),
        Binding("o", "app.open_outbox", "Outbox", id="panel.outbox"),
        Binding("P", "app.open_providers", "Providers", show=False, id="panel.providers"),
        Binding("D", "app.open_domains", "Domains", show=False, id="panel.domains"),
    ]

    def __init__(self, store: Store, actor: Actor, clock: Clock) -> None:
        super().__init__()
        self.store = store
        self.actor = actor
        self.clock = clock
        self.mailboxes: list[Mailbox] = []
        self.sync_states: dict[int, SyncState] = {}
        self._refresh_timer: Timer | None = None
        self._focus_before_menu: Widget | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with TabbedContent(id="sections"):
            with TabPane("Email", id="email"):
                with Horizontal(id="email-bar"):
                    with Vertical(id="account-anchor"):
                        yield Button("Account ▾", id="account-button", compact=True)
                        yield AccountMenu(id="account-menu")
                    yield Static(id="mailbox-summary")
                with ContentSwitcher(initial="loading", id="email-body"):
                    yield Static("Loading mailboxes…", id="loading")
                    with Center(id="empty-state"):
                        yield Static(Content.from_markup(EMPTY_STATE), id="empty-card")
                    with Horizontal(id="email-main"):
                        yield OptionList(id="mailbox-list")
                        yield MessageList(self.store, self.actor, self.clock, id="message-list")
        yield Static(user_status(self.actor), id="status-line")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#mailbox-list").border_title = "Mailboxes"
        self.query_one("#empty-card").border_title = "Welcome to Mailroom"
        self.load_mailboxes()

    @on(Worker.StateChanged)
    def _pass_failure_to_app(self, event: Worker.StateChanged) -> None:
        """Hand a failed worker to the app, which reports it (worker messages do not bubble)."""
        if event.state == WorkerState.ERROR:
            self.app.post_message(event)

    # -- mailboxes -----------------------------------------------------------------
    @work(
        thread=True,
        exclusive=True,
        exit_on_error=False,
        group="panel.mailboxes",
        description="Load mailboxes",
    )
    def load_mailboxes(self) -> None:
        """Read the user's mailboxes off the UI thread."""
        self.post_message(MailboxesLoaded(self.store.mailboxes.visible(self.actor)))

    @on(MailboxesChanged)
    def _reload(self) -> None:
        self.load_mailboxes()

    @on(MailboxesLoaded)
    def _show_mailboxes(self, event: MailboxesLoaded) -> None:
        mailbox_list = self.query_one("#mailbox-list", OptionList)
        kept = self._highlighted_id()
        self.mailboxes = event.mailboxes
        mailbox_list.clear_options()
        options = [Option(self._prompt(m), id=str(m.id)) for m in self.mailboxes]
        if len(self.mailboxes) > 1:
            options.insert(0, Option(all_mailboxes_prompt(len(self.mailboxes)), id=ALL_MAILBOXES))
        mailbox_list.add_options(options)
        ids = [o.id for o in options]
        if ids:
            first_mailbox = ids.index(str(self.mailboxes[0].id))
            mailbox_list.highlighted = ids.index(kept) if kept in ids else first_mailbox
        self.query_one("#mailbox-summary", Static).update(self._summary())
        switcher = self.query_one("#email-body", ContentSwitcher)
        was_loading = switcher.current == "loading"
        switcher.current = "email-main" if self.mailboxes else "empty-state"
        if was_loading and self.mailboxes and self.focused is self.query_one("#account-button"):
            mailbox_list.focus()
        self._show_messages()
        self.refresh_bindings()
        self.app.sync_runner.watch(self.mailboxes)  # type: ignore[attr-defined] - settings may have changed

    def _prompt(self, mailbox: Mailbox):  # noqa: ANN202 - a Rich renderable
        state = self.sync_states.get(mailbox.id)
        return mailbox_prompt(mailbox, self.clock(), self.app.theme_variables, state)

    def _summary(self) -> Content:
        if not self.mailboxes:
            return Content("")
        attention = sum(m.status != "ok" for m in self.mailboxes)
        count = f"{len(self.mailboxes)} mailbox" + ("es" if len(self.mailboxes) != 1 else "")
        syncing = sum(s.running for s in self.sync_states.values())
        if syncing:
            count += f" · syncing {syncing}"
        if attention:
            return Content.from_markup(
                "$count · [$warning]$n need attention[/]", count=count, n=str(attention)
            )
        return Content.from_markup("$count · all ok", count=count)

    def _highlighted_id(self) -> str | None:
        mailbox_list = self.query_one("#mailbox-list", OptionList)
        if mailbox_list.highlighted is None:
            return None
        return mailbox_list.get_option_at_index(mailbox_list.highlighted).id

    def highlighted_mailbox(self) -> Mailbox | None:
        """The mailbox under the cursor of the list, if any (None on "All mailboxes")."""
        option_id = self._highlighted_id()
        return next((m for m in self.mailboxes if str(m.id) == option_id), None)

    # -- messages ------------------------------------------------------------------------
    @on(OptionList.OptionHighlighted, "#mailbox-list")
    def _show_messages(self) -> None:
        """Filter the message list to the highlighted mailbox, or show every mailbox's mail."""
        messages = self.query_one(MessageList)
        mailbox = self.highlighted_mailbox()
        if mailbox is not None:
            messages.show_mailbox(
                mailbox.id, mailbox.email, f"No messages loaded for {mailbox.email} yet. Press s to sync."
            )
        elif self.mailboxes:
            messages.show_mailbox(None, "All mailboxes", "No messages loaded yet. Press s to sync.")
        self.refresh_bindings()

    @on(OptionList.OptionSelected, "#mailbox-list")
    def _focus_messages(self) -> None:
        self.query_one(MessageList).focus()

    @on(MessageList.Opened)
    def _open_message(self, event: MessageList.Opened) -> None:
        from screens.message_view import MessageViewScreen

        self.app.push_screen(MessageViewScreen(self.store, self.actor, event.message_id, event.location_id))

    def _refresh_messages(self, mailbox_id: int) -> None:
        """Re-read the message list when it shows this mailbox's mail."""
        messages = self.query_one(MessageList)
        if messages.mailbox_id in (None, mailbox_id) and messages.loaded:
            messages.reload()

    def _refresh_messages_soon(self, mailbox_id: int) -> None:
        """Show mail arriving during a long first load, at most once a second."""
        if self._refresh_timer is None and self.query_one(MessageList).mailbox_id in (None, mailbox_id):

            def refresh() -> None:
                self._refresh_timer = None
                self._refresh_messages(mailbox_id)

            self._refresh_timer = self.set_timer(1.0, refresh)

    # -- syncs ------------------------------------------------------------------------------
    def _sync_changed(self, mailbox_id: int) -> None:
        mailbox = next((m for m in self.mailboxes if m.id == mailbox_id), None)
        if mailbox is not None:
            mailbox_list = self.query_one("#mailbox-list", OptionList)
            mailbox_list.replace_option_prompt(str(mailbox_id), self._prompt(mailbox))
        self.query_one("#mailbox-summary", Static).update(self._summary())

    @on(MailboxNewMail)
    def _new_mail(self, event: MailboxNewMail) -> None:
        """IDLE saw new mail: the app's sync runner loads it."""
        event.stop()
        self.app.sync_runner.new_mail(event.mailbox_id)  # type: ignore[attr-defined]

    @on(MailboxSyncQueued)
    def _sync_queued(self, event: MailboxSyncQueued) -> None:
        event.stop()
        self.sync_states[event.mailbox_id] = SyncState()
        self._sync_changed(event.mailbox_id)

    @on(MailboxSyncStarted)
    def _sync_started(self, event: MailboxSyncStarted) -> None:
        event.stop()
        self.sync_states[event.mailbox_id] = SyncState(started=True, first_load=event.first_load)
        self._sync_changed(event.mailbox_id)

    @on(MailboxSyncProgress)
    def _sync_progress(self, event: MailboxSyncProgress) -> None:
        event.stop()
        state = self.sync_states.setdefault(event.mailbox_id, SyncState(started=True))
        state.started, state.retry = True, ""
        state.phase, state.folder = event.phase, event.folder
        state.done, state.total = event.done, event.total
        self._sync_changed(event.mailbox_id)
        if event.phase == "headers" and event.done:
            self._refresh_messages_soon(event.mailbox_id)

    @on(MailboxSyncRetrying)
    def _sync_retrying(self, event: MailboxSyncRetrying) -> None:
        event.stop()
        state = self.sync_states.setdefault(event.mailbox_id, SyncState(started=True))
        state.retry = f"Connection failed; retry {event.attempt} in {event.delay:g} s"
        self._sync_changed(event.mailbox_id)

    @on(MailboxSyncFinished)
    def _sync_finished(self, event: MailboxSyncFinished) -> None:
        event.stop()
        summary = event.summary
        if summary.error_kind == "busy":  # the runner waits for the other process, then syncs again
            waiting = "Another process is syncing it; waiting…"
            self.sync_states[summary.mailbox_id] = SyncState(started=True, retry=waiting)
            self._sync_changed(summary.mailbox_id)
            return
        if summary.ok or summary.error_kind in ("auth", "cancelled"):
            self.sync_states.pop(summary.mailbox_id, None)  # needs attention shows from the stored status
        else:
            self.sync_states[summary.mailbox_id] = SyncState(running=False, error=summary.error)
        self._sync_changed(summary.mailbox_id)
        self.load_mailboxes()
        if summary.ok or summary.new or summary.expunged or summary.flags_changed or summary.folder_changes:
            self._refresh_messages(summary.mailbox_id)  # when ok: another process may have loaded mail

    async def action_edit_highlighted(self) -> None:
        """Open the settings of the highlighted mailbox."""
        mailbox = self.highlighted_mailbox()
        if mailbox is not None:
            await self.run_action(f"app.edit_settings({mailbox.id})")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide "Edit settings" while there is no mailbox to edit."""
        if action == "edit_highlighted":
            return bool(self.mailboxes) and self.highlighted_mailbox() is not None
        return True

    # -- the account menu --------------------------------------------------------------
    @on(Button.Pressed, "#account-button")
    def action_open_menu(self) -> None:
        """Open the account menu under its button."""
        menu = self.query_one(AccountMenu)
        if menu.has_class("-open"):
            return
        hints = {b.binding.action: self.app.get_key_display(b.binding) for b in self.active_bindings.values()}
        menu.show_commands(account_commands(self.actor), self.mailboxes, hints)
        self._focus_before_menu = self.focused
        menu.add_class("-open")
        menu.focus()

    def _close_menu(self) -> None:
        menu = self.query_one(AccountMenu)
        if not menu.has_class("-open"):
            return
        menu.remove_class("-open")
        target = self._focus_before_menu
        if target is not None and target.is_attached and target.display:
            target.focus()
        else:
            self.focus_next()

    @on(AccountMenu.Closed)
    def _menu_closed(self) -> None:
        self._close_menu()

    @on(AccountMenu.Chosen)
    async def _menu_chosen(self, event: AccountMenu.Chosen) -> None:
        self._close_menu()
        await self.run_action(event.action)
