"""Message listings page by keyset over (sent_at, location id): every row once, in order, even on ties."""

from __future__ import annotations

from datetime import timedelta

from store.service import Store
from tests.snapshots.conftest import add_mailbox
from tests.tui.mail_support import Mail, insert_mail
from tests.unit.conftest import FIXED_NOW


def fill(store: Store, owner, email: str, count: int, prefix: str) -> int:  # noqa: ANN001 - an Actor
    """*count* messages in groups of 7 sharing one sent_at, spread over two folders."""
    box = add_mailbox(store, owner, email)
    insert_mail(
        store,
        box,
        [
            Mail(
                f"{prefix} {n}",
                "S",
                "s@example.test",
                FIXED_NOW - timedelta(minutes=n // 7),
                folder=("INBOX", "Archive")[n % 2],
            )
            for n in range(count)
        ],
    )
    return box


def page_through(store: Store, actor, size: int, **where) -> list:  # noqa: ANN001
    rows, before = [], None
    while True:
        page = store.messages.list(actor, limit=size, before=before, **where)
        if not page:
            return rows
        rows += page
        before = (page[-1].sent_at, page[-1].location_id)


def test_keyset_pages_return_every_row_once_in_order_with_equal_dates(store: Store, admin) -> None:  # noqa: ANN001
    box = fill(store, admin, "alice@gmail.com", 95, "A")
    fill(store, admin, "sales@acme.example", 40, "B")
    cases = (({"mailbox_id": box}, 95), ({}, 135), ({"mailbox_id": box, "folder": "INBOX"}, 48))
    for where, expected in cases:
        everything = store.messages.list(admin, limit=1000, **where)
        assert len(everything) == store.messages.count(admin, **where) == expected
        keys = [(r.sent_at, r.location_id) for r in everything]
        assert keys == sorted(keys, reverse=True) and len(set(keys)) == expected
        for size in (1, 6, 7, 10):  # page edges fall inside and on the borders of the ties
            paged = page_through(store, admin, size, **where)
            assert [r.location_id for r in paged] == [r.location_id for r in everything]
        by_offset = [store.messages.list(admin, limit=10, offset=o, **where) for o in range(0, expected, 10)]
        assert [r.location_id for p in by_offset for r in p] == [r.location_id for r in everything]


def test_pages_and_counts_show_only_mailboxes_in_the_panel(store: Store, admin) -> None:  # noqa: ANN001
    box = fill(store, admin, "alice@gmail.com", 20, "A")
    store.identity.add(admin, "user", "bob")
    bob = store.identity.actor("bob")
    own = fill(store, bob, "bob@gmail.com", 3, "B")
    key = (FIXED_NOW + timedelta(days=1), 10**9)
    assert store.messages.count(bob) == 3 and store.messages.count(bob, mailbox_id=box) == 0
    assert store.messages.list(bob, mailbox_id=box, before=key) == []
    assert {r.mailbox_id for r in store.messages.list(bob, before=key)} == {own}
    assert {r.mailbox_id for r in store.messages.list(bob, offset=1)} == {own}
    assert store.messages.count(admin) == 20
