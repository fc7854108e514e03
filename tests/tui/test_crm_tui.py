"""Pilot tests of the CRM screens, keyboard only: contacts, timeline rights, proposals, unmatched senders."""

from __future__ import annotations

from textual.widgets import DataTable

from screens.contact_page import ContactPageScreen
from screens.contacts import ContactsScreen
from screens.message_view import MessageViewScreen
from tests.snapshots.conftest import SNAP_SIZE, make_user, settle
from tests.tui.crm_support import seed_crm


def rows(app, selector: str) -> list[list[str]]:  # noqa: ANN001 - the app
    """The cells of a table on the current screen, as text."""
    table = app.screen.query_one(selector, DataTable)
    return [[str(cell) for cell in table.get_row_at(n)] for n in range(table.row_count)]


def quiet(app):  # noqa: ANN001, ANN201 - the app
    """No automatic sync: nothing here logs in."""
    app.sync_runner.auto_load = False
    return app


async def test_search_filters_as_you_type_and_enter_opens_the_contact(make_app, store, alice) -> None:
    seed_crm(store, alice)
    app = quiet(make_app())
    async with app.run_test(size=SNAP_SIZE) as pilot:
        await pilot.app.run_action("open_crm('contacts')")
        await settle(pilot)
        assert isinstance(app.screen, ContactsScreen)
        assert [r[0] for r in rows(app, "#contacts-table")] == [
            "Chen Wei",
            "Dana Scott",
            "Marta Kowalska",
            "Priya Nair",
        ]
        await pilot.press("slash", *"acme")
        await settle(pilot)
        assert [r[0] for r in rows(app, "#contacts-table")] == ["Dana Scott", "Marta Kowalska"]
        await pilot.press("enter", "enter")
        await settle(pilot)
        assert isinstance(app.screen, ContactPageScreen)
        assert app.screen.contact is not None and app.screen.contact.name == "Dana Scott"


async def test_timeline_lists_threads_and_enter_opens_the_message(make_app, store, alice) -> None:
    data = seed_crm(store, alice)
    app = quiet(make_app())
    async with app.run_test(size=SNAP_SIZE) as pilot:
        app.push_screen(ContactPageScreen(store, alice, data.dana))
        await settle(pilot)
        await pilot.press("t")
        await settle(pilot)
        table = rows(app, "#timeline-table")
        subjects = [r[3].strip() for r in table]
        assert subjects[0] == "▾ Meeting next week"
        assert subjects[2] == "▾ Quarterly order for Acme (3)"
        assert [r[0].strip() for r in table[3:6]] == ["←", "→", "←"]
        await pilot.press("down", "down", "down", "enter")
        await settle(pilot)
        assert isinstance(app.screen, MessageViewScreen)
        assert app.screen.detail is not None and app.screen.detail.subject == "Re: Quarterly order for Acme"


async def test_timeline_shows_nothing_to_a_user_who_may_read_no_mailbox(make_app, store, alice) -> None:
    data = seed_crm(store, alice)
    bob = make_user(store, alice, "bob")
    app = quiet(make_app(bob))
    async with app.run_test(size=SNAP_SIZE) as pilot:
        app.push_screen(ContactPageScreen(store, bob, data.dana))
        await settle(pilot)
        await pilot.press("t")
        await settle(pilot)
        assert rows(app, "#timeline-table") == []
        assert app.screen.query_one("#timeline-empty").has_class  # rendered
        assert app.screen.query_one("TimelinePane").has_class("-empty")


async def test_accept_and_reject_proposals_store_the_choice(make_app, store, alice) -> None:
    data = seed_crm(store, alice)
    store.crm.enrichment.refresh(alice, data.dana)
    app = quiet(make_app())
    async with app.run_test(size=SNAP_SIZE) as pilot:
        await pilot.app.run_action("open_crm('proposals')")
        await settle(pilot)
        assert [r[1:3] for r in rows(app, "#proposals-table")] == [
            ["Phone", "+1 555 0199"],
            ["Job title", "Senior Purchasing Manager"],
        ]
        await pilot.press("a")
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        assert rows(app, "#proposals-table") == []
    dana = store.crm.contacts.get(alice, data.dana)
    assert dana.phones == ("+1 555 0100", "+1 555 0199")
    assert dana.job_title == "Purchasing Manager"
    assert {p.field: p.state for p in store.crm.enrichment.proposals(alice, state="rejected")} == {
        "job_title": "rejected"
    }


