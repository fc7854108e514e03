"""Snapshots of the company form over the fixed CRM data (tests/tui/crm_support.py)."""

from __future__ import annotations

from screens.companies import CompaniesScreen
from screens.company_page import CompanyPageScreen
from tests.snapshots.conftest import SNAP_SIZE
from tests.snapshots.test_crm_snapshots import crm_app, utc_dates  # noqa: F401 - fixture


def test_company_form_refuses_free_mail(snap_compare, make_app, store, alice) -> None:
    """You should see the "Add a company" dialog over the companies list with "Gmail fans" in Name and
    "fans.example, gmail.com" in Domains, and under Domains in red "gmail.com is a free-mail domain; it never
    makes a company"; the Domains field has the focus; the footer offers ^s Save and esc Cancel."""
    app, open_list, _ = crm_app(make_app, store, alice, lambda d: CompaniesScreen(store, alice))

    async def run_before(pilot) -> None:  # noqa: ANN001
        await open_list(pilot)
        await pilot.press("a")
        await pilot.pause()
        await pilot.press(*"Gmail fans", "tab", *"fans.example, gmail.com", "ctrl+s")
        await pilot.pause()

    assert snap_compare(app, terminal_size=SNAP_SIZE, run_before=run_before)


def test_company_form_editing(snap_compare, make_app, store, alice) -> None:
    """You should see the "Edit Acme Corp" dialog over Acme Corp's page with "Acme Corp" in the focused Name
    field and "acme.example" in Domains, no errors, and Cancel and Save buttons."""
    app, open_page, _ = crm_app(make_app, store, alice, lambda d: CompanyPageScreen(store, alice, d.acme))

    async def run_before(pilot) -> None:  # noqa: ANN001
        await open_page(pilot)
        await pilot.press("e")
        await pilot.pause()

    assert snap_compare(app, terminal_size=SNAP_SIZE, run_before=run_before)
