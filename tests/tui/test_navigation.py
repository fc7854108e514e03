"""Keyboard-only journeys through the panel and the directories, checked against the store."""

from __future__ import annotations

import subprocess
import sys

from textual.widgets import DataTable, Label, OptionList
from textual.worker import WorkerFailed

from screens.domain_form import DomainForm
from screens.domains import DomainsScreen
from screens.panel import PanelScreen
from screens.provider_form import ProviderForm
from screens.providers import ProvidersScreen
from screens.wizard_address import AddressStep
from store.errors import NotFound
from tests.snapshots.conftest import SNAP_SIZE, add_mailbox, add_two_mailboxes, make_user, settle
from tui.widgets.account_menu import AccountMenu


def notifications(app) -> list[str]:  # noqa: ANN001 - MailroomApp
    """The messages of the notifications currently shown."""
    return [n.message for n in app._notifications]


def menu_ids(app) -> list[str]:  # noqa: ANN001 - MailroomApp
    """The ids of the account menu's options, in order."""
    menu = app.screen.query_one(AccountMenu)
    return [menu.get_option_at_index(i).id for i in range(menu.option_count)]


async def open_providers(pilot) -> None:  # noqa: ANN001 - Pilot
    await settle(pilot)
    await pilot.press("a", "up", "up", "enter")
    await settle(pilot)


async def test_keyboard_reaches_providers_and_back(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SNAP_SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await pilot.pause()
        assert menu_ids(app) == [
            "app.new_account",
            "submenu:edit",
            "app.sync_now",
            "app.open_providers",
            "app.open_domains",
        ]
        await pilot.press("up", "up", "enter")
        await settle(pilot)
        assert isinstance(app.screen, ProvidersScreen)
        assert app.screen.query_one(DataTable).row_count == 10
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, PanelScreen)


async def test_add_provider_through_the_form(make_app, store) -> None:
    app = make_app()
    async with app.run_test(size=SNAP_SIZE) as pilot:
        await open_providers(pilot)
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, ProviderForm)
        await pilot.press(*"Acme Mail", "tab", *"imap.acme.example", "tab", *"993", "tab", "tab")
        await pilot.press(*"smtp.acme.example", "tab", *"587", "tab")
        await pilot.press("enter", "down", "enter")  # SMTP security: STARTTLS
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ProvidersScreen)
        saved = store.providers.get("Acme Mail")
        assert (saved.imap_host, saved.imap_port, saved.imap_tls) == ("imap.acme.example", 993, "ssl")
        assert (saved.smtp_host, saved.smtp_port, saved.smtp_tls) == ("smtp.acme.example", 587, "starttls")
        table = app.screen.query_one(DataTable)
        assert table.get_row_index(str(saved.id)) == table.cursor_row
        assert "Saved provider Acme Mail." in notifications(app)


async def test_invalid_provider_form_shows_errors_and_stores_nothing(make_app, store) -> None:
    before = [p.name for p in store.providers.list()]
    app = make_app()
    async with app.run_test(size=SNAP_SIZE) as pilot:
        await open_providers(pilot)
        await pilot.press("a")
        await pilot.pause()
        await pilot.press(*"Broken", "tab", *"imap..broken", "tab", "0", "ctrl+s")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, ProviderForm)
        errors = {
            label.id.removeprefix("error-"): str(label.content)
            for label in form.query(".field-error.-shown").results(Label)
        }
        assert errors["imap_host"] == "IMAP host: not a valid host name"
        assert errors["imap_port"].startswith("IMAP port: ")
        assert "smtp_host" in errors and "smtp_port" in errors
        assert app.focused is form.query_one("#imap_host")
        await pilot.press("escape")
        await settle(pilot)
    assert [p.name for p in store.providers.list()] == before


async def test_duplicate_provider_name_reopens_the_form_with_the_store_error(make_app, store) -> None:
    app = make_app()
    async with app.run_test(size=SNAP_SIZE) as pilot:
        await open_providers(pilot)
        await pilot.press("a")
        await pilot.pause()
        await pilot.press(*"gmail", "tab", *"imap.acme.example", "tab", *"993", "tab", "tab")
        await pilot.press(*"smtp.acme.example", "tab", *"465", "ctrl+s")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, ProviderForm)
        assert str(form.query_one("#error-name", Label).content) == "a provider named 'gmail' already exists"
        assert form.query_one("#imap_host").value == "imap.acme.example"


