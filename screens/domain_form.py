"""The form that maps a mail domain to a provider; it returns a DomainEntry or None."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from textual.app import ComposeResult
from textual.validation import ValidationResult, Validator
from textual.widgets import Input, Select

from screens.form_base import FormScreen, error_labels, field_row, form_bindings
from store.errors import Invalid
from store.providers import Provider, normalize_domain


@dataclass(frozen=True)
class DomainEntry:
    """A domain, normalised by the store's rules, and the id of the provider that serves it."""

    domain: str
    provider_id: int


class DomainCheck(Validator):
    """The store's domain rule, as instant feedback."""

    def validate(self, value: str) -> ValidationResult:
        try:
            normalize_domain(value)
        except Invalid as exc:
            return self.failure(exc.errors.get("domain", str(exc)))
        return self.success()


class DomainForm(FormScreen[DomainEntry]):
    """A domain and a provider; dismisses only a domain the store's rule accepts."""

    AUTO_FOCUS = "#domain"
    BINDINGS = form_bindings("domain_form")
    FIELDS = ("domain", "provider")
    DIALOG_ID = "domain-dialog"

    def __init__(
        self,
        providers: Sequence[Provider],
        *,
        domain: str = "",
        provider_id: int | None = None,
        errors: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(title="Add a mail provider domain", errors=errors)
        self.providers = list(providers)
        self.domain = domain
        self.provider_id = provider_id

    def compose_fields(self) -> ComposeResult:
        yield field_row(
            "Domain",
            Input(self.domain, placeholder="e.g. acme.example", id="domain", validators=[DomainCheck()]),
        )
        yield from error_labels("domain")
        yield field_row(
            "Provider",
            Select(
                [(p.name, p.id) for p in self.providers],
                prompt="Choose the provider that serves it",
                value=self.provider_id if self.provider_id is not None else Select.NULL,
                id="provider",
            ),
        )
        yield from error_labels("provider")

    def parse(self) -> DomainEntry:
        """The domain by the store's rule and the chosen provider, or Invalid naming what is missing."""
        errors: dict[str, str] = {}
        domain = self.query_one("#domain", Input).value
        try:
            domain = normalize_domain(domain)
        except Invalid as exc:
            errors.update(exc.errors if domain.strip() else {"domain": "enter a domain, e.g. acme.example"})
        provider_id = self.query_one("#provider", Select).value
        if not isinstance(provider_id, int):
            errors["provider"] = "choose the provider that serves this domain"
        if errors:
            raise Invalid(errors)
        assert isinstance(provider_id, int)
        return DomainEntry(domain, provider_id)
