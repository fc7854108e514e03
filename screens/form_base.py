"""The base of the dialogs that edit one record: fields with their errors beside them, Save and Cancel."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, Generic, TypeVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.validation import Validator
from textual.widget import Widget
from textual.widgets import Button, Footer, Input, Label, Static

from store.errors import Invalid

ResultT = TypeVar("ResultT")


def form_bindings(prefix: str) -> list[Binding]:
    """ctrl+s Save and esc Cancel, with ids under *prefix* so the keymap setting can rebind them."""
    return [
        Binding("ctrl+s", "save", "Save", priority=True, id=f"{prefix}.save"),
        Binding("escape", "cancel", "Cancel", id=f"{prefix}.cancel"),
    ]


def field_row(label: str, *widgets: Widget) -> Horizontal:
    """One labelled row of a form."""
    return Horizontal(Label(label, classes="field-label"), *widgets, classes="field-row")


def error_labels(*fields: str) -> ComposeResult:
    """The (hidden) labels that show the errors of *fields* under their row."""
    for field in fields:
        yield Label(id=f"error-{field}", classes="field-error", markup=False)


def split_list(value: str) -> tuple[str, ...]:
    """The non-empty items of a comma-separated field."""
    return tuple(part.strip() for part in value.split(",") if part.strip())


class FormScreen(ModalScreen[ResultT | None], Generic[ResultT]):
    """A dialog whose fields are checked as the user types; it dismisses only what `parse` accepts.

    Subclasses list their field widgets' ids in FIELDS, compose them in `compose_fields` and build the
    result in `parse`, which raises Invalid with one message per field (other keys show above the form).
    """

    FIELDS: ClassVar[tuple[str, ...]] = ()
    LABELS: ClassVar[Mapping[str, tuple[str, str]]] = {}
    """Text fields by id, with their label and placeholder, for the default `compose_fields`."""
    DIALOG_ID: ClassVar[str] = "form-dialog"
    ROW_NAMES: ClassVar[Mapping[str, str]] = {}
    """Fields that share a row with another field, by the name their error starts with."""
    ENTER_SAVES_IN: ClassVar[str | None] = None
    """The field in which enter saves; in the others it moves to the next field."""

    def __init__(self, *, title: str, errors: Mapping[str, str] | None = None) -> None:
        super().__init__(classes="dialog-screen")
        self.form_title = title
        self.initial_errors = dict(errors or {})
        self.initial: dict[str, str] = {}
        """What the text fields of LABELS start with."""
        self._values_in_error: dict[str, object] = {}

    # -- what subclasses provide -----------------------------------------------------------
    def compose_fields(self) -> ComposeResult:
        """The rows of fields and their error labels: by default a text field per entry of LABELS."""
        for field, (label, hint) in self.LABELS.items():
            field_input = Input(
                self.initial.get(field, ""), placeholder=hint, id=field, validators=self.validators(field)
            )
            yield field_row(label, field_input)
            yield from error_labels(field)

    def validators(self, field: str) -> list[Validator]:
        """The instant checks of one text field of LABELS."""
        return []

    def fields_container(self) -> Widget:
        """The container the rows go in."""
        return Vertical(classes="fields")

    def parse(self) -> ResultT:
        """The result the fields make, or Invalid with a message per field."""
        raise NotImplementedError

    # -- layout ----------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Vertical(id=self.DIALOG_ID, classes="dialog"):
            yield Static(id="form-error", classes="form-error", markup=False)
            with self.fields_container():
                yield from self.compose_fields()
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Save", variant="primary", id="save")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(f"#{self.DIALOG_ID}").border_title = self.form_title
        self.show_errors(self.initial_errors)

    def value(self, field: str) -> object:
        """The raw value of one field's widget."""
        return self.query_one(f"#{field}").value  # type: ignore[attr-defined]

    def values(self) -> dict[str, object]:
        """The raw values of every field."""
        return {field: self.value(field) for field in self.FIELDS}

    # -- errors beside the fields ----------------------------------------------------------
    def show_error(self, field: str, message: str) -> None:
        """Show *message* under *field*, or clear it when empty."""
        widget = self.query_one(f"#{field}")
        self._values_in_error[field] = getattr(widget, "value", None) if message else None
        label = self.query_one(f"#error-{field}", Label)
        named = message and field in self.ROW_NAMES
        label.update(f"{self.ROW_NAMES[field]}: {message}" if named else message)
        label.set_class(bool(message), "-shown")

    def show_errors(self, errors: Mapping[str, str]) -> None:
        """Replace every error shown by *errors* (field → message); focus the first field in error."""
        for field in self.FIELDS:
            self.show_error(field, errors.get(field, ""))
        general = [msg for field, msg in errors.items() if field not in self.FIELDS]
        form_error = self.query_one("#form-error", Static)
        form_error.update("\n".join(general))
        form_error.set_class(bool(general), "-shown")
        first = next((f for f in self.FIELDS if f in errors), None)
        if first is not None:
            self.query_one(f"#{first}").focus()

    @on(Input.Changed)
    def _clear_fixed_error(self, event: Input.Changed) -> None:
        field = event.input.id
        if field not in self.FIELDS or event.value == self._values_in_error.get(field):
            return  # unchanged since the error (the Changed that follows mounting, for one)
        if event.validation_result is None or event.validation_result.is_valid:
            self.show_error(field, "")

    @on(Input.Blurred)
    def _show_check(self, event: Input.Blurred) -> None:
        result = event.validation_result
        if event.input.id in self.FIELDS and result is not None and not result.is_valid and event.value:
            self.show_error(event.input.id, "; ".join(result.failure_descriptions))

    @on(Input.Submitted)
    def _next_field(self, event: Input.Submitted) -> None:
        if event.input.id is not None and event.input.id == self.ENTER_SAVES_IN:
            self.action_save()
        else:
            self.focus_next()

    # -- closing ---------------------------------------------------------------------------
    def action_save(self) -> None:
        """Close with the parsed result, or show what is wrong beside the fields."""
        try:
            result = self.parse()
        except Invalid as exc:
            self.show_errors(exc.errors)
            return
        self.dismiss(result)

    def action_cancel(self) -> None:
        """Close without a result."""
        self.dismiss(None)

    @on(Button.Pressed, "#save")
    def _save_pressed(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()
