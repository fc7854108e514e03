"""Stored mail for TUI tests, snapshots and benchmarks, written straight into the store's tables."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from store import db
from store.schema import message_addresses, message_attachments, message_locations, messages, sync_folders
from store.service import Store

SNAP_NOW = datetime(2026, 5, 11, 9, 30, tzinfo=UTC)


@dataclass(frozen=True)
class Mail:
    """One message as a test wants it stored (one location, in *folder*)."""

    subject: str
    from_name: str
    from_address: str
    sent_at: datetime
    flags: str = ""
    body: str = ""
    to: tuple[tuple[str, str], ...] = ()
    attachments: tuple[tuple[str, str, int], ...] = ()  # (filename, content type, size)
    folder: str = "INBOX"


def folder_id(store: Store, mailbox_id: int, name: str) -> int:
    """The id of a synced folder of the mailbox, created when missing."""
    with db.write(store.engine) as conn:
        found = conn.execute(
            select(sync_folders.c.id).where(
                (sync_folders.c.mailbox_id == mailbox_id) & (sync_folders.c.name == name)
            )
        ).scalar()
        if found is not None:
            return int(found)
        return int(
            conn.execute(
                sync_folders.insert().values(mailbox_id=mailbox_id, name=name, uidvalidity=1)
            ).inserted_primary_key[0]
        )


def insert_mail(store: Store, mailbox_id: int, mails: Iterable[Mail]) -> list[int]:
    """Store *mails* in one transaction with explicit ids (fast enough for 100,000); returns message ids."""
    mails = list(mails)
    folders = {name: folder_id(store, mailbox_id, name) for name in {m.folder for m in mails}}
    with db.write(store.engine) as conn:

        def after_last(column) -> int:  # noqa: ANN001 - a Core column
            return int(conn.execute(select(func.coalesce(func.max(column), 0))).scalar_one()) + 1

        first, first_loc, uid0 = (
            after_last(messages.c.id),
            after_last(message_locations.c.id),
            after_last(message_locations.c.uid),
        )
        ids = list(range(first, first + len(mails)))
        conn.execute(
            messages.insert(),
            [
                {
                    "id": i,
                    "dedupe_key": f"test-{mailbox_id}-{i}",
                    "header_message_id": f"<m{i}@test.example>",
                    "subject": m.subject,
                    "from_address": m.from_address,
                    "from_name": m.from_name,
                    "sent_at": int(m.sent_at.timestamp()),
                    "size": 2000 + len(m.body),
                    "body_loaded": True,
                    "body_text": m.body,
                    "has_attachments": bool(m.attachments),
                }
                for i, m in zip(ids, mails, strict=True)
            ],
        )
        conn.execute(
            message_locations.insert(),
            [
                {
                    "id": first_loc + n,
                    "mailbox_id": mailbox_id,
                    "folder_id": folders[m.folder],
                    "uid": uid0 + n,
                    "message_id": i,
                    "flags": m.flags,
                    "sent_at": int(m.sent_at.timestamp()),
                }
                for n, (i, m) in enumerate(zip(ids, mails, strict=True))
            ],
        )
        addresses = [
            {"message_id": i, "kind": "to", "address": a, "name": n}
            for i, m in zip(ids, mails, strict=True)
            for a, n in m.to
        ]
        if addresses:
            conn.execute(message_addresses.insert(), addresses)
        files = [
            {"message_id": i, "part": str(k + 2), "filename": f, "content_type": t, "size": s}
            for i, m in zip(ids, mails, strict=True)
            for k, (f, t, s) in enumerate(m.attachments)
        ]
        if files:
            conn.execute(message_attachments.insert(), files)
    return ids


def sample_mail(now: datetime = SNAP_NOW) -> Sequence[Mail]:
    """A dozen fixed messages: today's, this year's and last year's, read and unread, one flagged."""
    me = (("alice@gmail.com", "Alice Moreau"),)
    rows = [
        ("Quarterly figures for Acme", "Bruno Keller", "bruno@acme.example", timedelta(hours=1), "", 1),
        (
            "Re: Delivery of the new printers",
            "Chen Wei",
            "chen.wei@printhaus.example",
            timedelta(hours=3),
            "\\Seen \\Flagged",
            0,
        ),
        ("Invoice 2026-0412", "Billing", "billing@cloudly.example", timedelta(days=1), "\\Seen", 0),
        ("Lunch on Thursday?", "Dana Scott", "dana@acme.example", timedelta(days=2), "", 0),
        (
            "Your contract renewal",
            "Eva Lindqvist",
            "eva@nordic-supply.example",
            timedelta(days=6),
            "\\Seen",
            0,
        ),
        (
            "Meeting notes: CRM roll-out",
            "Farid Haddad",
            "farid@acme.example",
            timedelta(days=12),
            "\\Seen",
            0,
        ),
        (
            "Welcome to the partner portal",
            "Partner team",
            "partners@globex.example",
            timedelta(days=40),
            "\\Seen",
            0,
        ),
        (
            "Re: Shipping delays in March",
            "Chen Wei",
            "chen.wei@printhaus.example",
            timedelta(days=63),
            "\\Seen \\Answered",
            0,
        ),
        ("Price list 2026", "Gina Rossi", "gina@rossi-trading.example", timedelta(days=90), "\\Seen", 1),
        ("Season's greetings", "Hugo Brandt", "hugo@brandt.example", timedelta(days=140), "\\Seen", 0),
        (
            "Offer for the warehouse lease",
            "Ines Duarte",
            "ines@lisbon-estates.example",
            timedelta(days=200),
            "\\Seen",
            0,
        ),
        ("Kick-off: Mailroom pilot", "Bruno Keller", "bruno@acme.example", timedelta(days=400), "\\Seen", 0),
    ]
    return [
        Mail(
            subject,
            name,
            address,
            now - ago,
            flags,
            body=f"Hello Alice,\n\n{subject} — the details are below.\n\nBest regards,\n{name}\n",
            to=me,
            attachments=(("figures-q1.pdf", "application/pdf", 184_320),) if files else (),
        )
        for subject, name, address, ago, flags, files in rows
    ]
