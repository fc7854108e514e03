"""One company: its domains and contacts, and its timeline of mail across the mailboxes the user may read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header, Static, TabbedContent, TabPane
from textual.worker import Worker, WorkerState

from screens.company_form import CompanyEditor
from store.crm.companies import Company
from store.crm.contacts import Contact
from store.crm.timeline import PAGE, TimelineView
from store.identity import Actor
from store.service import Store
from tui.widgets.timeline import TimelineMessageChosen, TimelineOlderWanted, TimelinePane


@dataclass
class CompanyRead(Message):
    """The worker read the company and its contacts."""

    company: Company
    contacts: list[Contact]


@dataclass
class CompanyTimelineRead(Message):
    """The worker built a page of the company's timeline (the first when *before* is None)."""

    view: TimelineView
    before: tuple[datetime, int] | None = None


def company_block(company: Company, people: list[Contact]) -> Content:
    """The company's name, domains and contacts as labelled lines, one line per domain and contact."""
    names = [f"{c.name} <{c.emails[0]}>" if c.emails else c.name for c in people]
    lines = [("Name", company.name)]
    for label, values in (("Domains", list(company.domains)), ("Contacts", names)):
        lines += [(label if n == 0 else "", v) for n, v in enumerate(values or ["(none)"])]
    return Content("\n").join(
        Content.assemble(((f"{label}:" if label else "").ljust(13), "bold"), " ", value)
        for label, value in lines)


class CompanyPageScreen(Screen[None]):
    """Details and Timeline tabs of one company; e edits it, enter on the timeline opens a message."""

    SUB_TITLE = "Company"
    BINDINGS = [
        Binding("e", "edit", "Edit", id="company_page.edit"),
        Binding("d", "tab('details')", "Details", id="company_page.details"),
        Binding("t", "tab('timeline')", "Timeline", id="company_page.timeline"),
        Binding("escape", "app.pop_screen", "Back", id="company_page.back"),
    ]
    DEFAULT_CSS = """
    CompanyPageScreen TabbedContent { height: 1fr; }
    CompanyPageScreen TabPane { padding: 1 1 0 1; }
    CompanyPageScreen #company-details { padding: 0 1; }
    """

    def __init__(self, store: Store, actor: Actor, company_id: int, page_size: int = PAGE) -> None:
        super().__init__()
        self.page_size = page_size  # timeline messages per page
        self.store = store
        self.actor = actor
        self.company_id = company_id
        self.company: Company | None = None
        self.editor = CompanyEditor(self, store, actor, self._edited)

    def compose(self) -> ComposeResult:
        yield Header()
        with TabbedContent(initial="details"):
            with TabPane("Details", id="details"):
                yield Static("Loading the company…", id="company-details")
            with TabPane("Timeline", id="timeline"):
                yield TimelinePane(id="company-timeline")
        yield Footer()

    def on_mount(self) -> None:
        self.read_company()
        self.read_timeline()

    @work(thread=True, exclusive=True, exit_on_error=False, group="company.read", description="Open company")
    def read_company(self) -> None:
        """Read the company and its contacts off the UI thread."""
        crm = self.store.crm
        company = crm.companies.get(self.actor, self.company_id)
        self.post_message(CompanyRead(company, crm.contacts.list(self.actor, company_id=self.company_id)))

    @work(thread=True, exclusive=True, exit_on_error=False, group="company.timeline",
          description="Company timeline")
    def read_timeline(self) -> None:
        """Build the timeline (only mail in mailboxes the user may read) off the UI thread."""
        view = self.store.crm.timelines.open(self.actor, company_id=self.company_id, limit=self.page_size)
        self.post_message(CompanyTimelineRead(view))

    @work(thread=True, exclusive=True, exit_on_error=False, group="company.older", description="Older mail")
    def read_older(self, before: tuple[datetime, int]) -> None:
        """Read the next, older page of the timeline off the UI thread."""
        view = self.store.crm.timelines.open(self.actor, company_id=self.company_id, limit=self.page_size,
                                             before=before)
        self.post_message(CompanyTimelineRead(view, before))

    @on(Worker.StateChanged)
    def _pass_failure_to_app(self, event: Worker.StateChanged) -> None:
        """Hand a failed worker to the app, which reports it (worker messages do not bubble)."""
        if event.state == WorkerState.ERROR:
            self.app.post_message(event)

    @on(CompanyRead)
    def _show(self, event: CompanyRead) -> None:
        self.company = event.company
        self.sub_title = f"Company · {event.company.name}"
        self.query_one("#company-details", Static).update(company_block(event.company, event.contacts))

    @on(CompanyTimelineRead)
    def _show_timeline(self, event: CompanyTimelineRead) -> None:
        pane = self.query_one(TimelinePane)
        if event.before is None:
            pane.show(event.view)
        else:
            pane.append(event.view, event.before)

    @on(TimelineOlderWanted)
    def _older_wanted(self, event: TimelineOlderWanted) -> None:
        self.read_older(event.before)

    @on(TimelineMessageChosen)
    def _open_message(self, event: TimelineMessageChosen) -> None:
        from screens.message_view import MessageViewScreen

        self.app.push_screen(MessageViewScreen(self.store, self.actor, event.item.message_id))

    def action_tab(self, tab: str) -> None:
        """Show the Details or the Timeline tab."""
        self.query_one(TabbedContent).active = tab
        if tab == "timeline":
            self.query_one("#timeline-table").focus()

    def action_edit(self) -> None:
        """Edit the company's name and domains in the form."""
        if self.company is not None:
            self.editor.open(self.company)

    def _edited(self, company: Company) -> None:
        self.read_company()
        self.read_timeline()  # other domains link other mail
