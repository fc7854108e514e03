"""The Providers directory: mail services and their server settings, for administrators."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static
from textual.worker import Worker, WorkerState

from screens.confirm import ConfirmScreen
from screens.provider_form import AUTH_LABELS, ProviderForm
from store.errors import Forbidden, Invalid, StoreError
from store.identity import Actor
from store.providers import Provider, ProviderDraft
from store.service import Store

INTRO = "Mail services and their server settings. The new-account wizard picks one from the address's domain."
TLS_SHORT = {"ssl": "TLS", "starttls": "STARTTLS"}
LOGIN_SHORT = {"address": "address", "local_part": "before @", "ask": "asked"}


@dataclass
class ProvidersLoaded(Message):
    """The worker read the directory."""

    providers: list[Provider]


@dataclass
class ProviderSaved(Message):
    """The store accepted a new or changed provider."""

    provider: Provider


@dataclass
class ProviderRefused(Message):
    """The store refused to save or delete; *draft* is set when a form should reopen."""

    error: StoreError
    draft: ProviderDraft | None = None
    provider_id: int | None = None


@dataclass
class ProviderDeleted(Message):
    """The store deleted the provider."""

    name: str


def server(host: str, port: int, tls: str) -> str:
    """HOST:PORT and the TLS mode, as the table shows a server."""
    return f"{host}:{port} {TLS_SHORT.get(tls, tls)}"


class ProvidersScreen(Screen[None]):
    """A table of providers; add, edit and delete them."""

    SUB_TITLE = "Providers"
    AUTO_FOCUS = "#providers-table"
    BINDINGS = [
        Binding("a", "add", "Add", id="providers.add"),
        Binding("e", "edit", "Edit", id="providers.edit"),
        Binding("d", "delete", "Delete", id="providers.delete"),
        Binding("escape", "back", "Back", id="providers.back"),
    ]

    def __init__(self, store: Store, actor: Actor) -> None:
        super().__init__()
        self.store = store
        self.actor = actor
        self.providers: dict[int, Provider] = {}
        self._select_after_load: int | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(INTRO, classes="intro")
        yield DataTable(id="providers-table", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("Name", "IMAP server", "SMTP server", "Sign-in", "Login")
        self.load()

    # -- workers -------------------------------------------------------------------------
    @work(
        thread=True, exclusive=True, exit_on_error=False, group="providers.load", description="Load providers"
    )
    def load(self) -> None:
        """Read the directory off the UI thread."""
        self.post_message(ProvidersLoaded(self.store.providers.list()))

    @work(
        thread=True, exclusive=True, exit_on_error=False, group="providers.write", description="Save provider"
    )
    def save(self, draft: ProviderDraft, provider_id: int | None) -> None:
        """Add or update a provider; a refusal goes back to the form."""
        try:
            if provider_id is None:
                saved = self.store.providers.add(self.actor, draft)
            else:
                saved = self.store.providers.update(self.actor, provider_id, draft)
        except StoreError as exc:
            self.post_message(ProviderRefused(exc, draft, provider_id))
            return
        self.post_message(ProviderSaved(saved))

    @work(
        thread=True,
        exclusive=True,
        exit_on_error=False,
        group="providers.write",
        description="Delete provider",
    )
    def delete(self, provider: Provider) -> None:
        """Delete a provider; the store refuses one that a mailbox uses."""
        try:
            self.store.providers.remove(self.actor, provider.id)
        except StoreError as exc:
            self.post_message(ProviderRefused(exc))
            return
        self.post_message(ProviderDeleted(provider.name))

    @on(Worker.StateChanged)
    def _pass_failure_to_app(self, event: Worker.StateChanged) -> None:
        """Hand a failed worker to the app, which reports it (worker messages do not bubble)."""
        if event.state == WorkerState.ERROR:
            self.app.post_message(event)

    # -- handlers ------------------------------------------------------------------------
    @on(ProvidersLoaded)
    def _fill(self, event: ProvidersLoaded) -> None:
        table = self.query_one(DataTable)
        current = self.highlighted()
        keep = self._select_after_load or (current.id if current else None)
        self._select_after_load = None
        self.providers = {p.id: p for p in event.providers}
        table.clear()
        for p in event.providers:
            table.add_row(
                p.name,
                server(p.imap_host, p.imap_port, p.imap_tls),
                server(p.smtp_host, p.smtp_port, p.smtp_tls),
                AUTH_LABELS.get(p.auth_kind, p.auth_kind),
                LOGIN_SHORT.get(p.login_format, p.login_format),
                key=str(p.id),
            )
        if keep in self.providers:
            table.move_cursor(row=table.get_row_index(str(keep)))

    @on(ProviderSaved)
    def _saved(self, event: ProviderSaved) -> None:
        self.notify(f"Saved provider {event.provider.name}.", title="Providers")
        self._select_after_load = event.provider.id
        self.load()

    @on(ProviderDeleted)
    def _deleted(self, event: ProviderDeleted) -> None:
        self.notify(f"Deleted provider {event.name} and its domains.", title="Providers")
        self.load()

    @on(ProviderRefused)
    def _refused(self, event: ProviderRefused) -> None:
        error = event.error
        if event.draft is not None and not isinstance(error, Forbidden):
            errors = error.errors if isinstance(error, Invalid) else {"": str(error)}
            self._open_form(event.draft, event.provider_id, errors)
            return
        self.notify(str(error), title="Not possible", severity="error", timeout=12)

    # -- actions -------------------------------------------------------------------------
    def highlighted(self) -> Provider | None:
        """The provider under the table's cursor."""
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        row_key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        return self.providers.get(int(row_key.value or 0))

    def _open_form(
        self, draft: ProviderDraft | None, provider_id: int | None, errors: dict[str, str] | None = None
    ) -> None:
        if provider_id is None:
            title = "New provider"
        else:
            stored = self.providers.get(provider_id)
            title = f"Edit provider {stored.name if stored else draft.name if draft else ''}"

        def saved(result: ProviderDraft | None) -> None:
            if result is not None:
                self.save(result, provider_id)

        self.app.push_screen(ProviderForm(draft, title=title, errors=errors), saved)

    def action_add(self) -> None:
        """Open an empty form for a new provider."""
        self._open_form(None, None)

    @on(DataTable.RowSelected)
    def action_edit(self) -> None:
        """Open the form on the highlighted provider."""
        provider = self.highlighted()
        if provider is not None:
            self._open_form(provider, provider.id)

    def action_delete(self) -> None:
        """Ask, then delete the highlighted provider."""
        provider = self.highlighted()
        if provider is None:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.delete(provider)

        question = f"Delete the provider {provider.name}?"
        detail = "Its domains leave the Mail provider domains lookup too."
        self.app.push_screen(ConfirmScreen(question, detail), answered)

    def action_back(self) -> None:
        """Return to the communication panel."""
        self.dismiss()
