"""The company list: search as you type, open a company, add one."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input
from textual.worker import Worker, WorkerState

from screens.company_form import CompanyEditor
from store.crm.companies import Company
from store.identity import Actor
from store.service import Store


@dataclass
class CompaniesLoaded(Message):
    """The worker read the companies matching *search*."""

    search: str
    companies: list[Company]


class CompaniesScreen(Screen[None]):
    """Companies by name with their domains and how many contacts they have."""

    SUB_TITLE = "Companies"
    AUTO_FOCUS = "#companies-table"
    BINDINGS = [
        Binding("a", "add", "Add", id="companies.add"),
        Binding("slash", "focus_search", "Search", id="companies.search"),
        Binding("escape", "back", "Back", id="companies.back"),
    ]
    DEFAULT_CSS = """
    CompaniesScreen #companies-search { margin: 1 1 0 1; }
    CompaniesScreen #companies-table { height: 1fr; margin: 1 1 0 1; }
    """

    def __init__(self, store: Store, actor: Actor) -> None:
        super().__init__()
        self.store = store
        self.actor = actor
        self.editor = CompanyEditor(self, store, actor, self._added)
        self._loaded = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(placeholder="Search company names and domains (/)", id="companies-search")
        yield DataTable(id="companies-table", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns("Company", "Domains", "Contacts")
        self.search("")

    def on_screen_resume(self) -> None:
        """Read the list again on coming back: the company may have been edited."""
        if self._loaded:
            self.search(self.query_one("#companies-search", Input).value)

    @work(
        thread=True,
        exclusive=True,
        exit_on_error=False,
        group="companies.load",
        description="Search companies",
    )
    def search(self, text: str) -> None:
        """Run the store's search off the UI thread; a newer search cancels this one."""
        self.post_message(CompaniesLoaded(text, self.store.crm.companies.list(self.actor, search=text)))

    @on(Worker.StateChanged)
    def _pass_failure_to_app(self, event: Worker.StateChanged) -> None:
        """Hand a failed worker to the app, which reports it (worker messages do not bubble)."""
        if event.state == WorkerState.ERROR:
            self.app.post_message(event)

    @on(Input.Changed, "#companies-search")
    def _search_changed(self, event: Input.Changed) -> None:
        self.search(event.value)

    @on(Input.Submitted, "#companies-search")
    def _to_table(self) -> None:
        self.query_one(DataTable).focus()

    @on(CompaniesLoaded)
    def _fill(self, event: CompaniesLoaded) -> None:
        if event.search != self.query_one("#companies-search", Input).value:
            return
        self._loaded = True
        table = self.query_one(DataTable)
        table.clear()
        for c in event.companies:
            table.add_row(c.name, ", ".join(c.domains), str(c.contacts), key=str(c.id))

    @on(DataTable.RowSelected, "#companies-table")
    def _open(self, event: DataTable.RowSelected) -> None:
        self.open_company(int(str(event.row_key.value)))

    def open_company(self, company_id: int) -> None:
        """Show the company's page."""
        from screens.company_page import CompanyPageScreen

        self.app.push_screen(CompanyPageScreen(self.store, self.actor, company_id))

    def _added(self, company: Company) -> None:
        self.notify(f"Added {company.name}.", title="Companies")
        self.search(self.query_one("#companies-search", Input).value)
        self.open_company(company.id)

    def action_add(self) -> None:
        """Open the form for a new company."""
        self.editor.open()

    def action_focus_search(self) -> None:
        """Put the cursor in the search field."""
        self.query_one("#companies-search", Input).focus()

    def action_back(self) -> None:
        """Leave the search field, else go back."""
        if self.focused is self.query_one("#companies-search", Input):
            self.query_one(DataTable).focus()
        else:
            self.app.pop_screen()
