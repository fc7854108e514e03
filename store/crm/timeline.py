"""A contact's or company's timeline: their mail across the mailboxes the user may read, by thread."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Literal

from sqlalchemy import Engine, select

from store import db
from store.clock import Clock
from store.crm.linking import company_message_ids, contact_message_ids
from store.crm.tables import companies, contacts
from store.errors import Invalid, NotFound
from store.identity import Actor
from store.schema import mailboxes, message_locations, messages

if TYPE_CHECKING:
    from store.mailboxes import Mailboxes

Direction = Literal["in", "out"]


@dataclass(frozen=True)
class TimelineItem:
    """One message on a timeline, shown from one mailbox the user may read (the sender's when it is one)."""

    message_id: int
    direction: Direction
    mailbox_id: int
    mailbox: str
    sent_at: datetime
    subject: str
    from_address: str
    from_name: str
    automated: bool


@dataclass(frozen=True)
class TimelineThread:
    """A conversation on a timeline: its messages newest first."""

    subject: str
    last_at: datetime
    items: tuple[TimelineItem, ...]


@dataclass(frozen=True)
class WeekVolume:
    """How many linked messages came in and went out in the week starting on Monday *week*."""

    week: date
    incoming: int
    outgoing: int


@dataclass(frozen=True)
class TimelineView:
    """What a record's Timeline tab shows: threads newest first and mail volume per week."""

    kind: Literal["contact", "company"]
    record_id: int
    title: str
    threads: tuple[TimelineThread, ...]
    weekly: tuple[WeekVolume, ...]
    messages: int


def _week(day: date) -> date:
    return day - timedelta(days=day.weekday())


class _Threads:
    """Groups messages that share Message-IDs through In-Reply-To and References (union-find)."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, key: str) -> str:
        root = key
        while self.parent.setdefault(root, root) != root:
            root = self.parent[root]
        while self.parent[key] != root:
            self.parent[key], key = root, self.parent[key]
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra


class Timelines:
    """Builds timelines; every message on one sits in a mailbox the user may read (`readable_ids`)."""

    def __init__(self, engine: Engine, clock: Clock, mailboxes_: Mailboxes) -> None:
        self._engine = engine
        self._clock = clock
        self._mailboxes = mailboxes_

    def open(self, actor: Actor, contact_id: int | None = None, company_id: int | None = None,
             weeks: int = 26) -> TimelineView:
        """The timeline of one contact or one company; *weeks* of volume end with the current week."""
        if (contact_id is None) == (company_id is None):
            raise Invalid({"": "a timeline is of one contact or one company"})
        readable = sorted(self._mailboxes.readable_ids(actor))
        with db.read(self._engine) as conn:
            if contact_id is not None:
                kind: Literal["contact", "company"] = "contact"
                record_id = contact_id
                title = conn.execute(select(contacts.c.name).where(contacts.c.id == contact_id)).scalar()
                linked = contact_message_ids(contact_id)
            else:
                kind, record_id = "company", company_id  # type: ignore[assignment]
                title = conn.execute(select(companies.c.name).where(companies.c.id == company_id)).scalar()
                linked = company_message_ids(company_id)  # type: ignore[arg-type]
            if title is None:
                raise NotFound(f"No {kind} {record_id}.")
            boxes = {i: e for i, e in conn.execute(select(mailboxes.c.id, mailboxes.c.email))}
            rows = conn.execute(
                select(messages.c.id, messages.c.sent_at, messages.c.subject, messages.c.from_address,
                       messages.c.from_name, messages.c.header_message_id, messages.c.in_reply_to,
                       messages.c.reference_ids, messages.c.is_automated, message_locations.c.mailbox_id)
                .join(message_locations, message_locations.c.message_id == messages.c.id)
                .where(messages.c.id.in_(linked.scalar_subquery()),
                       message_locations.c.mailbox_id.in_(readable))
            ).all() if readable else []
        own = set(boxes.values())
        items: dict[int, tuple[TimelineItem, tuple[str, ...]]] = {}
        for mid, sent, subject, sender, sender_name, hid, irt, refs, automated, box_id in rows:
            seen = items.get(mid)
            if seen is not None and (seen[0].mailbox == sender or (boxes[box_id] != sender
                                                                   and boxes[box_id] >= seen[0].mailbox)):
                continue  # one item per message: from the sender's mailbox, else the first by address
            item = TimelineItem(mid, "out" if sender in own else "in", box_id, boxes[box_id],
                                datetime.fromtimestamp(sent, UTC), subject, sender, sender_name,
                                bool(automated))
            items[mid] = (item, tuple(x for x in (hid, irt, *refs.split()) if x))
        return TimelineView(kind, record_id, title, self._threads(items.values()),
                            self._weekly(items.values(), weeks), len(items))

    @staticmethod
    def _threads(entries) -> tuple[TimelineThread, ...]:  # noqa: ANN001 - (item, ids) pairs
        groups = _Threads()
        for item, ids in entries:
            key = f"\0{item.message_id}"
            for other in ids:
                groups.union(key, other)
            groups.find(key)
        by_root: dict[str, list[TimelineItem]] = {}
        for item, _ids in entries:
            by_root.setdefault(groups.find(f"\0{item.message_id}"), []).append(item)
        threads = []
        for members in by_root.values():
            members.sort(key=lambda i: (i.sent_at, i.message_id), reverse=True)
            threads.append(TimelineThread(members[-1].subject, members[0].sent_at, tuple(members)))
        threads.sort(key=lambda t: (t.last_at, t.items[0].message_id), reverse=True)
        return tuple(threads)

    def _weekly(self, entries, weeks: int) -> tuple[WeekVolume, ...]:  # noqa: ANN001
        last = _week(self._clock().astimezone(UTC).date())
        first = last - timedelta(weeks=max(weeks, 1) - 1)
        counts: dict[date, list[int]] = {first + timedelta(weeks=n): [0, 0] for n in range(max(weeks, 1))}
        for item, _ids in entries:
            slot = counts.get(_week(item.sent_at.date()))
            if slot is not None:
                slot[item.direction == "out"] += 1
        return tuple(WeekVolume(week, n_in, n_out) for week, (n_in, n_out) in counts.items())
