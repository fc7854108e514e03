"""Review proposals from signatures: accept writes a value to its contact; a rejected one never returns."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static
from textual.worker import Worker, WorkerState

from store.crm.enrichment import Proposal
from store.errors import StoreError
from store.identity import Actor
from store.service import Store

FIELD_NAMES = {"phone": "Phone", "job_title": "Job title", "company": "Company"}


@dataclass
class ProposalsLoaded(Message):
    """The worker read the open proposals and the subject and date of each one's source message."""

    proposals: list[Proposal]
    sources: dict[int, str]


@dataclass
class ProposalDecided(Message):
    """The store recorded the user's choice on a proposal."""

    proposal: Proposal
    accepted: bool


class EnrichmentReviewScreen(Screen[None]):
    """Open proposals, newest first: contact, field, value and the message it came from."""

    SUB_TITLE = "Review proposals"
    AUTO_FOCUS = "#proposals-table"
    BINDINGS = [
        Binding("a", "decide(True)", "Accept", id="proposals.accept"),
        Binding("r", "decide(False)", "Reject", id="proposals.reject"),
        Binding("escape", "app.pop_screen", "Back", id="proposals.back"),
    ]
    DEFAULT_CSS = """
    EnrichmentReviewScreen #proposals-intro { padding: 1 1 0 1; color: $text-muted; }
    EnrichmentReviewScreen #proposals-table { height: 1fr; margin: 1 1 0 1; }
    """

    def __init__(self, store: Store, actor: Actor, contact_id: int | None = None) -> None:
        super().__init__()
        self.store = store
        self.actor = actor
        self.contact_id = contact_id
        self.proposals: dict[int, Proposal] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Reading proposals…", id="proposals-intro", markup=False)
        yield DataTable(id="proposals-table", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns("Contact", "Field", "Value", "From message")
        self.load()

    # -- workers -------------------------------------------------------------------------
    @work(
        thread=True, exclusive=True, exit_on_error=False, group="proposals.load", description="Read proposals"
    )
    def load(self) -> None:
        """Read the proposals (for one contact: its recent signatures first) and their source messages."""
        crm = self.store.crm
        if self.contact_id is not None:
            found = crm.enrichment.refresh(self.actor, self.contact_id)
        else:
            found = crm.enrichment.proposals(self.actor)
        sources: dict[int, str] = {}
        for message_id in {p.message_id for p in found if p.message_id is not None}:
            try:
                detail = self.store.messages.get(self.actor, message_id)
            except StoreError:
                continue
            sources[message_id] = f"{detail.sent_at:%Y-%m-%d} {detail.subject or '(no subject)'}"
        self.post_message(ProposalsLoaded(found, sources))

    @work(thread=True, exit_on_error=False, group="proposals.write", description="Decide proposal")
    def decide(self, proposal: Proposal, accepted: bool) -> None:
        """Accept or reject one proposal in the store."""
        if accepted:
            self.store.crm.enrichment.accept(self.actor, proposal.id)
        else:
            self.store.crm.enrichment.reject(self.actor, proposal.id)
        self.post_message(ProposalDecided(proposal, accepted))

    @on(Worker.StateChanged)
    def _pass_failure_to_app(self, event: Worker.StateChanged) -> None:
        """Hand a failed worker to the app, which reports it (worker messages do not bubble)."""
        if event.state == WorkerState.ERROR:
            self.app.post_message(event)

    # -- handlers ------------------------------------------------------------------------
    @on(ProposalsLoaded)
    def _fill(self, event: ProposalsLoaded) -> None:
        table = self.query_one(DataTable)
        table.clear()
        self.proposals = {p.id: p for p in event.proposals}
        for p in event.proposals:
            source = event.sources.get(p.message_id, "") if p.message_id is not None else ""
            table.add_row(p.contact, FIELD_NAMES.get(p.field, p.field), p.value, source, key=str(p.id))
        self._say_count()

    def _say_count(self) -> None:
        n = len(self.proposals)
        text = (
            f"{n} value{'s' if n != 1 else ''} found in signatures wait for your decision."
            if n
            else "Nothing to review: no open proposals in mail you may read."
        )
        self.query_one("#proposals-intro", Static).update(text)

    @on(ProposalDecided)
    def _decided(self, event: ProposalDecided) -> None:
        p = event.proposal
        self.proposals.pop(p.id, None)
        table = self.query_one(DataTable)
        if str(p.id) in {str(k.value) for k in table.rows}:
            table.remove_row(str(p.id))
        verb = "Accepted" if event.accepted else "Rejected"
        self.notify(
            f"{verb} {FIELD_NAMES.get(p.field, p.field).lower()} {p.value} for {p.contact}.",
            title="Proposals",
        )
        self._say_count()

    # -- actions -------------------------------------------------------------------------
    def action_decide(self, accepted: bool) -> None:
        """Accept or reject the proposal under the cursor."""
        table = self.query_one(DataTable)
        if not table.row_count:
            return
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        proposal = self.proposals.get(int(str(key.value)))
        if proposal is not None:
            self.decide(proposal, accepted)
