"""Snapshots of a mailbox's settings page: each section's states, the folder tree and the password dialog."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Checkbox, Input

from screens.folder_tree import FolderTree
from store.errors import NotFound
from store.mailbox_settings import SettingsDraft
from store.secrets import Secret, SecretStore
from tests.harness.corpus import DEFAULT_FOLDERS
from tests.harness.fixtures import ServerInfo
from tests.snapshots.conftest import SNAP_SIZE, settle
from tests.tui.settings_support import (
    app_with_file_keyring,
    cursor_to,
    display_provider,
    fixed_account,
    isolate_keyring,
    route_to_harness,
)

ANNA = "anna@example.test"


@pytest.fixture
def secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SecretStore:
    return isolate_keyring(tmp_path, monkeypatch)


def connect(store, alice, secrets, email: str = ANNA, password: str = "not-checked", **ports: int) -> int:  # noqa: ANN001
    """A mailbox of alice's at the fixed-looking provider Example Mail (created once per test)."""
    try:
        provider = store.providers.get("Example Mail")
    except NotFound:
        provider = display_provider(store, alice, **ports)
    return store.mailboxes.create(alice, email, provider.id, email, Secret(password), secrets).id


async def open_with_e(pilot) -> None:  # noqa: ANN001 - Pilot
    """From the panel, e opens the settings of the highlighted mailbox."""
    await settle(pilot)
    await pilot.press("e")
    await settle(pilot)


def test_settings_page_defaults(snap_compare, tmp_path, store, alice, secrets) -> None:
    """You should see "Mailroom — Settings of anna@example.test" in the header; left, "Load mail into the app"
    with First load "One week", "Load new messages automatically" checked and "Inbox only" chosen, and a
    Folders box saying only the Inbox is loaded; right, "Send mail from the app" with sending on, an empty
    Alias, "Use anna@example.test as default sender" checked, "Use a signature" off over an empty signature
    editor, and Connection: Example Mail, IMAP localhost:993 (implicit TLS), SMTP localhost:465 (implicit
    TLS), the login, a green "● ok" and "Change password…"; under it, "Sharing" with "Access for other users"
    unchecked and "No users or roles have access yet. Press + to add one.". Cancel (esc) and Save (ctrl+s)
    at the bottom right."""
    connect(store, alice, secrets)

    async def run_before(pilot) -> None:
        await open_with_e(pilot)

    app = app_with_file_keyring(tmp_path, store, alice)
    assert snap_compare(app, terminal_size=SNAP_SIZE, run_before=run_before)


def test_settings_page_sending_off_with_signature(snap_compare, tmp_path, store, alice, secrets) -> None:
    """You should see First load "Three months", automatic loading off, "All folders" chosen and the Folders
    box saying every folder is loaded; sending off with the note "Off: this mailbox is not offered as a sender
    anywhere.", the default-sender box unchecked and greyed out, the alias "Анна Петрова (продажи)", "Use a
    signature" on and a three-line Cyrillic signature in the editor."""
    box_id = connect(store, alice, secrets)
    signature = "С уважением,\nАнна Петрова\n— отдел продаж, +7 495 000-00-00"
    draft = SettingsDraft.parse(
        load_period="3months", auto_load=False, folder_scope="all", send_enabled=False,
        alias="Анна Петрова (продажи)", use_signature=True, signature=signature,
    )  # fmt: skip
    store.settings.save(alice, box_id, draft)

    async def run_before(pilot) -> None:
        await open_with_e(pilot)

    app = app_with_file_keyring(tmp_path, store, alice)
    assert snap_compare(app, terminal_size=SNAP_SIZE, run_before=run_before)


def test_settings_page_errors_beside_fields(snap_compare, tmp_path, store, alice, secrets) -> None:
    """You should see anna@example.test's page after Save with "Use a signature" on and no signature: the red
    line "write a signature, or turn the signature off" under the signature editor, which has the focus; the
    default-sender box checked with the note "Replaces boris@example.test as your default sender." under
    it."""
    anna = connect(store, alice, secrets)
    connect(store, alice, secrets, "boris@example.test")
    store.settings.save(alice, anna, SettingsDraft.parse(is_default_sender=False))

    async def run_before(pilot) -> None:
        await open_with_e(pilot)
        page = pilot.app.screen
        page.query_one("#is_default_sender", Checkbox).focus()
        await pilot.press("space")
        page.query_one("#use_signature", Checkbox).focus()
        await pilot.press("space", "ctrl+s")
        await settle(pilot)

    app = app_with_file_keyring(tmp_path, store, alice)
    assert snap_compare(app, terminal_size=SNAP_SIZE, run_before=run_before)


