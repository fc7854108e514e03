"""Snapshots of the Email tab with stored mail and sync states, and of the message view."""

from __future__ import annotations

import time

import pytest

from store.sync.events import SyncSummary
from tests.snapshots.conftest import SNAP_SIZE, add_mailbox, add_two_mailboxes, settle
from tests.tui.mail_support import insert_mail, sample_mail
from tui.sync_runner import MailboxSyncFinished, MailboxSyncProgress, MailboxSyncQueued, MailboxSyncStarted


@pytest.fixture(autouse=True)
def utc_dates(monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    """Show dates in UTC, so the snapshots do not depend on the machine's time zone."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def mail_app(make_app, store, alice):  # noqa: ANN001, ANN201
    """Two mailboxes (one needing attention) and a dozen fixed messages in alice@gmail.com."""
    add_two_mailboxes(store, alice)
    insert_mail(store, store.mailboxes.get(alice, "alice@gmail.com").id, sample_mail())
    app = make_app()
    app.sync_runner.auto_load = False
    return app


def test_panel_with_messages(snap_compare, make_app, store, alice) -> None:
    """You should see the Mailboxes list with "All mailboxes" first and alice@gmail.com highlighted, and the
    "Messages · alice@gmail.com" pane listing twelve messages newest first, "12" in its bottom border: the
    unread "Quarterly figures for Acme" (08:30) and "Lunch on Thursday?" in bold with a ● mark, Chen Wei's
    flagged reply with a ⚑ mark, dates as times for today, "May 10" style for this year and full dates
    (2025-12-22 …) for last year; the first row under a dim cursor; nothing cut or wrapped."""
    app = mail_app(make_app, store, alice)

    async def run_before(pilot) -> None:
        await settle(pilot)

    assert snap_compare(app, terminal_size=SNAP_SIZE, run_before=run_before)


def test_message_list_focused_on_a_later_row(snap_compare, make_app, store, alice) -> None:
    """You should see the Messages pane focused (blue border), the cursor bar in the accent colour on the
    fourth row, "Lunch on Thursday?" from Dana Scott, and "enter Open" in the footer."""
    app = mail_app(make_app, store, alice)

    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press("enter", "down", "down", "down")
        await pilot.pause()

    assert snap_compare(app, terminal_size=SNAP_SIZE, run_before=run_before)


def test_mailbox_needing_attention(snap_compare, make_app, store, alice) -> None:
    """You should see sales@acme.example highlighted with its yellow ▲ and "Needs attention: The server
    rejected the password; …", its empty Messages pane ("No messages loaded for sales@acme.example yet.
    Press s to sync."), and alice@gmail.com above it with a yellow ▲ and "Last sync failed: Connection to
    the IMAP server … timed out"; the summary beside the Account button says "1 need attention"; the footer
    offers "e Edit settings"."""
    app = mail_app(make_app, store, alice)

    async def run_before(pilot) -> None:
        await settle(pilot)
        alice_id = store.mailboxes.get(alice, "alice@gmail.com").id
        summary = SyncSummary(
            alice_id,
            "alice@gmail.com",
            ok=False,
            error_kind="network",
            error="Connection to the IMAP server of alice@gmail.com timed out",
        )
        app.screen.post_message(MailboxSyncFinished(summary))
        await settle(pilot)
        await pilot.press("down")
        await settle(pilot)

    assert snap_compare(app, terminal_size=SNAP_SIZE, run_before=run_before)


def test_first_load_in_progress(snap_compare, make_app, store, alice) -> None:
    """You should see new@example.test (never synced) with an accent ⟳, "First load · messages 1,200 /
    3,000" and a progress bar 40% filled; alice@gmail.com with ⟳ and "Syncing · headers 3 / 10"; and
    "3 mailboxes · syncing 2 · 1 need attention" beside the Account button."""
    app = mail_app(make_app, store, alice)
    new_id = add_mailbox(store, alice, "new@example.test", provider="Fastmail")

    async def run_before(pilot) -> None:
        await settle(pilot)
        alice_id = store.mailboxes.get(alice, "alice@gmail.com").id
        for message in (
            MailboxSyncQueued(new_id),
            MailboxSyncStarted(new_id, first_load=True),
            MailboxSyncProgress(new_id, "bodies", "INBOX", 1200, 3000),
            MailboxSyncQueued(alice_id),
            MailboxSyncStarted(alice_id, first_load=False),
            MailboxSyncProgress(alice_id, "headers", "INBOX", 3, 10),
        ):
            app.screen.post_message(message)
        await settle(pilot)

    assert snap_compare(app, terminal_size=SNAP_SIZE, run_before=run_before)


def test_message_view(snap_compare, make_app, store, alice) -> None:
    """You should see the message view titled "Quarterly figures for Acme": From Bruno Keller
    <bruno@acme.example>, To Alice Moreau <alice@gmail.com>, Date Mon, 11 May 2026 08:30 UTC, Mailbox
    alice@gmail.com · INBOX, Flags unread, Attachments figures-q1.pdf (application/pdf, 180 KB); below, the
    text "Hello Alice, …" in a bordered pane, and "esc Back", "r Reply", "a Reply all", "f Forward" (and
    ^q Quit) in the footer."""
    app = mail_app(make_app, store, alice)

    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press("enter", "enter")
        await settle(pilot)

    assert snap_compare(app, terminal_size=SNAP_SIZE, run_before=run_before)
