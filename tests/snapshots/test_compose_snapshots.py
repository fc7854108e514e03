"""Snapshots of writing mail (compose, reply, errors, attach picker) and of the outbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from screens.compose import open_compose
from screens.compose_load import ComposeStart
from tests.snapshots.conftest import SNAP_SIZE, settle
from tests.tui.compose_support import (
    SALES_SIGNATURE,
    SIGNATURE,
    add_sender,
    fill_outbox,
    store_message,
)


async def type_text(pilot, text: str) -> None:  # noqa: ANN001 - textual.pilot.Pilot
    """Type *text* key by key (a newline is enter)."""
    await pilot.press(*("enter" if ch == "\n" else ch for ch in text))


async def settle_picker(pilot) -> None:  # noqa: ANN001 - textual.pilot.Pilot
    """Like settle, but without waiting for the DirectoryTree's loader, which runs until the tree goes."""
    app = pilot.app
    for _ in range(50):
        await pilot.pause()
        busy = [w for w in app.workers if not w.is_finished and w.group != "_loader"]
        if not busy:
            break
        await app.workers.wait_for_complete(busy)
    await pilot.pause()
    await pilot.pause()


def two_senders(store, alice) -> None:  # noqa: ANN001 - fixtures
    add_sender(store, alice, "alice@gmail.com", "Alice Moreau", SIGNATURE, default=True)
    add_sender(store, alice, "sales@acme.example", "Acme Sales", SALES_SIGNATURE)


def test_compose_new_with_signature_preview(snap_compare, make_app, store, alice) -> None:
    """You should see "Mailroom — New message": From "Alice Moreau <alice@gmail.com>", To
    bruno@acme.example, an empty Cc and Bcc (Bcc's hint "hidden from the other recipients"), Subject
    "Quarterly figures", the Message box with two lines of text, and below it the box "Signature and
    quoted text, added below your message" showing "-- ", "Alice Moreau", "Account manager · Acme Sales"
    and the phone number, subtitled "from alice@gmail.com". The footer offers ^s Send, ^o Attach file and
    esc Close."""
    two_senders(store, alice)

    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        await type_text(pilot, "bruno@acme.example")
        await pilot.press("tab", "tab", "tab")
        await type_text(pilot, "Quarterly figures")
        await pilot.press("tab")
        await type_text(pilot, "Hello Bruno,\n\nthe figures for Q1 are attached.")
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=SNAP_SIZE, run_before=run_before)


def test_compose_signature_follows_the_sender(snap_compare, make_app, store, alice) -> None:
    """You should see the compose screen with From changed to "Acme Sales <sales@acme.example>" and the
    signature box below the text showing "-- ", "Acme Sales team" and "sales@acme.example · Mon–Fri 9–17",
    subtitled "from sales@acme.example"; Alice's signature is gone."""
    two_senders(store, alice)

    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        await pilot.press("shift+tab", "enter", "down", "enter")
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=SNAP_SIZE, run_before=run_before)


def test_compose_with_field_errors(snap_compare, make_app, store, alice) -> None:
    """You should see the compose screen after ctrl+s with two errors in red under their fields: under To
    "'bruno@@acme.example': The email address is not valid. …" and under Cc "'dana at acme': …"; Subject
    "Figures" and the text are kept, and the To field has the focus."""
    two_senders(store, alice)

    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        await type_text(pilot, "bruno@@acme.example")
        await pilot.press("tab")
        await type_text(pilot, "dana at acme")
        await pilot.press("tab", "tab")
        await type_text(pilot, "Figures")
        await pilot.press("tab")
        await type_text(pilot, "See attached.")
        await pilot.press("ctrl+s")
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=SNAP_SIZE, run_before=run_before)


def test_reply_with_quote(snap_compare, make_app, store, alice) -> None:
    """You should see "Mailroom — Reply": From "Alice Moreau <alice@gmail.com>", To "Client Buyer
    <client@customer.example>", Subject "Re: Offer for 40 printers" (one Re:, the AW: gone), an empty
    Message box with the cursor in it, and below it Alice's signature, then the quote "On 11 May 2026
    07:30 UTC, Client Buyer <client@customer.example> wrote:" with each line behind "> "."""
    two_senders(store, alice)
    box_id = 1
    message_id = store_message(
        store,
        box_id,
        "AW: Offer for 40 printers",
        "client@customer.example",
        "Client Buyer",
        "Hello Alice,\n\ncan you do 10% on 40 printers?\nDelivery by June would suit us.\n\nBest,\nClient",
        to=(("alice@gmail.com", "Alice Moreau"),),
    )

    async def run_before(pilot) -> None:
        await settle(pilot)
        open_compose(pilot.app, store, alice, ComposeStart("reply", message_id))
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=SNAP_SIZE, run_before=run_before)


