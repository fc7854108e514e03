"""Writing and sending mail with the keyboard, against the harness's real submission server and IMAP."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from textual.message import Message
from textual.widgets import DataTable, Input, Label, Select, Static
from textual.widgets._select import SelectOverlay

from screens.attach_picker import AttachPicker
from screens.compose import ComposeScreen, Queued
from screens.message_view import MessageViewScreen
from screens.outbox import OutboxScreen
from screens.panel import PanelScreen
from store.secrets import SecretStore, open_secret_store
from store.sync.engine import SyncOptions
from tests.integration.send_support import deliver_to_inbox, parse
from tests.snapshots.conftest import FIXED_NOW, SNAP_SIZE, settle
from tests.tui.compose_support import SALES_SIGNATURE, SIGNATURE, add_sender, connect_harness
from tui.app import MailroomApp
from tui.delivery_runner import OutboxChanged

pytestmark = pytest.mark.integration


@pytest.fixture
def secrets(tmp_path: Path) -> SecretStore:
    """An encrypted file keyring under the test's folder."""
    return open_secret_store("file", data_dir=tmp_path / "sd", config_dir=tmp_path / "sc")


def send_app(make_app: Any, secrets: SecretStore) -> MailroomApp:
    """The app with the test keyring and no automatic loading."""
    app = make_app()
    app.secrets = secrets
    app.sync_runner.auto_load = False
    return app


async def type_text(pilot: Any, text: str) -> None:
    """Type *text* key by key (a newline is enter)."""
    await pilot.press(*("enter" if ch == "\n" else ch for ch in text))


