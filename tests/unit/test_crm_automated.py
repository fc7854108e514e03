"""Automated mail: recognised from its header, still linked, but never makes or enriches a contact."""

from __future__ import annotations

from pathlib import Path

import pytest

from store.crm.automated import is_automated, is_automated_sender
from store.crm.drafts import ContactDraft
from store.errors import Invalid, NotFound
from store.sync.parse import parse_envelope, split_header
from tests.unit.crm_mail import connect_mailbox, deliver, message

SIGNATURE = "Hello,\n\nsee below.\n\nBest regards,\nAnn Lee\nHead of Sales\nAcme Ltd\nT: +44 20 7946 0958\n"


@pytest.mark.parametrize(
    "headers",
    [
        {"Auto-Submitted": "auto-generated"},
        {"auto-submitted": "auto-replied"},
        {"List-Id": "<news.acme.com>"},
        {"List-Unsubscribe": "<mailto:unsub@acme.com>"},
        {"Precedence": "bulk"},
        {"Precedence": "list"},
        {"From": "Acme <no-reply@acme.com>"},
        {"From": "noreply@github.com"},
        {"From": "MAILER-DAEMON@mx.acme.com"},
        {"From": "Do Not Reply <donotreply@bank.example>"},
        {b"return-path": b"<>"},
        {"X-Autoreply": "yes"},
    ],
)
def test_automated_headers(headers) -> None:
    assert is_automated(headers)


@pytest.mark.parametrize(
    "headers",
    [
        {"From": "Ann <ann@acme.com>", "To": "bob@x.org"},
        {"Auto-Submitted": "no", "From": "ann@acme.com"},
        {"Precedence": "first-class", "From": "ann@acme.com"},
        {"From": "Norbert Reply <norbert.reply@acme.com>"},
        {"From": "replyto@acme.com", "Return-Path": "<ann@acme.com>"},
    ],
)
def test_personal_headers(headers) -> None:
    assert not is_automated(headers)


def test_sender_rules() -> None:
    assert is_automated_sender("no_reply@x.org") and is_automated_sender("bounces+123@list.example")
    assert not is_automated_sender("noreen@x.org") and not is_automated_sender("daemon.smith@x.org")


def test_the_sync_parser_flags_automated_mail() -> None:
    raw = message("news@acme.com", "a@b.example", extra="List-Unsubscribe: <https://acme.com/u>")
    assert parse_envelope(split_header(raw)[0], len(raw), None).automated
    raw = message("ann@acme.com", "a@b.example")
    assert not parse_envelope(split_header(raw)[0], len(raw), None).automated


@pytest.fixture
def box(store, admin) -> int:
    return connect_mailbox(store, "alice", "alice@ourco.example")


def test_automated_mail_is_linked_to_existing_contacts(store, admin, box) -> None:
    ann = store.crm.contacts.add(admin, ContactDraft.parse(name="Ann", emails=("ann@acme.com",)))
    mid = deliver(
        store, box, message("ann@acme.com", "alice@ourco.example", extra="Auto-Submitted: auto-replied")
    )
    items = [i for t in store.crm.timelines.open(admin, contact_id=ann.id).threads for i in t.items]
    assert [(i.message_id, i.automated) for i in items] == [(mid, True)]
    assert store.crm.linking.for_message(admin, mid).automated


def test_automated_mail_never_creates_a_contact(store, admin, box) -> None:
    crm = store.crm
    news = deliver(
        store,
        box,
        message(
            "Acme News <news@acme.com>",
            "alice@ourco.example",
            cc="ed@acme.com",
            extra="List-Id: <news.acme.com>",
        ),
    )
    robot = deliver(store, box, message("no-reply@shop.example", "alice@ourco.example"))
    with pytest.raises(Invalid, match="automated"):
        crm.contacts.add_from_message(admin, news)
    with pytest.raises(Invalid, match="automated"):
        crm.contacts.add_from_message(admin, robot)
    assert all(not c.addable for c in crm.linking.for_message(admin, news).unknown)
    assert crm.unmatched.queue(admin) == []
    with pytest.raises(NotFound):
        crm.unmatched.add(admin, "news@acme.com")
    with pytest.raises(Invalid, match="automated sender"):
        crm.unmatched.add(admin, "no-reply@shop.example")
    assert crm.contacts.list(admin) == []


def test_automated_mail_never_proposes(store, admin, box) -> None:
    ann = store.crm.contacts.add(admin, ContactDraft.parse(name="Ann Lee", emails=("ann@acme.com",)))
    deliver(
        store,
        box,
        message("ann@acme.com", "alice@ourco.example", body=SIGNATURE, extra="Auto-Submitted: auto-replied"),
    )
    assert store.crm.enrichment.refresh(admin, ann.id) == []
    deliver(store, box, message("ann@acme.com", "alice@ourco.example", body=SIGNATURE))
    assert {p.field for p in store.crm.enrichment.refresh(admin, ann.id)} == {"phone", "job_title", "company"}


def test_migration_backfills_the_flag(tmp_path: Path) -> None:
    """Mail stored before crm1 is flagged from its raw header, or from its sender when no body is loaded."""
    from store import migrate
    from store.db import make_engine
    from store.sync.parse import compress

    engine = make_engine(tmp_path / "old.db")
    migrate.upgrade(engine, "0002")
    news = message("news@acme.com", "a@b.example", extra="List-Id: <news.acme.com>")
    with engine.begin() as conn:
        for mid, sender in ((1, "news@acme.com"), (2, "ann@acme.com"), (3, "noreply@acme.com")):
            conn.exec_driver_sql(
                "INSERT INTO messages (id, dedupe_key, from_address, sent_at) VALUES (?, ?, ?, 0)",
                (mid, f"k{mid}", sender),
            )
        conn.exec_driver_sql("INSERT INTO message_raw VALUES (1, 0, 'zstd', ?)", (compress(news),))
        conn.exec_driver_sql(
            "INSERT INTO message_raw VALUES (2, 0, 'zstd', ?)",
            (compress(message("ann@acme.com", "a@b.example")),),
        )
    migrate.upgrade(engine)
    with engine.connect() as conn:
        flags = dict(conn.exec_driver_sql("SELECT id, is_automated FROM messages").fetchall())
        domains = conn.exec_driver_sql("SELECT domain FROM message_addresses").fetchall()
    assert flags == {1: 1, 2: 0, 3: 1} and domains == []
