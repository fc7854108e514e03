"""Pilot tests of the contact form on the shared form base: errors beside fields, enter saves, cancel."""

from __future__ import annotations

from textual.widgets import Input, Label

from screens.contact_form import ContactForm
from screens.contact_page import ContactPageScreen
from tests.snapshots.conftest import SNAP_SIZE, settle
from tests.tui.crm_support import seed_crm
from tests.tui.test_crm_tui import quiet


def shown_errors(form: ContactForm) -> dict[str, str]:
    """The errors shown beside the form's fields."""
    return {
        label.id.removeprefix("error-"): str(label.content)
        for label in form.query(".field-error.-shown").results(Label)
    }


async def test_contact_form_errors_beside_fields_and_enter_in_company_saves(make_app, store, alice) -> None:
    seed_crm(store, alice)
    app = quiet(make_app())
    async with app.run_test(size=SNAP_SIZE) as pilot:
        await pilot.app.run_action("open_crm('contacts')")
        await settle(pilot)
        await pilot.press("a")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, ContactForm)
        await pilot.press(*"Olga Petrova", "enter", *"olga", "enter", *"12", "ctrl+s")
        await pilot.pause()
        assert app.screen is form
        errors = shown_errors(form)
        assert set(errors) == {"emails", "phones"}
        assert errors["emails"].startswith("'olga' is not an e-mail address")
        assert app.focused is form.query_one("#emails")
        await pilot.press("ctrl+u", *"olga@umbrella.example")
        await pilot.pause()
        assert set(shown_errors(form)) == {"phones"}  # a field in error clears once it changes
        await pilot.press("tab", "ctrl+u", "tab", *"Partner", "tab", *"Acme Corp", "enter")
        await settle(pilot)
        assert isinstance(app.screen, ContactPageScreen)
    olga = store.crm.contacts.find(alice, "olga@umbrella.example")
    assert (olga.name, olga.phones, olga.job_title) == ("Olga Petrova", (), "Partner")
    assert olga.company == "Acme Corp"


async def test_escape_on_the_contact_form_changes_nothing(make_app, store, alice) -> None:
    data = seed_crm(store, alice)
    before = store.crm.contacts.get(alice, data.dana)
    app = quiet(make_app())
    async with app.run_test(size=SNAP_SIZE) as pilot:
        app.push_screen(ContactPageScreen(store, alice, data.dana))
        await settle(pilot)
        await pilot.press("e")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, ContactForm)
        assert form.query_one("#emails", Input).value == "dana@acme.example"
        await pilot.press("ctrl+u", *"Someone Else", "escape")
        await settle(pilot)
        assert isinstance(app.screen, ContactPageScreen)
    assert store.crm.contacts.get(alice, data.dana) == before
