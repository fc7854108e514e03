"""address_counts (migration crm3) stays equal to a recount from the mail tables whatever changes them."""

from __future__ import annotations

import random
import sqlite3
from datetime import UTC, datetime

from store.sync import writer
from tests.unit.crm_mail import connect_mailbox, deliver, message


def _recount(conn: sqlite3.Connection) -> dict[tuple[str, str], tuple[int, int]]:
    """(address, " 1 3 ") -> (messages, newest date), computed in Python from the mail tables."""
    boxes: dict[int, set[int]] = {}
    for mid, box in conn.execute("SELECT message_id, mailbox_id FROM message_locations"):
        boxes.setdefault(mid, set()).add(box)
    automated = dict(conn.execute("SELECT id, is_automated FROM messages"))
    sent = dict(conn.execute("SELECT id, sent_at FROM messages"))
    out: dict[tuple[str, str], list[int]] = {}
    for mid, address in set(conn.execute("SELECT message_id, address FROM message_addresses")):
        if automated[mid] or mid not in boxes:
            continue
        key = (address, " " + " ".join(str(b) for b in sorted(boxes[mid])) + " ")
        row = out.setdefault(key, [0, 0])
        row[0] += 1
        row[1] = max(row[1], sent[mid])
    return {k: (n, last) for k, (n, last) in out.items()}


def _check(conn: sqlite3.Connection) -> None:
    stored = {(a, b): (n, last) for a, b, n, last in conn.execute("SELECT * FROM address_counts")}
    expected = _recount(conn)
    assert {k: n for k, (n, _) in stored.items()} == {k: n for k, (n, _) in expected.items()}
    # the newest date is never older than the newest message counted (a removed newest one may linger)
    assert all(stored[k][1] >= last for k, (_, last) in expected.items())


def test_counts_follow_every_change_to_the_mail(store, admin) -> None:
    rnd = random.Random(3)
    boxes = [connect_mailbox(store, "alice", f"box{n}@ourco.example") for n in range(3)]
    people = [f"p{n}@acme.com" for n in range(6)]
    fairy = store.engine.raw_connection()
    conn = fairy.driver_connection
    try:
        raws = []
        for n in range(40):
            sender, to = rnd.sample(people, 2)
            extra = "List-Id: <news.acme.com>" if n % 7 == 0 else ""
            raws.append(
                message(
                    sender,
                    to,
                    f"S{n}",
                    datetime(2026, 11, 1 + n % 20, tzinfo=UTC),
                    cc=to if n % 5 == 0 else rnd.choice(people),
                    extra=extra,
                )
            )
        ids = []
        for raw in raws:  # some messages land in two or three mailboxes, or two folders
            for box in rnd.sample(boxes, rnd.choice((1, 1, 2, 3))):
                ids.append(deliver(store, box, raw, folder=rnd.choice(("INBOX", "Archive"))))
        _check(conn)

        def locations() -> list[tuple[int, int]]:
            return conn.execute("SELECT id, message_id FROM message_locations ORDER BY id").fetchall()

        for loc, _mid in rnd.sample(locations(), 10):  # expunged
            conn.execute("DELETE FROM message_locations WHERE id = ?", (loc,))
            conn.commit()
            _check(conn)
        for loc, _mid in rnd.sample(locations(), 5):  # a UID now names another message
            conn.execute("UPDATE message_locations SET message_id = ? WHERE id = ?", (rnd.choice(ids), loc))
            conn.commit()
            _check(conn)
        for mid in rnd.sample(sorted(set(ids)), 6):  # the automated-mail test changed its mind
            conn.execute("UPDATE messages SET is_automated = NOT is_automated WHERE id = ?", (mid,))
            conn.commit()
            _check(conn)
        held = conn.execute("SELECT message_id FROM message_locations LIMIT 1").fetchone()[0]
        conn.execute(
            "INSERT INTO message_addresses (message_id, kind, address) VALUES (?, 'cc', 'late@x.org')",
            (held,),
        )
        conn.commit()
        _check(conn)
        conn.execute("DELETE FROM message_addresses WHERE message_id = ? AND address = 'late@x.org'", (held,))
        conn.execute("DELETE FROM messages WHERE id = ?", (held,))  # still held: its locations go with it
        conn.commit()
        _check(conn)
        folder = writer.folders(conn, boxes[0])["Archive"].id
        writer.drop_folder_locations(conn, folder, gone=True, reset=False)
        _check(conn)
        conn.execute("DELETE FROM mailboxes WHERE id = ?", (boxes[1],))  # cascades to folders and locations
        conn.commit()
        _check(conn)
        writer.remove_orphans(conn)
        _check(conn)
        assert conn.execute("SELECT count(*) FROM address_counts").fetchone()[0] > 0
    finally:
        fairy.close()


