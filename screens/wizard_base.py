"""The frame every step of the new-account wizard shares: a titled dialog, its buttons and the footer."""

from __future__ import annotations

from typing import TypeVar

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Label
from textual.worker import Worker, WorkerState

ResultT = TypeVar("ResultT")
STEPS = ("Address", "Provider", "Password", "Authorize", "Done")


class WizardStep(ModalScreen[ResultT]):
    """A step of the wizard; subclasses compose the body and dismiss with their result."""

    STEP = 1
    DEFAULT_CSS = """
    WizardStep { background: $background; }
    WizardStep .wizard-intro { color: $text-muted; margin-bottom: 1; }
    WizardStep .wizard-row { height: auto; }
    WizardStep .wizard-label { width: 14; padding: 1 1 0 0; text-align: right; color: $text-muted; }
    WizardStep .wizard-label.-flat { padding: 0 1 0 0; }
    WizardStep .wizard-row Input { width: 1fr; }
    WizardStep .wizard-value { width: 1fr; height: auto; }
    WizardStep .wizard-error { display: none; margin-left: 14; padding: 0 1; color: $text-error; }
    WizardStep .wizard-error.-shown { display: block; }
    WizardStep .wizard-note { height: auto; margin: 1 0 0 14; padding: 0 1; border-left: thick $warning; }
    WizardStep .wizard-busy { display: none; height: 1; margin-left: 14; padding: 0 1; color: $text-muted; }
    """

    def __init__(self) -> None:
        super().__init__(classes="dialog-screen")
        self.busy = False

    def compose(self) -> ComposeResult:
        with Vertical(id="wizard-dialog", classes="dialog"):
            yield from self.compose_body()
        yield Footer()

    def compose_body(self) -> ComposeResult:
        """The step's own widgets."""
        yield from ()

    def on_mount(self) -> None:
        dialog = self.query_one("#wizard-dialog")
        dialog.border_title = f"New account · {STEPS[self.STEP - 1]}"
        dialog.border_subtitle = f"Step {self.STEP} of {len(STEPS)}"

    def show_error(self, message: str, widget_id: str = "error") -> None:
        """Show *message* in the step's error line, or hide the line when it is empty."""
        label = self.query_one(f"#{widget_id}", Label)
        label.update(message)
        label.set_class(bool(message), "-shown")

    def set_busy(self, message: str) -> None:
        """Show what the step's worker is doing; an empty message means it is idle."""
        self.busy = bool(message)
        label = self.query_one("#busy", Label)
        label.update(message)
        label.display = self.busy

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        """An unexpected worker failure ends the busy state and is shown; the app also logs and reports it."""
        if event.state == WorkerState.ERROR and event.worker.node is self:
            self.set_busy("")
            self.worker_failed(event.worker.error)
            self.app.post_message(event)

    def worker_failed(self, error: BaseException | None) -> None:
        """Show an unexpected failure of the step's worker (steps with their own outcome area override it)."""
        self.show_error(f"Something went wrong: {error}")