async def until(pilot: Any, condition: Callable[[], bool], timeout: float = 30, what: str = "") -> None:
    """Let the app run until *condition* holds (the delivery thread works beside it)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        await pilot.pause(0.05)


async def open_compose_screen(pilot: Any) -> ComposeScreen:
    """Press c on the panel and wait for the compose screen."""
    await settle(pilot)
    assert isinstance(pilot.app.screen, PanelScreen)
    await pilot.press("c")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, ComposeScreen)
    return screen


def field(app: MailroomApp, selector: str) -> Any:
    return app.screen.query_one(selector)


def text_of(msg: Any) -> str:
    return msg.get_body(("plain",)).get_content().replace("\r\n", "\n")


async def test_compose_with_the_keyboard_alone_and_send(
    make_app, store, alice, mail_account, smtp_sink, secrets
) -> None:
    box = connect_harness(store, alice, mail_account, secrets, alias="Alice Moreau", signature=SIGNATURE)
    app = send_app(make_app, secrets)
    posted: list[Message] = []
    async with app.run_test(size=SNAP_SIZE, message_hook=posted.append) as pilot:
        screen = await open_compose_screen(pilot)
        assert app.focused is field(app, "#to")
        assert field(app, "#from").value == box.id
        await type_text(pilot, "Bruno Keller <bruno@acme.example>")
        await pilot.press("tab")
        await type_text(pilot, "dana@acme.example")
        await pilot.press("tab")
        await type_text(pilot, "boss@acme.example")
        await pilot.press("tab")
        await type_text(pilot, "Quartalszahlen für Q1")
        await pilot.press("tab")
        assert app.focused is field(app, "#body")
        await type_text(pilot, "Hello Bruno,\n\nthe figures are ready.")
        await pilot.press("ctrl+s")
        await settle(pilot)
        (queued,) = [m for m in posted if isinstance(m, Queued)]
        assert isinstance(app.screen, PanelScreen) and not screen.is_attached
        (got,) = await asyncio.to_thread(smtp_sink.wait_for, 1, 20)
        await until(pilot, lambda: store.outbox.get(alice, queued.item.id).state == "sent", what="sent")
    assert got.mail_from == mail_account.email
    assert sorted(got.rcpt_tos) == ["boss@acme.example", "bruno@acme.example", "dana@acme.example"]
    msg = parse(got.data)
    assert str(msg["Subject"]) == "Quartalszahlen für Q1"
    assert str(msg["From"]) == f"Alice Moreau <{mail_account.email}>"
    assert str(msg["To"]) == "Bruno Keller <bruno@acme.example>" and "Bcc" not in msg
    assert msg["Date"].datetime == FIXED_NOW  # the app's clock
    assert text_of(msg) == "Hello Bruno,\n\nthe figures are ready.\n\n-- \n" + SIGNATURE + "\n"


async def test_from_offers_only_mailboxes_the_user_may_send_from(make_app, store, alice) -> None:
    add_sender(store, alice, "alice@gmail.com", "Alice Moreau", SIGNATURE)
    add_sender(store, alice, "archive@acme.example", "Archive", send=False)
    default_id = add_sender(store, alice, "sales@acme.example", "Acme Sales", SALES_SIGNATURE, default=True)
    app = make_app()
    async with app.run_test(size=SNAP_SIZE) as pilot:
        await open_compose_screen(pilot)
        select = field(app, "#from")
        assert select.value == default_id  # the default sender is preselected
        await pilot.press("shift+tab", "enter")
        await pilot.pause()
        overlay = select.query_one(SelectOverlay)
        offered = [str(overlay.get_option_at_index(i).prompt) for i in range(overlay.option_count)]
        assert offered == ["Acme Sales <sales@acme.example>", "Alice Moreau <alice@gmail.com>"]
        await pilot.press("escape")


async def test_nobody_to_send_as_says_how_to_fix_it(make_app, store, alice) -> None:
    add_sender(store, alice, "archive@acme.example", send=False)
    app = make_app()
    async with app.run_test(size=SNAP_SIZE) as pilot:
        await open_compose_screen(pilot)
        card = str(field(app, "#no-sender-card").render())
        assert "You may not send from any mailbox yet." in card and "Send mail from the app" in card
        assert not app.screen.query(Input)
        await pilot.press("ctrl+s", "escape")
        await settle(pilot)
        assert isinstance(app.screen, PanelScreen)
        assert store.outbox.list(alice) == []


async def test_signature_follows_the_sender_into_the_sent_message(
    make_app, store, alice, mail_account, smtp_sink, secrets
) -> None:
    add_sender(store, alice, "sales@acme.example", "Acme Sales", SALES_SIGNATURE, default=True)
    box = connect_harness(store, alice, mail_account, secrets, alias="Alice Moreau", signature=SIGNATURE)
    app = send_app(make_app, secrets)
    async with app.run_test(size=SNAP_SIZE) as pilot:
        await open_compose_screen(pilot)
        signature = field(app, "#signature")
        assert str(signature.render()).startswith("-- \nAcme Sales team")
        await pilot.press("shift+tab", "enter", "down", "enter")
        await pilot.pause()
        assert field(app, "#from").value == box.id
        assert str(signature.render()) == "-- \n" + SIGNATURE
        assert field(app, "#compose-tail").border_subtitle == f"from {box.email}"
        await pilot.press("tab")
        await type_text(pilot, "bruno@acme.example")
        await pilot.press("tab", "tab", "tab")
        await type_text(pilot, "Signed")
        await pilot.press("ctrl+s")
        (got,) = await asyncio.to_thread(smtp_sink.wait_for, 1, 20)
    text = text_of(parse(got.data))
    assert text.endswith("-- \n" + SIGNATURE + "\n") and "Acme Sales team" not in text


async def test_invalid_addresses_are_shown_beside_their_fields(make_app, store, alice) -> None:
    add_sender(store, alice, "alice@gmail.com", "Alice Moreau", default=True)
    app = make_app()
    async with app.run_test(size=SNAP_SIZE) as pilot:
        await open_compose_screen(pilot)
        await type_text(pilot, "bruno@@acme.example")
        await pilot.press("tab")  # leaving the field checks it at once
        error_to = field(app, "#error-to")
        assert "'bruno@@acme.example'" in str(error_to.render())
        await type_text(pilot, "Dana <dana@acme.example>")
        await pilot.press("tab", "tab")
        await type_text(pilot, "Hello")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ComposeScreen)
        assert "'bruno@@acme.example'" in str(error_to.render())
        assert str(field(app, "#error-cc").render()) == ""
        assert app.focused is field(app, "#to")
        assert store.outbox.list(alice) == []
        # Fixing the address clears the error as soon as it is valid.
        await pilot.press(*["backspace"] * len("bruno@@acme.example"))
        await type_text(pilot, "bruno@acme.example")
        assert str(error_to.render()) == ""
        # An empty message asks before it is discarded; "n" keeps it open.
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, ComposeScreen)


async def test_reply_from_an_opened_message_keeps_re_and_the_quote(
    make_app, store, alice, mail_account, smtp_sink, secrets
) -> None:
    box = connect_harness(store, alice, mail_account, secrets, alias="Alice Moreau", signature=SIGNATURE)
    original = (
        f"From: Client Buyer <client@customer.example>\r\nTo: {mail_account.email}\r\n"
        "Cc: Dana <dana@acme.example>\r\nSubject: AW: Offer for 40 printers\r\n"
        f"Date: {format_datetime(FIXED_NOW)}\r\nMessage-ID: <offer-42@customer.example>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\nCan you do 10%?\r\nDelivery by June.\r\n"
    ).encode()
    deliver_to_inbox(mail_account, original)
    assert store.sync.run(box, secrets, options=SyncOptions(retry_delays=(0.1,), timeout=20)).ok
    app = send_app(make_app, secrets)
    async with app.run_test(size=SNAP_SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter", "enter")  # the mailbox, then its one message
        await settle(pilot)
        assert isinstance(app.screen, MessageViewScreen)
        await pilot.press("a")  # reply to all
        await settle(pilot)
        assert isinstance(app.screen, ComposeScreen)
        assert app.screen.sub_title == "Reply to all"
        assert field(app, "#subject").value == "Re: Offer for 40 printers"
        assert field(app, "#to").value == "Client Buyer <client@customer.example>"
        assert field(app, "#cc").value == "Dana <dana@acme.example>"
        assert app.focused is field(app, "#body")
        quoted = str(field(app, "#quoted").render())
        assert (
            "Client Buyer <client@customer.example> wrote:\n> Can you do 10%?\n> Delivery by June." in quoted
        )
        await type_text(pilot, "Yes, we can.")
        await pilot.press("ctrl+s")
        (got,) = await asyncio.to_thread(smtp_sink.wait_for, 1, 20)
        await settle(pilot)
        assert isinstance(app.screen, MessageViewScreen)  # back where the reply started
    msg = parse(got.data)
    assert str(msg["Subject"]) == "Re: Offer for 40 printers"
    assert msg["In-Reply-To"] == "<offer-42@customer.example>"
    assert sorted(got.rcpt_tos) == ["client@customer.example", "dana@acme.example"]
    text = text_of(msg)
    assert text.index("Yes, we can.") < text.index("-- \nAlice Moreau") < text.index("> Can you do 10%?")


async def test_forward_from_an_opened_message(
    make_app, store, alice, mail_account, smtp_sink, secrets
) -> None:
    box = connect_harness(store, alice, mail_account, secrets)
    original = (
        f"From: Client Buyer <client@customer.example>\r\nTo: {mail_account.email}\r\n"
        f"Subject: Offer\r\nDate: {format_datetime(FIXED_NOW)}\r\nMessage-ID: <offer-43@customer.example>\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe offer is attached.\r\n"
        '--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename="offer.pdf"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b--\r\n"
    ).encode()
    deliver_to_inbox(mail_account, original)
    assert store.sync.run(box, secrets, options=SyncOptions(retry_delays=(0.1,), timeout=20)).ok
    app = send_app(make_app, secrets)
    async with app.run_test(size=SNAP_SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter", "enter", "f")
        await settle(pilot)
        assert isinstance(app.screen, ComposeScreen)
        assert field(app, "#subject").value == "Fwd: Offer"
        assert app.focused is field(app, "#to")
        await type_text(pilot, "bruno@acme.example")
        await pilot.press("ctrl+s")
        (got,) = await asyncio.to_thread(smtp_sink.wait_for, 1, 20)
    msg = parse(got.data)
    assert "---------- Forwarded message ----------" in text_of(msg)
    assert "The offer is attached." in text_of(msg)
    (part,) = list(msg.iter_attachments())
    assert (part.get_filename(), part.get_payload(decode=True)) == ("offer.pdf", b"%PDF-1.4\n")


async def test_attach_a_file_by_typing_its_path(
    make_app, store, alice, tmp_path, mail_account, smtp_sink, secrets, monkeypatch
) -> None:
    home = tmp_path / "home"
    (home / "Documents").mkdir(parents=True)
    (home / "Documents" / "offer-acme.pdf").write_bytes(b"%PDF-1.4\n" * 100)
    monkeypatch.setenv("HOME", str(home))
    connect_harness(store, alice, mail_account, secrets)
    app = send_app(make_app, secrets)
    async with app.run_test(size=SNAP_SIZE) as pilot:
        await open_compose_screen(pilot)
        await type_text(pilot, "bruno@acme.example")
        await pilot.press("ctrl+o")
        await pilot.pause()
        await type_text(pilot, "Documents/off")
        await pilot.pause(0.3)
        await pilot.press("right", "enter")  # accept the completion, attach
        await pilot.pause(0.3)
        assert isinstance(app.screen, ComposeScreen)
        assert app.screen.sizes == [900]
        await pilot.press("ctrl+s")
        (got,) = await asyncio.to_thread(smtp_sink.wait_for, 1, 20)
    (part,) = list(parse(got.data).iter_attachments())
    assert part.get_filename() == "offer-acme.pdf"


async def test_the_picker_refuses_the_installations_own_files_at_once(
    make_app, store, alice, tmp_path, mail_account, secrets
) -> None:
    """Typing the database's path in the picker says at once that it cannot be attached (the store's
    rules); the picker stays open and nothing is attached."""
    connect_harness(store, alice, mail_account, secrets)
    app = send_app(make_app, secrets)
    async with app.run_test(size=SNAP_SIZE) as pilot:
        await open_compose_screen(pilot)
        await pilot.press("ctrl+o")
        await pilot.pause()
        picker = app.screen
        assert isinstance(picker, AttachPicker)
        field = picker.query_one("#attach-path", Input)
        field.value = str(store.path)
        await pilot.press("enter")
        await until(
            pilot,
            lambda: "cannot be attached" in str(picker.query_one("#attach-error", Label).render()),
            what="the refusal",
        )
        assert app.screen is picker
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ComposeScreen) and app.screen.sizes == []


async def test_server_down_shows_queued_with_the_reason_then_delivers(
    make_app, store, alice, mail_account, smtp_sink, secrets, mail_server
) -> None:
    connect_harness(store, alice, mail_account, secrets)
    app = send_app(make_app, secrets)
    posted: list[Message] = []
    mail_server.submission_server.stop()
    try:
        async with app.run_test(size=SNAP_SIZE, message_hook=posted.append) as pilot:
            await open_compose_screen(pilot)
            await type_text(pilot, "bruno@acme.example")
            await pilot.press("tab", "tab", "tab")
            await type_text(pilot, "While the server is down")
            await pilot.press("ctrl+s")
            await settle(pilot)
            reports = lambda: [m.report for m in posted if isinstance(m, OutboxChanged) and m.report]  # noqa: E731
            await until(pilot, lambda: bool(reports()), what="a delivery report")
            assert [r.state for r in reports()[0].results] == ["queued"]
            await pilot.press("o")
            await settle(pilot)
            assert isinstance(app.screen, OutboxScreen)
            table = app.screen.query_one(DataTable)
            row = [str(c) for c in table.get_row_at(0)]
            assert row[0] == "queued" and row[2] == "While the server is down"
            assert row[3].startswith("queued: ") and row[4] == "in 1 min"
            detail = str(app.screen.query_one("#outbox-detail", Static).render())
            assert detail.startswith("queued: ") and "refused" in detail

            mail_server.submission_server.start()
            await pilot.press("r")
            (got,) = await asyncio.to_thread(smtp_sink.wait_for, 1, 20)
            await until(pilot, lambda: str(table.get_row_at(0)[0]) == "sent", what="the row to show sent")
            assert str(table.get_row_at(0)[3]).startswith("sent")
    finally:
        mail_server.ensure_running()
    assert str(parse(got.data)["Subject"]) == "While the server is down"
    assert len(smtp_sink.messages) == 1


async def test_edit_and_resend_a_refused_message(
    make_app, store, alice, mail_account, smtp_sink, secrets
) -> None:
    connect_harness(store, alice, mail_account, secrets)
    smtp_sink.reject("rcpt", "550 5.1.1 No such user here", recipient="nobody@acme.example")
    app = send_app(make_app, secrets)
    async with app.run_test(size=SNAP_SIZE) as pilot:
        await open_compose_screen(pilot)
        await type_text(pilot, "nobody@acme.example")
        await pilot.press("tab", "tab", "tab")
        await type_text(pilot, "Offer")
        await pilot.press("ctrl+s")
        await settle(pilot)
        await until(pilot, lambda: [i.state for i in store.outbox.list(alice)] == ["failed"], what="failed")
        await pilot.press("o")
        await settle(pilot)
        table = app.screen.query_one(DataTable)
        assert str(table.get_row_at(0)[0]) == "failed"
        assert str(table.get_row_at(0)[3]).startswith("failed: Recipient refused")
        detail = str(app.screen.query_one("#outbox-detail", Static).render())
        assert "5.1.1 No such user here" in detail and "edit and resend with e" in detail
        await pilot.press("e")
        await settle(pilot)
        assert isinstance(app.screen, ComposeScreen) and app.screen.sub_title == "Edit and resend"
        to = field(app, "#to")
        assert to.value == "nobody@acme.example" and field(app, "#subject").value == "Offer"
        to.focus()
        await pilot.press(*["backspace"] * len(to.value))
        await type_text(pilot, "bruno@acme.example")
        await pilot.press("ctrl+s")
        (got,) = await asyncio.to_thread(smtp_sink.wait_for, 1, 20)
        await settle(pilot)
        assert isinstance(app.screen, OutboxScreen)
        await until(
            pilot, lambda: [i.state for i in store.outbox.list(alice)] == ["sent"], what="one sent item"
        )
        await until(pilot, lambda: table.row_count == 1 and str(table.get_row_at(0)[0]) == "sent")
        # Drop asks first, then removes the item.
        await pilot.press("d")
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot)
        assert table.row_count == 0 and store.outbox.list(alice) == []
    assert got.rcpt_tos == ("bruno@acme.example",)


async def test_address_completion_from_past_correspondents(make_app, store, alice) -> None:
    from tests.tui.compose_support import store_message

    box_id = add_sender(store, alice, "alice@gmail.com", default=True)
    store_message(store, box_id, "Hi", "bruno@acme.example", "Bruno Keller", "Hello")
    app = make_app()
    async with app.run_test(size=SNAP_SIZE) as pilot:
        await open_compose_screen(pilot)
        await type_text(pilot, "dana@acme.example, bru")
        await settle(pilot)
        await pilot.press("right")
        assert field(app, "#to").value == "dana@acme.example, Bruno Keller <bruno@acme.example>"
        await pilot.press("tab")
        await type_text(pilot, "bruno@")
        await settle(pilot)
        await pilot.press("right")
        assert field(app, "#cc").value == "bruno@acme.example"
        assert isinstance(field(app, "#error-to"), Label)
        assert isinstance(field(app, "#from"), Select)


async def test_a_message_that_may_have_been_sent_is_marked_sent_without_resending(
    make_app, store, alice, mail_account, smtp_sink, secrets
) -> None:
    from datetime import UTC, datetime

    from store.compose import Draft
    from store.delivery import UNCERTAIN
    from tests.integration.send_support import sent_folder
    from tests.tui.compose_support import outbox_item

    box = connect_harness(store, alice, mail_account, secrets)
    item_id = outbox_item(  # as a delivery killed after the server's 250 leaves it (test_send_crash.py)
        store,
        alice,
        Draft(box.id, to=("bruno@acme.example",), subject="Offer"),
        state="check",
        attempts=1,
        error_kind="uncertain",
        last_error=UNCERTAIN,
        data_started_at=datetime.now(UTC),
        data_ended_at=datetime.now(UTC),
    )
    app = send_app(make_app, secrets)
    async with app.run_test(size=SNAP_SIZE) as pilot:
        await settle(pilot)
        await pilot.press("o")
        await settle(pilot)
        assert isinstance(app.screen, OutboxScreen)
        table = app.screen.query_one(DataTable)
        assert str(table.get_row_at(0)[0]) == "check"
        detail = str(app.screen.query_one("#outbox-detail", Static).render())
        assert "may have been delivered" in detail and "mark it as sent" in detail
        assert app.screen.check_action("mark_sent", ()) is True
        await pilot.press("s")
        await until(pilot, lambda: store.outbox.get(alice, item_id).copy_done, what="the Sent copy")
        await until(pilot, lambda: str(table.get_row_at(0)[0]) == "sent", what="the row to say sent")
        assert app.screen.check_action("mark_sent", ()) is False
    assert smtp_sink.messages == []  # marked, never sent again
    assert len(sent_folder(mail_account)) == 1


async def test_reply_to_your_own_sent_message_opens_addressed_to_its_recipients(
    make_app, store, alice
) -> None:
    from tests.tui.compose_support import store_message

    box_id = add_sender(store, alice, "alice@gmail.com", alias="Alice Moreau", default=True)
    add_sender(store, alice, "sales@acme.example")
    store_message(
        store,
        box_id,
        "Offer for 40 printers",
        "alice@gmail.com",
        "Alice Moreau",
        "Here is our offer.",
        to=(("bruno@acme.example", "Bruno Keller"), ("sales@acme.example", "Sales")),
    )
    app = make_app()
    async with app.run_test(size=SNAP_SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter", "enter")  # the mailbox, then its one message
        await settle(pilot)
        assert isinstance(app.screen, MessageViewScreen)
        await pilot.press("a")  # reply to all
        await settle(pilot)
        assert isinstance(app.screen, ComposeScreen) and app.screen.sub_title == "Reply to all"
        assert field(app, "#to").value == "Bruno Keller <bruno@acme.example>"  # not back to alice herself
        assert field(app, "#cc").value == ""  # sales@ is hers too
        assert field(app, "#subject").value == "Re: Offer for 40 printers"
        assert field(app, "#from").value == box_id
        assert "Alice Moreau <alice@gmail.com> wrote:\n> Here is our offer." in str(
            field(app, "#quoted").render()
        )


async def test_a_delivery_run_tells_each_user_only_about_their_own_messages(
    make_app, store, alice, mail_account, smtp_sink, secrets
) -> None:
    from store.compose import Draft
    from tui.delivery_runner import report_text

    store.identity.add(alice, "user", "bob")
    store.identity.grant(alice, "CanManageDirectories", "bob")  # to add the harness provider
    bob = store.identity.actor("bob")
    box = connect_harness(store, bob, mail_account, secrets)
    smtp_sink.reject("rcpt", "550 5.1.1 No such user here", recipient="nobody@acme.example")
    item = store.outbox.queue(bob, Draft(box.id, to=("nobody@acme.example",), subject="Bob's offer"))
    app = send_app(make_app, secrets)  # alice's app delivers bob's item too: one outbox for everyone
    posted: list[Message] = []
    async with app.run_test(size=SNAP_SIZE, message_hook=posted.append) as pilot:
        reports = lambda: [m.report for m in posted if isinstance(m, OutboxChanged) and m.report]  # noqa: E731
        await until(pilot, lambda: bool(reports()), what="a delivery report")
        await settle(pilot)
        report = reports()[0]
        assert [(r.item_id, r.state) for r in report.results] == [(item.id, "failed")]
        assert [n.message for n in app._notifications] == []  # bob's failure is not alice's news
    assert store.outbox.get(bob, item.id).state == "failed"
    assert report_text(report, alice.user.id) is None
    text, severity = report_text(report, bob.user.id) or ("", "")
    assert text.startswith(f"Not sent from {mail_account.email}: Recipient refused") and severity == "error"
