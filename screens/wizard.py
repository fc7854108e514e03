"""The new-account wizard: pushes one step after another and holds what the steps returned."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from screens.wizard_address import AddressStep
from screens.wizard_authorize import AuthorizeStep
from screens.wizard_done import DoneStep
from screens.wizard_password import PasswordStep
from screens.wizard_provider import ProviderStep
from screens.wizard_results import AddressResult, Back, Connected, Credentials, DoneChoice
from store.accounts import Accounts, Detection

if TYPE_CHECKING:
    from textual.app import App

    from store.identity import Actor
    from store.secrets import SecretStore


@dataclass
class WizardState:
    """What the steps returned so far; going back keeps it to pre-fill the earlier step."""

    email: str = ""
    address: AddressResult | None = None
    detection: Detection | None = None
    login: str = ""
    credentials: Credentials | None = None


class NewAccountWizard:
    """Runs Address → Provider → Password → Authorize → Done; nothing is stored before Authorize succeeds."""

    def __init__(
        self,
        app: App[Any],
        accounts: Accounts,
        actor: Actor,
        open_secrets: Callable[[], SecretStore],
        on_connected: Callable[[int], None] | None = None,
    ) -> None:
        self.app = app
        self.accounts = accounts
        self.actor = actor
        self.open_secrets = open_secrets
        self.on_connected = on_connected
        self.state = WizardState()

    def start(self) -> None:
        """Open the first step."""
        self._address()

    def _address(self) -> None:
        self.app.push_screen(AddressStep(self.accounts, self.state.email), self._after_address)

    def _after_address(self, result: AddressResult | None) -> None:
        if result is None:
            return
        if self.state.detection is None or self.state.detection.address != result.detection.address:
            self.state.login = ""
        self.state.email = result.detection.address.email
        self.state.address = result
        self._provider()

    def _provider(self) -> None:
        assert self.state.address is not None
        result = self.state.address
        self.app.push_screen(ProviderStep(result.detection, result.providers), self._after_provider)

    def _after_provider(self, result: Detection | Back | None) -> None:
        if not isinstance(result, Detection):
            self._address()
            return
        self.state.detection = result
        self._password()

    def _password(self, error: str = "") -> None:
        assert self.state.detection is not None
        self.app.push_screen(
            PasswordStep(self.state.detection, self.state.login, error), self._after_password
        )

    def _after_password(self, result: Credentials | Back | None) -> None:
        if not isinstance(result, Credentials):
            self._provider()
            return
        self.state.credentials = result
        if self.state.detection is not None and self.state.detection.provider is not None:
            if self.state.detection.provider.login_format == "ask":
                self.state.login = result.login
        self._authorize()

    def _authorize(self) -> None:
        assert self.state.detection is not None and self.state.credentials is not None
        step = AuthorizeStep(
            self.accounts, self.actor, self.state.detection, self.state.credentials, self.open_secrets
        )
        self.app.push_screen(step, self._after_authorize)

    def _after_authorize(self, result: Connected | Back | None) -> None:
        self.state.credentials = None  # the password leaves memory with the step
        if not isinstance(result, Connected):
            self._password()
            return
        mailbox = result.mailbox
        if self.on_connected is not None:
            self.on_connected(mailbox.id)
        self.app.push_screen(
            DoneStep(mailbox), lambda choice: self._after_done(mailbox.id, mailbox.email, choice)
        )

    def _after_done(self, mailbox_id: int, email: str, choice: DoneChoice | None) -> None:
        action = choice.action if choice else "close"
        if action == "load":
            self.app.sync_now(mailbox_id)  # type: ignore[attr-defined]
        elif action == "settings":
            self.app.open_mailbox_settings(mailbox_id)  # type: ignore[attr-defined]
        else:
            self.app.notify(
                f"{email} is connected. Load its mail or change its settings from the account menu.",
                title="New account",
            )


def open_secrets_for(app: App[Any]) -> Callable[[], SecretStore]:
    """A function that opens the app's secret store (in the worker thread, since a keyring may block)."""

    def open_secrets() -> SecretStore:
        existing = getattr(app, "secrets", None)
        if existing is not None:
            return existing
        from store.secrets import open_secret_store
        from tui.settings import config_dir, data_dir

        settings = app.settings  # type: ignore[attr-defined]
        return open_secret_store(
            settings.secrets.backend,
            data_dir=data_dir(),
            config_dir=config_dir(),
            allow_plaintext=settings.secrets.allow_plaintext,
        )

    return open_secrets


def start_new_account_wizard(app: App[Any]) -> NewAccountWizard:
    """Open the wizard over *app*, which provides store, actor and settings; the panel reloads on success."""
    store, actor = app.store, app.actor  # type: ignore[attr-defined]
    changed = getattr(app, "mailboxes_changed", None)
    wizard = NewAccountWizard(
        app,
        Accounts(store),
        actor,
        open_secrets_for(app),
        on_connected=lambda _id: changed() if changed else None,
    )
    wizard.start()
    return wizard
