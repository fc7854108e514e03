"""The form that adds or edits a contact; it returns a ContactDraft the store's model accepted, or None."""

from __future__ import annotations

from collections.abc import Mapping

from textual.widgets import Input

from screens.form_base import FormScreen, form_bindings, split_list
from store.crm.contacts import Contact
from store.crm.drafts import ContactDraft


class ContactForm(FormScreen[ContactDraft]):
    """Name, addresses, phones, job title and company; dismisses only a draft `ContactDraft.parse` accepts."""

    AUTO_FOCUS = "#name"
    BINDINGS = form_bindings("contact_form")
    LABELS = {
        "name": ("Name", "e.g. Dana Scott"),
        "emails": ("Addresses", "comma-separated; the first is the one to write to"),
        "phones": ("Phones", "comma-separated, e.g. +1 555 0100"),
        "job_title": ("Job title", "e.g. Purchasing Manager"),
        "company": ("Company", "a company's name or one of its domains"),
    }
    FIELDS = tuple(LABELS)
    DIALOG_ID = "contact-dialog"
    ENTER_SAVES_IN = "company"

    def __init__(
        self,
        contact: Contact | None = None,
        *,
        draft: ContactDraft | None = None,
        errors: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(title=f"Edit {contact.name}" if contact else "Add a contact", errors=errors)
        self.contact = contact
        source = draft or contact
        self.initial = {
            "name": source.name if source else "",
            "emails": ", ".join(source.emails) if source else "",
            "phones": ", ".join(source.phones) if source else "",
            "job_title": source.job_title if source else "",
            "company": source.company if source else "",
        }

    def parse(self) -> ContactDraft:
        """The draft the store's model makes of the fields (lists split at commas)."""
        value = {field: self.query_one(f"#{field}", Input).value for field in self.FIELDS}
        return ContactDraft.parse(
            name=value["name"],
            emails=split_list(value["emails"]),
            phones=split_list(value["phones"]),
            job_title=value["job_title"],
            company=value["company"],
        )
