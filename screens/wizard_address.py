"""Wizard step 1: the e-mail address, checked at once, then the provider detected in a worker."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Button, Input, Label, Static

from screens.closing import dismiss_when_active
from screens.wizard_base import WizardStep
from screens.wizard_results import AddressResult
from store.accounts import Accounts, check_address
from store.errors import Invalid, StoreError


class AddressStep(WizardStep[AddressResult | None]):
    """Asks for the address; dismisses with the detection, or None when the user leaves the wizard."""

    STEP = 1
    AUTO_FOCUS = "#email"
    BINDINGS = [Binding("escape", "close", "Close", id="wizard.close")]

    @dataclass
    class Detected(Message):
        """The worker found (or did not find) the provider."""

        result: AddressResult

    @dataclass
    class Refused(Message):
        """The worker refused the address, e.g. because it is connected already."""

        reason: str

    def __init__(self, accounts: Accounts, email: str = "") -> None:
        super().__init__()
        self.accounts = accounts
        self.initial_email = email

    def compose_body(self) -> ComposeResult:
        yield Static(
            "Type the e-mail address of the mailbox to connect. "
            "Mailroom finds its provider and server settings.",
            classes="wizard-intro",
        )
        with Horizontal(classes="wizard-row"):
            yield Label("Address", classes="wizard-label")
            yield Input(self.initial_email, placeholder="ann@example.com", id="email")
        yield Label(id="error", classes="wizard-error", markup=False)
        yield Label("", id="busy", classes="wizard-busy", markup=False)
        with Horizontal(classes="buttons"):
            yield Button("Cancel", id="cancel")
            yield Button("Next", variant="primary", id="next")

    @on(Input.Changed, "#email")
    def _clear_error(self) -> None:
        self.show_error("")

    @on(Input.Submitted, "#email")
    @on(Button.Pressed, "#next")
    def action_next(self) -> None:
        """Check the address, then detect its provider off the UI thread."""
        if self.busy:
            return
        try:
            address = check_address(self.query_one("#email", Input).value)
        except Invalid as exc:
            self.show_error(exc.errors.get("email", str(exc)))
            self.query_one("#email").focus()
            return
        self.set_busy(f"Looking up the provider of {address.domain}…")
        self._detect(address.email)

    @work(
        thread=True,
        exclusive=True,
        exit_on_error=False,
        group="wizard.detect",
        description="Find the provider",
    )
    def _detect(self, email: str) -> None:
        try:
            self.accounts.ensure_not_connected(email)
            detection = self.accounts.detect(email)
            providers = tuple(self.accounts.providers())
        except StoreError as exc:
            self.post_message(self.Refused(str(exc)))
            return
        self.post_message(self.Detected(AddressResult(detection, providers)))

    @on(Detected)
    def _detected(self, event: Detected) -> None:
        dismiss_when_active(self, event.result)

    @on(Refused)
    def _refused(self, event: Refused) -> None:
        self.set_busy("")
        self.show_error(event.reason)

    @on(Button.Pressed, "#cancel")
    def action_close(self) -> None:
        """Leave the wizard; nothing was stored."""
        self.workers.cancel_group(self, "wizard.detect")
        self.dismiss(None)
