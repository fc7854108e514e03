"""The outbox without a mail server: who may send from which mailbox, queueing, states and recovery."""

from __future__ import annotations

import socket
import time
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from store.compose import Draft
from store.delivery import BACKOFF, GIVE_UP_AFTER, OutboxLock
from store.errors import Conflict, Invalid, NotFound
from store.mailbox_settings import SettingsDraft
from store.providers import ProviderDraft
from store.schema_outbox import outbox
from store.secrets import Secret, open_secret_store
from tests.unit.conftest import FIXED_NOW


@pytest.fixture
def secrets(tmp_path):
    return open_secret_store("file", data_dir=tmp_path / "sd", config_dir=tmp_path / "sc")


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def provider(store, admin, closed_port):
    """A provider whose servers refuse connections (nothing listens on the port)."""
    return store.providers.add(
        admin,
        ProviderDraft(
            name="Nowhere",
            imap_host="127.0.0.1",
            imap_port=closed_port,
            imap_tls="ssl",
            smtp_host="127.0.0.1",
            smtp_port=closed_port,
            smtp_tls="ssl",
        ),
    )


def add_box(store, actor, secrets, provider, email: str, **settings):
    box = store.mailboxes.create(actor, email, provider.id, email, Secret("pw"), secrets)
    if settings:
        values = {**SettingsDraft.of(box).model_dump(), **settings}
        box = store.settings.save(actor, box.id, SettingsDraft.parse(**values))
    return box


def test_from_offers_exactly_the_mailboxes_the_user_may_send_from(store, admin, secrets, provider) -> None:
    off = add_box(
        store, admin, secrets, provider, "off@acme.example", send_enabled=False, is_default_sender=False
    )
    a = add_box(store, admin, secrets, provider, "a@acme.example")
    b = add_box(store, admin, secrets, provider, "b@acme.example", alias="Bea")  # newest: the default sender
    store.identity.add(admin, "user", "bob")
    bob = store.identity.actor("bob")
    assert [x.email for x in store.outbox.senders(admin)] == ["b@acme.example", "a@acme.example"]
    a = store.settings.save(admin, a.id, SettingsDraft.of(a).model_copy(update={"is_default_sender": True}))
    assert [x.email for x in store.outbox.senders(admin)] == ["a@acme.example", "b@acme.example"]
    assert store.outbox.default_sender(admin).id == a.id
    assert store.outbox.senders(bob) == [] and store.outbox.default_sender(bob) is None
    for actor, box in ((admin, off), (bob, a), (bob, b)):
        with pytest.raises(Invalid, match="from"):
            store.outbox.queue(actor, Draft(box.id, to=("x@acme.example",)))
        with pytest.raises(NotFound):
            store.outbox.sender(actor, box.id)


def test_queue_stores_the_built_message_before_any_network(store, admin, secrets, provider, tmp_path) -> None:
    box = add_box(store, admin, secrets, provider, "a@acme.example", use_signature=True, signature="A.")
    path = tmp_path / "note.txt"
    path.write_bytes(b"first version")
    item = store.outbox.queue(
        admin,
        Draft(
            box.id,
            to=("x@acme.example",),
            bcc=("y@acme.example",),
            subject="Hello",
            body="Hi",
            attachments=(path,),
        ),
    )
    path.unlink()  # the file is in the outbox now
    assert (item.state, item.attempts, item.subject, item.recipients) == (
        "queued",
        0,
        "Hello",
        ("x@acme.example", "y@acme.example"),
    )
    assert item.created_at == FIXED_NOW and item.next_attempt_at == FIXED_NOW
    assert item.message_id.endswith("@acme.example>") and item.size > 0
    draft = store.outbox.draft_of(admin, item.id)
    assert (draft.to, draft.bcc, draft.body) == (("x@acme.example",), ("y@acme.example",), "Hi")
    assert [(a.filename, a.data) for a in draft.attachments] == [("note.txt", b"first version")]
    assert store.outbox.preview(admin, draft) == "Hi\n\n-- \nA.\n"
    assert [i.id for i in store.outbox.list(admin)] == [item.id]
    store.identity.add(admin, "user", "bob")
    bob = store.identity.actor("bob")
    assert store.outbox.list(bob) == []
    with pytest.raises(NotFound):
        store.outbox.get(bob, item.id)
    with pytest.raises(NotFound):
        store.outbox.drop(bob, item.id)


def test_invalid_drafts_are_refused_field_by_field(store, admin, secrets, provider) -> None:
    box = add_box(store, admin, secrets, provider, "a@acme.example")
    with pytest.raises(Invalid) as err:
        store.outbox.queue(admin, Draft(box.id, to=("bad",), subject="a\nb"))
    assert set(err.value.errors) == {"to", "subject"}
    assert store.outbox.list(admin) == []