async def test_add_from_unmatched_creates_the_contact(make_app, store, alice) -> None:
    seed_crm(store, alice)
    app = quiet(make_app())
    async with app.run_test(size=SNAP_SIZE) as pilot:
        await pilot.app.run_action("open_crm('unmatched')")
        await settle(pilot)
        assert [r[0] for r in rows(app, "#unmatched-table")] == [
            "olga@umbrella.example",
            "sam@hooli.example",
            "ruth@vandelay.example",
        ]
        await pilot.press("a")
        await settle(pilot)
        assert [r[0] for r in rows(app, "#unmatched-table")] == ["sam@hooli.example", "ruth@vandelay.example"]
        await pilot.press("l")
        await settle(pilot)
        await pilot.press(*"chen", "enter", "enter")
        await settle(pilot)
        await pilot.press("i")
        await settle(pilot)
        assert rows(app, "#unmatched-table") == []
    assert store.crm.contacts.find(alice, "olga@umbrella.example").name == "Olga Petrova"
    chen = store.crm.contacts.find(alice, "Chen Wei")
    assert chen.emails == ("chen.wei@globex.example", "sam@hooli.example")
    assert store.crm.unmatched.ignored(alice) == ["ruth@vandelay.example"]


async def test_companies_list_opens_a_company_with_its_timeline(make_app, store, alice) -> None:
    seed_crm(store, alice)
    app = quiet(make_app())
    async with app.run_test(size=SNAP_SIZE) as pilot:
        await pilot.app.run_action("open_crm('companies')")
        await settle(pilot)
        assert [r[:3] for r in rows(app, "#companies-table")] == [
            ["Acme Corp", "acme.example", "2"],
            ["Globex", "globex.example", "1"],
        ]
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("t")
        await settle(pilot)
        subjects = [r[3].strip() for r in rows(app, "#timeline-table") if r[3].startswith("▾")]
        assert subjects == ["▾ Meeting next week", "▾ Quarterly order for Acme (3)", "▾ Pricing for 2026 (2)"]


async def test_timeline_loads_older_pages_at_the_end_of_the_list(make_app, store, alice) -> None:
    """Two messages a page: the list ends on a row announcing older mail; reaching it loads the next page
    below, until every message of the timeline is listed once, newest first."""
    data = seed_crm(store, alice)
    app = quiet(make_app())
    async with app.run_test(size=SNAP_SIZE) as pilot:
        app.push_screen(ContactPageScreen(store, alice, data.dana, page_size=2))
        await settle(pilot)
        await pilot.press("t")
        await settle(pilot)
        table = app.screen.query_one("#timeline-table", DataTable)
        assert table.row_count == 5 and "4 older messages" in rows(app, "#timeline-table")[-1][3]
        for expected_rows in (8, 10):  # two more pages of one thread each (the last without the row)
            await pilot.press("end")
            await settle(pilot)
            assert table.row_count == expected_rows
        assert "older messages" not in rows(app, "#timeline-table")[-1][3]
        keys = [str(key.value) for key in table.rows]
        listed = [int(k.split("-")[1]) for k in keys if k.startswith("message-")]
        view = store.crm.timelines.open(alice, contact_id=data.dana)
        assert listed == [i.message_id for t in view.threads for i in t.items]  # the same, in one page
        await pilot.press("end", "enter")  # enter on the last message opens it
        await settle(pilot)
        assert isinstance(app.screen, MessageViewScreen)
        assert app.screen.detail is not None and app.screen.detail.subject == "Pricing for 2026"


async def test_reaching_the_end_of_a_long_list_loads_one_page(make_app, store, alice) -> None:
    """A list taller than the screen: end loads the next page only, not the one after it too."""
    from tests.tui.crm_support import DANA, at
    from tests.unit.crm_mail import deliver, message

    data = seed_crm(store, alice)
    for n in range(45):
        when = at(2, 1 + n % 27, n % 20)
        deliver(store, data.mailbox_id, message(DANA, "alice@gmail.com", f"Note {n}", when))
    app = quiet(make_app())
    async with app.run_test(size=SNAP_SIZE) as pilot:
        app.push_screen(ContactPageScreen(store, alice, data.dana, page_size=20))
        await settle(pilot)
        await pilot.press("t")
        await settle(pilot)
        table = app.screen.query_one("#timeline-table", DataTable)

        def listed() -> int:
            return sum(str(key.value).startswith("message-") for key in table.rows)

        assert listed() == 20
        await pilot.press("end")
        await settle(pilot)
        assert listed() == 40 and "11 older messages" in rows(app, "#timeline-table")[-1][3]
        await pilot.press("end")
        await settle(pilot)
        assert listed() == 51 and "older messages" not in rows(app, "#timeline-table")[-1][3]