def test_compose_without_a_sender(snap_compare, make_app, store, alice) -> None:
    """You should see a card "Nobody to send as": "You may not send from any mailbox yet." and how to fix
    it (turn on Send mail from the app in a mailbox's settings, or connect one with n); no form."""
    add_sender(store, alice, "alice@gmail.com", send=False)

    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=SNAP_SIZE, run_before=run_before)


def test_outbox_with_queued_failed_and_sent(snap_compare, make_app, store, alice) -> None:
    """You should see "Mailroom — Outbox" with three rows, newest first: queued to chen.wei@printhaus.example
    "Printer delivery dates", status "queued: Connection to smtp.gmail.com:465 refused…", next attempt
    "in 2 min"; failed to nobody@acme.example +1 "Lunch on Thursday" with the server's 550 words; sent to
    bruno@acme.example "Quarterly figures". The box "Selected message" shows the queued item's status in
    full, "From alice@gmail.com to chen.wei@printhaus.example" and "2 attempt(s)"."""
    box_id = add_sender(store, alice, "alice@gmail.com", "Alice Moreau", default=True)
    fill_outbox(store, alice, box_id)

    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press("o")
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=SNAP_SIZE, run_before=run_before)


def test_outbox_failed_item_selected(snap_compare, make_app, store, alice) -> None:
    """You should see the outbox with the failed row highlighted and, in "Selected message", the full
    refusal "failed: Recipient refused: nobody@acme.example: 550 5.1.1 … User unknown in virtual mailbox
    table", "From alice@gmail.com to nobody@acme.example, dana@acme.example" and "1 attempt(s) · edit and
    resend with e"; the footer offers r, e, d and esc."""
    box_id = add_sender(store, alice, "alice@gmail.com", "Alice Moreau", default=True)
    fill_outbox(store, alice, box_id)

    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press("o")
        await settle(pilot)
        await pilot.press("down")
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=SNAP_SIZE, run_before=run_before)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home folder with fixed contents, so the picker shows `~/` and the same files every run."""
    home = tmp_path / "home"
    (home / "Documents").mkdir(parents=True)
    (home / "Pictures").mkdir()
    (home / ".cache").mkdir()
    (home / "Documents" / "offer-acme.pdf").write_bytes(b"%PDF-1.4\n" * 200)
    (home / "figures-q1.xlsx").write_bytes(b"PK" * 3000)
    (home / "notes.txt").write_text("call Bruno\n")
    monkeypatch.setenv("HOME", str(home))
    return home


async def open_picker(pilot) -> None:  # noqa: ANN001 - textual.pilot.Pilot
    """From the panel: compose a new message, then open "Attach a file" (ctrl+o)."""
    await settle(pilot)
    await pilot.press("c")
    await settle(pilot)
    await pilot.press("ctrl+o")
    await settle_picker(pilot)


def test_attach_picker(snap_compare, make_app, store, alice, home) -> None:
    """You should see the dialog "Attach a file" over the compose screen: how to use it, the path field
    "~/Documents/" with "offer-acme.pdf" suggested in grey after it, and the tree of the home folder:
    Documents (open, with offer-acme.pdf) and Pictures, then figures-q1.xlsx and notes.txt; no .cache."""
    two_senders(store, alice)

    async def run_before(pilot) -> None:
        await open_picker(pilot)
        await pilot.press("tab", "enter")
        await settle_picker(pilot)
        await pilot.press("shift+tab")
        await type_text(pilot, "Documents/")
        await settle_picker(pilot)

    assert snap_compare(make_app(), terminal_size=SNAP_SIZE, run_before=run_before)


def test_attach_picker_refuses_a_system_file(snap_compare, make_app, store, alice, home) -> None:
    """You should see the dialog "Attach a file" with "/proc/self/environ" in the path field and, under it,
    the error "environ is one of Mailroom's own or the system's files; it cannot be attached"; the tree of
    the home folder is still shown below."""
    two_senders(store, alice)

    async def run_before(pilot) -> None:
        await open_picker(pilot)
        pilot.app.screen.query_one("#attach-path").value = ""
        await type_text(pilot, "/proc/self/environ")
        await pilot.press("enter")
        await settle_picker(pilot)

    assert snap_compare(make_app(), terminal_size=SNAP_SIZE, run_before=run_before)