def test_unreachable_server_keeps_the_message_queued_with_backoff(store, admin, secrets, provider) -> None:
    box = add_box(store, admin, secrets, provider, "a@acme.example")
    item = store.outbox.queue(admin, Draft(box.id, to=("x@acme.example",), subject="s"))
    second = store.outbox.queue(admin, Draft(box.id, to=("y@acme.example",), subject="t"))
    report = store.outbox.drain(secrets, now=FIXED_NOW, timeout=2)
    assert [(r.item_id, r.state) for r in report.results] == [(item.id, "queued"), (second.id, "queued")]
    got = store.outbox.get(admin, item.id)
    assert got.attempts == 1 and "refused" in got.last_error and got.error_kind == "temporary"
    assert got.next_attempt_at == FIXED_NOW + timedelta(seconds=BACKOFF[0])
    assert store.outbox.next_due() == FIXED_NOW + timedelta(seconds=BACKOFF[0])
    store.outbox.drain(secrets, now=FIXED_NOW + timedelta(seconds=BACKOFF[0]), timeout=2)
    got = store.outbox.get(admin, item.id)
    assert got.attempts == 2 and got.next_attempt_at == FIXED_NOW + timedelta(seconds=BACKOFF[0] + BACKOFF[1])
    late = FIXED_NOW + GIVE_UP_AFTER + timedelta(seconds=1)
    store.outbox.drain(secrets, now=late, timeout=2)
    got = store.outbox.get(admin, item.id)
    assert got.state == "failed" and got.last_error.startswith("Gave up after 3 attempts")
    assert store.mailboxes.get(admin, box.id).status == "ok"


def test_sending_turned_off_after_queueing_fails_without_connecting(store, admin, secrets, provider) -> None:
    box = add_box(store, admin, secrets, provider, "a@acme.example")
    item = store.outbox.queue(admin, Draft(box.id, to=("x@acme.example",)))
    store.settings.save(
        admin,
        box.id,
        SettingsDraft.of(box).model_copy(update={"send_enabled": False, "is_default_sender": False}),
    )
    (result,) = store.outbox.drain(secrets, timeout=2).results
    assert result.state == "failed" and "Sending is turned off" in result.detail
    assert store.outbox.get(admin, item.id).attempts == 0


def test_missing_password_fails_and_marks_the_mailbox(store, admin, secrets, provider) -> None:
    box = add_box(store, admin, secrets, provider, "a@acme.example")
    secrets.delete(box.secret_ref)
    store.outbox.queue(admin, Draft(box.id, to=("x@acme.example",)))
    (result,) = store.outbox.drain(secrets, timeout=2).results
    assert result.state == "failed" and "No password stored" in result.detail
    assert store.mailboxes.get(admin, box.id).status == "needs_attention"


def test_retry_and_drop_follow_the_states(store, admin, secrets, provider) -> None:
    box = add_box(store, admin, secrets, provider, "a@acme.example")
    item = store.outbox.queue(admin, Draft(box.id, to=("x@acme.example",)))
    with store.engine.begin() as conn:
        conn.execute(update(outbox).where(outbox.c.id == item.id).values(state="sending"))
    with pytest.raises(Conflict, match="being sent"):
        store.outbox.drop(admin, item.id)
    with store.engine.begin() as conn:
        conn.execute(update(outbox).where(outbox.c.id == item.id).values(state="failed", last_error="550 no"))
    assert store.outbox.get(admin, item.id).status == "failed: 550 no"
    assert store.outbox.retry(admin, item.id).state == "queued"
    with store.engine.begin() as conn:
        conn.execute(update(outbox).where(outbox.c.id == item.id).values(state="sent", copy_done=True))
    with pytest.raises(Conflict, match="nothing to retry"):
        store.outbox.retry(admin, item.id)
    assert store.outbox.drop(admin, item.id).id == item.id
    assert store.outbox.list(admin) == []
    other = store.outbox.queue(admin, Draft(box.id, to=("x@acme.example",)))
    with store.engine.begin() as conn:
        conn.execute(update(outbox).where(outbox.c.id == other.id).values(state="sent"))
    with pytest.raises(Conflict):
        store.outbox.queue(admin, Draft(box.id, to=("y@acme.example",)), replaces=other.id)


