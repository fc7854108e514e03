"""What a worker's answer does when it arrives late (another screen on top) or when the worker fails."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.command import CommandPalette
from textual.widgets import Button, Input, Static
from textual.worker import WorkerFailed

from screens.change_password import ChangePasswordScreen
from screens.compose import ComposeScreen
from screens.confirm import ConfirmScreen
from screens.panel import PanelScreen
from screens.wizard_address import AddressStep
from screens.wizard_authorize import AuthorizeStep
from screens.wizard_done import DoneStep
from store import accounts as accounts_module
from store.identity import Actor
from store.secrets import SecretStore, open_secret_store
from store.service import Store
from store.sync.events import SyncSummary
from tests.snapshots.conftest import FIXED_NOW, SNAP_SIZE, add_mailbox
from tests.tui.compose_support import add_sender
from tests.tui.mail_support import Mail, insert_mail
from tui.app import MailroomApp
from tui.sync_runner import MailboxSyncFinished
from tui.widgets.message_list import PAGE_SIZE, MessageList


@pytest.fixture(autouse=True)
def private_keyring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The wizard stores passwords in a file keyring under tmp_path."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))


@pytest.fixture
def secrets(tmp_path: Path) -> SecretStore:
    return open_secret_store("file", data_dir=tmp_path / "sd", config_dir=tmp_path / "sc")


def titles(app: MailroomApp) -> list[str]:
    return [n.title for n in app._notifications]


def messages(app: MailroomApp) -> list[str]:
    return [n.message for n in app._notifications]


async def settle(pilot: Any) -> None:
    """Let every worker finish (a failure is what some tests are about) and the screen catch up."""
    await pilot.pause()
    try:
        await pilot.app.workers.wait_for_complete()
    except WorkerFailed:
        pass
    await pilot.pause()


async def until(pilot: Any, condition: Callable[[], bool], what: str) -> None:
    for _ in range(400):
        if condition():
            return
        await pilot.pause(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def blocked(release: threading.Event, then: Callable[..., Any]) -> Callable[..., Any]:
    """*then*, called only once *release* is set."""

    def wait(*args: Any, **kwargs: Any) -> Any:
        assert release.wait(20), "never released"
        return then(*args, **kwargs)

    return wait


def password_dialog(store: Store, alice: Actor, secrets: SecretStore, box_id: int) -> ChangePasswordScreen:
    box = store.mailboxes.get(alice, box_id)
    provider = store.providers.get(box.provider_id)
    return ChangePasswordScreen(store, alice, box, provider, lambda: secrets)


def list_text(lst: MessageList) -> str:
    return " ".join("".join(s.text for s in lst.render_line(y)).strip() for y in range(4))


# -- 1. a late answer closes its own screen, not the one on top ---------------------------------------


async def test_logins_finishing_under_the_command_palette_close_the_login_step(make_app, monkeypatch) -> None:
    release = threading.Event()

    def authorize(provider, login, secret, cancel=None, progress=None, timeout=None) -> None:  # noqa: ANN001
        progress("imap")
        assert release.wait(20)
        progress("smtp")

    monkeypatch.setattr(accounts_module, "authorize", authorize)
    app = make_app()
    try:
        async with app.run_test(size=SNAP_SIZE) as pilot:
            await settle(pilot)
            await pilot.press("n", *"ann@gmail.com", "enter")
            await settle(pilot)
            await pilot.press("enter")  # the detected provider
            await pilot.pause()
            await pilot.press(*"hunter22", "enter")
            await until(pilot, lambda: isinstance(app.screen, AuthorizeStep), "the login step")
            step = app.screen
            await pilot.press("ctrl+p")
            await until(pilot, lambda: isinstance(app.screen, CommandPalette), "the palette")
            release.set()
            await settle(pilot)
            assert step.state == "done"
            assert isinstance(app.screen, CommandPalette)  # the user's palette stays open
            assert step in app.screen_stack
            await pilot.press("escape")
            await settle(pilot)
            assert isinstance(app.screen, DoneStep)
            assert step not in app.screen_stack
            assert not any(isinstance(s, CommandPalette) for s in app.screen_stack)
    finally:
        release.set()


async def test_password_checked_under_the_command_palette_closes_the_dialog(
    make_app, store, alice, secrets
) -> None:
    box_id = add_mailbox(store, alice, "alice@gmail.com")
    release = threading.Event()
    store.settings.change_password = blocked(  # type: ignore[method-assign]
        release, lambda actor, box_id, *rest: store.mailboxes.get(actor, box_id)
    )
    results: list[Any] = []
    app = make_app()
    try:
        async with app.run_test(size=SNAP_SIZE) as pilot:
            await settle(pilot)
            dialog = password_dialog(store, alice, secrets, box_id)
            app.push_screen(dialog, results.append)
            await pilot.pause()
            await pilot.press(*"new-password", "enter")
            await pilot.pause()
            assert dialog.checking
            await pilot.press("ctrl+p")
            await until(pilot, lambda: isinstance(app.screen, CommandPalette), "the palette")
            release.set()
            await settle(pilot)
            assert isinstance(app.screen, CommandPalette) and results == []
            await pilot.press("escape")
            await settle(pilot)
            assert isinstance(app.screen, PanelScreen)
            assert [r.id for r in results] == [box_id]
    finally:
        release.set()


# -- 2. esc while the message is being queued --------------------------------------------------------


async def test_esc_while_queueing_does_not_offer_to_discard(make_app, store, alice) -> None:
    add_sender(store, alice, "alice@gmail.com", "Alice Moreau")
    release = threading.Event()
    store.outbox.queue = blocked(release, store.outbox.queue)  # type: ignore[method-assign]
    app = make_app()
    app.sync_runner.auto_load = False
    try:
        async with app.run_test(size=SNAP_SIZE) as pilot:
            await settle(pilot)
            await pilot.press("c")
            await settle(pilot)
            compose = app.screen
            assert isinstance(compose, ComposeScreen)
            await pilot.press(*"bruno@acme.example", "tab", "tab", "tab", *"Figures", "ctrl+s")
            await pilot.pause()
            assert compose.sending
            await pilot.press("escape")
            await pilot.pause()
            assert app.screen is compose and not isinstance(app.screen, ConfirmScreen)
            assert any("being queued" in m for m in messages(app))
            release.set()
            await settle(pilot)
            assert isinstance(app.screen, PanelScreen)
        [item] = store.outbox.list(alice)
        assert item.subject == "Figures"
    finally:
        release.set()


# -- 3. a failed worker ends in a clear, usable state ----------------------------------------------


async def test_unexpected_failure_of_the_password_check_frees_the_dialog(
    make_app, store, alice, secrets
) -> None:
    box_id = add_mailbox(store, alice, "alice@gmail.com")

    def locked(*args: Any) -> None:
        raise sqlite3.OperationalError("database is locked")

    store.settings.change_password = locked  # type: ignore[method-assign]
    app = make_app()
    async with app.run_test(size=SNAP_SIZE) as pilot:
        await settle(pilot)
        dialog = password_dialog(store, alice, secrets, box_id)
        app.push_screen(dialog)
        await pilot.pause()
        await pilot.press(*"new-password", "enter")
        await settle(pilot)
        assert not dialog.checking
        assert not dialog.query_one("#password", Input).disabled
        assert not dialog.query_one("#check", Button).disabled
        assert "database is locked" in str(dialog.query_one("#outcome", Static).render())
        assert "Change password failed" in titles(app)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, PanelScreen)


async def test_unexpected_failure_in_a_wizard_step_is_reported(make_app, store) -> None:
    def broken(email: str) -> None:
        raise RuntimeError("disk on fire")

    app = make_app()
    async with app.run_test(size=SNAP_SIZE) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await pilot.pause()
        step = app.screen
        assert isinstance(step, AddressStep)
        step.accounts.ensure_not_connected = broken  # type: ignore[method-assign]
        await pilot.press(*"ann@gmail.com", "enter")
        await settle(pilot)
        assert "Find the provider failed" in titles(app)
        assert not step.busy


async def test_unexpected_failure_of_the_logins_allows_back_and_retry(make_app, monkeypatch) -> None:
    calls: list[str] = []

    def authorize(provider, login, secret, cancel=None, progress=None, timeout=None) -> None:  # noqa: ANN001
        progress("imap")
        calls.append(login)
        if len(calls) == 1:
            raise RuntimeError("disk on fire")
        progress("smtp")

    monkeypatch.setattr(accounts_module, "authorize", authorize)
    app = make_app()
    async with app.run_test(size=SNAP_SIZE) as pilot:
        await settle(pilot)
        await pilot.press("n", *"ann@gmail.com", "enter")
        await settle(pilot)
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press(*"hunter22", "enter")
        await settle(pilot)
        step = app.screen
        assert isinstance(step, AuthorizeStep)
        assert step.state == "failed" and step.marks["imap"] == "fail"
        assert "disk on fire" in str(step.query_one("#outcome", Static).render())
        assert "Authorize failed" in titles(app)
        await pilot.press("r")
        await settle(pilot)
        assert isinstance(app.screen, DoneStep)


async def test_a_failed_count_says_so_and_the_next_sync_reads_again(make_app, store, alice) -> None:
    box = add_mailbox(store, alice, "alice@gmail.com")
    insert_mail(store, box, [Mail("Hello", "Bruno", "bruno@acme.example", FIXED_NOW)])
    count = store.messages.count

    def locked(*args: Any) -> int:
        raise sqlite3.OperationalError("database is locked")

    store.messages.count = locked  # type: ignore[method-assign]
    app = make_app()
    app.sync_runner.auto_load = False
    async with app.run_test(size=SNAP_SIZE) as pilot:
        await settle(pilot)
        lst = app.screen.query_one(MessageList)
        assert "Loading messages" not in list_text(lst)
        assert "database is locked" in list_text(lst)
        assert "Load messages failed" in titles(app)
        store.messages.count = count  # type: ignore[method-assign]
        app.screen.post_message(MailboxSyncFinished(SyncSummary(box, "alice@gmail.com")))
        await settle(pilot)
        assert lst.total == 1 and lst.row_at(0).subject == "Hello"


async def test_a_failed_page_is_read_again_when_it_comes_into_view(make_app, store, alice) -> None:
    box = add_mailbox(store, alice, "alice@gmail.com")
    insert_mail(store, box, [
        Mail(f"Message {n}", "Bruno", "bruno@acme.example", FIXED_NOW) for n in range(1, PAGE_SIZE * 4)
    ])  # fmt: skip
    app = make_app()
    app.sync_runner.auto_load = False
    async with app.run_test(size=SNAP_SIZE) as pilot:
        await settle(pilot)
        lst = app.screen.query_one(MessageList)
        lst.focus()
        read = store.messages.list

        def locked(*args: Any, **kwargs: Any) -> list[Any]:
            raise sqlite3.OperationalError("database is locked")

        store.messages.list = locked  # type: ignore[method-assign]
        await pilot.press("end")
        await settle(pilot)
        assert lst.highlighted is None
        assert "Load messages failed" in titles(app)
        store.messages.list = read  # type: ignore[method-assign]
        await pilot.press("pageup")  # still on the page that failed
        await settle(pilot)
        assert lst.highlighted is not None and lst.highlighted.subject.startswith("Message ")
