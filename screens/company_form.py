"""The form that adds or edits a company, and the editor that stores what it returns."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial

from textual.screen import Screen
from textual.validation import ValidationResult, Validator
from textual.widgets import Input

from screens.form_base import FormScreen, form_bindings, split_list
from store.crm.companies import Company
from store.crm.drafts import CompanyDraft
from store.errors import Conflict, Invalid, StoreError
from store.identity import Actor
from store.service import Store


class DomainsCheck(Validator):
    """The store's rules for company domains (a valid domain, never a free-mail one), as instant feedback."""

    def validate(self, value: str) -> ValidationResult:
        try:
            CompanyDraft.parse(name="-", domains=split_list(value))
        except Invalid as exc:
            return self.failure(exc.errors.get("domains", str(exc)))
        return self.success()


def refusal_errors(error: StoreError, draft: CompanyDraft) -> dict[str, str]:
    """The store's refusal of *draft* as errors beside the fields: a domain clash under Domains."""
    if isinstance(error, Invalid):
        return error.errors
    message = str(error)
    if isinstance(error, Conflict):
        taken = any(message.startswith(f"{domain} ") for domain in draft.domains)
        return {"domains" if taken else "name": message}
    return {"": message}


class CompanyForm(FormScreen[CompanyDraft]):
    """Name and domains; dismisses only a draft `CompanyDraft.parse` accepts."""

    AUTO_FOCUS = "#name"
    BINDINGS = form_bindings("company_form")
    LABELS = {
        "name": ("Name", "e.g. Acme Corp"),
        "domains": ("Domains", "comma-separated web/mail domains, e.g. acme.com, acme.de"),
    }
    FIELDS = tuple(LABELS)
    DIALOG_ID = "company-dialog"
    ENTER_SAVES_IN = "domains"

    def __init__(
        self,
        company: Company | None = None,
        *,
        draft: CompanyDraft | None = None,
        errors: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(title=f"Edit {company.name}" if company else "Add a company", errors=errors)
        self.company = company
        source = draft or company
        self.initial = {
            "name": source.name if source else "",
            "domains": ", ".join(source.domains) if source else "",
        }

    def validators(self, field: str) -> list[Validator]:
        return [DomainsCheck()] if field == "domains" else []

    def parse(self) -> CompanyDraft:
        """The draft the store's model makes of the fields (domains split at commas)."""
        name = self.query_one("#name", Input).value
        try:
            return CompanyDraft.parse(name=name, domains=split_list(self.query_one("#domains", Input).value))
        except Invalid as exc:
            if not name.strip():
                raise Invalid({**exc.errors, "name": "enter the company's name"}) from None
            raise


class CompanyEditor:
    """Opens the company form over *screen*, stores the draft in a thread worker of that screen, reopens the
    form with the store's refusal beside the fields, and hands the stored company to *saved*."""

    def __init__(
        self, screen: Screen[None], store: Store, actor: Actor, saved: Callable[[Company], None]
    ) -> None:
        self.screen = screen
        self.store = store
        self.actor = actor
        self.saved = saved

    def open(
        self,
        company: Company | None = None,
        draft: CompanyDraft | None = None,
        errors: Mapping[str, str] | None = None,
    ) -> None:
        """Show the form: empty for a new company, else filled from *draft* or *company*."""
        form = CompanyForm(company, draft=draft, errors=errors)
        self.screen.app.push_screen(form, partial(self._closed, company))

    def _closed(self, company: Company | None, draft: CompanyDraft | None) -> None:
        if draft is not None:
            self.screen.run_worker(
                partial(self._store, company, draft),
                thread=True,
                exclusive=True,
                exit_on_error=False,
                group="company.write",
                description="Edit company" if company else "Add company",
            )

    def _store(self, company: Company | None, draft: CompanyDraft) -> None:
        """Add or update the company (in the worker thread); the UI thread gets the result or the refusal."""
        companies = self.store.crm.companies
        try:
            if company is None:
                stored = companies.add(self.actor, draft)
            else:
                stored = companies.update(self.actor, company.id, draft)
        except (Invalid, Conflict) as exc:
            self.screen.app.call_from_thread(self.open, company, draft, refusal_errors(exc, draft))
            return
        self.screen.app.call_from_thread(self.saved, stored)
