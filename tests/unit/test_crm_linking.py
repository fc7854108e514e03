"""Linking mail to records: by address and domain, free-mail ignored, re-linking, duplicates counted once."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from store.crm.drafts import CompanyDraft, ContactDraft
from tests.unit.crm_mail import connect_mailbox, deliver, message


@pytest.fixture
def box(store, admin) -> int:
    return connect_mailbox(store, "alice", "alice@ourco.example")


def _ids(view) -> set[int]:
    return {i.message_id for t in view.threads for i in t.items}


def test_linked_by_from_to_and_cc_address(store, admin, box) -> None:
    ann = store.crm.contacts.add(admin, ContactDraft.parse(name="Ann", emails=("ann@client.example",)))
    m_from = deliver(store, box, message("Ann <ann@client.example>", "alice@ourco.example"))
    m_to = deliver(store, box, message("alice@ourco.example", "ANN@client.example"))
    m_cc = deliver(
        store, box, message("bob@else.example", "alice@ourco.example", cc="Ann <ann@client.example>")
    )
    deliver(store, box, message("bob@else.example", "alice@ourco.example"))
    view = store.crm.timelines.open(admin, contact_id=ann.id)
    assert _ids(view) == {m_from, m_to, m_cc}
    links = store.crm.linking.for_message(admin, m_cc)
    assert [c.name for c in links.contacts] == ["Ann"]
    assert [u.address for u in links.unknown] == ["bob@else.example"]


def test_linked_by_domain_and_through_the_company_contacts(store, admin, box) -> None:
    crm = store.crm
    acme = crm.companies.add(admin, CompanyDraft.parse(name="Acme", domains=("acme.com",)))
    by_domain = deliver(store, box, message("x@acme.com", "alice@ourco.example"))
    deliver(store, box, message("x@sub.acme.com", "alice@ourco.example"))  # other domain: not linked
    deliver(store, box, message("x@notacme.com", "alice@ourco.example"))
    kim = crm.contacts.add(
        admin, ContactDraft.parse(name="Kim", emails=("kim.acme@gmail.com",), company="Acme")
    )
    by_contact = deliver(store, box, message("kim.acme@gmail.com", "alice@ourco.example"))
    deliver(store, box, message("someone@gmail.com", "alice@ourco.example"))
    view = crm.timelines.open(admin, company_id=acme.id)
    assert _ids(view) == {by_domain, by_contact}
    assert view.messages == 2 and kim.company_id == acme.id
    assert [c.name for c in crm.linking.for_message(admin, by_domain).companies] == ["Acme"]


def test_free_mail_mail_links_to_no_company(store, admin, box) -> None:
    crm = store.crm
    crm.companies.add(admin, CompanyDraft.parse(name="Acme", domains=("acme.com",)))
    mid = deliver(store, box, message("someone@gmail.com", "alice@ourco.example", cc="x@mail.ru"))
    assert crm.linking.for_message(admin, mid).companies == ()


def test_links_follow_an_address_added_later(store, admin, box) -> None:
    crm = store.crm
    ann = crm.contacts.add(admin, ContactDraft.parse(name="Ann", emails=("ann@client.example",)))
    old = deliver(store, box, message("ann.private@home.example", "alice@ourco.example"))
    assert crm.timelines.open(admin, contact_id=ann.id).messages == 0
    crm.contacts.add_email(admin, ann.id, "ann.private@home.example")
    assert _ids(crm.timelines.open(admin, contact_id=ann.id)) == {old}
    crm.contacts.remove_email(admin, ann.id, "ann.private@home.example")
    assert crm.timelines.open(admin, contact_id=ann.id).messages == 0
    crm.companies.add(admin, CompanyDraft.parse(name="Home", domains=("home.example",)))
    assert _ids(crm.timelines.open(admin, company_id=crm.companies.find(admin, "Home").id)) == {old}


def test_a_message_in_many_folders_and_mailboxes_is_linked_once(store, admin, box) -> None:
    crm = store.crm
    store.identity.add(admin, "user", "bob")
    bob_box = connect_mailbox(store, "bob", "bob@ourco.example")
    ann = crm.contacts.add(
        admin, ContactDraft.parse(name="Ann", emails=("ann@client.example", "ann@c2.example"))
    )
    raw = message(
        "Ann <ann@client.example>",
        "alice@ourco.example, bob@ourco.example",
        cc="ann@c2.example",
        message_id="dup@client.example",
    )
    first = deliver(store, box, raw)
    assert deliver(store, box, raw, folder="Archive") == first
    assert deliver(store, bob_box, raw) == first
    view = crm.timelines.open(admin, contact_id=ann.id)  # alice reads her own mailbox only
    assert view.messages == 1 and len(view.threads) == 1
    assert view.threads[0].items[0].mailbox == "alice@ourco.example"
    assert sum(w.incoming for w in view.weekly) == 1


def test_linking_is_read_with_one_index_lookup(store, admin, box) -> None:
    """The joins use the address and domain indexes (no scan of all stored addresses)."""
    from sqlalchemy.dialects import sqlite

    from store.crm.linking import company_message_ids, contact_message_ids

    with store.engine.connect() as conn:
        for q in (contact_message_ids(1), company_message_ids(1)):
            sql = str(q.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))
            plan = " ".join(r[3] for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))
            assert "SCAN message_addresses" not in plan, plan


def test_direction_is_out_when_a_connected_mailbox_sent_it(store, admin, box) -> None:
    ann = store.crm.contacts.add(admin, ContactDraft.parse(name="Ann", emails=("ann@client.example",)))
    deliver(
        store,
        box,
        message("alice@ourco.example", "ann@client.example", when=datetime(2026, 11, 24, 9, 0, tzinfo=UTC)),
        folder="Sent",
    )
    deliver(
        store,
        box,
        message("ann@client.example", "alice@ourco.example", when=datetime(2026, 11, 10, 9, 0, tzinfo=UTC)),
    )
    view = store.crm.timelines.open(admin, contact_id=ann.id, weeks=4)
    assert [t.items[0].direction for t in view.threads] == ["out", "in"]
    assert [(str(w.week), w.incoming, w.outgoing) for w in view.weekly] == [
        ("2026-11-02", 0, 0),
        ("2026-11-09", 1, 0),
        ("2026-11-16", 0, 0),
        ("2026-11-23", 0, 1),
    ]
