"""Sync from the panel against the harness Dovecot: workers, progress messages, errors, responsiveness."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from sqlalchemy import update
from textual.message import Message
from textual.widgets import OptionList, Static, TextArea
from textual.worker import WorkerState

from screens.message_view import MessageViewScreen
from screens.panel import PanelScreen
from store import db
from store.identity import Actor
from store.mailbox_settings import SettingsDraft
from store.mailboxes import Mailbox
from store.schema import mailboxes
from store.secrets import Secret, SecretStore, open_secret_store
from store.service import Store
from store.sync.engine import SyncOptions
from tests.harness.fixtures import MailAccount
from tests.integration.sync_support import append, simple_message
from tests.snapshots.conftest import SNAP_SIZE, settle
from tui.app import MailroomApp
from tui.sync_runner import (
    MailboxNewMail,
    MailboxSyncFinished,
    MailboxSyncProgress,
    MailboxSyncQueued,
    MailboxSyncStarted,
)
from tui.widgets.account_menu import AccountMenu
from tui.widgets.message_list import MessageList

pytestmark = pytest.mark.integration

TEST_OPTIONS = SyncOptions(main_lane=False, retry_delays=(0.05,), timeout=20)


def connect(
    store: Store, admin: Actor, account: MailAccount, secrets: SecretStore, password: str = ""
) -> Mailbox:
    """Connect the harness account as the admin's mailbox, loading every folder and period."""
    provider = store.providers.add(admin, account.provider_draft("Harness"))
    box = store.mailboxes.create(
        admin, account.email, provider.id, account.email, Secret(password or account.password), secrets
    )
    draft = SettingsDraft.of(box).model_copy(update={"load_period": "all", "folder_scope": "all"})
    return store.settings.save(admin, box.id, draft)


@pytest.fixture
def secrets(tmp_path: Path) -> SecretStore:
    """An encrypted file keyring under the test's folder."""
    return open_secret_store("file", data_dir=tmp_path / "sd", config_dir=tmp_path / "sc")


def sync_app(make_app: Any, secrets: SecretStore) -> MailroomApp:
    """The app with the test keyring, fast retries and no automatic loading (tests press s instead)."""
    app = make_app()
    app.secrets = secrets
    app.sync_runner.options = TEST_OPTIONS
    app.sync_runner.auto_load = False
    return app


async def drain(pilot: Any) -> None:
    """Wait until every worker finished, including those started by workers that finished meanwhile."""
    app = pilot.app
    for _ in range(100):
        await pilot.pause()
        running = [w for w in app.workers if not w.is_finished]
        if not running:
            break
        await app.workers.wait_for_complete(running)
    await pilot.pause()


def prompt_text(app: MailroomApp, mailbox_id: int) -> str:
    """The mailbox list's entry for *mailbox_id* as plain text."""
    option_list = app.screen.query_one("#mailbox-list", OptionList)
    console = Console(width=44, record=True, file=open("/dev/null", "w"))  # noqa: SIM115 - closed by GC
    console.print(option_list.get_option(str(mailbox_id)).prompt)
    return console.export_text()


def of_type(messages: list[Message], kind: type) -> list[Any]:
    return [m for m in messages if isinstance(m, kind)]


async def test_sync_key_loads_messages_newest_first(make_app, store, alice, corpus_account, secrets) -> None:
    box = connect(store, alice, corpus_account, secrets)
    app = sync_app(make_app, secrets)
    posted: list[Message] = []
    async with app.run_test(size=SNAP_SIZE, message_hook=posted.append) as pilot:
        await settle(pilot)
        assert "No messages loaded for" in str(app.screen.query_one(MessageList).empty_text)
        await pilot.press("s")
        await drain(pilot)
        finished = of_type(posted, MailboxSyncFinished)
        assert [f.summary.ok for f in finished] == [True], finished[0].summary
        assert finished[0].summary.new > 0
        assert of_type(posted, MailboxSyncQueued)[0].mailbox_id == box.id
        assert of_type(posted, MailboxSyncStarted)[0].first_load is True
        progress = of_type(posted, MailboxSyncProgress)
        assert progress and all(p.mailbox_id == box.id for p in progress)
        assert {p.phase for p in progress} == {"headers", "bodies"}
        assert progress[-1].done == progress[-1].total > 0

        lst = app.screen.query_one(MessageList)
        expected = store.messages.list(alice, box.id, limit=20)
        assert lst.total == store.messages.count(alice, box.id) > 0
        shown = [lst.row_at(i) for i in range(20)]
        assert [r.location_id for r in shown] == [r.location_id for r in expected]
        assert [r.sent_at for r in shown] == sorted((r.sent_at for r in shown), reverse=True)
        assert "synced just now" in prompt_text(app, box.id)
        assert app.screen.query_one(MessageList).border_subtitle == f"{lst.total:,}"


