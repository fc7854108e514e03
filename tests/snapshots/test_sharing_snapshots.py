"""Snapshots of the sharing section of a mailbox's settings page: a table of users and a role, and empty."""

from __future__ import annotations

from pathlib import Path

import pytest

from screens.settings_sharing import SharingSection
from store.secrets import Secret, SecretStore
from store.sharing import ShareRow, SharingState
from tests.snapshots.conftest import SNAP_SIZE, settle
from tests.tui.settings_support import app_with_file_keyring, display_provider, isolate_keyring

ANNA = "anna@example.test"


@pytest.fixture
def secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SecretStore:
    return isolate_keyring(tmp_path, monkeypatch)


@pytest.fixture
def box_id(store, alice, secrets) -> int:  # noqa: ANN001
    """alice's anna@example.test at Example Mail; users boris, carla, dmitri and the role Sales exist."""
    for name in ("boris", "carla", "dmitri"):
        store.identity.add(alice, "user", name)
    store.identity.add(alice, "role", "Sales")
    provider = display_provider(store, alice)
    return store.mailboxes.create(alice, ANNA, provider.id, ANNA, Secret("not-checked"), secrets).id


async def open_at_sharing(pilot, focus: str) -> None:  # noqa: ANN001 - Pilot
    """Open the settings with e, then focus *focus* in the sharing section so the page scrolls to it."""
    await pilot.pause()
    await settle(pilot)
    await pilot.press("e")
    await settle(pilot)
    section = pilot.app.screen.query_one(SharingSection)
    section.query_one(focus).focus()
    section.scroll_visible(animate=False)
    await pilot.pause()
    await pilot.pause()


def test_sharing_table_with_users_and_a_role(snap_compare, tmp_path, store, alice, box_id) -> None:
    """You should see the right column scrolled to the focused "Sharing" box: "Access for other users"
    checked, "Owner: alice (every right)", and a table with two-line headings User / Role, Read emails, Send
    emails, Configure mailbox: boris ☑ ☐ ☐; carla ☑ ☑ ☐ (Send shows Read ticked); dmitri ☑ ☑ ☑; Sales (role)
    ☑ ☐ ☑. The cursor is on carla's Send cell; the footer offers space Tick / untick, delete Remove row and
    + Add user or role."""
    rows = [
        ShareRow("boris", read=True),
        ShareRow("carla", send=True),
        ShareRow("dmitri", read=True, send=True, configure=True),
        ShareRow("Sales", read=True, configure=True),
    ]
    store.sharing.save(alice, box_id, SharingState(True, rows))

    async def run_before(pilot) -> None:  # noqa: ANN001
        await open_at_sharing(pilot, "#share-table")
        await pilot.press("down", "right", "right")
        await pilot.pause()

    app = app_with_file_keyring(tmp_path, store, alice)
    assert snap_compare(app, terminal_size=SNAP_SIZE, run_before=run_before)


def test_sharing_empty(snap_compare, tmp_path, store, alice, box_id) -> None:
    """You should see the "Sharing" box under Connection with "Access for other users" unchecked and focused,
    "Owner: alice (every right)" and, instead of a table, "No users or roles have access yet. Press + to add
    one."; the footer offers + Add user or role."""

    async def run_before(pilot) -> None:  # noqa: ANN001
        await open_at_sharing(pilot, "#sharing_enabled")

    app = app_with_file_keyring(tmp_path, store, alice)
    assert snap_compare(app, terminal_size=SNAP_SIZE, run_before=run_before)