def test_mark_sent_only_for_a_message_to_check(store, admin, secrets, provider) -> None:
    box = add_box(store, admin, secrets, provider, "a@acme.example")
    item = store.outbox.queue(admin, Draft(box.id, to=("x@acme.example",)))
    with pytest.raises(Conflict, match="only one to check"):
        store.outbox.mark_sent(admin, item.id)  # queued: it has not gone anywhere yet
    handed = FIXED_NOW - timedelta(hours=1)
    with store.engine.begin() as conn:
        conn.execute(
            update(outbox)
            .where(outbox.c.id == item.id)
            .values(state="check", error_kind="uncertain", data_started_at=handed, data_ended_at=handed)
        )
    marked = store.outbox.mark_sent(admin, item.id)
    assert (marked.state, marked.copy_done, marked.sent_at, marked.last_error) == ("sent", False, handed, "")
    assert marked.next_attempt_at is not None  # the next drain saves the Sent copy
    store.identity.add(admin, "user", "bob")
    with pytest.raises(NotFound):
        store.outbox.mark_sent(store.identity.actor("bob"), item.id)
    # Retrying a check item forgets where the last attempt stopped.
    with store.engine.begin() as conn:
        conn.execute(update(outbox).where(outbox.c.id == item.id).values(state="check"))
    store.outbox.retry(admin, item.id)
    with store.engine.connect() as conn:
        row = conn.execute(
            select(outbox.c.data_started_at, outbox.c.data_ended_at).where(outbox.c.id == item.id)
        ).one()
    assert tuple(row) == (None, None)


def test_a_second_drain_waits_for_the_first(store, admin, secrets, provider) -> None:
    box = add_box(store, admin, secrets, provider, "a@acme.example")
    store.outbox.queue(admin, Draft(box.id, to=("x@acme.example",)))
    lock = OutboxLock(store.path)
    assert lock.acquire()
    try:
        report = store.outbox.drain(secrets, timeout=2)
        assert report.busy and report.results == []
    finally:
        lock.release()
    assert store.outbox.list(admin)[0].state == "queued"


def test_delivered_items_are_pruned_after_a_week(store, admin, secrets, provider) -> None:
    box = add_box(store, admin, secrets, provider, "a@acme.example")
    item = store.outbox.queue(admin, Draft(box.id, to=("x@acme.example",)))
    with store.engine.begin() as conn:
        conn.execute(
            update(outbox)
            .where(outbox.c.id == item.id)
            .values(state="sent", copy_done=True, sent_at=FIXED_NOW)
        )
    assert store.outbox.prune(FIXED_NOW + timedelta(days=6)) == 0
    assert store.outbox.prune(FIXED_NOW + timedelta(days=8)) == 1


def test_address_completion_from_past_correspondents(store, admin, secrets, provider) -> None:
    box = add_box(store, admin, secrets, provider, "a@acme.example")
    with store.engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO sync_folders (mailbox_id, name) VALUES (?, 'INBOX')", (box.id,))
        for n, (addr, name) in enumerate(
            [
                ("jorg@acme.example", "Jörg Müller"),
                ("jane@acme.example", ""),
                ("jorg@acme.example", "Jörg Müller"),
                ("zed@acme.example", "Jo Zed"),
            ]
        ):
            conn.exec_driver_sql(
                "INSERT INTO messages (id, dedupe_key, sent_at) VALUES (?, ?, 0)", (n + 1, f"k{n}")
            )
            conn.exec_driver_sql(
                "INSERT INTO message_addresses VALUES (?, 'from', ?, ?)", (n + 1, addr, name)
            )
            conn.exec_driver_sql(
                "INSERT INTO message_locations (mailbox_id, folder_id, uid, message_id, sent_at) "
                "VALUES (?, 1, ?, ?, 0)",
                (box.id, n + 1, n + 1),
            )
    assert store.outbox.suggest(admin, "j") == [
        "Jörg Müller <jorg@acme.example>",
        "jane@acme.example",
        "Jo Zed <zed@acme.example>",
    ]
    assert store.outbox.suggest(admin, "jö") == ["Jörg Müller <jorg@acme.example>"]
    assert store.outbox.suggest(admin, "zed") == ["Jo Zed <zed@acme.example>"]
    assert store.outbox.suggest(admin, "%") == []
    store.identity.add(admin, "user", "bob")
    assert store.outbox.suggest(store.identity.actor("bob"), "j") == []


def test_delivery_loop_drains_on_wake_and_stops(store, admin, secrets, provider) -> None:
    from store.delivery import DeliveryLoop

    box = add_box(store, admin, secrets, provider, "a@acme.example")
    reports = []
    loop = DeliveryLoop(store, secrets, on_report=reports.append, interval=30)
    loop.start()
    item = store.outbox.queue(admin, Draft(box.id, to=("x@acme.example",)))
    loop.wake()
    deadline = time.monotonic() + 10
    while not reports and time.monotonic() < deadline:
        time.sleep(0.05)
    loop.stop()
    loop.join(10)
    assert not loop.is_alive()
    assert [r.item_id for r in reports[0].results] == [item.id]
    assert store.outbox.get(admin, item.id).attempts == 1