async def test_deleting_a_provider_in_use_is_refused_with_the_store_message(make_app, store, alice) -> None:
    add_mailbox(store, alice, "alice@gmail.com", provider="Gmail")
    app = make_app()
    async with app.run_test(size=SNAP_SIZE) as pilot:
        await open_providers(pilot)
        await pilot.press("down", "down", "d")  # AOL, Fastmail, Gmail
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot)
        assert isinstance(app.screen, ProvidersScreen)
        assert "Provider 'Gmail' is used by 1 mailbox(es); remove or move them first." in notifications(app)
    assert store.providers.get("Gmail").name == "Gmail"


async def test_deleting_an_unused_provider_after_confirmation(make_app, store) -> None:
    app = make_app()
    async with app.run_test(size=SNAP_SIZE) as pilot:
        await open_providers(pilot)
        await pilot.press("d")  # AOL
        await pilot.pause()
        await pilot.press("n")
        await settle(pilot)
        assert store.providers.get("AOL")
        await pilot.press("d", "y")
        await settle(pilot)
        assert app.screen.query_one(DataTable).row_count == 9
    try:
        store.providers.get("AOL")
    except NotFound:
        pass
    else:
        raise AssertionError("AOL should be deleted")


async def test_domain_add_and_delete(make_app, store) -> None:
    app = make_app()
    async with app.run_test(size=SNAP_SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a", "up", "enter")
        await settle(pilot)
        assert isinstance(app.screen, DomainsScreen)
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, DomainForm)
        await pilot.press(*"Acme.Example", "tab", "enter")
        await pilot.pause()
        await pilot.press("down", "down", "down", "enter", "ctrl+s")  # past the prompt: AOL, Fastmail, Gmail
        await settle(pilot)
        assert isinstance(app.screen, DomainsScreen)
        assert store.providers.lookup("acme.example").name == "Gmail"
        table = app.screen.query_one(DataTable)
        assert app.screen.highlighted() == "acme.example"
        rows_with_acme = table.row_count
        await pilot.press("d")
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot)
        assert store.providers.lookup("acme.example") is None
        assert table.row_count == rows_with_acme - 1


async def test_mapping_a_domain_twice_shows_the_conflict_beside_the_domain(make_app, store) -> None:
    app = make_app()
    async with app.run_test(size=SNAP_SIZE) as pilot:
        await settle(pilot)
        await pilot.press("D")
        await settle(pilot)
        await pilot.press("a")
        await pilot.pause()
        await pilot.press(*"gmail.com", "tab", "enter", "down", "enter", "ctrl+s")  # the first provider, AOL
        await settle(pilot)
        form = app.screen
        assert isinstance(form, DomainForm)
        assert (
            str(form.query_one("#error-domain", Label).content)
            == "Domain 'gmail.com' is already mapped to 'Gmail'."
        )
    assert store.providers.lookup("gmail.com").name == "Gmail"


async def test_non_admin_sees_no_directories_and_is_refused(make_app, store, alice) -> None:
    bob = make_user(store, alice, "bob")
    app = make_app(bob)
    async with app.run_test(size=SNAP_SIZE) as pilot:
        await settle(pilot)
        assert "Signed in as bob · user" in str(app.screen.query_one("#status-line").content)
        await pilot.press("a")
        await pilot.pause()
        assert menu_ids(app) == ["app.new_account", "submenu:edit", "app.sync_now"]
        await pilot.press("escape", "P")
        await pilot.pause()
        assert isinstance(app.screen, PanelScreen)
        assert any("lacks the system operation 'Manage mail providers" in n for n in notifications(app))
        await pilot.press("D")
        await pilot.pause()
        assert isinstance(app.screen, PanelScreen)
        titles = [c.title for c in app.palette_commands([])]
        assert "Providers" not in titles and "Mail provider domains" not in titles