async def test_enter_opens_a_message_with_its_body(make_app, store, alice, corpus_account, secrets) -> None:
    box = connect(store, alice, corpus_account, secrets)
    app = sync_app(make_app, secrets)
    async with app.run_test(size=SNAP_SIZE) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await drain(pilot)
        app.screen.query_one(MessageList).focus()
        await pilot.press("down", "enter")
        await drain(pilot)
        assert isinstance(app.screen, MessageViewScreen)
        second = store.messages.list(alice, box.id, limit=2)[1]
        detail = store.messages.get(alice, second.message_id)
        assert detail.body_loaded and detail.body_text.strip()
        assert app.screen.query_one("#message-body", TextArea).text == detail.body_text
        head = str(app.screen.query_one("#message-head", Static).render())
        assert detail.from_address in head and second.folder in head
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, PanelScreen)


async def test_wrong_password_shows_needs_attention(make_app, store, alice, mail_account, secrets) -> None:
    box = connect(store, alice, mail_account, secrets, password="not-the-password")
    app = sync_app(make_app, secrets)
    posted: list[Message] = []
    async with app.run_test(size=SNAP_SIZE, message_hook=posted.append) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await drain(pilot)
        (finished,) = of_type(posted, MailboxSyncFinished)
        assert not finished.summary.ok and finished.summary.error_kind == "auth"
        assert store.mailboxes.get(alice, box.id).status == "needs_attention"
        text = prompt_text(app, box.id)
        assert "Needs attention:" in text and "never synced" in text
        assert "1 need attention" in str(app.screen.query_one("#mailbox-summary", Static).render())


async def test_ui_answers_keys_while_a_sync_runs(
    make_app, store, alice, corpus_account, secrets, tmp_path
) -> None:
    box = connect(store, alice, corpus_account, secrets)
    gate, password_file = tmp_path / "gate", tmp_path / "password"
    password_file.write_text(corpus_account.password + "\n")
    command = f"while [ ! -e {gate} ]; do sleep 0.05; done; cat {password_file}"
    with db.write(store.engine) as conn:  # the worker blocks in the password command until the gate opens
        conn.execute(update(mailboxes).where(mailboxes.c.id == box.id).values(password_command=command))
    app = sync_app(make_app, secrets)
    posted: list[Message] = []
    async with app.run_test(size=SNAP_SIZE, message_hook=posted.append) as pilot:
        await settle(pilot)
        await pilot.press("s")
        for _ in range(200):
            await pilot.pause(0.02)
            if of_type(posted, MailboxSyncStarted):
                break
        (worker,) = [w for w in app.workers if w.group == "sync"]
        assert worker.state == WorkerState.RUNNING
        assert "First load · connecting…" in prompt_text(app, box.id)
        await pilot.press("a")
        assert app.screen.query_one(AccountMenu).has_class("-open")
        await pilot.press("escape")
        await pilot.press("s")  # a second Sync now of a running mailbox starts nothing
        await pilot.pause()
        assert [w.group for w in app.workers if not w.is_finished].count("sync") == 1
        assert worker.state == WorkerState.RUNNING
        gate.touch()
        await drain(pilot)
        (finished,) = of_type(posted, MailboxSyncFinished)
        assert finished.summary.ok
        assert app.screen.query_one(MessageList).total == store.messages.count(alice, box.id) > 0