def test_sending_from_a_shared_mailbox_is_audited_without_content(store, admin, secrets, provider) -> None:
    box = add_box(store, admin, secrets, provider, "desk@acme.example")
    store.identity.add(admin, "user", "bob")
    store.identity.grant(admin, "CanAccessSharedMailbox", "bob")
    store.sharing.set_enabled(admin, box.id, True)
    store.sharing.set_rights(admin, box.id, "bob", read=True, send=True, configure=False)
    bob = store.identity.actor("bob")
    assert [b.email for b in store.outbox.senders(bob)] == ["desk@acme.example"]
    item = store.outbox.queue(
        bob, Draft(box.id, to=("x@client.example",), subject="Quote", body="Secret text")
    )
    lines = [e for e in store.audit.list(admin, box.id) if e.action == "send_as"]
    assert len(lines) == 1 and lines[0].actor_name == "bob"
    assert lines[0].detail == {"message_id": item.message_id, "recipients": 1}
    own = store.outbox.queue(admin, Draft(box.id, to=("x@client.example",), subject="Mine"))
    assert own.id and len([e for e in store.audit.list(admin, box.id) if e.action == "send_as"]) == 1


def test_address_completion_offers_crm_contacts_first(store, admin, secrets, provider) -> None:
    from store.crm.contacts import ContactDraft

    box = add_box(store, admin, secrets, provider, "a@acme.example")
    with store.engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO sync_folders (mailbox_id, name) VALUES (?, 'INBOX')", (box.id,))
        conn.exec_driver_sql("INSERT INTO messages (id, dedupe_key, sent_at) VALUES (1, 'k1', 0)")
        conn.exec_driver_sql("INSERT INTO message_addresses VALUES (1, 'from', 'dana@client.example', 'D.')")
        conn.exec_driver_sql(
            "INSERT INTO message_locations (mailbox_id, folder_id, uid, message_id, sent_at) "
            "VALUES (?, 1, 1, 1, 0)",
            (box.id,),
        )
    store.crm.contacts.add(admin, ContactDraft.parse(name="Dana Scott", emails=("dana@client.example",)))
    store.crm.contacts.add(admin, ContactDraft.parse(name="Daniel Ortiz", emails=("d.ortiz@other.example",)))
    assert store.outbox.suggest(admin, "da") == [
        "Dana Scott <dana@client.example>",
        "Daniel Ortiz <d.ortiz@other.example>",
    ]
    assert store.outbox.suggest(admin, "ortiz") == ["Daniel Ortiz <d.ortiz@other.example>"]


def test_a_locked_keyring_keeps_the_messages_queued_and_retries_them(
    store, admin, secrets, provider, tmp_path
) -> None:
    from store.keyring_file import KEY_FILE_NAME

    box = add_box(store, admin, secrets, provider, "a@acme.example")
    first = store.outbox.queue(admin, Draft(box.id, to=("x@acme.example",), subject="s"))
    second = store.outbox.queue(admin, Draft(box.id, to=("y@acme.example",), subject="t"))
    key = tmp_path / "sc" / KEY_FILE_NAME
    saved = key.read_bytes()
    key.unlink()  # the keyring cannot be unlocked now
    report = store.outbox.drain(secrets, now=FIXED_NOW, timeout=2)
    assert [(r.item_id, r.state) for r in report.results] == [(first.id, "queued"), (second.id, "queued")]
    for item_id in (first.id, second.id):
        got = store.outbox.get(admin, item_id)
        assert (got.state, got.error_kind, got.attempts) == ("queued", "temporary", 1)
        assert got.last_error.startswith("The password of a@acme.example could not be read")
        assert "key file" in got.last_error and "tried again" in got.last_error
        assert got.next_attempt_at == FIXED_NOW + timedelta(seconds=BACKOFF[0])
    assert store.mailboxes.get(admin, box.id).status == "ok"  # nothing wrong with the mailbox itself
    key.write_bytes(saved)
    key.chmod(0o600)
    store.outbox.drain(secrets, now=FIXED_NOW + timedelta(seconds=BACKOFF[0]), timeout=2)
    got = store.outbox.get(admin, first.id)  # unlocked: on to the (unreachable) server
    assert got.attempts == 2 and "refused" in got.last_error and got.state == "queued"