def test_folder_tree_mixed_selection(
    snap_compare, tmp_path, store, alice, secrets, mail_server: ServerInfo, monkeypatch
) -> None:
    """You should see "Selected folders" chosen and the Folders box with "Checking a folder does not include
    its subfolders." over the expanded tree: ☐ INBOX; ☑ Archive with ☐ 2023 and ☐ 2024 under it; Clients
    greyed "holds subfolders only" with ☑ Ромашка and ☐ 北京贸易; ☐ Drafts, Junk, Newsletters; Projects
    (subfolders only) with ☐ Alpha and ☐ Beta holding ☑ Specs; ☐ Sent, ☐ Trash; then Old and under it "☑
    Gone", both marked "⚠ missing on server" in the warning colour. The cursor is on Beta; the footer offers
    space Check / uncheck, e Expand all."""
    with fixed_account(mail_server, "tree@example.test") as account:
        client = account.imap()
        for name in DEFAULT_FOLDERS:
            if name != "INBOX":
                client.create_folder(name)
        client.logout()
        route_to_harness(monkeypatch, store, mail_server)
        box_id = connect(store, alice, secrets, account.email, account.password)
        selection = ("Archive", "Clients/Ромашка", "Projects/Beta/Specs", "Old/Gone")
        store.settings.save(
            alice, box_id, SettingsDraft.parse(folder_scope="selected", selected_folders=selection)
        )

        async def run_before(pilot) -> None:
            await open_with_e(pilot)
            pilot.app.screen.query_one(FolderTree).focus()
            await pilot.press("e")
            await cursor_to(pilot, "Projects/Beta")
            await pilot.pause()

        app = app_with_file_keyring(tmp_path, store, alice)
        assert snap_compare(app, terminal_size=SNAP_SIZE, run_before=run_before)


def test_folders_unreachable(snap_compare, tmp_path, store, alice, secrets) -> None:
    """You should see "Selected folders" chosen and the Folders box saying, in red, "Cannot reach the server",
    then "Connection to IMAP server localhost:9 refused. Check the host and port.", "Selected folders kept:
    Projects/Alpha" and "Press r to try again."; the footer offers r Retry folders. Connection shows IMAP
    localhost:9."""
    box_id = connect(store, alice, secrets, imap_port=9)
    store.settings.save(
        alice, box_id, SettingsDraft.parse(folder_scope="selected", selected_folders=("Projects/Alpha",))
    )

    async def run_before(pilot) -> None:
        await open_with_e(pilot)

    app = app_with_file_keyring(tmp_path, store, alice)
    assert snap_compare(app, terminal_size=SNAP_SIZE, run_before=run_before)


def test_change_password_refused(
    snap_compare, tmp_path, store, alice, secrets, mail_server: ServerInfo, monkeypatch
) -> None:
    """You should see the "Change password · pat@example.test" dialog over the page: the note that the new
    password is checked with IMAP (localhost:993) and SMTP (localhost:465) first, the masked password field
    (dots), and under it, with a red bar, "Wrong password" and "IMAP login for 'pat@example.test' was refused:
    wrong password?"; Cancel and "Check and save" buttons."""
    with fixed_account(mail_server, "pat@example.test") as account:
        route_to_harness(monkeypatch, store, mail_server)
        connect(store, alice, secrets, account.email, account.password)

        async def run_before(pilot) -> None:
            await open_with_e(pilot)
            pilot.app.screen.query_one("#change-password").focus()
            await pilot.press("enter")
            await pilot.pause()
            await pilot.press(*"wrong-guess", "enter")
            await settle(pilot)

        app = app_with_file_keyring(tmp_path, store, alice)
        assert snap_compare(app, terminal_size=SNAP_SIZE, run_before=run_before)


def test_discard_changes_question(snap_compare, tmp_path, store, alice, secrets) -> None:
    """You should see the "Please confirm" dialog over the settings page: "Discard your changes to the
    settings of anna@example.test?", "Nothing is saved; the mailbox keeps the settings it had.", Cancel
    focused and "Discard (y)" in red."""
    connect(store, alice, secrets)

    async def run_before(pilot) -> None:
        await open_with_e(pilot)
        pilot.app.screen.query_one("#alias", Input).focus()
        await pilot.press(*"Anna", "escape")
        await pilot.pause()

    app = app_with_file_keyring(tmp_path, store, alice)
    assert snap_compare(app, terminal_size=SNAP_SIZE, run_before=run_before)
