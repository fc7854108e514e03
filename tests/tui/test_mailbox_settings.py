"""The mailbox settings page driven by keys through Pilot, against the real Dovecot IMAP and submission."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from textual import events
from textual.widgets import Checkbox, Input, Label, RadioSet, Select, Static, TextArea

from screens.change_password import ChangePasswordScreen
from screens.confirm import ConfirmScreen
from screens.folder_tree import CHECKED, MISSING_NOTE, PARENT_NOTE, SUBFOLDERS_NOTE, UNCHECKED, FolderTree
from screens.mailbox_settings import MailboxSettingsScreen
from screens.panel import MailboxesChanged, PanelScreen
from screens.settings_sections import FoldersSection
from store.identity import Actor
from store.mailbox_settings import SettingsDraft
from store.secrets import Secret, SecretStore
from store.service import Store
from store.sync.engine import SyncOptions
from tests.harness.fixtures import MailAccount, ServerInfo
from tests.snapshots.conftest import SNAP_SIZE, settle
from tests.tui.settings_support import (
    app_with_file_keyring,
    connect,
    cursor_to,
    display_provider,
    harness_provider,
    isolate_keyring,
    open_page,
    tree_labels,
)
from tui.app import MailroomApp

pytestmark = pytest.mark.integration
SYNC = SyncOptions(retry_delays=(0.05, 0.1), today=date(2025, 6, 1), timeout=20)


@pytest.fixture
def secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SecretStore:
    return isolate_keyring(tmp_path, monkeypatch)


@pytest.fixture
def app(tmp_path: Path, store: Store, alice: Actor, secrets: SecretStore) -> MailroomApp:
    return app_with_file_keyring(tmp_path, store, alice)


def located(store: Store, mailbox_id: int) -> dict[str, set[int]]:
    """folder → UIDs of the messages stored for the mailbox."""
    conn = sqlite3.connect(store.path)
    try:
        rows = conn.execute(
            "SELECT f.name, l.uid FROM message_locations l JOIN sync_folders f ON f.id = l.folder_id "
            "WHERE l.mailbox_id = ?", (mailbox_id,),
        ).fetchall()  # fmt: skip
    finally:
        conn.close()
    out: dict[str, set[int]] = {}
    for name, uid in rows:
        assert uid not in out.setdefault(name, set()), f"{name} uid {uid} stored twice"
        out[name].add(uid)
    return out


async def choose(pilot: Any, radio_set_id: str, index: int) -> None:
    """Focus a radio set and press its option *index* with the arrow keys and space."""
    radio_set = pilot.app.screen.query_one(f"#{radio_set_id}", RadioSet)
    radio_set.focus()
    await pilot.pause()
    for _ in range(6):
        if radio_set._selected == index:
            break
        await pilot.press("down")
    await pilot.press("space")
    await pilot.pause()


async def choose_period(pilot: Any, label: str) -> None:
    """Open the period list with enter and move to *label*."""
    select = pilot.app.screen.query_one("#load_period", Select)
    select.focus()
    await pilot.press("enter")
    await pilot.pause()
    labels = [text for text, _ in select._options]
    current = labels.index(next(t for t, v in select._options if v == select.value))
    target = labels.index(label)
    await pilot.press(*(["down"] * (target - current) if target > current else ["up"] * (current - target)))
    await pilot.press("enter")
    await pilot.pause()


def shown_error(app: MailroomApp, field: str) -> str:
    label = app.screen.query_one(f"#error-{field}", Label)
    return str(label.render()) if label.has_class("-shown") else ""


async def test_every_setting_is_stored(app, store, alice, secrets, mail_account: MailAccount) -> None:
    """Period, auto-load, scope, alias, default sender and a pasted multi-line signature land in the store."""
    provider = harness_provider(store, alice, mail_account)
    other = display_provider(store, alice, "Other Mail")
    first = store.mailboxes.create(
        alice, "first@example.test", other.id, "first@example.test", Secret("x"), secrets
    )
    box = connect(store, alice, mail_account, provider, secrets)
    store.settings.save(
        alice, first.id, SettingsDraft.of(first).model_copy(update={"is_default_sender": True})
    )
    assert not store.mailboxes.get(alice, box.id).is_default_sender
    signature = "Анна Петрова\n— отдел продаж, 北京\n\n  +7 495 000-00-00\t(доб. 12)\n"
    messages: list[Any] = []
    async with app.run_test(size=SNAP_SIZE, message_hook=messages.append) as pilot:
        page = await open_page(pilot, box.id)
        assert page.sub_title == f"Settings of {mail_account.email}"
        await choose_period(pilot, "Three months")
        page.query_one("#auto_load", Checkbox).focus()
        await pilot.press("space")
        await choose(pilot, "folder_scope", 1)  # All folders
        page.query_one("#alias", Input).focus()
        await pilot.press(*"Anna (Sales)")
        page.query_one("#is_default_sender", Checkbox).focus()
        await pilot.press("space")
        await pilot.pause()
        note = page.query_one("#default-note", Static)
        assert note.display and "Replaces first@example.test" in str(note.render())
        page.query_one("#use_signature", Checkbox).focus()
        await pilot.press("space")
        page.query_one("#signature", TextArea).focus()
        app.post_message(events.Paste(signature))  # as the terminal delivers a bracketed paste
        await pilot.pause()
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, PanelScreen)
        assert f"Saved the settings of {mail_account.email}." in [n.message for n in app._notifications]
    assert any(isinstance(m, MailboxesChanged) for m in messages)
    saved = store.mailboxes.get(alice, box.id)
    assert (saved.load_period, saved.auto_load, saved.folder_scope) == ("3months", False, "all")
    assert (saved.alias, saved.is_default_sender, saved.use_signature) == ("Anna (Sales)", True, True)
    assert saved.signature == signature
    assert not store.mailboxes.get(alice, first.id).is_default_sender


async def test_sending_off_is_not_offered_and_cannot_stay_default(
    app, store, alice, secrets, mail_account
) -> None:
    box = connect(store, alice, mail_account, harness_provider(store, alice, mail_account), secrets)
    async with app.run_test(size=SNAP_SIZE) as pilot:
        page = await open_page(pilot, box.id)
        default = page.query_one("#is_default_sender", Checkbox)
        assert default.value and not default.disabled
        page.query_one("#send_enabled", Checkbox).focus()
        await pilot.press("space")
        await pilot.pause()
        assert default.disabled and not default.value
        assert page.query_one("#send-off-note").display
        await pilot.press("ctrl+s")
        await settle(pilot)
    saved = store.mailboxes.get(alice, box.id)
    assert not saved.send_enabled and not saved.is_default_sender
    assert box.id not in [b.id for b in store.mailboxes.sendable(alice)]


async def test_errors_appear_beside_their_fields(app, store, alice, secrets, mail_account) -> None:
    box = connect(store, alice, mail_account, harness_provider(store, alice, mail_account), secrets)
    async with app.run_test(size=SNAP_SIZE) as pilot:
        page = await open_page(pilot, box.id)
        page.query_one("#use_signature", Checkbox).focus()
        await pilot.press("space", "ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, MailboxSettingsScreen)
        assert shown_error(app, "signature") == "write a signature, or turn the signature off"
        assert app.screen.focused is page.query_one("#signature", TextArea)
        await pilot.press(*"Best, Anna")
        assert shown_error(app, "signature") == ""
        await choose(pilot, "folder_scope", 2)  # Selected folders, none checked
        await settle(pilot)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "choose at least one folder" in shown_error(app, "selected_folders")
        assert app.screen.focused is page.query_one(FolderTree)
    assert store.mailboxes.get(alice, box.id).signature == ""


async def test_nested_folders_selected_in_the_tree_are_exactly_what_sync_loads(
    app, store, alice, secrets, corpus_account: MailAccount
) -> None:
    """Archive (not its subfolders), Projects/Beta/Specs, Clients/Ромашка; then period and scope change."""
    corpus = corpus_account.corpus
    assert corpus is not None
    box = connect(store, alice, corpus_account, harness_provider(store, alice, corpus_account), secrets)
    chosen = ["Archive", "Projects/Beta/Specs", "Clients/Ромашка"]
    async with app.run_test(size=SNAP_SIZE) as pilot:
        page = await open_page(pilot, box.id)
        await choose_period(pilot, "Six months")
        await choose(pilot, "folder_scope", 2)
        await settle(pilot)
        assert page.query_one(FoldersSection).state == "tree"
        assert str(page.query_one("#subfolders-note", Static).render()) == SUBFOLDERS_NOTE
        page.query_one(FolderTree).focus()
        await pilot.press("e")
        labels = tree_labels(pilot)
        assert labels["Clients"].strip().startswith("Clients") and PARENT_NOTE in labels["Clients"]
        assert labels["Clients/Ромашка"] == f"{UNCHECKED} Ромашка"
        await cursor_to(pilot, "Clients")
        await pilot.press("space")  # a \Noselect parent cannot be checked
        for name in chosen:
            await cursor_to(pilot, name)
            await pilot.press("space")
        await pilot.pause()
        labels = tree_labels(pilot)
        assert labels["Archive"] == f"{CHECKED} Archive" and labels["Archive/2024"] == f"{UNCHECKED} 2024"
        assert labels["Projects/Beta"] == f"{UNCHECKED} Beta"
        assert page.query_one(FoldersSection).selected == tuple(sorted(chosen))
        await pilot.press("ctrl+s")
        await settle(pilot)
        saved = store.mailboxes.get(alice, box.id)
        assert (saved.folder_scope, saved.load_period) == ("selected", "6months")
        assert saved.selected_folders == tuple(sorted(chosen))
        assert (await asyncio.to_thread(store.sync.run, saved, secrets, None, SYNC)).ok
        first = located(store, box.id)
        assert set(first) <= set(chosen) | {"Sent"} and first  # outgoing mail is always loaded
        assert all(len(first[f]) <= corpus.folders[f] for f in first)

        page = await open_page(pilot, box.id)  # the same session: all mail, and Alpha instead of Archive
        await choose_period(pilot, "All mail")
        page.query_one(FolderTree).focus()
        await pilot.press("e")
        for name in ("Archive", "Projects/Alpha"):
            await cursor_to(pilot, name)
            await pilot.press("space")
        await pilot.press("ctrl+s")
        await settle(pilot)
        summary = await asyncio.to_thread(
            store.sync.run, store.mailboxes.get(alice, box.id), secrets, None, SYNC
        )
        assert summary.ok, summary.error
    now = located(store, box.id)
    expected = ["Projects/Beta/Specs", "Clients/Ромашка", "Projects/Alpha", "Sent"]
    assert {f: len(uids) for f, uids in now.items()} == {f: corpus.folders[f] for f in expected}
    for name in first:
        if name in now:
            assert first[name] <= now[name]  # what was loaded stays, under the same UIDs, once


async def test_a_selected_folder_deleted_on_the_server_is_shown_missing(
    app, store, alice, secrets, mail_account
) -> None:
    client = mail_account.imap()
    for name in ("Projects/Alpha", "Projects/Gamma"):
        client.create_folder(name)
    client.logout()
    box = connect(store, alice, mail_account, harness_provider(store, alice, mail_account), secrets)
    selection = ("INBOX", "Projects/Alpha", "Projects/Gamma")
    store.settings.save(
        alice, box.id, SettingsDraft.parse(folder_scope="selected", selected_folders=selection)
    )
    client = mail_account.imap()
    client.delete_folder("Projects/Gamma")
    client.logout()
    async with app.run_test(size=SNAP_SIZE) as pilot:
        page = await open_page(pilot, box.id)
        assert page.query_one(FoldersSection).state == "tree"
        labels = tree_labels(pilot)
        assert labels["Projects/Gamma"] == f"{CHECKED} Gamma  {MISSING_NOTE}"
        assert labels["Projects/Alpha"] == f"{CHECKED} Alpha"
        await pilot.press("ctrl+s")  # kept as it is, not silently dropped
        await settle(pilot)
        assert store.mailboxes.get(alice, box.id).selected_folders == selection
        page = await open_page(pilot, box.id)
        page.query_one(FolderTree).focus()
        await cursor_to(pilot, "Projects/Gamma")
        await pilot.press("space")
        assert tree_labels(pilot)["Projects/Gamma"] == f"{UNCHECKED} Gamma  {MISSING_NOTE}"
        await pilot.press("ctrl+s")
        await settle(pilot)
    assert store.mailboxes.get(alice, box.id).selected_folders == ("INBOX", "Projects/Alpha")


async def test_unreachable_server_says_so_and_keeps_the_selection(
    app, store, alice, secrets, mail_account, monkeypatch
) -> None:
    provider = display_provider(store, alice, imap_port=9)  # nothing listens on the discard port
    box = connect(store, alice, mail_account, provider, secrets)
    store.settings.save(
        alice, box.id, SettingsDraft.parse(folder_scope="selected", selected_folders=("Projects",))
    )
    attempts: list[str] = []
    list_folders = store.settings.server_folders
    monkeypatch.setattr(
        store.settings, "server_folders", lambda *a: attempts.append("list") or list_folders(*a)
    )
    async with app.run_test(size=SNAP_SIZE) as pilot:
        page = await open_page(pilot, box.id)
        section = page.query_one(FoldersSection)
        assert section.state == "error" and len(attempts) == 1
        text = str(section.query_one("#folders-error", Static).render())
        assert "Cannot reach the server" in text and "localhost:9" in text and "kept: Projects" in text
        assert app.screen.active_bindings["r"].binding.action == "retry_folders"
        page.query_one("#auto_load", Checkbox).focus()
        await pilot.press("r")
        await settle(pilot)
        assert section.state == "error" and len(attempts) == 2
        await pilot.press("space", "ctrl+s")
        await settle(pilot)
    saved = store.mailboxes.get(alice, box.id)
    assert saved.selected_folders == ("Projects",) and not saved.auto_load


async def test_cancel_discards_after_asking(app, store, alice, secrets, mail_account) -> None:
    box = connect(store, alice, mail_account, harness_provider(store, alice, mail_account), secrets)
    async with app.run_test(size=SNAP_SIZE) as pilot:
        await open_page(pilot, box.id)
        await pilot.press("escape")  # nothing changed: leaves at once
        await pilot.pause()
        assert isinstance(app.screen, PanelScreen)
        page = await open_page(pilot, box.id)
        page.query_one("#alias", Input).focus()
        await pilot.press(*"Temp")
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert "Discard your changes" in str(app.screen.query_one("#question", Static).render())
        await pilot.press("n")  # keep editing
        await pilot.pause()
        assert app.screen is page and page.query_one("#alias", Input).value == "Temp"
        await pilot.press("escape", "y")
        await pilot.pause()
        assert isinstance(app.screen, PanelScreen)
    assert store.mailboxes.get(alice, box.id).alias == ""


async def test_change_password_wrong_then_right(
    app, store, alice, secrets, mail_account, mail_server: ServerInfo
) -> None:
    """The stored password is stale; a typo is refused live and the old one stays; the right one is stored."""
    box = connect(
        store, alice, mail_account, harness_provider(store, alice, mail_account), secrets, "stale-password"
    )
    store.mailboxes.set_status(box.id, "needs_attention", "The server rejected the password.")
    async with app.run_test(size=SNAP_SIZE) as pilot:
        page = await open_page(pilot, box.id)
        assert "Needs attention" in str(page.query_one("#status", Static).render())
        page.query_one("#change-password").focus()
        await pilot.press("enter")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, ChangePasswordScreen)
        assert dialog.query_one("#password", Input).password
        await pilot.press(*"typo-password", "enter")
        await pilot.pause()
        assert dialog.checking and dialog.query_one("#checking").has_class("-shown")
        await settle(pilot)
        outcome = str(dialog.query_one("#outcome", Static).render())
        assert outcome.startswith("Wrong password") and "refused" in outcome
        assert secrets.get(box.secret_ref).reveal() == "stale-password"
        field = dialog.query_one("#password", Input)
        field.value = ""
        await pilot.press(*mail_account.password, "enter")
        await settle(pilot)
        assert app.screen is page
        assert "● ok" in str(page.query_one("#status", Static).render())
        assert "Password changed" in [n.title for n in app._notifications]
    assert secrets.get(box.secret_ref).reveal() == mail_account.password
    assert store.mailboxes.get(alice, box.id).status == "ok"


async def test_reached_from_the_account_menu(app, store, alice, secrets, mail_account) -> None:
    box = connect(store, alice, mail_account, harness_provider(store, alice, mail_account), secrets)
    async with app.run_test(size=SNAP_SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a", "down", "enter")  # Account ▸ Edit settings ▸
        await pilot.pause()
        await pilot.press("enter")  # the mailbox, highlighted under "◂ Back"
        await settle(pilot)
        assert isinstance(app.screen, MailboxSettingsScreen)
        assert app.screen.mailbox_id == box.id
