"""The account menu of the communication panel, and the commands it shares with the palette."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from textual.binding import Binding
from textual.content import Content
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from store.identity import Actor, Operation
from store.mailboxes import Mailbox

EDIT_SUBMENU = "submenu:edit"
BACK = "submenu:back"
MENU_WIDTH = 36


@dataclass(frozen=True)
class MenuCommand:
    """One thing the user can do from the account menu or the command palette."""

    title: str
    action: str
    help: str


def account_commands(actor: Actor) -> list[MenuCommand]:
    """The top-level account commands this user may run, directories only for those who manage them."""
    commands = [
        MenuCommand("New account", "app.new_account", "Connect a mailbox to Mailroom"),
        MenuCommand("Sync now", "app.sync_now", "Load new mail of every mailbox now"),
    ]
    if actor.can(Operation.MANAGE_DIRECTORIES):
        commands += [
            MenuCommand("Providers", "app.open_providers", "Mail services and their server settings"),
            MenuCommand("Mail provider domains", "app.open_domains", "Which provider serves which domain"),
        ]
    return commands


def edit_settings_commands(mailboxes: Sequence[Mailbox]) -> list[MenuCommand]:
    """One "Edit settings" command per mailbox."""
    return [
        MenuCommand(
            f"Edit settings of {m.email}", f"app.edit_settings({m.id})", "Change how this mailbox syncs"
        )
        for m in mailboxes
    ]


def _row(label: str, hint: str = "") -> Content:
    """A menu row: the label on the left, its key on the right."""
    gap = max(1, MENU_WIDTH - 4 - len(label) - len(hint))
    return Content.assemble(label, " " * gap, (hint, "dim"))


class AccountMenu(OptionList):
    """A small drop-down list with a submenu of mailboxes for "Edit settings"."""

    BINDINGS = [
        Binding("escape", "close", "Close menu", id="menu.close"),
        Binding("left", "back", "Back", id="menu.back"),
        Binding("right", "select", "Open", show=False, id="menu.open"),
    ]

    @dataclass
    class Chosen(Message):
        """The user picked a command; *action* is the action string to run."""

        action: str

    @dataclass
    class Closed(Message):
        """The menu closed without a choice."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._commands: list[MenuCommand] = []
        self._mailboxes: list[Mailbox] = []
        self._hints: Mapping[str, str] = {}
        self.in_submenu = False

    def show_commands(
        self, commands: Sequence[MenuCommand], mailboxes: Sequence[Mailbox], hints: Mapping[str, str]
    ) -> None:
        """Fill the top level: account commands, the Edit settings submenu, then directories."""
        self._commands, self._mailboxes, self._hints = list(commands), list(mailboxes), hints
        self.in_submenu = False
        self.refresh_bindings()
        self.clear_options()
        for command in commands:
            if command.action == "app.open_providers":
                self.add_option(None)
            self.add_option(Option(_row(command.title, hints.get(command.action, "")), id=command.action))
            if command.action == "app.new_account":
                edit = _row("Edit settings", "▸") if mailboxes else _row("Edit settings", "no mailbox yet")
                self.add_option(Option(edit, id=EDIT_SUBMENU, disabled=not mailboxes))
        self.highlighted = 0

    def show_mailboxes(self) -> None:
        """Replace the top level by the list of mailboxes whose settings can be edited."""
        self.in_submenu = True
        self.refresh_bindings()
        self.clear_options()
        self.add_option(Option(_row("◂ Back", "←"), id=BACK))
        self.add_option(None)
        for command, mailbox in zip(edit_settings_commands(self._mailboxes), self._mailboxes, strict=True):
            self.add_option(Option(_row(mailbox.email), id=command.action))
        self.highlighted = 1 if self._mailboxes else 0  # a divider belongs to the option above it

    def _on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        choice = event.option.id or ""
        if choice == EDIT_SUBMENU:
            self.show_mailboxes()
        elif choice == BACK:
            self.action_back()
        else:
            self.post_message(self.Chosen(choice))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Offer "Back" only inside the submenu."""
        return self.in_submenu if action == "back" else True

    def action_back(self) -> None:
        """Return from the submenu to the top level."""
        if self.in_submenu:
            self.show_commands(self._commands, self._mailboxes, self._hints)
            self.highlighted = self.get_option_index(EDIT_SUBMENU)

    def action_close(self) -> None:
        """Close the menu without choosing."""
        self.post_message(self.Closed())

    def on_blur(self) -> None:
        self.post_message(self.Closed())
