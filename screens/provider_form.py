"""The form that adds or edits a provider; it returns a valid ProviderDraft or None."""

from __future__ import annotations

import re
from collections.abc import Mapping

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.validation import Function, Integer, Length
from textual.widgets import Button, Checkbox, Footer, Input, Label, Select, Static

from store.errors import Invalid
from store.providers import HOST_RE, ProviderDraft

TLS_CHOICES = [("SSL/TLS", "ssl"), ("STARTTLS", "starttls")]
AUTH_CHOICES = [("Password", "password"), ("App password", "app_password"), ("OAuth2", "oauth2")]
LOGIN_CHOICES = [("Full address", "address"), ("Name before @", "local_part"), ("Asked each time", "ask")]
TLS_LABELS = {value: label for label, value in TLS_CHOICES}
AUTH_LABELS = {value: label for label, value in AUTH_CHOICES}
LOGIN_LABELS = {value: label for label, value in LOGIN_CHOICES}
FIELDS = tuple(ProviderDraft.model_fields)
# Fields that share a row with another field name themselves in their error.
SHARED_ROW_NAMES = {
    "imap_host": "IMAP host",
    "imap_port": "IMAP port",
    "imap_tls": "IMAP security",
    "smtp_host": "SMTP host",
    "smtp_port": "SMTP port",
    "smtp_tls": "SMTP security",
    "auth_kind": "Sign-in",
    "login_format": "Login",
}


def _is_host(value: str) -> bool:
    return bool(HOST_RE.match(value.strip().lower().rstrip(".")))


def _is_https_or_empty(value: str) -> bool:
    return not value.strip() or bool(re.match(r"^https://\S+$", value.strip()))


