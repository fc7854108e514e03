"""Snapshots of the CRM screens over fixed data (tests/tui/crm_support.py) at the fixed clock, 11 May 2026."""

from __future__ import annotations

import time

import pytest

from screens.company_page import CompanyPageScreen
from screens.contact_page import ContactPageScreen
from screens.contacts import ContactsScreen
from screens.enrichment_review import EnrichmentReviewScreen
from screens.unmatched import UnmatchedScreen
from tests.snapshots.conftest import SNAP_SIZE, settle
from tests.tui.crm_support import seed_crm


@pytest.fixture(autouse=True)
def utc_dates(monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    """Show dates in UTC, so the snapshots do not depend on the machine's time zone."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def crm_app(make_app, store, alice, screen_of):  # noqa: ANN001, ANN201
    """The app with the fixed CRM data, opening the screen *screen_of(data)* returns, no automatic sync."""
    data = seed_crm(store, alice)
    app = make_app()
    app.sync_runner.auto_load = False

    async def run_before(pilot) -> None:  # noqa: ANN001
        await pilot.pause()
        pilot.app.push_screen(screen_of(data))
        await settle(pilot)
        await settle(pilot)

    return app, run_before, data


def test_contact_list(snap_compare, make_app, store, alice) -> None:
    """You should see "Contacts" in the header, an empty search field with its placeholder, "4 contacts",
    and a table of Chen Wei (Globex, CTO), Dana Scott (Acme Corp, Purchasing Manager), Marta Kowalska
    (Acme Corp, Accountant) and Priya Nair (no company), each with its address; Chen Wei under the cursor;
    the footer offers a Add, / Search, esc Back."""
    app, run_before, _ = crm_app(make_app, store, alice, lambda d: ContactsScreen(store, alice))
    assert snap_compare(app, terminal_size=SNAP_SIZE, run_before=run_before)


def test_contact_list_searched(snap_compare, make_app, store, alice) -> None:
    """You should see "acme" typed in the focused search field, "2 contacts matching 'acme'", and only
    Dana Scott and Marta Kowalska in the table."""
    app, before, _ = crm_app(make_app, store, alice, lambda d: ContactsScreen(store, alice))

    async def run_before(pilot) -> None:  # noqa: ANN001
        await before(pilot)
        await pilot.press("slash", *"acme")
        await settle(pilot)

    assert snap_compare(app, terminal_size=SNAP_SIZE, run_before=run_before)


def test_contact_page_details(snap_compare, make_app, store, alice) -> None:
    """You should see the Details tab active with Dana Scott's name, dana@acme.example, +1 555 0100,
    Purchasing Manager and Acme Corp as labelled lines; the footer offers e Edit, d Details, t Timeline,
    p Proposals, esc Back."""
    app, run_before, _ = crm_app(make_app, store, alice, lambda d: ContactPageScreen(store, alice, d.dana))
    assert snap_compare(app, terminal_size=SNAP_SIZE, run_before=run_before)


def test_contact_timeline(snap_compare, make_app, store, alice) -> None:
    """You should see the Timeline tab active: the caption "Mail per week, 17 Nov 2025 – this week: 3
    received ←, 3 sent →", a three-line bar chart with bars only at its right end (March, late April, May),
    then three threads newest first, each a bold "▾ subject" line: "Meeting next week" (one → message),
    "Quarterly order for Acme (3)" with ←, →, ← messages of 27, 21 and 20 April, and "Pricing for 2026 (2)"
    with → then ←; every message from alice@gmail.com; the first row under the cursor."""
    app, before, _ = crm_app(make_app, store, alice, lambda d: ContactPageScreen(store, alice, d.dana))

    async def run_before(pilot) -> None:  # noqa: ANN001
        await before(pilot)
        await pilot.press("t")
        await settle(pilot)

    assert snap_compare(app, terminal_size=SNAP_SIZE, run_before=run_before)


def test_enrichment_review(snap_compare, make_app, store, alice) -> None:
    """You should see "Review proposals" in the header, "2 values found in signatures wait for your
    decision.", and two rows for Dana Scott: Phone +1 555 0199 and Job title Senior Purchasing Manager, both
    "From message" 2026-04-27 Re: Quarterly order for Acme; the footer offers a Accept, r Reject, esc Back."""

    def review(data):  # noqa: ANN001, ANN202
        store.crm.enrichment.refresh(alice, data.dana)
        return EnrichmentReviewScreen(store, alice)

    app, run_before, _ = crm_app(make_app, store, alice, review)
    assert snap_compare(app, terminal_size=SNAP_SIZE, run_before=run_before)


def test_unmatched_queue(snap_compare, make_app, store, alice) -> None:
    """You should see "3 addresses in your mail belong to no contact; most messages first." and the rows
    olga@umbrella.example (Olga Petrova, 3, 2026-05-08), sam@hooli.example (Sam Lee, 2, 2026-04-29) and
    ruth@vandelay.example (Ruth Baker, 1, 2026-05-01); the footer offers a Add as contact, l Link to
    contact, i Ignore, esc Back."""
    app, run_before, _ = crm_app(make_app, store, alice, lambda d: UnmatchedScreen(store, alice))
    assert snap_compare(app, terminal_size=SNAP_SIZE, run_before=run_before)


def test_company_page(snap_compare, make_app, store, alice) -> None:
    """You should see "Company · Acme Corp" in the header, the Details tab with the domain acme.example and
    two contacts, Dana Scott <dana@acme.example> and Marta Kowalska <marta@acme.example>, one per line; the
    footer offers e Edit, d Details, t Timeline, esc Back."""
    app, run_before, _ = crm_app(make_app, store, alice, lambda d: CompanyPageScreen(store, alice, d.acme))
    assert snap_compare(app, terminal_size=SNAP_SIZE, run_before=run_before)
