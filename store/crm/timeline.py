"""A contact's or company's timeline: their mail across the mailboxes the user may read, by thread."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Literal

from sqlalchemy import (
    CTE,
    CompoundSelect,
    Engine,
    Integer,
    Select,
    bindparam,
    func,
    literal,
    null,
    select,
    tuple_,
    union_all,
)

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
PAGE = 200  # messages per timeline page
CHUNK = 500  # ids per IN (...) list
WEEK_SECONDS = 7 * 86400


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
    """A conversation on a timeline: its messages on this page, newest first."""

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
    """What a record's Timeline tab shows: a page of threads newest first and mail volume per week."""

    kind: Literal["contact", "company"]
    record_id: int
    title: str
    threads: tuple[TimelineThread, ...]
    weekly: tuple[WeekVolume, ...]
    messages: int  # every message of the timeline (on a later page: from that page back)
    next_before: tuple[datetime, int] | None = None  # pass as `before` for the next, older page


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


def _hits(linked: Select, older: bool) -> CTE:
    """The linked messages held in a readable mailbox (older than the cursor), once each with their date.

    The address and domain indexes (both holding message_id) give the ids; "+ 0" keeps SQLite on the
    message_id index of locations instead of walking every location of the readable mailboxes. The
    result is materialized: the page and the counts below read it, not the indexes, again."""
    loc = message_locations.c
    hits = (
        select(loc.message_id.label("mid"), func.max(loc.sent_at).label("ts"))
        .where(
            loc.message_id.in_(linked.scalar_subquery()),
            (loc.mailbox_id + 0).in_(bindparam("readable", expanding=True)),
        )
        .group_by(loc.message_id)
    )
    if older:
        cursor = tuple_(bindparam("before_ts", type_=Integer), bindparam("before_id", type_=Integer))
        hits = hits.having(tuple_(func.max(loc.sent_at), loc.message_id) < cursor)
    return hits.cte("hits").prefix_with("MATERIALIZED")


