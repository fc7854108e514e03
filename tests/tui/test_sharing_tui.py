"""The sharing section of the settings page driven by keys: add, tick, remove, save, discard, hidden."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Checkbox, DataTable, Input, Label, OptionList

from screens.confirm import ConfirmScreen
from screens.mailbox_settings import MailboxSettingsScreen
from screens.settings_sharing import EMPTY_NOTE, SharingSection
from screens.share_add import ShareAddScreen
from store.identity import Actor, Operation
from store.secrets import Secret, SecretStore
from store.service import Store
from store.sharing import ShareRow, SharingState
from tests.snapshots.conftest import SNAP_SIZE, settle
from tests.tui.settings_support import app_with_file_keyring, display_provider, isolate_keyring, open_page

ANNA = "anna@example.test"


@pytest.fixture
def secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SecretStore:
    return isolate_keyring(tmp_path, monkeypatch)


@pytest.fixture
def box_id(store: Store, alice: Actor, secrets: SecretStore) -> int:
    """alice's mailbox anna@example.test; users boris and carla and the role Sales exist."""
    for name in ("boris", "carla"):
        store.identity.add(alice, "user", name)
    store.identity.add(alice, "role", "Sales")
    provider = display_provider(store, alice)
    return store.mailboxes.create(alice, ANNA, provider.id, ANNA, Secret("pw"), secrets).id


async def add_principal(pilot: Any, text: str) -> None:
    """Press + in the sharing section, type *text* and pick the first result with enter."""
    page = pilot.app.screen
    page.query_one("#sharing_enabled", Checkbox).focus()
    await pilot.press("plus")
    await settle(pilot)
    assert isinstance(pilot.app.screen, ShareAddScreen)
    await pilot.press(*text)
    await settle(pilot)
    await pilot.press("enter")
    await pilot.pause()


async def test_add_a_role_tick_rights_and_save(tmp_path, store, alice, box_id) -> None:
    app = app_with_file_keyring(tmp_path, store, alice)
    async with app.run_test(size=SNAP_SIZE) as pilot:
        page = await open_page(pilot, box_id)
        assert page.query_one(SharingSection).query_one("#share-empty").display
        page.query_one("#sharing_enabled", Checkbox).focus()
        await pilot.press("space")  # "Access for other users" on
        await add_principal(pilot, "Sal")
        table = page.query_one(DataTable)
        assert table.has_focus and table.row_count == 1
        await pilot.press("right", "space")  # Send: Read shows ticked too
        assert [str(c) for c in table.get_row("Sales")] == ["Sales (role)", "☑", "☑", "☐"]
        await pilot.press("left", "space")  # Read cannot be unticked while Send is on
        assert table.get_row("Sales")[1] == "☑"
        await pilot.press("right", "right", "space")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert not isinstance(pilot.app.screen, MailboxSettingsScreen)
    state = store.sharing.get(alice, box_id)
    assert state.enabled
    assert state.rows == [ShareRow("Sales", "role", read=True, send=True, configure=True)]


async def test_remove_a_row_is_gone_after_save(tmp_path, store, alice, box_id) -> None:
    rows = [ShareRow("boris", read=True), ShareRow("carla", read=True, send=True)]
    store.sharing.save(alice, box_id, SharingState(True, rows))
    app = app_with_file_keyring(tmp_path, store, alice)
    async with app.run_test(size=SNAP_SIZE) as pilot:
        page = await open_page(pilot, box_id)
        table = page.query_one(DataTable)
        table.focus()
        await pilot.press("x")
        assert table.row_count == 1
        await pilot.press("ctrl+s")
        await settle(pilot)
    assert [r.principal_name for r in store.sharing.get(alice, box_id).rows] == ["carla"]


async def test_removing_the_last_row_shows_the_empty_note(tmp_path, store, alice, box_id) -> None:
    store.sharing.save(alice, box_id, SharingState(True, [ShareRow("boris", read=True)]))
    app = app_with_file_keyring(tmp_path, store, alice)
    async with app.run_test(size=SNAP_SIZE) as pilot:
        page = await open_page(pilot, box_id)
        page.query_one(DataTable).focus()
        await pilot.press("delete")
        empty = page.query_one("#share-empty")
        assert empty.display and str(empty.render()) == EMPTY_NOTE
        assert not page.query_one(DataTable).display


async def test_user_without_the_operations_does_not_see_the_section(tmp_path, store, alice, secrets) -> None:
    store.identity.add(alice, "user", "dora")
    store.identity.grant(alice, Operation.SHARED_MAILBOX_ACCESS.value, "dora")  # one of the two only
    dora = store.identity.actor("dora")
    provider = display_provider(store, alice)
    box = store.mailboxes.create(dora, "dora@example.test", provider.id, "dora", Secret("pw"), secrets)
    app = app_with_file_keyring(tmp_path, store, dora)
    async with app.run_test(size=SNAP_SIZE) as pilot:
        page = await open_page(pilot, box.id)
        assert not page.query(SharingSection)
        assert not page.query(DataTable)


async def test_escape_discards_sharing_edits(tmp_path, store, alice, box_id) -> None:
    app = app_with_file_keyring(tmp_path, store, alice)
    async with app.run_test(size=SNAP_SIZE) as pilot:
        page = await open_page(pilot, box_id)
        page.query_one("#sharing_enabled", Checkbox).focus()
        await pilot.press("space")
        await add_principal(pilot, "boris")
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(pilot.app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(pilot)
        assert not isinstance(pilot.app.screen, MailboxSettingsScreen)
    assert store.sharing.get(alice, box_id) == SharingState(False, [], "alice")


async def test_add_dialog_lists_users_and_roles_and_leaves_out_taken(tmp_path, store, alice, box_id) -> None:
    store.sharing.save(alice, box_id, SharingState(True, [ShareRow("boris", read=True)]))
    app = app_with_file_keyring(tmp_path, store, alice)
    async with app.run_test(size=SNAP_SIZE) as pilot:
        page = await open_page(pilot, box_id)
        page.query_one(DataTable).focus()
        await pilot.press("plus")
        await settle(pilot)
        results = pilot.app.screen.query_one(OptionList)
        shown = [str(results.get_option_at_index(i).id) for i in range(results.option_count)]
        assert "Sales" in shown and "carla" in shown
        assert "boris" not in shown and "alice" not in shown
        await pilot.press("down", "down", "enter")
        await pilot.pause()
        assert page.query_one(DataTable).row_count == 2


async def test_a_refused_table_shows_beside_it_and_saves_nothing(tmp_path, store, alice, box_id) -> None:
    app = app_with_file_keyring(tmp_path, store, alice)
    async with app.run_test(size=SNAP_SIZE) as pilot:
        page = await open_page(pilot, box_id)
        page.query_one("#alias", Input).value = "Anna"
        page.query_one(SharingSection).add("ghost", "user")  # as if the user was deleted after being picked
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert pilot.app.screen is page
        error = page.query_one("#error-sharing", Label)
        assert "ghost: no user or role named 'ghost'" in str(error.render())
        assert page.query_one(DataTable).has_focus
    assert store.settings.open(alice, box_id).alias == ""
