"""The Mail provider domains directory: which provider serves which e-mail domain."""

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
from screens.domain_form import DomainEntry, DomainForm
from store.errors import Conflict, Forbidden, Invalid, StoreError
from store.identity import Actor
from store.providers import Provider
from store.service import Store

INTRO = "The new-account wizard looks up an address's domain here to pick its provider."
SOURCE_LABELS = {"preset": "built-in", "admin": "administrator"}


@dataclass
class DomainsLoaded(Message):
    """The worker read the lookup and the providers a domain can map to."""

    domains: list[tuple[str, str, str]]
    providers: list[Provider]


@dataclass
class DomainAdded(Message):
    """The store added the domain."""

    domain: str


@dataclass
class DomainRemoved(Message):
    """The store removed the domain."""

    domain: str


@dataclass
class DomainRefused(Message):
    """The store refused a change; *entry* is set when the form should reopen."""

    error: StoreError
    entry: DomainEntry | None = None


class DomainsScreen(Screen[None]):
    """A table of domain → provider → source; add and delete entries."""

    SUB_TITLE = "Mail provider domains"
    AUTO_FOCUS = "#domains-table"
    BINDINGS = [
        Binding("a", "add", "Add", id="domains.add"),
        Binding("d", "delete", "Delete", id="domains.delete"),
        Binding("escape", "back", "Back", id="domains.back"),
    ]

    def __init__(self, store: Store, actor: Actor) -> None:
        super().__init__()
        self.store = store
        self.actor = actor
        self.providers: list[Provider] = []
        self._select_after_load: str | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(INTRO, classes="intro")
        yield DataTable(id="domains-table", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns("Domain", "Provider", "Source")
        self.load()

    # -- workers -------------------------------------------------------------------------
    @work(thread=True, exclusive=True, exit_on_error=False, group="domains.load", description="Load domains")
    def load(self) -> None:
        """Read the lookup and the providers off the UI thread."""
        self.post_message(DomainsLoaded(self.store.providers.domains(), self.store.providers.list()))

    @work(thread=True, exclusive=True, exit_on_error=False, group="domains.write", description="Add domain")
    def add(self, entry: DomainEntry) -> None:
        """Map the domain; a refusal goes back to the form."""
        try:
            domain = self.store.providers.add_domain(self.actor, entry.domain, entry.provider_id)
        except StoreError as exc:
            self.post_message(DomainRefused(exc, entry))
            return
        self.post_message(DomainAdded(domain))

    @work(
        thread=True, exclusive=True, exit_on_error=False, group="domains.write", description="Delete domain"
    )
    def remove(self, domain: str) -> None:
        """Take the domain out of the lookup."""
        try:
            self.store.providers.remove_domain(self.actor, domain)
        except StoreError as exc:
            self.post_message(DomainRefused(exc))
            return
        self.post_message(DomainRemoved(domain))

    @on(Worker.StateChanged)
    def _pass_failure_to_app(self, event: Worker.StateChanged) -> None:
        """Hand a failed worker to the app, which reports it (worker messages do not bubble)."""
        if event.state == WorkerState.ERROR:
            self.app.post_message(event)

    # -- handlers ------------------------------------------------------------------------
    @on(DomainsLoaded)
    def _fill(self, event: DomainsLoaded) -> None:
        table = self.query_one(DataTable)
        keep = self._select_after_load or self.highlighted()
        self._select_after_load = None
        self.providers = event.providers
        table.clear()
        for domain, provider, source in event.domains:
            table.add_row(domain, provider, SOURCE_LABELS.get(source, source), key=domain)
        domains = [d for d, _, _ in event.domains]
        if keep in domains:
            table.move_cursor(row=domains.index(keep))

    @on(DomainAdded)
    def _added(self, event: DomainAdded) -> None:
        self.notify(f"Added {event.domain} to the lookup.", title="Mail provider domains")
        self._select_after_load = event.domain
        self.load()

    @on(DomainRemoved)
    def _removed(self, event: DomainRemoved) -> None:
        self.notify(f"Removed {event.domain} from the lookup.", title="Mail provider domains")
        self.load()

    @on(DomainRefused)
    def _refused(self, event: DomainRefused) -> None:
        error = event.error
        if event.entry is not None and not isinstance(error, Forbidden):
            if isinstance(error, Invalid):
                errors = error.errors
            else:
                errors = {"domain" if isinstance(error, Conflict) else "": str(error)}
            self._open_form(event.entry, errors)
            return
        self.notify(str(error), title="Not possible", severity="error", timeout=12)

    # -- actions -------------------------------------------------------------------------
    def highlighted(self) -> str | None:
        """The domain under the table's cursor."""
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def _open_form(self, entry: DomainEntry | None = None, errors: dict[str, str] | None = None) -> None:
        def chosen(result: DomainEntry | None) -> None:
            if result is not None:
                self.add(result)

        form = DomainForm(
            self.providers,
            domain=entry.domain if entry else "",
            provider_id=entry.provider_id if entry else None,
            errors=errors,
        )
        self.app.push_screen(form, chosen)

    def action_add(self) -> None:
        """Open the form for a new domain."""
        self._open_form()

    def action_delete(self) -> None:
        """Ask, then take the highlighted domain out of the lookup."""
        domain = self.highlighted()
        if domain is None:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.remove(domain)

        detail = "Addresses at this domain will no longer map to a provider directly."
        self.app.push_screen(ConfirmScreen(f"Remove {domain} from the lookup?", detail, "Remove"), answered)

    def action_back(self) -> None:
        """Return to the communication panel."""
        self.dismiss()