async def test_cancelling_the_worker_stops_the_engine(
    make_app, store, alice, corpus_account, secrets, tmp_path
) -> None:
    """Quitting cancels the workers; the engine stops at its next progress event and frees the lock."""
    from store.sync.locks import MailboxLock, SyncBusy

    box = connect(store, alice, corpus_account, secrets)
    gate, password_file = tmp_path / "gate", tmp_path / "password"
    password_file.write_text(corpus_account.password + "\n")
    command = f"while [ ! -e {gate} ]; do sleep 0.05; done; cat {password_file}"
    with db.write(store.engine) as conn:
        conn.execute(update(mailboxes).where(mailboxes.c.id == box.id).values(password_command=command))
    app = sync_app(make_app, secrets)
    posted: list[Message] = []
    async with app.run_test(size=SNAP_SIZE, message_hook=posted.append) as pilot:
        await settle(pilot)
        await pilot.press("s")
        for _ in range(200):
            await pilot.pause(0.02)
            if of_type(posted, MailboxSyncStarted):
                break
        (worker,) = [w for w in app.workers if w.group == "sync"]
        worker.cancel()
        gate.touch()
        for _ in range(300):  # the thread outlives the cancelled worker until the engine notices
            await pilot.pause(0.05)
            if of_type(posted, MailboxSyncFinished):
                break
        (finished,) = of_type(posted, MailboxSyncFinished)
        assert finished.summary.error_kind == "cancelled"
        for _ in range(100):
            try:
                MailboxLock(store.path, box.id).acquire().release()
                break
            except SyncBusy:
                await pilot.pause(0.05)
        else:
            raise AssertionError("the engine kept the mailbox lock")
        stored = store.messages.count(alice, box.id)
        assert stored < corpus_account.corpus.total_messages
        after = store.mailboxes.get(alice, box.id)
        assert after.status == "ok" and after.last_sync_at is None
        assert "Syncing" not in prompt_text(app, box.id) and "never synced" in prompt_text(app, box.id)