@cache
def _statement(kind: str, older: bool, limited: bool) -> CompoundSelect:
    """One statement (built once per shape; the record, mailboxes, cursor, limit and weeks are bound):
    ("page", id, date, NULL) for the newest *limit* hits, ("total", NULL, messages, NULL), and on a first
    page ("week", week, messages, sent by a connected mailbox) for each week of the chart that has mail.
    The sender is read only for messages inside the chart's weeks."""
    record = bindparam("record", type_=Integer)
    hits = _hits(contact_message_ids(record) if kind == "contact" else company_message_ids(record), older)
    page = (
        select(literal("page").label("part"), hits.c.mid.label("a"), hits.c.ts.label("b"), null().label("c"))
        .order_by(hits.c.ts.desc(), hits.c.mid.desc())
        .limit(bindparam("limit", type_=Integer) if limited else None)
        .subquery("page")
    )
    parts = [select(page), select(literal("total"), null(), func.count(), null()).select_from(hits)]
    if not older:
        origin = bindparam("origin", type_=Integer)
        week = ((hits.c.ts - origin) // WEEK_SECONDS).label("week")
        sender = select(messages.c.from_address).where(messages.c.id == hits.c.mid).scalar_subquery()
        weekly = (
            select(literal("week"), week, func.count(), func.sum(sender.in_(select(mailboxes.c.email))))
            .where(hits.c.ts >= origin, hits.c.ts < bindparam("end", type_=Integer))
            .group_by(week)
            .subquery("weekly")
        )
        parts.append(select(weekly))
    return union_all(*parts)


_ids = bindparam("ids", expanding=True)
_HOLDERS = select(message_locations.c.message_id, message_locations.c.mailbox_id).where(
    message_locations.c.message_id.in_(_ids),
    (message_locations.c.mailbox_id + 0).in_(bindparam("readable", expanding=True)),
)
_DETAILS = select(
    messages.c.id,
    messages.c.sent_at,
    messages.c.subject,
    messages.c.from_address,
    messages.c.from_name,
    messages.c.header_message_id,
    messages.c.in_reply_to,
    messages.c.reference_ids,
    messages.c.is_automated,
).where(messages.c.id.in_(_ids))


class Timelines:
    """Builds timelines; every message on one sits in a mailbox the user may read (`readable_ids`)."""

    def __init__(self, engine: Engine, clock: Clock, mailboxes_: Mailboxes) -> None:
        self._engine = engine
        self._clock = clock
        self._mailboxes = mailboxes_

    def open(
        self,
        actor: Actor,
        contact_id: int | None = None,
        company_id: int | None = None,
        weeks: int = 26,
        limit: int | None = PAGE,
        before: tuple[datetime, int] | None = None,
    ) -> TimelineView:
        """The timeline of one contact or one company: its newest *limit* messages (all of them when
        None) grouped by thread, and *weeks* of volume up to this week. A later page (*before* = a view's
        `next_before`) holds the next older messages and no chart, which the first page already drew."""
        if (contact_id is None) == (company_id is None):
            raise Invalid({"": "a timeline is of one contact or one company"})
        weeks, limit = max(weeks, 1), None if limit is None else max(limit, 1)
        readable = sorted(self._mailboxes.readable_ids(actor))
        origin = int(datetime.combine(self._first_week(weeks), datetime.min.time(), UTC).timestamp())
        with db.read(self._engine) as conn:
            if contact_id is not None:
                kind: Literal["contact", "company"] = "contact"
                record_id = contact_id
                title = conn.execute(select(contacts.c.name).where(contacts.c.id == contact_id)).scalar()
            else:
                kind, record_id = "company", company_id  # type: ignore[assignment]
                title = conn.execute(select(companies.c.name).where(companies.c.id == company_id)).scalar()
            if title is None:
                raise NotFound(f"No {kind} {record_id}.")
            boxes = {i: e for i, e in conn.execute(select(mailboxes.c.id, mailboxes.c.email))}
            page: list[tuple[int, int]] = []
            total, counts = 0, [[0, 0] for _ in range(weeks)]
            holders: dict[int, list[int]] = {}
            details = {}
            if readable:
                params = {
                    "record": record_id,
                    "readable": readable,
                    "origin": origin,
                    "end": origin + weeks * WEEK_SECONDS,
                    "limit": (limit or 0) + 1,
                }
                if before is not None:
                    params.update(before_ts=int(before[0].timestamp()), before_id=before[1])
                for part, a, b, c in conn.execute(
                    _statement(kind, before is not None, limit is not None), params
                ):
                    if part == "page":
                        page.append((a, b))
                    elif part == "total":
                        total = b
                    else:
                        counts[a] = [b - c, c]
                wanted = [mid for mid, _ts in page[:limit]]
                for i in range(0, len(wanted), CHUNK):
                    ids = wanted[i : i + CHUNK]
                    for mid, box_id in conn.execute(_HOLDERS, {"ids": ids, "readable": readable}):
                        holders.setdefault(mid, []).append(box_id)
                    for row in conn.execute(_DETAILS, {"ids": ids}):
                        details[row[0]] = row
        own = set(boxes.values())
        more = limit is not None and len(page) > limit
        page = page[:limit]
        entries = []
        for mid, _ts in page:
            _mid, ts, subject, sender, sender_name, hid, irt, refs, automated = details[mid]
            # shown from the sender's mailbox when the user may read it, else the first by address
            box_id = min(holders[mid], key=lambda b: (boxes[b] != sender, boxes[b]))
            item = TimelineItem(
                mid,
                "out" if sender in own else "in",
                box_id,
                boxes[box_id],
                datetime.fromtimestamp(ts, UTC),
                subject,
                sender,
                sender_name,
                bool(automated),
            )
            entries.append((item, tuple(x for x in (hid, irt, *refs.split()) if x)))
        first = self._first_week(weeks)
        weekly = (
            tuple(
                WeekVolume(first + timedelta(weeks=n), n_in, n_out) for n, (n_in, n_out) in enumerate(counts)
            )
            if before is None
            else ()
        )
        cursor = (datetime.fromtimestamp(page[-1][1], UTC), page[-1][0]) if more else None
        return TimelineView(kind, record_id, title, self._threads(entries), weekly, total, cursor)

    def _first_week(self, weeks: int) -> date:
        return _week(self._clock().astimezone(UTC).date()) - timedelta(weeks=weeks - 1)

    @staticmethod
    def _threads(entries: list[tuple[TimelineItem, tuple[str, ...]]]) -> tuple[TimelineThread, ...]:
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
