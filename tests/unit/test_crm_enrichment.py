"""Enrichment: signature proposals accepted into the contact or rejected for good; the unmatched queue."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from store.crm.drafts import CompanyDraft, ContactDraft
from store.errors import Conflict, Invalid, NotFound
from tests.unit.crm_mail import connect_mailbox, deliver, message

SIGNED = """Hi Alice,

the draft is attached; order no. 4711-0815 ships on 15.12.2026.

Best regards,
Ann Lee
Head of Sales
Acme Widgets Ltd
T: +44 20 7946 0958
M: +44 7700 900123
"""


@pytest.fixture
def box(store, admin) -> int:
    return connect_mailbox(store, "alice", "alice@ourco.example")


def test_proposals_accepted_are_written_rejected_are_remembered(store, admin, box) -> None:
    crm = store.crm
    ann = crm.contacts.add(
        admin, ContactDraft.parse(name="Ann Lee", emails=("ann@acme.com",), phones=("+44 7700 900 123",))
    )
    deliver(store, box, message("Ann Lee <ann@acme.com>", "alice@ourco.example", body=SIGNED))
    found = {p.field: p for p in crm.enrichment.refresh(admin, ann.id)}
    assert {f: p.value for f, p in found.items()} == {
        "phone": "+44 20 7946 0958",
        "job_title": "Head of Sales",
        "company": "Acme Widgets Ltd",
    }
    assert crm.contacts.get(admin, ann.id).job_title == ""  # nothing written until accepted
    contact = crm.enrichment.accept(admin, found["phone"].id)
    assert contact.phones == ("+44 7700 900 123", "+44 20 7946 0958")
    contact = crm.enrichment.accept(admin, found["company"].id)
    assert contact.company == "Acme Widgets Ltd"
    crm.enrichment.reject(admin, found["job_title"].id)
    with pytest.raises(Invalid, match="already rejected"):
        crm.enrichment.accept(admin, found["job_title"].id)
    deliver(
        store,
        box,
        message(
            "Ann Lee <ann@acme.com>",
            "alice@ourco.example",
            body=SIGNED,
            when=datetime(2026, 11, 25, tzinfo=UTC),
        ),
    )
    assert crm.enrichment.refresh(admin, ann.id) == []  # rejected and accepted values never come back
    assert [p.state for p in crm.enrichment.proposals(admin, ann.id, state="rejected")] == ["rejected"]
    assert crm.contacts.get(admin, ann.id).job_title == ""


def test_company_of_the_email_domain_is_recognised_without_a_legal_form(store, admin, box) -> None:
    crm = store.crm
    crm.companies.add(admin, CompanyDraft.parse(name="Initech Inc.", domains=("initech.com",)))
    bo = crm.contacts.add(admin, ContactDraft.parse(name="Bo Diaz", emails=("bo@initech.com",)))
    crm.contacts.update(
        admin, bo.id, ContactDraft.parse(name="Bo Diaz", emails=("bo@initech.com",), company="Other Corp")
    )
    deliver(
        store,
        box,
        message("bo@initech.com", "alice@ourco.example", body="Thanks!\n\n-- \nBo Diaz\nINITECH\n"),
    )
    assert [(p.field, p.value) for p in crm.enrichment.refresh(admin, bo.id)] == [("company", "Initech Inc.")]


def test_proposals_follow_the_rights_on_their_source(store, admin, box) -> None:
    crm = store.crm
    store.identity.add(admin, "user", "bob")
    bob = store.identity.actor("bob")
    ann = crm.contacts.add(admin, ContactDraft.parse(name="Ann Lee", emails=("ann@acme.com",)))
    deliver(store, box, message("ann@acme.com", "alice@ourco.example", body=SIGNED))
    assert crm.enrichment.refresh(bob, ann.id) == []  # Bob may not read Alice's mail
    proposals = crm.enrichment.refresh(admin, ann.id)
    assert proposals and crm.enrichment.proposals(bob) == []
    with pytest.raises(NotFound):
        crm.enrichment.accept(bob, proposals[0].id)


def test_add_from_message_takes_the_name_from_the_header(store, admin, box) -> None:
    crm = store.crm
    crm.companies.add(admin, CompanyDraft.parse(name="Acme", domains=("acme.com",)))
    mid = deliver(
        store,
        box,
        message(
            '"Lee, Ann" <Ann@Acme.com>',
            "alice@ourco.example",
            cc="Raj Patel <raj@gmail.com>, alice@ourco.example",
        ),
    )
    ann = crm.contacts.add_from_message(admin, mid)
    assert (ann.name, ann.emails, ann.company) == ("Lee, Ann", ("ann@acme.com",), "Acme")
    raj = crm.contacts.add_from_message(admin, mid, "raj@gmail.com")
    assert (raj.name, raj.company_id) == ("Raj Patel", None)
    with pytest.raises(Conflict):
        crm.contacts.add_from_message(admin, mid, "raj@gmail.com")
    with pytest.raises(Invalid, match="connected mailbox"):
        crm.contacts.add_from_message(admin, mid, "alice@ourco.example")
    sent = deliver(store, box, message("alice@ourco.example", "Zed <zed@zed.example>"), folder="Sent")
    assert crm.contacts.add_from_message(admin, sent).emails == ("zed@zed.example",)


def test_unmatched_queue_most_frequent_first_add_link_ignore(store, admin, box) -> None:
    crm = store.crm
    ann = crm.contacts.add(admin, ContactDraft.parse(name="Ann", emails=("ann@acme.com",)))
    for n in range(3):
        deliver(
            store,
            box,
            message(
                "Raj Patel <raj@partner.example>",
                "alice@ourco.example",
                cc="ann@acme.com",
                when=datetime(2026, 11, 1 + n, tzinfo=UTC),
            ),
        )
    for n in range(2):
        deliver(
            store,
            box,
            message(
                "alice@ourco.example",
                "Kim <kim@acme.com>, lou@x.example",
                when=datetime(2026, 11, 10 + n, tzinfo=UTC),
            ),
            folder="Sent",
        )
    deliver(store, box, message("ann.home@y.example", "alice@ourco.example"))
    queue = crm.unmatched.queue(admin)
    assert [(u.address, u.name, u.messages) for u in queue] == [
        ("raj@partner.example", "Raj Patel", 3),
        ("kim@acme.com", "Kim", 2),
        ("lou@x.example", "", 2),
        ("ann.home@y.example", "", 1),
    ]
    raj = crm.unmatched.add(admin, "raj@partner.example")
    assert raj.name == "Raj Patel"
    crm.unmatched.link(admin, "ann.home@y.example", ann.id)
    crm.unmatched.ignore(admin, "lou@x.example")
    assert [u.address for u in crm.unmatched.queue(admin)] == ["kim@acme.com"]
    assert crm.unmatched.ignored(admin) == ["lou@x.example"]
    with pytest.raises(NotFound):
        crm.unmatched.add(admin, "lou@x.example")
    crm.unmatched.unignore(admin, "lou@x.example")
    assert len(crm.unmatched.queue(admin, limit=1, offset=1)) == 1
    assert crm.contacts.get(admin, ann.id).emails == ("ann@acme.com", "ann.home@y.example")