async def until(pilot: Any, condition: Callable[[], object], timeout: float = 15.0) -> None:
    """Let the app run until *condition* holds, or fail after *timeout* seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await pilot.pause(0.05)


def idle_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("idle-")]


async def test_idle_brings_new_mail_into_the_list_without_a_key(
    make_app, store, alice, mail_account, secrets
) -> None:
    box = connect(store, alice, mail_account, secrets)
    append(mail_account, "INBOX", simple_message(1, subject="Loaded before"))
    assert store.sync.run(box, secrets, None, TEST_OPTIONS).ok
    app = make_app()
    app.secrets, app.sync_runner.options = secrets, TEST_OPTIONS
    app.sync_runner.watch_delay = 0  # the app waits TICK_SECONDS before watching; the interval is 15 min
    posted: list[Message] = []
    async with app.run_test(size=SNAP_SIZE, message_hook=posted.append) as pilot:
        await settle(pilot)
        lst = app.screen.query_one(MessageList)
        assert lst.total == 1
        await until(pilot, lambda: (w := app.sync_runner.idle.get(box.id)) is not None and w.idling.is_set())
        watcher = app.sync_runner.idle.get(box.id)
        append(mail_account, "INBOX", simple_message(2, subject="Arrived while open"))
        newest = lambda: getattr(lst.row_at(0), "subject", "")  # noqa: E731
        await until(pilot, lambda: lst.total == 2 and newest() == "Arrived while open")
        assert [m.mailbox_id for m in of_type(posted, MailboxNewMail)] == [box.id]
        (finished,) = of_type(posted, MailboxSyncFinished)
        assert finished.summary.ok and finished.summary.new == 1

        # Turning automatic loading off ends the watch; turning it on starts a new one.
        draft = SettingsDraft.of(store.mailboxes.get(alice, box.id))
        store.settings.save(alice, box.id, draft.model_copy(update={"auto_load": False}))
        app.mailboxes_changed()
        await until(pilot, lambda: app.sync_runner.idle.get(box.id) is None and watcher.finished.is_set())
        store.settings.save(alice, box.id, draft)
        app.mailboxes_changed()
        await until(pilot, lambda: (w := app.sync_runner.idle.get(box.id)) is not None and w.idling.is_set())
        last = app.sync_runner.idle.get(box.id)
        assert last is not watcher
    deadline = time.monotonic() + 5
    while idle_threads():  # quitting stops the watchers; each logs out and its thread ends
        assert time.monotonic() < deadline, idle_threads()
        await asyncio.sleep(0.05)
    assert last.state == "stopped"


async def test_new_mail_during_a_sync_loads_once_more_after_it(
    make_app, store, alice, mail_account, secrets, tmp_path
) -> None:
    box = connect(store, alice, mail_account, secrets)
    gate, password_file = tmp_path / "gate", tmp_path / "password"
    password_file.write_text(mail_account.password + "\n")
    command = f"while [ ! -e {gate} ]; do sleep 0.05; done; cat {password_file}"
    with db.write(store.engine) as conn:  # the sync waits in the password command until the gate opens
        conn.execute(update(mailboxes).where(mailboxes.c.id == box.id).values(password_command=command))
    app = make_app()
    app.secrets, app.sync_runner.options = secrets, TEST_OPTIONS
    posted: list[Message] = []
    async with app.run_test(size=SNAP_SIZE, message_hook=posted.append) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await until(pilot, lambda: of_type(posted, MailboxSyncStarted))
        app.screen.post_message(MailboxNewMail(box.id))  # as a watcher would: twice, while it runs
        app.screen.post_message(MailboxNewMail(box.id))
        await pilot.pause()
        append(mail_account, "INBOX", simple_message(7, subject="During the sync"))
        gate.touch()
        await drain(pilot)
        finished = of_type(posted, MailboxSyncFinished)
        assert [f.summary.ok for f in finished] == [True, True]  # one more round, not two, not in parallel
        assert [s.first_load for s in of_type(posted, MailboxSyncStarted)] == [True, False]
        assert len(of_type(posted, MailboxSyncQueued)) == 1  # in the same worker
        assert app.screen.query_one(MessageList).total == 1


async def test_a_mailbox_another_process_syncs_is_waited_for_then_loaded(
    make_app, store, alice, mail_account, secrets
) -> None:
    from store.sync.locks import MailboxLock

    box = connect(store, alice, mail_account, secrets)
    append(mail_account, "INBOX", simple_message(8, subject="Loaded after the wait"))
    app = sync_app(make_app, secrets)
    posted: list[Message] = []
    held = MailboxLock(store.path, box.id).acquire()  # as `mailroom sync` holds it while it syncs
    try:
        async with app.run_test(size=SNAP_SIZE, message_hook=posted.append) as pilot:
            await settle(pilot)
            await pilot.press("s")
            await until(pilot, lambda: "Another process is syncing it" in prompt_text(app, box.id))
            assert [f.summary.error_kind for f in of_type(posted, MailboxSyncFinished)] == ["busy"]
            assert "failed" not in prompt_text(app, box.id)
            held.release()
            await until(pilot, lambda: len(of_type(posted, MailboxSyncFinished)) == 2)
            await drain(pilot)
            last = of_type(posted, MailboxSyncFinished)[-1].summary
            assert last.ok and last.new == 1
            assert app.screen.query_one(MessageList).total == 1
            assert "synced just now" in prompt_text(app, box.id)
    finally:
        held.release()


async def test_the_watch_ends_when_the_right_to_the_mailbox_goes(
    make_app, store, alice, mail_account, secrets
) -> None:
    from store.identity import Operation
    from store.sharing import ShareRow, SharingState

    box = connect(store, alice, mail_account, secrets)
    assert store.sync.run(box, secrets, None, TEST_OPTIONS).ok
    store.identity.add(alice, "user", "bob")
    store.identity.grant(alice, Operation.SHARED_MAILBOX_ACCESS.value, "bob")
    store.sharing.save(alice, box.id, SharingState(True, [ShareRow("bob", send=True)]))
    app = make_app(store.identity.actor("bob"))
    app.secrets, app.sync_runner.options = secrets, TEST_OPTIONS
    app.sync_runner.watch_delay = 0
    async with app.run_test(size=SNAP_SIZE) as pilot:
        await until(pilot, lambda: (w := app.sync_runner.idle.get(box.id)) is not None and w.idling.is_set())
        watcher = app.sync_runner.idle.get(box.id)
        store.sharing.set_enabled(alice, box.id, False)  # alice turns "Access for other users" off
        app.sync_runner.tick()  # what the 30 s timer calls
        await until(pilot, lambda: app.sync_runner.idle.get(box.id) is None and watcher.finished.is_set())
