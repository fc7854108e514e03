"""Snapshots of the communication panel at the project-wide size."""

from __future__ import annotations

from tests.snapshots.conftest import SNAP_SIZE, add_mailbox, add_two_mailboxes, make_user, settle


def test_panel_empty_state(snap_compare, make_app) -> None:
    """You should see the Email tab with a centred "Welcome to Mailroom" card saying "No mailbox
    connected yet. Press n or choose Account ▸ New account to connect one.", the Account button,
    "Signed in as alice · administrator" above the footer, and n / a / s / c New message / o Outbox /
    ctrl+q in the footer (no "Edit settings")."""

    async def run_before(pilot) -> None:
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=SNAP_SIZE, run_before=run_before)


def test_panel_with_two_mailboxes(snap_compare, make_app, store, alice) -> None:
    """You should see "2 mailboxes · 1 need attention" beside the Account button; the Mailboxes list with
    "All mailboxes" first, alice@gmail.com (green dot, "Gmail · ok · synced 5 min ago", highlighted) and
    sales@acme.example (yellow triangle, "Needs attention: The server rejected the password; …", "synced 3 h
    ago"), and the "Messages · alice@gmail.com" pane saying "No messages loaded for alice@gmail.com yet.
    Press s to sync." The footer offers "e Edit settings"."""
    add_two_mailboxes(store, alice)

    async def run_before(pilot) -> None:
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=SNAP_SIZE, run_before=run_before)


def test_account_menu_open(snap_compare, make_app, store, alice) -> None:
    """You should see the account menu open under the Account button: New account (n), Edit settings ▸,
    Sync now (s), a divider, then Providers (P) and Mail provider domains (D); "New account" highlighted and
    "esc Close menu" in the footer."""
    add_two_mailboxes(store, alice)

    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press("a")
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=SNAP_SIZE, run_before=run_before)


def test_account_menu_edit_settings_submenu(snap_compare, make_app, store, alice) -> None:
    """You should see the account menu's Edit settings submenu: "◂ Back", a divider, then alice@gmail.com
    (highlighted) and sales@acme.example; the footer offers "← Back" and "esc Close menu"."""
    add_two_mailboxes(store, alice)

    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press("a", "down", "enter")
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=SNAP_SIZE, run_before=run_before)


def test_non_admin_panel_menu(snap_compare, make_app, store, alice) -> None:
    """You should see bob's panel: "Signed in as Bob Martin (bob) · user", his one mailbox bob@gmail.com
    ("never synced"), and the account menu open with only New account, Edit settings ▸ and Sync now —
    no Providers and no Mail provider domains."""
    bob = make_user(store, alice, "bob", "Bob Martin")
    add_mailbox(store, bob, "bob@gmail.com")

    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press("a")
        await pilot.pause()

    assert snap_compare(make_app(bob), terminal_size=SNAP_SIZE, run_before=run_before)