async def test_account_menu_runs_app_actions(make_app, store, alice) -> None:
    add_two_mailboxes(store, alice)
    app = make_app()
    calls: list[object] = []
    app.open_mailbox_settings = calls.append  # type: ignore[method-assign]
    app.sync_now = lambda mailbox_id=None: calls.append("sync")  # type: ignore[method-assign]
    async with app.run_test(size=SNAP_SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a", "down", "enter", "down", "enter")  # Edit settings ▸ sales@acme.example
        await pilot.pause()
        sales = store.mailboxes.get(alice, "sales@acme.example")
        assert calls == [sales.id]
        assert app.focused is app.screen.query_one("#mailbox-list")
        await pilot.press("s")
        await pilot.pause()
        assert calls == [sales.id, "sync"]
        await pilot.press("down", "e")
        await pilot.pause()
        assert calls == [sales.id, "sync", sales.id]


async def test_n_opens_the_new_account_wizard(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SNAP_SIZE) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, AddressStep)


async def test_panel_reloads_when_mailboxes_change(make_app, store, alice) -> None:
    app = make_app()
    async with app.run_test(size=SNAP_SIZE) as pilot:
        await settle(pilot)
        assert app.screen.query_one("#email-body").current == "empty-state"
        add_mailbox(store, alice, "new@gmail.com")
        app.mailboxes_changed()
        await settle(pilot)
        assert app.screen.query_one("#email-body").current == "email-main"
        assert app.screen.query_one("#mailbox-list", OptionList).option_count == 1


async def test_palette_lists_every_menu_action(make_app, store, alice) -> None:
    add_two_mailboxes(store, alice)
    app = make_app()
    async with app.run_test(size=SNAP_SIZE) as pilot:
        await settle(pilot)
        mailboxes = store.mailboxes.visible(alice)
        titles = [c.title for c in app.palette_commands(mailboxes)]
        assert titles == [
            "New account",
            "Sync now",
            "Providers",
            "Mail provider domains",
            "Edit settings of alice@gmail.com",
            "Edit settings of sales@acme.example",
            "New message",
            "Outbox",
            "Contacts",
            "Companies",
            "Review proposals",
            "Unmatched senders",
            "Quit",
        ]
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"provider dom", "enter")
        await settle(pilot)
        assert isinstance(app.screen, DomainsScreen)


async def test_keymap_setting_rebinds_keys(make_app) -> None:
    app = make_app()
    app.settings.ui.keymap = {"panel.new_account": "ctrl+n"}
    async with app.run_test(size=SNAP_SIZE) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await pilot.pause()
        assert not isinstance(app.screen, AddressStep)
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert isinstance(app.screen, AddressStep)


async def test_unknown_keymap_ids_are_reported(make_app) -> None:
    app = make_app()
    app.settings.ui.keymap = {"panel.nope": "x"}
    async with app.run_test(size=SNAP_SIZE) as pilot:
        await settle(pilot)
        assert "Unknown binding ids in the keymap setting: panel.nope" in notifications(app)


async def test_settings_turn_off_cursor_blink_in_forms(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SNAP_SIZE) as pilot:
        await settle(pilot)
        await pilot.press("P")
        await settle(pilot)
        await pilot.press("a")
        await pilot.pause()
        assert app.focused.id == "name"
        assert app.focused.cursor_blink is False


async def test_an_unexpected_worker_failure_is_reported_and_logged(make_app, store, tmp_path, caplog) -> None:
    def broken(actor: object) -> list[object]:
        raise RuntimeError("disk on fire")

    store.mailboxes.visible = broken  # type: ignore[method-assign]
    app = make_app()
    async with app.run_test(size=SNAP_SIZE) as pilot:
        await pilot.pause()
        try:
            await app.workers.wait_for_complete()
        except WorkerFailed:
            pass  # the failure is the point; the app must report it
        await pilot.pause()
        [shown] = list(app._notifications)
        assert shown.title == "Load mailboxes failed"
        assert "disk on fire" in shown.message and str(tmp_path / "mailroom.log") in shown.message
    assert "Load mailboxes failed" in caplog.text and "RuntimeError: disk on fire" in caplog.text


def test_keymap_ids_of_screens_not_yet_opened_are_known() -> None:
    """A fresh interpreter has imported no form yet; its binding ids must still count as known."""
    code = (
        "import sys; from tui.app import binding_ids; ids = binding_ids(); "
        "missing = {'company_form.save', 'contact_form.save', 'companies.add'} - ids; "
        "sys.exit(f'unknown: {sorted(missing)}' if missing else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
