"""Change a mailbox's password: the new one is checked live with IMAP and SMTP before replacing the old."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Label, LoadingIndicator, Static
from textual.worker import Worker, WorkerState

from screens.closing import dismiss_when_active
from store.accounts import AuthorizeError
from store.errors import StoreError
from store.identity import Actor
from store.keyring_file import SecretsError
from store.mailboxes import Mailbox
from store.providers import Provider
from store.secrets import Secret, SecretStore
from store.service import Store

log = logging.getLogger("mailroom.tui")


class ChangePasswordScreen(ModalScreen[Mailbox | None]):
    """A masked password field; dismisses with the updated mailbox once the new password works."""

    AUTO_FOCUS = "#password"
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="change_password.cancel")]
    DEFAULT_CSS = """
    ChangePasswordScreen #password-dialog { width: 80; }
    ChangePasswordScreen .intro-text { margin-top: 1; color: $text-muted; }
    ChangePasswordScreen .password-row { height: auto; margin-top: 1; }
    ChangePasswordScreen .password-row Label {
        width: 14; padding: 1 1 0 0; text-align: right; color: $text-muted;
    }
    ChangePasswordScreen .password-row Input { width: 1fr; }
    ChangePasswordScreen #checking { height: 1; margin-left: 14; display: none; }
    ChangePasswordScreen #checking.-shown { display: block; }
    ChangePasswordScreen #checking LoadingIndicator { width: 4; height: 1; min-height: 1; }
    ChangePasswordScreen #checking Label { color: $text-muted; }
    ChangePasswordScreen #outcome { display: none; height: auto; margin: 1 0 0 14; padding: 0 1; }
    ChangePasswordScreen #outcome.-shown { display: block; border-left: thick $error; }
    """

    @dataclass
    class Checked(Message):
        """The new password works and is stored."""

        mailbox: Mailbox

    @dataclass
    class Refused(Message):
        """The new password was not accepted; the old one is still stored."""

        title: str
        detail: str

    def __init__(
        self,
        store: Store,
        actor: Actor,
        box: Mailbox,
        provider: Provider,
        open_secrets: Callable[[], SecretStore],
    ) -> None:
        super().__init__(classes="dialog-screen")
        self.store = store
        self.actor = actor
        self.box = box
        self.provider = provider
        self.open_secrets = open_secrets
        self.checking = False

    def compose(self) -> ComposeResult:
        p = self.provider
        with Vertical(id="password-dialog", classes="dialog"):
            yield Static(
                Content.from_markup(
                    "The new password is checked with IMAP ($imap) and SMTP ($smtp) first; "
                    "if either refuses it, the old password stays.",
                    imap=f"{p.imap_host}:{p.imap_port}",
                    smtp=f"{p.smtp_host}:{p.smtp_port}",
                ),
                classes="intro-text",
            )
            with Horizontal(classes="password-row"):
                yield Label("New password")
                yield Input(password=True, placeholder="hidden as you type", id="password")
            with Horizontal(id="checking"):
                yield LoadingIndicator()
                yield Label("Logging in to IMAP and SMTP with the new password…")
            yield Static(id="outcome")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Check and save", variant="primary", id="check")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#password-dialog").border_title = f"Change password · {self.box.email}"

    # -- checking -------------------------------------------------------------------------
    @on(Input.Submitted, "#password")
    @on(Button.Pressed, "#check")
    def action_check(self) -> None:
        """Check the typed password live, unless it is empty or could not be sent."""
        if self.checking:
            return
        password = self.query_one("#password", Input).value
        if not password:
            self._show_outcome("Type the new password", "")
            return
        if any(c in password for c in "\r\n\x00"):
            self._show_outcome("Not a usable password", "It must not contain line breaks or NUL characters.")
            return
        self._set_checking(True)
        self._show_outcome("", "")
        self._change(Secret(password))

    @work(
        thread=True,
        exclusive=True,
        exit_on_error=False,
        group="settings.password",
        description="Change password",
    )
    def _change(self, secret: Secret) -> None:
        """Authorize live and store the password (network and keyring: off the UI thread)."""
        try:
            secrets = self.open_secrets()
            box = self.store.settings.change_password(self.actor, self.box.id, secret, self.provider, secrets)
        except AuthorizeError as exc:
            self.post_message(self.Refused(exc.title, exc.detail))
            return
        except SecretsError as exc:
            self.post_message(self.Refused("Password not stored", f"The keyring refused the password: {exc}"))
            return
        except StoreError as exc:
            self.post_message(self.Refused("Password not changed", str(exc)))
            return
        log.info("changed the password of mailbox %s", box.email)
        self.post_message(self.Checked(box))

    @on(Checked)
    def _checked(self, event: Checked) -> None:
        self.checking = False
        dismiss_when_active(self, event.mailbox)

    @on(Refused)
    def _refused(self, event: Refused) -> None:
        self._set_checking(False)
        self._show_outcome(event.title, event.detail)
        field = self.query_one("#password", Input)
        field.focus()
        field.select_all()

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        """An unexpected failure ends the check with its message; the app also logs and reports it."""
        if event.state == WorkerState.ERROR and event.worker.node is self:
            self._refused(self.Refused("Something went wrong", str(event.worker.error)))
            self.app.post_message(event)

    def _set_checking(self, checking: bool) -> None:
        self.checking = checking
        self.query_one("#checking").set_class(checking, "-shown")
        self.query_one("#password", Input).disabled = checking
        self.query_one("#check", Button).disabled = checking
        self.query_one("#cancel", Button).disabled = checking

    def _show_outcome(self, title: str, detail: str) -> None:
        outcome = self.query_one("#outcome", Static)
        outcome.set_class(bool(title), "-shown")
        text = "[b]$title[/b]\n$detail" if detail else "[b]$title[/b]"
        outcome.update(Content.from_markup(text, title=title, detail=detail) if title else "")

    # -- leaving ----------------------------------------------------------------------------
    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        """Close without changing the password; not while a check runs, which may still store it."""
        if self.checking:
            self.notify("Wait for the check to finish: it stores the password if the server accepts it.")
            return
        self.dismiss(None)
