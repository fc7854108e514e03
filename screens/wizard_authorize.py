"""Wizard step 4: live IMAP and SMTP logins in a worker, with progress, a cancel key and exact failures."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.content import Content
from textual.message import Message
from textual.widgets import Button, Label, Static

from screens.closing import dismiss_when_active
from screens.wizard_base import WizardStep
from screens.wizard_results import BACK, Back, Connected, Credentials
from store.accounts import Accounts, AuthorizeError, Cancelled, CancelToken, Detection, Step
from store.errors import Conflict, StoreError
from store.identity import Actor
from store.keyring_file import SecretsError
from store.mailboxes import Mailbox
from store.net import Endpoint
from store.secrets import SecretStore

STEP_ORDER: tuple[Step, ...] = ("imap", "smtp", "save")
MARKS = {"wait": "[dim]·[/dim]", "run": "[$accent]▸[/]", "ok": "[$success]✓[/]", "fail": "[$error]✗[/]"}


@dataclass(frozen=True)
class Failure:
    """What failed, in a few words, the message that says why and what to do, and whether retrying helps."""

    title: str
    detail: str
    retry_helps: bool = True


def failure_of(exc: BaseException) -> Failure:
    """The failure to show for an error the connect call raised."""
    if isinstance(exc, AuthorizeError):
        return Failure(exc.title, exc.detail, retry_helps=exc.kind != "auth")
    if isinstance(exc, Conflict):
        detail = f"{exc} Edit it from the account menu instead."
        return Failure("Already connected", detail, retry_helps=False)
    if isinstance(exc, SecretsError):
        return Failure(
            "Password not stored", f"The login worked, but the keyring refused the password: {exc}"
        )
    return Failure("Not connected", str(exc))


class AuthorizeStep(WizardStep[Connected | Back]):
    """Logs in to IMAP and SMTP and stores the mailbox only if both work; esc cancels while it runs."""

    STEP = 4
    AUTO_FOCUS = ""
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="wizard.cancel"),
        Binding("escape", "back", "Back", id="wizard.back"),
        Binding("r", "retry", "Try again", id="wizard.retry"),
    ]

    @dataclass
    class Progress(Message):
        """The worker started a step."""

        token: CancelToken
        step: Step

    @dataclass
    class Finished(Message):
        """The worker stored the mailbox."""

        token: CancelToken
        mailbox: Mailbox

    @dataclass
    class Failed(Message):
        """The worker stopped on an error; nothing was stored."""

        token: CancelToken
        failure: Failure
        step: Step | None

    def __init__(
        self,
        accounts: Accounts,
        actor: Actor,
        detection: Detection,
        credentials: Credentials,
        open_secrets: Callable[[], SecretStore],
    ) -> None:
        super().__init__()
        assert detection.provider is not None
        self.accounts = accounts
        self.actor = actor
        self.detection = detection
        self.credentials = credentials
        self.open_secrets = open_secrets
        self.token = CancelToken()
        self.state = "idle"
        self.marks: dict[Step, str] = dict.fromkeys(STEP_ORDER, "wait")
        provider = detection.provider
        self.step_texts: dict[Step, str] = {
            "imap": f"IMAP login   {Endpoint.imap_of(provider)}",
            "smtp": f"SMTP login   {Endpoint.smtp_of(provider)}",
            "save": "Save         settings in the database, password in the keyring",
        }

    def compose_body(self) -> ComposeResult:
        p = self.detection.provider
        assert p is not None
        yield Static(
            Content.from_markup(
                "Connecting [b]$email[/b] to [b]$provider[/b] as [b]$login[/b]",
                email=self.detection.address.email,
                provider=p.name,
                login=self.credentials.login,
            ),
            classes="wizard-intro",
        )
        for step in STEP_ORDER:
            yield Static(id=f"step-{step}", classes="wizard-progress")
        yield Label("", id="busy", classes="wizard-busy", markup=False)
        yield Static(id="outcome")
        yield Label(id="error", classes="wizard-error", markup=False)
        with Horizontal(classes="buttons"):
            yield Button("Back", id="back")
            yield Button("Try again (r)", variant="primary", id="retry")

    DEFAULT_CSS = """
    AuthorizeStep .wizard-progress { margin-left: 2; height: 1; }
    AuthorizeStep #outcome { height: auto; margin-top: 1; display: none; }
    AuthorizeStep #outcome.-shown { display: block; }
    AuthorizeStep #outcome.-failed { border-left: thick $error; padding: 0 1; }
    AuthorizeStep #outcome.-cancelled { border-left: thick $warning; padding: 0 1; }
    """

    def on_mount(self) -> None:
        super().on_mount()
        self.start()

    # -- running ----------------------------------------------------------------------------
    def start(self) -> None:
        """Run the logins with a fresh cancel token."""
        self.token = CancelToken()
        self.state = "running"
        self.marks = dict.fromkeys(STEP_ORDER, "wait")
        self._render_steps()
        self._show_outcome(None, "")
        self.set_busy("Working… press esc to cancel.")
        self._set_buttons()
        self._connect(self.token)

    @work(thread=True, exclusive=True, exit_on_error=False, group="wizard.authorize", description="Authorize")
    def _connect(self, token: CancelToken) -> None:
        current: list[Step | None] = [None]

        def progress(step: Step) -> None:
            current[0] = step
            self.post_message(self.Progress(token, step))

        try:
            secrets = self.open_secrets()
            mailbox = self.accounts.connect(
                self.actor,
                self.detection,
                self.credentials.login,
                self.credentials.secret,
                secrets,
                token,
                progress,
            )
        except Cancelled:
            return
        except (StoreError, SecretsError) as exc:
            self.post_message(self.Failed(token, failure_of(exc), current[0]))
            return
        self.post_message(self.Finished(token, mailbox))

    @on(Progress)
    def _progress(self, event: Progress) -> None:
        if event.token is not self.token or self.state != "running":
            return
        index = STEP_ORDER.index(event.step)
        for done in STEP_ORDER[:index]:
            self.marks[done] = "ok"
        self.marks[event.step] = "run"
        self._render_steps()

    @on(Finished)
    def _finished(self, event: Finished) -> None:
        if event.token is not self.token:
            return
        self.state = "done"
        self.marks = dict.fromkeys(STEP_ORDER, "ok")
        self._render_steps()
        dismiss_when_active(self, Connected(event.mailbox))

    @on(Failed)
    def _failed(self, event: Failed) -> None:
        if event.token is not self.token or self.state != "running":
            return
        self.state = "failed"
        if event.step is not None:
            self.marks[event.step] = "fail"
        self._render_steps()
        self.set_busy("")
        self._show_outcome(event.failure, "-failed")
        self._set_buttons(focus_retry=event.failure.retry_helps)

    def worker_failed(self, error: BaseException | None) -> None:
        """An unexpected failure ends the logins like a refusal: Back and Try again work again."""
        running = next((s for s, mark in self.marks.items() if mark == "run"), None)
        self._failed(self.Failed(self.token, Failure("Something went wrong", str(error)), running))

    # -- keys -------------------------------------------------------------------------------
    def action_cancel(self) -> None:
        """Stop the logins; once saving has begun it is too late and the mailbox is stored."""
        if self.state != "running":
            return
        if not self.token.cancel():
            self.set_busy("Saving the mailbox… too late to cancel.")
            return
        self.workers.cancel_group(self, "wizard.authorize")
        self.state = "cancelled"
        self.marks = {s: ("fail" if m == "run" else m) for s, m in self.marks.items()}
        self._render_steps()
        self.set_busy("")
        self._show_outcome(
            Failure("Cancelled", "Nothing was stored. Press r to try again or esc to go back."), "-cancelled"
        )
        self._set_buttons()

    def action_back(self) -> None:
        """Return to the password step."""
        if self.state in ("failed", "cancelled"):
            self.dismiss(BACK)

    @on(Button.Pressed, "#back")
    def _back_pressed(self) -> None:
        if self.state == "running":
            self.action_cancel()
        else:
            self.action_back()

    @on(Button.Pressed, "#retry")
    def action_retry(self) -> None:
        """Run the logins again with the same password."""
        if self.state in ("failed", "cancelled"):
            self.start()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """esc cancels while the logins run and goes back afterwards; "Try again" only after they stop."""
        running = self.state == "running"
        if action == "cancel":
            return running
        if action in ("back", "retry"):
            return not running and self.state != "done"
        return True

    # -- rendering --------------------------------------------------------------------------
    def _render_steps(self) -> None:
        for step in STEP_ORDER:
            self.query_one(f"#step-{step}", Static).update(
                Content.from_markup(f"{MARKS[self.marks[step]]} $text", text=self.step_texts[step])
            )

    def _show_outcome(self, failure: Failure | None, kind: str) -> None:
        outcome = self.query_one("#outcome", Static)
        outcome.set_classes("-shown " + kind if failure else "")
        if failure is not None:
            outcome.update(
                Content.from_markup("[b]$title[/b]\n$detail", title=failure.title, detail=failure.detail)
            )

    def _set_buttons(self, focus_retry: bool = True) -> None:
        """Show the state's buttons; after a refused password Back has the focus (the same one would fail)."""
        retry = self.query_one("#retry", Button)
        retry.display = self.state in ("failed", "cancelled")
        back = self.query_one("#back", Button)
        back.label = "Cancel (esc)" if self.state == "running" else "Back (esc)"
        (retry if retry.display and focus_retry else back).focus()
        self.refresh_bindings()
