"""The form that maps a mail domain to a provider; it returns a DomainEntry or None."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.validation import ValidationResult, Validator
from textual.widgets import Button, Footer, Input, Label, Select, Static

from store.errors import Invalid
from store.providers import Provider, normalize_domain

FIELDS = ("domain", "provider")


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


class DomainForm(ModalScreen[DomainEntry | None]):
    """A domain and a provider; dismisses only a domain the store's rule accepts."""

    AUTO_FOCUS = "#domain"
    BINDINGS = [
        Binding("ctrl+s", "save", "Save", priority=True, id="domain_form.save"),
        Binding("escape", "cancel", "Cancel", id="domain_form.cancel"),
    ]

    def __init__(
        self,
        providers: Sequence[Provider],
        *,
        domain: str = "",
        provider_id: int | None = None,
        errors: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(classes="dialog-screen")
        self.providers = list(providers)
        self.domain = domain
        self.provider_id = provider_id
        self.initial_errors = dict(errors or {})
        self._domain_in_error: str | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="domain-dialog", classes="dialog"):
            yield Static(id="form-error", classes="form-error", markup=False)
            with Vertical(classes="fields"):
                with Horizontal(classes="field-row"):
                    yield Label("Domain", classes="field-label")
                    yield Input(
                        self.domain, placeholder="e.g. acme.example", id="domain", validators=[DomainCheck()]
                    )
                yield Label(id="error-domain", classes="field-error", markup=False)
                with Horizontal(classes="field-row"):
                    yield Label("Provider", classes="field-label")
                    yield Select(
                        [(p.name, p.id) for p in self.providers],
                        prompt="Choose the provider that serves it",
                        value=self.provider_id if self.provider_id is not None else Select.NULL,
                        id="provider",
                    )
                yield Label(id="error-provider", classes="field-error", markup=False)
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Save", variant="primary", id="save")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#domain-dialog").border_title = "Add a mail provider domain"
        self.show_errors(self.initial_errors)

    def show_errors(self, errors: Mapping[str, str]) -> None:
        """Show each message beside its field, others above the form; focus the first field in error."""
        self._domain_in_error = self.query_one("#domain", Input).value if "domain" in errors else None
        for field in FIELDS:
            label = self.query_one(f"#error-{field}", Label)
            label.update(errors.get(field, ""))
            label.set_class(field in errors, "-shown")
        general = [msg for field, msg in errors.items() if field not in FIELDS]
        form_error = self.query_one("#form-error", Static)
        form_error.update("\n".join(general))
        form_error.set_class(bool(general), "-shown")
        first = next((f for f in FIELDS if f in errors), None)
        if first is not None:
            self.query_one(f"#{first}").focus()

    @on(Input.Changed, "#domain")
    def _clear_fixed_error(self, event: Input.Changed) -> None:
        if event.value == self._domain_in_error:
            return  # unchanged since the error (the Changed that follows mounting, for one)
        if event.validation_result is None or event.validation_result.is_valid:
            self.query_one("#error-domain", Label).remove_class("-shown")

    @on(Input.Blurred, "#domain")
    def _show_check(self, event: Input.Blurred) -> None:
        result = event.validation_result
        if result is not None and not result.is_valid and event.value:
            label = self.query_one("#error-domain", Label)
            label.update("; ".join(result.failure_descriptions))
            label.add_class("-shown")

    @on(Input.Submitted, "#domain")
    def _next_field(self) -> None:
        self.focus_next()

    def action_save(self) -> None:
        """Check the domain with the store's rule and close with the entry, or show what is wrong."""
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
            self.show_errors(errors)
            return
        assert isinstance(provider_id, int)
        self.dismiss(DomainEntry(domain, provider_id))

    def action_cancel(self) -> None:
        """Close without an entry."""
        self.dismiss(None)

    @on(Button.Pressed, "#save")
    def _save_pressed(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()
