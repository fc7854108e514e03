"""The Email tab's message list, message view and automatic loading, over mail written into the store."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from textual.message import Message
from textual.widgets import Static

from screens.message_view import MessageViewScreen
from screens.panel import PanelScreen
from store.secrets import open_secret_store
from store.sync.events import SyncSummary
from tests.snapshots.conftest import FIXED_NOW, SNAP_SIZE, add_mailbox, settle
from tests.tui.mail_support import Mail, insert_mail, sample_mail
from tui.sync_runner import MailboxSyncFinished, MailboxSyncProgress, MailboxSyncQueued, is_due
from tui.widgets.message_list import CACHED_PAGES, PAGE_SIZE, MessageList


def many(count: int) -> list[Mail]:
    """*count* messages a minute apart, the newest a minute before the fixed now."""
    return [
        Mail(f"Message {n}", f"Sender {n % 50}", f"s{n % 50}@example.test", FIXED_NOW - timedelta(minutes=n))
        for n in range(1, count + 1)
    ]


def shown(lst: MessageList, count: int) -> list[str]:
    """Subjects of the first *count* rows on screen."""
    top = int(lst.scroll_y)
    return [row.subject for i in range(top, top + count) if (row := lst.row_at(i)) is not None]


@pytest.fixture
def quiet_app(make_app, tmp_path: Path):  # noqa: ANN201
    """The app with a keyring under tmp_path and automatic loading left to the test."""

    def build():  # noqa: ANN202
        app = make_app()
        app.secrets = open_secret_store("file", data_dir=tmp_path / "sd", config_dir=tmp_path / "sc")
        app.sync_runner.auto_load = False
        return app

    return build


def test_progress_messages_replace_only_their_own_mailbox() -> None:
    older = MailboxSyncProgress(1, "headers", "INBOX", 10, 90)
    newer = MailboxSyncProgress(1, "bodies", "INBOX", 5, 90)
    assert older.can_replace(newer)
    assert not older.can_replace(MailboxSyncProgress(2, "headers", "INBOX", 1, 9))
    assert not older.can_replace(MailboxSyncFinished(SyncSummary(1, "a@example.test")))


def test_automatic_load_is_due_after_the_interval(store, alice) -> None:
    recent = add_mailbox(store, alice, "recent@gmail.com", synced_ago=timedelta(minutes=3))
    never = add_mailbox(store, alice, "never@gmail.com")
    broken = add_mailbox(store, alice, "broken@gmail.com", status="needs_attention", reason="bad password")
    boxes = {b.id: b for b in store.mailboxes.visible(alice)}
    assert not is_due(boxes[recent], FIXED_NOW, 5, None)
    assert is_due(boxes[recent], FIXED_NOW, 2, None)
    assert is_due(boxes[never], FIXED_NOW, 5, None)
    assert not is_due(boxes[broken], FIXED_NOW, 5, None)
    from time import monotonic

    assert not is_due(boxes[never], FIXED_NOW, 5, monotonic())


async def test_automatic_loading_reads_the_interval_at_each_tick(quiet_app, store, alice) -> None:
    box = add_mailbox(store, alice, "recent@gmail.com", synced_ago=timedelta(minutes=3))
    app = quiet_app()
    app.sync_runner.auto_load = True
    posted: list[Message] = []
    async with app.run_test(size=SNAP_SIZE, message_hook=posted.append) as pilot:
        await settle(pilot)
        app.sync_runner.tick()
        await settle(pilot)
        assert not [m for m in posted if isinstance(m, MailboxSyncQueued)]
        store.system.set(alice, "MailboxSyncInterval", "2")
        app.sync_runner.tick()
        await settle(pilot)
        await settle(pilot)
        assert [m.mailbox_id for m in posted if isinstance(m, MailboxSyncQueued)] == [box]
        (finished,) = [m for m in posted if isinstance(m, MailboxSyncFinished)]
        assert finished.summary.error_kind == "auth"  # no password stored for this test mailbox


async def test_selecting_a_mailbox_filters_the_list(quiet_app, store, alice) -> None:
    alice_box = add_mailbox(store, alice, "alice@gmail.com", synced_ago=timedelta(minutes=5))
    sales_box = add_mailbox(store, alice, "sales@acme.example", synced_ago=timedelta(minutes=5))
    insert_mail(store, alice_box, sample_mail())
    insert_mail(store, sales_box, many(3))
    app = quiet_app()
    async with app.run_test(size=SNAP_SIZE) as pilot:
        await settle(pilot)
        lst = app.screen.query_one(MessageList)
        assert (lst.mailbox_id, lst.total) == (alice_box, 12)
        assert shown(lst, 2) == ["Quarterly figures for Acme", "Re: Delivery of the new printers"]
        await pilot.press("up")
        await settle(pilot)
        assert (lst.mailbox_id, lst.total, lst.border_title) == (None, 15, "Messages · All mailboxes")
        assert shown(lst, 4) == ["Message 1", "Message 2", "Message 3", "Quarterly figures for Acme"]
        assert not app.screen.check_action("edit_highlighted", ())  # no settings for "All mailboxes"
        await pilot.press("down", "down")
        await settle(pilot)
        assert (lst.mailbox_id, lst.total) == (sales_box, 3)
        assert lst.border_title == "Messages · sales@acme.example"


async def test_the_list_reads_pages_not_every_message(quiet_app, store, alice) -> None:
    box = add_mailbox(store, alice, "alice@gmail.com", synced_ago=timedelta(minutes=5))
    insert_mail(store, box, many(PAGE_SIZE * (CACHED_PAGES + 5)))
    app = quiet_app()
    async with app.run_test(size=SNAP_SIZE) as pilot:
        await settle(pilot)
        lst = app.screen.query_one(MessageList)
        lst.focus()
        assert lst.total == PAGE_SIZE * (CACHED_PAGES + 5)
        height = lst.scrollable_content_region.height
        for _ in range(12):
            await pilot.press("pagedown")
        await settle(pilot)
        assert lst.cursor == 12 * height
        assert shown(lst, 1) == [f"Message {int(lst.scroll_y) + 1}"]
        await pilot.press("end")
        await settle(pilot)
        assert lst.highlighted is not None and lst.highlighted.subject == f"Message {lst.total}"
        for _ in range(3):
            await pilot.press("pageup")
        await settle(pilot)
        assert shown(lst, height) == [
            f"Message {n}" for n in range(int(lst.scroll_y) + 1, int(lst.scroll_y) + 1 + height)
        ]
        await pilot.press("home")
        await settle(pilot)
        assert (lst.cursor, lst.scroll_y) == (0, 0)
        assert len(lst._pages) <= CACHED_PAGES


async def test_the_list_refreshes_when_a_sync_adds_messages(quiet_app, store, alice) -> None:
    box = add_mailbox(store, alice, "alice@gmail.com", synced_ago=timedelta(minutes=5))
    insert_mail(store, box, many(40))
    app = quiet_app()
    async with app.run_test(size=SNAP_SIZE) as pilot:
        await settle(pilot)
        lst = app.screen.query_one(MessageList)
        lst.focus()
        await pilot.press("down", "down", "down")
        assert lst.highlighted.subject == "Message 4"
        insert_mail(
            store,
            box,
            [
                Mail("Just arrived", "New Sender", "new@example.test", FIXED_NOW),
                Mail("Also new", "New Sender", "new@example.test", FIXED_NOW - timedelta(seconds=30)),
            ],
        )
        app.screen.post_message(MailboxSyncFinished(SyncSummary(box, "alice@gmail.com", new=2)))
        await settle(pilot)
        assert lst.total == 42
        assert [lst.row_at(i).subject for i in range(3)] == ["Just arrived", "Also new", "Message 1"]
        assert (lst.cursor, lst.highlighted.subject) == (5, "Message 4")  # the cursor stays on its message
        assert lst.scroll_y == 2  # and the rows on screen do not jump


async def test_enter_opens_the_message_view(quiet_app, store, alice) -> None:
    box = add_mailbox(store, alice, "alice@gmail.com", synced_ago=timedelta(minutes=5))
    insert_mail(store, box, sample_mail())
    app = quiet_app()
    async with app.run_test(size=SNAP_SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter")  # on the mailbox: moves to its messages
        assert app.focused is app.screen.query_one(MessageList)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, MessageViewScreen)
        head = str(app.screen.query_one("#message-head", Static).render())
        assert "Bruno Keller <bruno@acme.example>" in head
        assert "figures-q1.pdf (application/pdf, 180 KB)" in head and "unread" in head
        assert app.screen.query_one("#message-head").border_title == "Quarterly figures for Acme"
        keys = app.screen.active_bindings
        assert keys["escape"].binding.action == "app.pop_screen"
        assert [keys[k].binding.action for k in "raf"] == [
            "answer('reply')",
            "answer('reply_all')",
            "answer('forward')",
        ]
        await pilot.press("escape")
        assert isinstance(app.screen, PanelScreen)


async def test_the_list_refreshes_after_any_good_sync(quiet_app, store, alice) -> None:
    """Mail another process (e.g. `mailroom sync`) stored shows after the app's next sync, even one that
    found nothing new itself."""
    box = add_mailbox(store, alice, "alice@gmail.com", synced_ago=timedelta(minutes=5))
    insert_mail(store, box, many(3))
    app = quiet_app()
    async with app.run_test(size=SNAP_SIZE) as pilot:
        await settle(pilot)
        lst = app.screen.query_one(MessageList)
        assert lst.total == 3
        insert_mail(store, box, [Mail("Stored elsewhere", "Other", "o@example.test", FIXED_NOW)])
        app.screen.post_message(MailboxSyncFinished(SyncSummary(box, "alice@gmail.com")))
        await settle(pilot)
        assert lst.total == 4 and lst.row_at(0).subject == "Stored elsewhere"
        insert_mail(store, box, [Mail("Not yet", "Other", "o@example.test", FIXED_NOW)])
        failed = SyncSummary(box, "alice@gmail.com", ok=False, error="down", error_kind="network")
        app.screen.post_message(MailboxSyncFinished(failed))
        await settle(pilot)
        assert lst.total == 4
