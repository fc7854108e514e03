"""Reading stored mail: lists newest first, one message with text, raw bytes and thread; local flag edits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, FromClause, and_, func, or_, select, tuple_, update

from store import db
from store.errors import Invalid, NotFound
from store.identity import Actor
from store.schema import (
    mailboxes,
    message_addresses,
    message_attachments,
    message_locations,
    message_raw,
    messages,
    sync_folders,
)

SYSTEM_FLAGS = ("\\Seen", "\\Answered", "\\Flagged", "\\Draft", "\\Deleted")


@dataclass(frozen=True)
class MessageRow:
    """One message in one folder of one mailbox, as a list shows it."""

    location_id: int
    message_id: int
    mailbox_id: int
    mailbox: str
    folder: str
    uid: int
    header_message_id: str
    sent_at: datetime
    from_address: str
    from_name: str
    subject: str
    flags: tuple[str, ...]
    size: int
    has_attachments: bool
    body_loaded: bool


@dataclass(frozen=True)
class AttachmentInfo:
    """Metadata of one attachment; its bytes are in the raw message."""

    part: str
    filename: str
    content_type: str
    size: int
    inline: bool


@dataclass(frozen=True)
class MessageDetail:
    """One message with everything stored about it, and where it sits (only locations the user may see)."""

    id: int
    header_message_id: str
    in_reply_to: str
    references: tuple[str, ...]
    subject: str
    sent_at: datetime
    from_address: str
    from_name: str
    to: tuple[tuple[str, str], ...]
    cc: tuple[tuple[str, str], ...]
    size: int
    body_loaded: bool
    body_text: str
    attachments: tuple[AttachmentInfo, ...]
    problems: str
    locations: tuple[MessageRow, ...]


def _ts(value: int) -> datetime:
    return datetime.fromtimestamp(value, UTC)


_COLUMNS = (
    message_locations.c.id.label("location_id"),
    messages.c.id.label("message_id"),
    message_locations.c.mailbox_id,
    mailboxes.c.email.label("mailbox"),
    sync_folders.c.name.label("folder"),
    message_locations.c.uid,
    messages.c.header_message_id,
    message_locations.c.sent_at,
    messages.c.from_address,
    messages.c.from_name,
    messages.c.subject,
    message_locations.c.flags,
    messages.c.size,
    messages.c.has_attachments,
    messages.c.body_loaded,
)


def _joined(first: FromClause) -> FromClause:
    """*first* (message_locations, or a page of its ids joined to it) with the tables a row shows."""
    return (
        first.join(messages, messages.c.id == message_locations.c.message_id)
        .join(sync_folders, sync_folders.c.id == message_locations.c.folder_id)
        .join(mailboxes, mailboxes.c.id == message_locations.c.mailbox_id)
    )


_ROW = select(*_COLUMNS).select_from(_joined(message_locations))
_NEWEST_FIRST = (message_locations.c.sent_at.desc(), message_locations.c.id.desc())


def _row(r) -> MessageRow:  # noqa: ANN001 - a SQLAlchemy row mapping
    return MessageRow(
        **{
            **r,
            "sent_at": _ts(r["sent_at"]),
            "flags": tuple(r["flags"].split()),
            "has_attachments": bool(r["has_attachments"]),
            "body_loaded": bool(r["body_loaded"]),
        }
    )


class Messages:
    """Read API over stored mail: listings show the user's panel; a single message also opens from a
    CRM timeline when the user may read its mailbox."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def _visible(self, conn, actor: Actor) -> set[int]:  # noqa: ANN001
        from store.rights import mailbox_ids_with

        return mailbox_ids_with(conn, actor, "panel") | mailbox_ids_with(conn, actor, "read")

    def _scope(self, conn, actor: Actor, mailbox_id: int | None, folder: str | None) -> list:  # noqa: ANN001
        """Conditions on message_locations alone, so pages and counts are read from its index."""
        from store.rights import mailbox_ids_with

        # Listings feed the communication panel: a Read-only holder's panel never shows shared mail.
        ids = mailbox_ids_with(conn, actor, "panel")
        if mailbox_id is not None:
            ids &= {mailbox_id}
        cond = [message_locations.c.mailbox_id.in_(sorted(ids))]
        if folder is not None:
            cond.append(
                message_locations.c.folder_id.in_(
                    select(sync_folders.c.id).where(sync_folders.c.name == folder)
                )
            )
        return cond

    def list(
        self,
        actor: Actor,
        mailbox_id: int | None = None,
        folder: str | None = None,
        limit: int = 100,
        offset: int = 0,
        before: tuple[datetime, int] | None = None,
    ) -> list[MessageRow]:
        """Messages newest first, one row per folder a message sits in; *before* = (sent_at, location_id)
        of the last row seen pages by keyset, which stays fast deep into a big mailbox."""
        with db.read(self._engine) as conn:
            cond = self._scope(conn, actor, mailbox_id, folder)
            if before is not None:
                key = (int(before[0].timestamp()), before[1])
                cond.append(tuple_(message_locations.c.sent_at, message_locations.c.id) < tuple_(*key))
            # The page's ids come from the (mailbox_id, sent_at) index alone; only those rows are joined.
            page = (
                select(message_locations.c.id.label("id"))
                .where(*cond)
                .order_by(*_NEWEST_FIRST)
                .limit(limit)
                .offset(offset)
                .subquery("page")
            )
            first = page.join(message_locations, message_locations.c.id == page.c.id)
            q = select(*_COLUMNS).select_from(_joined(first)).order_by(*_NEWEST_FIRST)
            return [_row(r) for r in conn.execute(q).mappings()]

    def count(self, actor: Actor, mailbox_id: int | None = None, folder: str | None = None) -> int:
        """How many rows `list` would return without a limit."""
        with db.read(self._engine) as conn:
            cond = self._scope(conn, actor, mailbox_id, folder)
            q = select(func.count()).select_from(message_locations).where(*cond)
            return int(conn.execute(q).scalar_one())

    def get(self, actor: Actor, message_id: int) -> MessageDetail:
        """One message the user may see (any other id is reported as not found)."""
        with db.read(self._engine) as conn:
            ids = self._visible(conn, actor)
            locs = [
                _row(r)
                for r in conn.execute(
                    _ROW.where(
                        and_(messages.c.id == message_id, message_locations.c.mailbox_id.in_(sorted(ids)))
                    ).order_by(mailboxes.c.email, sync_folders.c.name)
                ).mappings()
            ]
            if not locs:
                raise NotFound(f"No message {message_id}.")
            m = conn.execute(select(messages).where(messages.c.id == message_id)).mappings().one()
            addrs = (
                conn.execute(select(message_addresses).where(message_addresses.c.message_id == message_id))
                .mappings()
                .all()
            )
            atts = (
                conn.execute(
                    select(message_attachments)
                    .where(message_attachments.c.message_id == message_id)
                    .order_by(message_attachments.c.id)
                )
                .mappings()
                .all()
            )
        return MessageDetail(
            id=m["id"],
            header_message_id=m["header_message_id"],
            in_reply_to=m["in_reply_to"],
            references=tuple(m["reference_ids"].split()),
            subject=m["subject"],
            sent_at=_ts(m["sent_at"]),
            from_address=m["from_address"],
            from_name=m["from_name"],
            to=tuple((a["address"], a["name"]) for a in addrs if a["kind"] == "to"),
            cc=tuple((a["address"], a["name"]) for a in addrs if a["kind"] == "cc"),
            size=m["size"],
            body_loaded=bool(m["body_loaded"]),
            body_text=m["body_text"],
            attachments=tuple(
                AttachmentInfo(a["part"], a["filename"], a["content_type"], a["size"], bool(a["inline"]))
                for a in atts
            ),
            problems=m["problems"],
            locations=tuple(locs),
        )

    def raw(self, actor: Actor, message_id: int) -> bytes:
        """The raw message as first fetched (empty until its body is loaded). Raises
        store.sync.packs.RawCopyMissing when its pack file is gone or cut short."""
        from store.sync.packs import RawCopyMissing

        if not self.get(actor, message_id).body_loaded:
            return b""  # chunks of a large message being streamed are not yet the message
        try:
            return self._raw_bytes(message_id)
        except RawCopyMissing:
            return self._raw_bytes(message_id)  # a compaction moved the frames after we read the rows

    def _raw_bytes(self, message_id: int) -> bytes:
        from store.sync.packs import read_frame
        from store.sync.parse import decompress

        with db.read(self._engine) as conn:
            rows = conn.execute(
                select(
                    message_raw.c.codec,
                    message_raw.c.data,
                    message_raw.c.pack,
                    message_raw.c.pack_offset,
                    message_raw.c.pack_length,
                )
                .where(message_raw.c.message_id == message_id)
                .order_by(message_raw.c.seq)
            ).all()
        path = self._engine.url.database
        return b"".join(
            decompress(codec, data if pack is None else read_frame(path, pack, offset, length))
            for codec, data, pack, offset, length in rows
        )

    def thread(self, actor: Actor, message_id: int) -> list[MessageRow]:
        """Visible messages of the same conversation (linked by Message-ID, In-Reply-To and References),
        oldest first, one row per message."""
        detail = self.get(actor, message_id)
        with db.read(self._engine) as conn:
            ids = self._visible(conn, actor)
            known = {detail.header_message_id, detail.in_reply_to, *detail.references} - {""}
            frontier = set(known)
            for _ in range(10):  # a bounded walk: threads deeper than this are split
                if not frontier:
                    break
                q = select(
                    messages.c.header_message_id, messages.c.in_reply_to, messages.c.reference_ids
                ).where(or_(messages.c.header_message_id.in_(frontier), messages.c.in_reply_to.in_(frontier)))
                found = set()
                for mid, irt, refs in conn.execute(q):
                    found |= {mid, irt, *refs.split()}
                frontier = found - known - {""}
                known |= frontier
            rows = conn.execute(
                _ROW.where(
                    and_(
                        messages.c.header_message_id.in_(known),
                        message_locations.c.mailbox_id.in_(sorted(ids)),
                    )
                ).order_by(message_locations.c.sent_at)
            ).mappings()
            seen, out = set(), []
            for r in rows:
                if r["message_id"] not in seen:
                    seen.add(r["message_id"])
                    out.append(_row(r))
            return out

    def set_flags(
        self, actor: Actor, location_id: int, add: tuple[str, ...] = (), remove: tuple[str, ...] = ()
    ) -> MessageRow:
        """Change flags locally at once; the next sync sends the change to the server."""
        from store.rights import mailbox_ids_with

        for flag in (*add, *remove):
            if (
                not flag
                or not (flag.isascii() and flag.isprintable())  # an IMAP atom: no NUL, controls or 8-bit
                or any(c in flag for c in ' ()"\r\n{%*]')
                or (flag.startswith("\\") and flag not in SYSTEM_FLAGS)
            ):
                raise Invalid({"flags": f"{flag!r} is not a flag that can be set"})
        with db.write(self._engine) as conn:
            ids = mailbox_ids_with(conn, actor, "panel")
            r = (
                conn.execute(
                    select(message_locations).where(
                        and_(
                            message_locations.c.id == location_id,
                            message_locations.c.mailbox_id.in_(sorted(ids)),
                        )
                    )
                )
                .mappings()
                .first()
            )
            if r is None:
                raise NotFound(f"No message location {location_id}.")
            flags = (set(r["flags"].split()) | set(add)) - set(remove)
            pend_add = (set(r["flags_add"].split()) | set(add)) - set(remove)
            pend_rem = (set(r["flags_remove"].split()) | set(remove)) - set(add)
            conn.execute(
                update(message_locations)
                .where(message_locations.c.id == location_id)
                .values(
                    flags=" ".join(sorted(flags)),
                    flags_add=" ".join(sorted(pend_add)),
                    flags_remove=" ".join(sorted(pend_rem)),
                )
            )
            row = conn.execute(_ROW.where(message_locations.c.id == location_id)).mappings().one()
        return _row(row)
