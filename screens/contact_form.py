"""The form that adds or edits a contact; it returns a ContactDraft the store's model accepted, or None."""

from __future__ import annotations

from collections.abc import Mapping

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Label, Static

from store.crm.contacts import Contact
from store.crm.drafts import ContactDraft
from store.errors import Invalid

FIELDS = {
    "name": ("Name", "e.g. Dana Scott"),
    "emails": ("Addresses", "comma-separated; the first is the one to write to"),
    "phones": ("Phones", "comma-separated, e.g. +1 555 0100"),
    "job_title": ("Job title", "e.g. Purchasing Manager"),
    "company": ("Company", "a company's name or one of its domains"),
}


def split_list(value: str) -> tuple[str, ...]:
    """The non-empty items of a comma-separated field."""
    return tuple(part.strip() for part in value.split(",") if part.strip())


class ContactForm(ModalScreen[ContactDraft | None]):
    """Name, addresses, phones, job title and company; dismisses only a draft `ContactDraft.parse` accepts."""

    AUTO_FOCUS = "#name"
    BINDINGS = [
        Binding("ctrl+s", "save", "Save", priority=True, id="contact_form.save"),
        Binding("escape", "cancel", "Cancel", id="contact_form.cancel"),
    ]
    DEFAULT_CSS = """
    #contact-dialog { width: 90; }
    #contact-dialog .field-label { width: 12; }
    #contact-dialog .field-error { margin-left: 12; }
    """

    def __init__(self, contact: Contact | None = None, *, draft: ContactDraft | None = None,
                 errors: Mapping[str, str] | None = None) -> None:
        super().__init__(classes="dialog-screen")
        self.contact = contact
        source = draft or contact
        self.values = {
            "name": source.name if source else "",
            "emails": ", ".join(source.emails) if source else "",
            "phones": ", ".join(source.phones) if source else "",
            "job_title": source.job_title if source else "",
            "company": source.company if source else "",
        }
        self.initial_errors = dict(errors or {})

    def compose(self) -> ComposeResult:
        with Vertical(id="contact-dialog", classes="dialog"):
            yield Static(id="form-error", classes="form-error", markup=False)
            with Vertical(classes="fields"):
                for field, (label, hint) in FIELDS.items():
                    with Horizontal(classes="field-row"):
                        yield Label(label, classes="field-label")
                        yield Input(self.values[field], placeholder=hint, id=field)
                    yield Label(id=f"error-{field}", classes="field-error", markup=False)
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Save", variant="primary", id="save")
        yield Footer()

    def on_mount(self) -> None:
        title = f"Edit {self.contact.name}" if self.contact else "Add a contact"
        self.query_one("#contact-dialog").border_title = title
        self.show_errors(self.initial_errors)

    def show_errors(self, errors: Mapping[str, str]) -> None:
        """Each message beside its field, others above the form; focus the first field in error."""
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

    @on(Input.Submitted)
    def _next_field(self, event: Input.Submitted) -> None:
        if event.input.id == "company":
            self.action_save()
        else:
            self.focus_next(Input)

    def action_save(self) -> None:
        """Validate with the store's model and close with the draft, or show what is wrong."""
        value = {field: self.query_one(f"#{field}", Input).value for field in FIELDS}
        try:
            draft = ContactDraft.parse(name=value["name"], emails=split_list(value["emails"]),
                                       phones=split_list(value["phones"]), job_title=value["job_title"],
                                       company=value["company"])
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
