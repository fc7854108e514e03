"""Timelines: threads newest first, one item per message, weekly volume, and who may see which mail."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from store.crm.drafts import CompanyDraft, ContactDraft
from store.errors import Invalid, NotFound
from tests.unit.crm_mail import connect_mailbox, deliver, message


def _at(day: int, hour: int = 9) -> datetime:
    return datetime(2026, 11, day, hour, 0, tzinfo=UTC)


@pytest.fixture
def setup(store, admin):
    """Alice owns a mailbox, Bob another; Ann at Acme wrote to both; Carol and Dave own nothing."""
    for name in ("bob", "carol", "dave"):
        store.identity.add(admin, "user", name)
    alice_box = connect_mailbox(store, "alice", "alice@ourco.example")
    bob_box = connect_mailbox(store, "bob", "bob@ourco.example")
    crm = store.crm
    acme = crm.companies.add(admin, CompanyDraft.parse(name="Acme", domains=("acme.com",)))
    ann = crm.contacts.add(admin, ContactDraft.parse(name="Ann", emails=("ann@acme.com",)))
    to_alice = deliver(store, alice_box, message("ann@acme.com", "alice@ourco.example", "Offer", _at(2)))
    to_bob = deliver(store, bob_box, message("ann@acme.com", "bob@ourco.example", "Private", _at(3)))
    return {
        "ann": ann,
        "acme": acme,
        "alice_box": alice_box,
        "bob_box": bob_box,
        "to_alice": to_alice,
        "to_bob": to_bob,
    }


def _ids(view) -> set[int]:
    return {i.message_id for t in view.threads for i in t.items}


def test_owner_sees_the_mail_of_their_own_mailboxes_only(store, setup) -> None:
    alice, bob = store.identity.actor("alice"), store.identity.actor("bob")
    assert _ids(store.crm.timelines.open(alice, contact_id=setup["ann"].id)) == {setup["to_alice"]}
    assert _ids(store.crm.timelines.open(bob, contact_id=setup["ann"].id)) == {setup["to_bob"]}
    assert _ids(store.crm.timelines.open(bob, company_id=setup["acme"].id)) == {setup["to_bob"]}


def test_others_see_the_record_but_none_of_its_mail(store, setup) -> None:
    carol = store.identity.actor("carol")
    view = store.crm.timelines.open(carol, contact_id=setup["ann"].id)
    assert (view.title, view.threads, view.messages) == ("Ann", (), 0)
    assert all(w.incoming == w.outgoing == 0 for w in view.weekly)
    assert store.crm.enrichment.proposals(carol) == []
    assert store.crm.unmatched.queue(carol) == []
    with pytest.raises(NotFound):
        store.crm.linking.for_message(carol, setup["to_alice"])


def test_read_right_holders_see_shared_mail(store, admin, setup) -> None:
    """Alice shares her mailbox with Dave (Read) and Carol (Send); Bob holds no right on it."""
    from store.identity import Operation
    from store.sharing import ShareRow, SharingState

    for name in ("carol", "dave"):
        store.identity.grant(admin, Operation.SHARED_MAILBOX_ACCESS.value, name)
    alice = store.identity.actor("alice")
    store.sharing.save(
        alice,
        "alice@ourco.example",
        SharingState(True, [ShareRow("dave", read=True), ShareRow("carol", send=True)]),
    )
    for name in ("dave", "carol"):
        view = store.crm.timelines.open(store.identity.actor(name), contact_id=setup["ann"].id)
        assert _ids(view) == {setup["to_alice"]}, name
        assert view.threads[0].items[0].mailbox == "alice@ourco.example"
    bob = store.identity.actor("bob")
    assert _ids(store.crm.timelines.open(bob, contact_id=setup["ann"].id)) == {setup["to_bob"]}
    store.sharing.set_rights(alice, "alice@ourco.example", "dave", read=False, send=False, configure=False)
    dave = store.identity.actor("dave")
    assert store.crm.timelines.open(dave, contact_id=setup["ann"].id).messages == 0
    store.sharing.set_enabled(alice, "alice@ourco.example", False)
    assert store.crm.timelines.open(store.identity.actor("carol"), contact_id=setup["ann"].id).messages == 0


def test_threads_newest_first_with_their_messages_newest_first(store, admin, setup) -> None:
    alice = store.identity.actor("alice")
    box = setup["alice_box"]
    a1 = deliver(
        store,
        box,
        message("ann@acme.com", "alice@ourco.example", "Contract", _at(5), message_id="c1@acme.com"),
    )
    a2 = deliver(
        store,
        box,
        message(
            "alice@ourco.example",
            "ann@acme.com",
            "Re: Contract",
            _at(6),
            message_id="c2@ourco.example",
            in_reply_to="c1@acme.com",
            references="c1@acme.com",
        ),
        folder="Sent",
    )
    # a reply to a message that is not stored still joins the thread through References
    a3 = deliver(
        store,
        box,
        message(
            "ann@acme.com",
            "alice@ourco.example",
            "Re: Contract",
            _at(9),
            message_id="c4@acme.com",
            in_reply_to="c3@acme.com",
            references="c1@acme.com c2@ourco.example c3@acme.com",
        ),
    )
    other = deliver(store, box, message("ann@acme.com", "alice@ourco.example", "Invoice", _at(7)))
    view = store.crm.timelines.open(alice, contact_id=setup["ann"].id)
    assert [[i.message_id for i in t.items] for t in view.threads] == [
        [a3, a2, a1],
        [other],
        [setup["to_alice"]],
    ]
    thread = view.threads[0]
    assert thread.subject == "Contract" and thread.last_at == _at(9)
    assert [i.direction for i in thread.items] == ["in", "out", "in"]
    assert thread.items[1].mailbox == "alice@ourco.example" and thread.items[1].subject == "Re: Contract"


def test_a_timeline_is_of_one_record(store, admin, setup) -> None:
    with pytest.raises(Invalid):
        store.crm.timelines.open(admin)
    with pytest.raises(NotFound):
        store.crm.timelines.open(admin, contact_id=9999)


def test_pages_go_back_in_time_and_counts_cover_everything(store, admin, setup) -> None:
    alice = store.identity.actor("alice")
    box = setup["alice_box"]
    ids = [
        deliver(store, box, message("ann@acme.com", "alice@ourco.example", f"Note {n}", _at(23, n)))
        for n in range(5)
    ]
    ids.append(
        deliver(store, box, message("alice@ourco.example", "ann@acme.com", "Answer", _at(24)), folder="Sent")
    )
    seen: list[int] = []
    view = store.crm.timelines.open(alice, contact_id=setup["ann"].id, limit=4, weeks=2)
    assert view.messages == 7
    assert [(str(w.week), w.incoming, w.outgoing) for w in view.weekly] == [
        ("2026-11-16", 0, 0),
        ("2026-11-23", 5, 1),
    ]
    while True:
        seen += [i.message_id for t in view.threads for i in t.items]
        if view.next_before is None:
            break
        view = store.crm.timelines.open(
            alice, contact_id=setup["ann"].id, limit=4, weeks=2, before=view.next_before
        )
        assert view.weekly == () and view.messages == 3  # the rest, from this page back
    assert seen == [ids[5], *reversed(ids[:5]), setup["to_alice"]]
