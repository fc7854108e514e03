"""Wizard step 5: the mailbox is connected; offers to load its mail now or open its additional settings."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.content import Content
from textual.widgets import Button, Static

from screens.wizard_base import WizardStep
from screens.wizard_results import DoneChoice
from store.mailboxes import Mailbox

PERIODS = {
    "day": "one day",
    "week": "one week",
    "month": "one month",
    "3months": "three months",
    "6months": "six months",
    "year": "one year",
    "all": "all mail",
}
SCOPES = {"inbox": "Inbox only", "all": "all folders", "selected": "selected folders"}


def settings_lines(box: Mailbox) -> list[tuple[str, str]]:
    """The mailbox's settings as (name, value) pairs, in the order the settings page shows them."""
    on_off = {True: "on", False: "off"}
    return [
        ("Load period", PERIODS.get(box.load_period, box.load_period)),
        ("Load new mail automatically", on_off[box.auto_load]),
        ("Folders", SCOPES.get(box.folder_scope, box.folder_scope)),
        ("Sending", on_off[box.send_enabled]),
        ("Default sender", "this address" if box.is_default_sender else "another mailbox"),
        ("Alias", box.alias or "none"),
        ("Signature", "on" if box.use_signature else "none"),
    ]


class DoneStep(WizardStep[DoneChoice]):
    """Says the mailbox is connected with which settings; l loads mail now, s opens additional settings."""

    STEP = 5
    AUTO_FOCUS = "#load"
    BINDINGS = [
        Binding("l", "choose('load')", "Load mail now", id="wizard.load_now"),
        Binding("s", "choose('settings')", "Additional settings", id="wizard.settings"),
        Binding("escape", "choose('close')", "Close", id="wizard.close"),
    ]
    DEFAULT_CSS = """
    DoneStep #settings { height: auto; margin: 1 0 0 2; }
    """

    def __init__(self, mailbox: Mailbox) -> None:
        super().__init__()
        self.mailbox = mailbox

    def compose_body(self) -> ComposeResult:
        box = self.mailbox
        yield Static(
            Content.from_markup(
                "[$success]✓[/] [b]$email[/b] is connected ($provider). It uses these settings:",
                email=box.email,
                provider=box.provider_name,
            )
        )
        width = max(len(name) for name, _ in settings_lines(box))
        yield Static(
            "\n".join(f"{name:<{width}}  {value}" for name, value in settings_lines(box)),
            id="settings",
            markup=False,
        )
        with Horizontal(classes="buttons"):
            yield Button("Close", id="close")
            yield Button("Additional settings (s)", id="settings-button")
            yield Button("Load mail now (l)", variant="primary", id="load")

    def action_choose(self, action: str) -> None:
        """Finish the wizard with *action*: close, load or settings."""
        self.dismiss(DoneChoice(action))  # type: ignore[arg-type]

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        actions = {"close": "close", "settings-button": "settings", "load": "load"}
        self.action_choose(actions[event.button.id or "close"])
