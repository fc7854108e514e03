"""Pilot tests of the company form, keyboard only: add from the list, edit from the page, refusals, cancel."""

from __future__ import annotations

from textual.widgets import Input, Label

from screens.companies import CompaniesScreen
from screens.company_form import CompanyForm
from screens.company_page import CompanyPageScreen
from store.errors import NotFound
from tests.snapshots.conftest import SNAP_SIZE, settle
from tests.tui.crm_support import seed_crm
from tests.tui.test_crm_tui import quiet, rows


def shown_errors(form: CompanyForm) -> dict[str, str]:
    """The errors the form shows, by field ('' for the one above the form)."""
    errors = {
        label.id.removeprefix("error-"): str(label.content)
        for label in form.query(".field-error.-shown").results(Label)
    }
    general = form.query_one("#form-error")
    if general.has_class("-shown"):
        errors[""] = str(general.render())
    return errors


def companies_in(store, alice) -> list[tuple[str, tuple[str, ...]]]:  # noqa: ANN001 - store, actor
    """Every company's name and domains, as the store has them."""
    return [(c.name, c.domains) for c in store.crm.companies.list(alice)]


async def open_companies(pilot, *keys: str) -> None:  # noqa: ANN001 - Pilot
    """Open the companies list, then press *keys* (e.g. "a" for the form of a new company)."""
    await pilot.app.run_action("open_crm('companies')")
    await settle(pilot)
    await pilot.press(*keys)
    await pilot.pause()


async def test_a_adds_a_company_and_opens_its_page(make_app, store, alice) -> None:
    seed_crm(store, alice)
    app = quiet(make_app())
    async with app.run_test(size=SNAP_SIZE) as pilot:
        await open_companies(pilot, "a")
        assert isinstance(app.screen, CompanyForm)
        assert app.focused is app.screen.query_one("#name")
        await pilot.press(*"Initech", "tab", *"initech.example, https://www.Initech.test/about", "enter")
        await settle(pilot)
        assert isinstance(app.screen, CompanyPageScreen)
        assert app.screen.sub_title == "Company · Initech"
        assert "Added Initech." in [n.message for n in app._notifications]
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, CompaniesScreen)
        assert [r[:2] for r in rows(app, "#companies-table")] == [
            ["Acme Corp", "acme.example"],
            ["Globex", "globex.example"],
            ["Initech", "initech.example, initech.test"],
        ]
    assert store.crm.companies.find(alice, "initech.test").name == "Initech"


async def test_e_edits_the_company_and_its_page_shows_it(make_app, store, alice) -> None:
    data = seed_crm(store, alice)
    app = quiet(make_app())
    async with app.run_test(size=SNAP_SIZE) as pilot:
        await open_companies(pilot)
        await pilot.press("enter")  # Acme Corp
        await settle(pilot)
        await pilot.press("e")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, CompanyForm)
        assert form.query_one("#company-dialog").border_title == "Edit Acme Corp"
        assert (form.query_one("#name", Input).value, form.query_one("#domains", Input).value) == (
            "Acme Corp",
            "acme.example",
        )
        await pilot.press("end", *" Inc", "tab", "end", *", acme-corp.example", "ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, CompanyPageScreen)
        assert app.screen.sub_title == "Company · Acme Corp Inc"
        details = str(app.screen.query_one("#company-details").render())
        assert "acme-corp.example" in details and "Dana Scott" in details
    acme = store.crm.companies.get(alice, data.acme)
    assert (acme.name, acme.domains) == ("Acme Corp Inc", ("acme-corp.example", "acme.example"))


async def test_free_mail_domain_is_refused_beside_the_field(make_app, store, alice) -> None:
    seed_crm(store, alice)
    before = companies_in(store, alice)
    app = quiet(make_app())
    async with app.run_test(size=SNAP_SIZE) as pilot:
        await open_companies(pilot, "a")
        form = app.screen
        await pilot.press("tab", *"yahoo.com", "shift+tab")  # leaving the field checks it at once
        await pilot.pause()
        assert shown_errors(form) == {"domains": "yahoo.com is a free-mail domain; it never makes a company"}
        await pilot.press(*"Yahoo fans", "ctrl+s")
        await settle(pilot)
        assert app.screen is form
        assert shown_errors(form) == {"domains": "yahoo.com is a free-mail domain; it never makes a company"}
        assert app.focused is form.query_one("#domains")
        await pilot.press("ctrl+u", *"yahoo-fans.example")  # fixing it clears the message as you type
        await pilot.pause()
        assert shown_errors(form) == {}
        await pilot.press("shift+tab", "ctrl+u", "ctrl+s")
        await pilot.pause()
        assert shown_errors(form) == {"name": "enter the company's name"}
    assert companies_in(store, alice) == before


async def test_duplicate_domain_or_name_reopens_the_form_with_the_store_error(make_app, store, alice) -> None:
    seed_crm(store, alice)
    before = companies_in(store, alice)
    app = quiet(make_app())
    async with app.run_test(size=SNAP_SIZE) as pilot:
        await open_companies(pilot, "a")
        await pilot.press(*"Acme Two", "tab", *"acme.example", "ctrl+s")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, CompanyForm)
        assert shown_errors(form) == {"domains": "acme.example already belongs to the company 'Acme Corp'."}
        assert form.query_one("#name", Input).value == "Acme Two"
        assert app.focused is form.query_one("#domains")
        await pilot.press("ctrl+u", *"acme-two.example", "shift+tab", "ctrl+u", *"GLOBEX", "ctrl+s")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, CompanyForm)
        assert shown_errors(form) == {"name": "A company named 'GLOBEX' already exists."}
        assert form.query_one("#domains", Input).value == "acme-two.example"
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, CompaniesScreen)
    assert companies_in(store, alice) == before


async def test_cancel_loses_nothing_in_the_store(make_app, store, alice) -> None:
    data = seed_crm(store, alice)
    before = companies_in(store, alice)
    app = quiet(make_app())
    async with app.run_test(size=SNAP_SIZE) as pilot:
        await open_companies(pilot)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("e")
        await pilot.pause()
        await pilot.press("ctrl+u", *"Renamed", "tab", "ctrl+u", *"renamed.example", "escape")
        await settle(pilot)
        assert isinstance(app.screen, CompanyPageScreen)
        assert app.screen.sub_title == "Company · Acme Corp"
        await pilot.press("escape", "a")
        await pilot.pause()
        await pilot.press(*"Nobody", "tab", *"nobody.example")
        await pilot.click("#cancel")
        await settle(pilot)
        assert isinstance(app.screen, CompaniesScreen)
    assert companies_in(store, alice) == before
    assert store.crm.companies.get(alice, data.acme).domains == ("acme.example",)
    try:
        store.crm.companies.find(alice, "Nobody")
    except NotFound:
        pass
    else:
        raise AssertionError("a cancelled form stored a company")