class ProviderForm(ModalScreen[ProviderDraft | None]):
    """Every field of a provider, checked as the user types; dismisses only a draft the model accepts."""

    AUTO_FOCUS = "#name"
    BINDINGS = [
        Binding("ctrl+s", "save", "Save", priority=True, id="provider_form.save"),
        Binding("escape", "cancel", "Cancel", id="provider_form.cancel"),
    ]

    def __init__(
        self,
        draft: ProviderDraft | None = None,
        *,
        title: str = "New provider",
        errors: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(classes="dialog-screen")
        self.draft = draft
        self.form_title = title
        self.initial_errors = dict(errors or {})
        self._values_in_error: dict[str, object] = {}

    def _value(self, field: str) -> str:
        value = getattr(self.draft, field) if self.draft is not None else ""
        return str(value)

    def compose(self) -> ComposeResult:
        host_check = Function(_is_host, "not a valid host name")
        port_check = Integer(minimum=1, maximum=65535, failure_description="a port from 1 to 65535")
        with Vertical(id="provider-dialog", classes="dialog"):
            yield Static(id="form-error", classes="form-error", markup=False)
            with VerticalScroll(id="provider-fields", classes="fields"):
                with Horizontal(classes="field-row"):
                    yield Label("Name", classes="field-label")
                    yield Input(
                        self._value("name"),
                        placeholder="e.g. Acme Mail",
                        id="name",
                        validators=[Length(1, 128, "enter a name of at most 128 characters")],
                    )
                yield from self._errors("name")
                for proto in ("imap", "smtp"):
                    with Horizontal(classes="field-row"):
                        yield Label(f"{proto.upper()} server", classes="field-label")
                        yield Input(
                            self._value(f"{proto}_host"),
                            placeholder=f"{proto}.example.com",
                            id=f"{proto}_host",
                            validators=[host_check],
                        )
                        yield Input(
                            self._value(f"{proto}_port"),
                            placeholder="port",
                            type="integer",
                            id=f"{proto}_port",
                            classes="port",
                            validators=[port_check],
                        )
                        yield Select(
                            TLS_CHOICES,
                            allow_blank=False,
                            id=f"{proto}_tls",
                            classes="tls",
                            value=getattr(self.draft, f"{proto}_tls", "ssl"),
                        )
                    yield from self._errors(f"{proto}_host", f"{proto}_port", f"{proto}_tls")
                with Horizontal(classes="field-row"):
                    yield Label("Sign-in", classes="field-label")
                    yield Select(
                        AUTH_CHOICES,
                        allow_blank=False,
                        id="auth_kind",
                        value=getattr(self.draft, "auth_kind", "password"),
                    )
                    yield Label("Login", classes="inner-label")
                    yield Select(
                        LOGIN_CHOICES,
                        allow_blank=False,
                        id="login_format",
                        value=getattr(self.draft, "login_format", "address"),
                    )
                yield from self._errors("auth_kind", "login_format")
                with Horizontal(classes="field-row"):
                    yield Label("", classes="field-label")
                    yield Checkbox(
                        "Users need an app password",
                        id="app_password_required",
                        value=bool(getattr(self.draft, "app_password_required", False)),
                    )
                yield from self._errors("app_password_required")
                with Horizontal(classes="field-row"):
                    yield Label("Help page", classes="field-label")
                    yield Input(
                        self._value("help_url"),
                        placeholder="https://… (how to make an app password)",
                        id="help_url",
                        validators=[Function(_is_https_or_empty, "must be an https:// address")],
                    )
                yield from self._errors("help_url")
                with Horizontal(classes="field-row"):
                    yield Label("CA file", classes="field-label")
                    yield Input(
                        self._value("ca_file"),
                        placeholder="PEM file of an internal CA (optional)",
                        id="ca_file",
                    )
                yield from self._errors("ca_file")
                with Horizontal(classes="field-row"):
                    yield Label("MX suffixes", classes="field-label")
                    yield Input(
                        self._value("mx_suffixes"),
                        placeholder="e.g. mail.example.net (space-separated)",
                        id="mx_suffixes",
                    )
                yield from self._errors("mx_suffixes")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Save", variant="primary", id="save")
        yield Footer()

    @staticmethod
    def _errors(*fields: str) -> ComposeResult:
        for field in fields:
            yield Label(id=f"error-{field}", classes="field-error", markup=False)

    def on_mount(self) -> None:
        self.query_one("#provider-dialog").border_title = self.form_title
        self.show_errors(self.initial_errors)

    # -- errors beside the fields --------------------------------------------------------
    def show_error(self, field: str, message: str) -> None:
        """Show *message* under *field*, or clear it when empty."""
        widget = self.query_one(f"#{field}")
        self._values_in_error[field] = getattr(widget, "value", None) if message else None
        label = self.query_one(f"#error-{field}", Label)
        label.update(
            f"{SHARED_ROW_NAMES[field]}: {message}" if message and field in SHARED_ROW_NAMES else message
        )
        label.set_class(bool(message), "-shown")

    def show_errors(self, errors: Mapping[str, str]) -> None:
        """Replace every error shown by *errors* (field → message); focus the first field in error."""
        for field in FIELDS:
            self.show_error(field, errors.get(field, ""))
        general = [msg for field, msg in errors.items() if field not in FIELDS]
        form_error = self.query_one("#form-error", Static)
        form_error.update("\n".join(general))
        form_error.set_class(bool(general), "-shown")
        first = next((f for f in FIELDS if f in errors), None)
        if first is not None:
            self.query_one(f"#{first}").focus()

    @on(Input.Changed)
    def _clear_fixed_error(self, event: Input.Changed) -> None:
        field = event.input.id
        if field not in FIELDS or event.value == self._values_in_error.get(field):
            return  # unchanged since the error (the Changed that follows mounting, for one)
        if event.validation_result is None or event.validation_result.is_valid:
            self.show_error(field, "")

    @on(Input.Blurred)
    def _show_check(self, event: Input.Blurred) -> None:
        result = event.validation_result
        if event.input.id in FIELDS and result is not None and not result.is_valid and event.value:
            self.show_error(event.input.id, "; ".join(result.failure_descriptions))

    @on(Input.Submitted)
    def _next_field(self) -> None:
        self.focus_next()

    # -- closing ---------------------------------------------------------------------------
    def values(self) -> dict[str, object]:
        """The raw values of every field, as the model takes them."""
        values: dict[str, object] = {}
        for field in FIELDS:
            widget = self.query_one(f"#{field}")
            values[field] = widget.value  # type: ignore[attr-defined]
        return values

    def action_save(self) -> None:
        """Validate with the store's model and close with the draft, or show what is wrong."""
        try:
            draft = ProviderDraft.parse(**self.values())
        except Invalid as exc:
            self.show_errors(exc.errors)
            return
        self.dismiss(draft)

    def action_cancel(self) -> None:
        """Close without a draft."""
        self.dismiss(None)

    @on(Button.Pressed, "#save")
    def _save_pressed(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()
