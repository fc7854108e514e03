"""Wizard step 3: the password (masked), the app-password advice where it applies, and a login if asked."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Button, Input, Label, Link, Static

from screens.wizard_base import WizardStep
from screens.wizard_provider import how_found
from screens.wizard_results import BACK, Back, Credentials
from store.accounts import Detection, login_for
from store.errors import Invalid
from store.secrets import Secret


class PasswordStep(WizardStep[Credentials | Back]):
    """Asks for the password (and the login name when the provider says so); dismisses with Credentials."""

    STEP = 3
    BINDINGS = [Binding("escape", "back", "Back", id="wizard.back")]

    def __init__(self, detection: Detection, login: str = "", error: str = "") -> None:
        super().__init__()
        assert detection.provider is not None
        self.detection = detection
        self.provider = detection.provider
        self.asks_login = self.provider.login_format == "ask"
        self.initial_login = login
        self.initial_error = error

    def compose_body(self) -> ComposeResult:
        p = self.provider
        with Horizontal(classes="wizard-row"):
            yield Label("Address", classes="wizard-label -flat")
            yield Static(self.detection.address.email, classes="wizard-value", markup=False)
        with Horizontal(classes="wizard-row"):
            yield Label("Provider", classes="wizard-label -flat")
            yield Static(how_found(self.detection), classes="wizard-value")
        if p.app_password_required:
            with Vertical(classes="wizard-note", id="app-password-note"):
                yield Static(
                    Content.from_markup(
                        "[b]$name needs an app password.[/b] Your usual password will be refused.\n"
                        "Make one in your $name account settings, then paste it here. How:",
                        name=p.name,
                    )
                )
                if p.help_url:
                    yield Link(p.help_url, url=p.help_url, id="help-link")
        elif p.auth_kind == "oauth2":
            yield Static(
                Content.from_markup(
                    "[b]$name usually signs in with OAuth2,[/b] which Mailroom does not offer yet.\n"
                    "A password login works only where your admin allows it (app passwords or basic auth).",
                    name=p.name,
                ),
                classes="wizard-note",
            )
        if self.asks_login:
            with Horizontal(classes="wizard-row"):
                yield Label("Login", classes="wizard-label")
                yield Input(self.initial_login, placeholder="login name from your admin", id="login")
            yield Label(id="login-error", classes="wizard-error", markup=False)
        with Horizontal(classes="wizard-row"):
            yield Label("App password" if p.app_password_required else "Password", classes="wizard-label")
            yield Input(password=True, placeholder="hidden as you type", id="password")
        yield Label(id="error", classes="wizard-error", markup=False)
        with Horizontal(classes="buttons"):
            yield Button("Back", id="back")
            yield Button("Connect", variant="primary", id="connect")

    def on_mount(self) -> None:
        super().on_mount()
        self.show_error(self.initial_error)
        first = "#login" if self.asks_login and not self.initial_login else "#password"
        self.query_one(first).focus()

    @on(Input.Changed)
    def _clear_errors(self, event: Input.Changed) -> None:
        self.show_error("", "login-error" if event.input.id == "login" else "error")

    @on(Input.Submitted, "#login")
    def _login_done(self) -> None:
        self.query_one("#password").focus()

    @on(Input.Submitted, "#password")
    @on(Button.Pressed, "#connect")
    def action_connect(self) -> None:
        """Dismiss with the login name and the password, once both are acceptable."""
        typed = self.query_one("#login", Input).value if self.asks_login else ""
        try:
            login = login_for(self.provider, self.detection.address.email, typed)
        except Invalid as exc:
            self.show_error(exc.errors.get("login", str(exc)), "login-error")
            self.query_one("#login").focus()
            return
        password = self.query_one("#password", Input).value
        if not password:
            self.show_error("Type the password.")
            return
        if any(c in password for c in "\r\n\x00"):
            self.show_error("The password must not contain line breaks or NUL characters.")
            return
        self.dismiss(Credentials(login, Secret(password)))

    @on(Button.Pressed, "#back")
    def action_back(self) -> None:
        """Return to the provider."""
        self.dismiss(BACK)
