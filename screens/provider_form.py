"""The form that adds or edits a provider; it returns a valid ProviderDraft or None."""

from __future__ import annotations

import re
from collections.abc import Mapping

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.validation import Function, Integer, Length
from textual.widget import Widget
from textual.widgets import Checkbox, Input, Label, Select

from screens.form_base import FormScreen, error_labels, field_row, form_bindings
from store.providers import HOST_RE, ProviderDraft

TLS_CHOICES = [("SSL/TLS", "ssl"), ("STARTTLS", "starttls")]
AUTH_CHOICES = [("Password", "password"), ("App password", "app_password"), ("OAuth2", "oauth2")]
LOGIN_CHOICES = [("Full address", "address"), ("Name before @", "local_part"), ("Asked each time", "ask")]
TLS_LABELS = {value: label for label, value in TLS_CHOICES}
AUTH_LABELS = {value: label for label, value in AUTH_CHOICES}
LOGIN_LABELS = {value: label for label, value in LOGIN_CHOICES}
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


class ProviderForm(FormScreen[ProviderDraft]):
    """Every field of a provider, checked as the user types; dismisses only a draft the model accepts."""

    AUTO_FOCUS = "#name"
    BINDINGS = form_bindings("provider_form")
    FIELDS = tuple(ProviderDraft.model_fields)
    DIALOG_ID = "provider-dialog"
    ROW_NAMES = SHARED_ROW_NAMES

    def __init__(
        self,
        draft: ProviderDraft | None = None,
        *,
        title: str = "New provider",
        errors: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(title=title, errors=errors)
        self.draft = draft

    def _value(self, field: str) -> str:
        value = getattr(self.draft, field) if self.draft is not None else ""
        return str(value)

    def fields_container(self) -> Widget:
        return VerticalScroll(id="provider-fields", classes="fields")

    def compose_fields(self) -> ComposeResult:
        host_check = Function(_is_host, "not a valid host name")
        port_check = Integer(minimum=1, maximum=65535, failure_description="a port from 1 to 65535")
        yield field_row(
            "Name",
            Input(
                self._value("name"),
                placeholder="e.g. Acme Mail",
                id="name",
                validators=[Length(1, 128, "enter a name of at most 128 characters")],
            ),
        )
        yield from error_labels("name")
        for proto in ("imap", "smtp"):
            yield field_row(
                f"{proto.upper()} server",
                Input(
                    self._value(f"{proto}_host"),
                    placeholder=f"{proto}.example.com",
                    id=f"{proto}_host",
                    validators=[host_check],
                ),
                Input(
                    self._value(f"{proto}_port"),
                    placeholder="port",
                    type="integer",
                    id=f"{proto}_port",
                    classes="port",
                    validators=[port_check],
                ),
                Select(
                    TLS_CHOICES,
                    allow_blank=False,
                    id=f"{proto}_tls",
                    classes="tls",
                    value=getattr(self.draft, f"{proto}_tls", "ssl"),
                ),
            )
            yield from error_labels(f"{proto}_host", f"{proto}_port", f"{proto}_tls")
        yield field_row(
            "Sign-in",
            Select(
                AUTH_CHOICES,
                allow_blank=False,
                id="auth_kind",
                value=getattr(self.draft, "auth_kind", "password"),
            ),
            Label("Login", classes="inner-label"),
            Select(
                LOGIN_CHOICES,
                allow_blank=False,
                id="login_format",
                value=getattr(self.draft, "login_format", "address"),
            ),
        )
        yield from error_labels("auth_kind", "login_format")
        yield field_row(
            "",
            Checkbox(
                "Users need an app password",
                id="app_password_required",
                value=bool(getattr(self.draft, "app_password_required", False)),
            ),
        )
        yield from error_labels("app_password_required")
        yield field_row(
            "Help page",
            Input(
                self._value("help_url"),
                placeholder="https://… (how to make an app password)",
                id="help_url",
                validators=[Function(_is_https_or_empty, "must be an https:// address")],
            ),
        )
        yield from error_labels("help_url")
        yield field_row(
            "CA file",
            Input(self._value("ca_file"), placeholder="PEM file of an internal CA (optional)", id="ca_file"),
        )
        yield from error_labels("ca_file")
        yield field_row(
            "MX suffixes",
            Input(
                self._value("mx_suffixes"),
                placeholder="e.g. mail.example.net (space-separated)",
                id="mx_suffixes",
            ),
        )
        yield from error_labels("mx_suffixes")

    def parse(self) -> ProviderDraft:
        """The draft the store's model makes of the fields."""
        return ProviderDraft.parse(**self.values())
