"""The communication panel: the main screen, whose first section is Email."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Center, Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
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
from tui.widgets.account_menu import AccountMenu, account_commands

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


def describe_sync(last_sync_at: datetime | None, now: datetime) -> str:
    """When a mailbox last synced, in words relative to *now*."""
    if last_sync_at is None:
        return "never synced"
    if last_sync_at.tzinfo is None:  # SQLite returns naive datetimes, stored in UTC
        last_sync_at = last_sync_at.replace(tzinfo=UTC)
    minutes = int((now - last_sync_at).total_seconds() // 60)
    if minutes < 1:
        return "synced just now"
    if minutes < 60:
        return f"synced {minutes} min ago"
    if minutes < 24 * 60:
        return f"synced {minutes // 60} h ago"
    if minutes < 7 * 24 * 60:
        return f"synced {minutes // (24 * 60)} d ago"
    return f"synced on {last_sync_at.astimezone():%Y-%m-%d}"


def mailbox_prompt(mailbox: Mailbox, now: datetime, colors: Mapping[str, str]) -> Table:
    """A mailbox as the list shows it: a status mark, then its address, status and last sync."""
    when = describe_sync(mailbox.last_sync_at, now)
    grid = Table.grid(padding=(0, 1), expand=True)
    grid.add_column(width=1)
    grid.add_column(ratio=1)
    if mailbox.status == "ok":
        grid.add_row(Text("●", style=colors["success"]), Text(mailbox.email, style="bold"))
        grid.add_row("", Text(f"{mailbox.provider_name} · ok · {when}", style="dim"))
    else:
        reason = mailbox.status_reason or "no reason recorded"
        grid.add_row(Text("▲", style=colors["warning"]), Text(mailbox.email, style="bold"))
        grid.add_row("", Text.assemble(("Needs attention: ", colors["warning"]), reason))
        grid.add_row("", Text(f"{mailbox.provider_name} · {when}", style="dim"))
    return grid


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
        Binding("P", "app.open_providers", "Providers", show=False, id="panel.providers"),
        Binding("D", "app.open_domains", "Domains", show=False, id="panel.domains"),
    ]

    def __init__(self, store: Store, actor: Actor, clock: Clock) -> None:
        super().__init__()
        self.store = store
        self.actor = actor
        self.clock = clock
        self.mailboxes: list[Mailbox] = []
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
                        yield Static(id="message-list")
        yield Static(user_status(self.actor), id="status-line")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#mailbox-list").border_title = "Mailboxes"
        self.query_one("#message-list").border_title = "Messages"
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
        kept = self.highlighted_mailbox()
        self.mailboxes = event.mailboxes
        now = self.clock()
        mailbox_list.clear_options()
        colors = self.app.theme_variables
        mailbox_list.add_options(Option(mailbox_prompt(m, now, colors), id=str(m.id)) for m in self.mailboxes)
        ids = [m.id for m in self.mailboxes]
        if ids:
            mailbox_list.highlighted = ids.index(kept.id) if kept and kept.id in ids else 0
        self.query_one("#mailbox-summary", Static).update(self._summary())
        switcher = self.query_one("#email-body", ContentSwitcher)
        was_loading = switcher.current == "loading"
        switcher.current = "email-main" if self.mailboxes else "empty-state"
        if was_loading and self.mailboxes and self.focused is self.query_one("#account-button"):
            mailbox_list.focus()
        self._show_messages()
        self.refresh_bindings()

    def _summary(self) -> Content:
        if not self.mailboxes:
            return Content("")
        attention = sum(m.status != "ok" for m in self.mailboxes)
        count = f"{len(self.mailboxes)} mailbox" + ("es" if len(self.mailboxes) != 1 else "")
        if attention:
            return Content.from_markup(
                "$count · [$warning]$n need attention[/]", count=count, n=str(attention)
            )
        return Content.from_markup("$count · all ok", count=count)

    def highlighted_mailbox(self) -> Mailbox | None:
        """The mailbox under the cursor of the list, if any."""
        mailbox_list = self.query_one("#mailbox-list", OptionList)
        if mailbox_list.highlighted is None:
            return None
        option_id = mailbox_list.get_option_at_index(mailbox_list.highlighted).id
        return next((m for m in self.mailboxes if str(m.id) == option_id), None)

    @on(OptionList.OptionHighlighted, "#mailbox-list")
    def _show_messages(self) -> None:
        mailbox = self.highlighted_mailbox()
        text = (
            Content.from_markup("[dim]No messages loaded for [b]$email[/b] yet.[/dim]", email=mailbox.email)
            if mailbox
            else Content("")
        )
        self.query_one("#message-list", Static).update(text)

    async def action_edit_highlighted(self) -> None:
        """Open the settings of the highlighted mailbox."""
        mailbox = self.highlighted_mailbox()
        if mailbox is not None:
            await self.run_action(f"app.edit_settings({mailbox.id})")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide "Edit settings" while there is no mailbox to edit."""
        if action == "edit_highlighted":
            return bool(self.mailboxes)
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