def test_the_migration_counts_mail_stored_before_it(tmp_path) -> None:
    from store import migrate
    from store.db import make_engine

    engine = make_engine(tmp_path / "old.db")
    migrate.upgrade(engine, "outbox2")
    fairy = engine.raw_connection()
    conn = fairy.driver_connection
    try:
        conn.execute(
            "INSERT INTO principals (kind, name, display_name, created_at) VALUES ('user', 'a', '', 'x')"
        )
        conn.execute(
            "INSERT INTO providers (id, name, imap_host, imap_port, imap_tls, smtp_host, smtp_port, "
            "smtp_tls) VALUES (99, 'P', 'h', 993, 'ssl', 'h', 465, 'ssl')"
        )
        for box in (1, 2):
            conn.execute(
                "INSERT INTO mailboxes (id, email, owner_id, provider_id, login, secret_ref, "
                "created_at) VALUES (?, ?, 1, 99, 'l', 'none', 'x')",
                (box, f"b{box}@o.example"),
            )
            conn.execute("INSERT INTO sync_folders (id, mailbox_id, name) VALUES (?, ?, 'INBOX')", (box, box))
        for mid, automated in ((1, 0), (2, 0), (3, 1)):
            conn.execute(
                "INSERT INTO messages (id, dedupe_key, sent_at, is_automated) VALUES (?, ?, ?, ?)",
                (mid, f"k{mid}", 100 * mid, automated),
            )
            conn.executemany(
                "INSERT INTO message_addresses (message_id, kind, address) VALUES (?, ?, ?)",
                [(mid, "from", "ann@acme.com"), (mid, "to", "b1@o.example"), (mid, "cc", "ann@acme.com")],
            )
        conn.executemany(
            "INSERT INTO message_locations (mailbox_id, folder_id, uid, message_id, sent_at) "
            "VALUES (?, ?, ?, ?, 0)",
            [(1, 1, 1, 1), (2, 2, 1, 1), (1, 1, 2, 2), (1, 1, 3, 3)],
        )
        conn.commit()
    finally:
        fairy.close()
    migrate.upgrade(engine)
    with engine.connect() as c:
        rows = c.exec_driver_sql("SELECT * FROM address_counts ORDER BY address, boxes").fetchall()
    assert rows == [
        ("ann@acme.com", " 1 ", 1, 200),
        ("ann@acme.com", " 1 2 ", 1, 100),
        ("b1@o.example", " 1 ", 1, 200),
        ("b1@o.example", " 1 2 ", 1, 100),
    ]


def test_queue_counts_each_readable_message_once_and_follows_contacts(store, admin) -> None:
    """Alice reads two mailboxes, Bob one: a message both of Alice's hold counts once for her."""
    from store.crm.drafts import ContactDraft

    store.identity.add(admin, "user", "bob")
    sales = connect_mailbox(store, "alice", "sales@ourco.example")
    support = connect_mailbox(store, "alice", "support@ourco.example")
    bob_box = connect_mailbox(store, "bob", "bob@ourco.example")
    both = message("kim@acme.com", "sales@ourco.example", "Both", cc="support@ourco.example")
    deliver(store, sales, both)
    deliver(store, support, both)
    deliver(store, support, message("kim@acme.com", "support@ourco.example", "Again"))
    for n in range(3):
        deliver(store, bob_box, message("raj@partner.example", "bob@ourco.example", f"Raj {n}"))
    deliver(store, bob_box, message("kim@acme.com", "bob@ourco.example", "To Bob"))
    deliver(
        store, sales, message("news@acme.com", "sales@ourco.example", "News", extra="List-Id: <n.acme.com>")
    )
    bob = store.identity.actor("bob")
    assert [(u.address, u.messages) for u in store.crm.unmatched.queue(admin)] == [("kim@acme.com", 2)]
    assert [(u.address, u.messages) for u in store.crm.unmatched.queue(bob)] == [
        ("raj@partner.example", 3),
        ("kim@acme.com", 1),
    ]
    store.crm.contacts.add(admin, ContactDraft.parse(name="Raj", emails=("raj@partner.example",)))
    assert [u.address for u in store.crm.unmatched.queue(bob)] == ["kim@acme.com"]
    store.crm.contacts.add(admin, ContactDraft.parse(name="Kim", emails=("kim@partner.example",)))
    kim = store.crm.contacts.find(admin, "kim@partner.example")
    store.crm.contacts.add_email(admin, kim.id, "kim@acme.com")  # a contact gains the address
    assert store.crm.unmatched.queue(bob) == [] and store.crm.unmatched.queue(admin) == []
