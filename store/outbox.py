"""The outbox: every message is written here before any network, then delivered by `store/delivery.py`.

States (see docs/sending.md): queued → sending → sent; failed (the server refused it for good; edit and
resend); check (Mailroom stopped while the server was receiving it, so it may have gone out: the user
decides).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import and_, delete, func, insert, or_, select, update

from store import audit, compose, db
from store.compose import Draft
from store.errors import Conflict, Invalid, NotFound
from store.identity import Actor
from store.schema import mailboxes
from store.schema_outbox import outbox

if TYPE_CHECKING:
    from store.delivery import DrainReport
    from store.mailboxes import Mailbox
    from store.secrets import SecretStore
    from store.service import Store

SENT_KEPT = timedelta(days=7)  # delivered items (with their Sent copy) stay listed this long
STATE_LABELS = {
    "queued": "queued",
    "sending": "sending",
    "sent": "sent",
    "failed": "failed",
    "check": "check: may have been sent",
}


@dataclass(frozen=True)
class OutboxItem:
    """One message in the outbox as a list shows it (the bytes stay in the database)."""

    id: int
    mailbox_id: int
    mailbox: str
    user_id: int
    state: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str
    error_kind: str
    message_id: str
    subject: str
    recipients: tuple[str, ...]
    created_at: datetime
    sent_at: datetime | None
    copy_done: bool
    copy_error: str
    size: int

    @property
    def status(self) -> str:
        """One line for users: the state and, when there is one, the reason."""
        text = STATE_LABELS.get(self.state, self.state)
        if self.state == "sent" and not self.copy_done and self.copy_error:
            return f"sent; copy to Sent pending: {self.copy_error}"
        if self.state in ("queued", "failed", "check") and self.last_error:
            text += f": {self.last_error}"
        return text


_COLUMNS = (
    outbox.c.id,
    outbox.c.mailbox_id,
    mailboxes.c.email.label("mailbox"),
    outbox.c.user_id,
    outbox.c.state,
    outbox.c.attempts,
    outbox.c.next_attempt_at,
    outbox.c.last_error,
    outbox.c.error_kind,
    outbox.c.message_id,
    outbox.c.subject,
    outbox.c.recipients,
    outbox.c.created_at,
    outbox.c.sent_at,
    outbox.c.copy_done,
    outbox.c.copy_error,
    func.length(outbox.c.raw).label("size"),
)
_SELECT = select(*_COLUMNS).join(mailboxes, mailboxes.c.id == outbox.c.mailbox_id)


def utc(value: datetime | None) -> datetime | None:
    """A stored time as an aware UTC datetime (SQLite keeps them naive, in UTC)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _item(r) -> OutboxItem:  # noqa: ANN001 - a SQLAlchemy row mapping
    return OutboxItem(
        **{
            **r,
            "recipients": tuple(json.loads(r["recipients"])),
            "copy_done": bool(r["copy_done"]),
            "size": int(r["size"] or 0),
            "next_attempt_at": utc(r["next_attempt_at"]),
            "created_at": utc(r["created_at"]),
            "sent_at": utc(r["sent_at"]),
        }
    )


def _draft_json(draft: Draft) -> str:
    return json.dumps(
        {
            "from_mailbox_id": draft.from_mailbox_id,
            "to": list(draft.to),
            "cc": list(draft.cc),
            "bcc": list(draft.bcc),
            "subject": draft.subject,
            "body": draft.body,
            "quoted": draft.quoted,
            "in_reply_to": draft.in_reply_to,
            "references": list(draft.references),
        },
        ensure_ascii=False,
    )


class Outbox:
    """What a compose screen, the CLI and tests call: senders, replies, queueing, the list and delivery."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._engine = store.engine

    # -- composing ---------------------------------------------------------------------------------

    def senders(self, actor: Actor) -> list[Mailbox]:
        """Exactly the mailboxes the user may send from (sending on; owned or shared to send), default 1st."""
        boxes = self._store.mailboxes.sendable(actor)
        first = compose.default_sender(boxes, actor.user.id)
        return sorted(boxes, key=lambda b: (b is not first, b.email))

    def default_sender(self, actor: Actor) -> Mailbox | None:
        """The preselected From, or None when the user may send from no mailbox."""
        return compose.default_sender(self._store.mailboxes.sendable(actor), actor.user.id)

    def sender(self, actor: Actor, email_or_id: str | int) -> Mailbox:
        """One mailbox the user may send from; any other (sending off, no right) is reported as not found."""
        box = self._store.mailboxes.get(actor, email_or_id, right="send")
        if not box.send_enabled:
            raise NotFound(f"No mailbox '{email_or_id}' to send from.")
        return box

    def preview(self, actor: Actor, draft: Draft) -> str:
        """The text as it will be sent from the chosen sender (body, its signature, quoted original)."""
        return compose.full_text(draft, self.sender(actor, draft.from_mailbox_id))

    def reply(
        self, actor: Actor, message_id: int, reply_all: bool = False, from_mailbox_id: int | None = None
    ) -> Draft:
        """A reply draft to a stored message (store/drafts.py says whom it goes to), from *from_mailbox_id*,
        else the mailbox it sits in when the user may send from it, else the default sender."""
        from store.drafts import start_reply

        return start_reply(self._store, actor, message_id, reply_all, from_mailbox_id)

    def forward(self, actor: Actor, message_id: int, from_mailbox_id: int | None = None) -> Draft:
        """A forward draft of a stored message with its attachments, the sender chosen as for `reply`."""
        from store.drafts import start_forward

        return start_forward(self._store, actor, message_id, from_mailbox_id)

    def suggest(self, actor: Actor, prefix: str, limit: int = 10) -> list[str]:
        """Addresses for completion, as `Name <address>`: the CRM's contacts whose address or name starts
        with *prefix* first, then past correspondents in mailboxes the user may see, most frequent first."""
        contacts = self._suggest_contacts(prefix, limit)
        known = {c.rpartition("<")[2].rstrip(">").lower() for c in contacts}
        past = [
            s
            for s in self._suggest_correspondents(actor, prefix, limit)
            if s.rpartition("<")[2].rstrip(">").lower() not in known
        ]
        return (contacts + past)[:limit]

    def _suggest_contacts(self, prefix: str, limit: int) -> list[str]:
        from store.crm.tables import contact_emails, contacts

        prefix = compose.one_line(prefix).lower()
        if not prefix:
            return []
        like = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        q = (
            select(contact_emails.c.address, contacts.c.name)
            .join(contacts, contacts.c.id == contact_emails.c.contact_id)
            .where(
                or_(
                    contact_emails.c.address.like(like, escape="\\"),
                    func.lower(contacts.c.name).like(like, escape="\\"),
                    func.lower(contacts.c.name).like("% " + like, escape="\\"),
                )
            )
            .order_by(func.lower(contacts.c.name), contact_emails.c.position)
            .limit(limit)
        )
        with db.read(self._engine) as conn:
            return [compose.format_address(addr, name or "") for addr, name in conn.execute(q)]

    def _suggest_correspondents(self, actor: Actor, prefix: str, limit: int) -> list[str]:
        from store.rights import mailbox_ids_with
        from store.schema import message_addresses, message_locations

        prefix = compose.one_line(prefix).lower()
        if not prefix:
            return []
        like = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        with db.read(self._engine) as conn:
            ids = mailbox_ids_with(conn, actor, "panel") | mailbox_ids_with(conn, actor, "read")
            seen_in = select(message_locations.c.message_id).where(
                message_locations.c.mailbox_id.in_(sorted(ids))
            )
            q = (
                select(message_addresses.c.address, func.max(message_addresses.c.name), func.count())
                .where(message_addresses.c.message_id.in_(seen_in))
                .where(
                    or_(
                        message_addresses.c.address.like(like, escape="\\"),
                        func.lower(message_addresses.c.name).like(like, escape="\\"),
                        func.lower(message_addresses.c.name).like("% " + like, escape="\\"),
                    )
                )
                .group_by(message_addresses.c.address)
                .order_by(func.count().desc(), message_addresses.c.address)
                .limit(limit)
            )
            return [compose.format_address(addr, name or "") for addr, name, _n in conn.execute(q)]

    # -- the outbox --------------------------------------------------------------------------------

    def queue(self, actor: Actor, draft: Draft, replaces: int | None = None) -> OutboxItem:
        """Check, build and store the message (files are read now), committed before any network is touched;
        *replaces* drops an earlier failed or queued item in the same transaction (edit and resend)."""
        try:
            box = self.sender(actor, draft.from_mailbox_id)
        except NotFound:
            raise Invalid({"from": "choose a mailbox you may send from"}) from None
        now = self._store.clock().astimezone(UTC)
        try:
            rules = self._store.attach_rules()
            built = compose.build_message(draft, box, now, compose.new_message_id(box), rules)
        except ValueError as exc:  # the built bytes failed their own check: refuse rather than send
            raise Invalid({"message": f"the message could not be built safely ({exc})"}) from None
        with db.write(self._engine) as conn:
            if replaces is not None:
                old = self._own(conn, actor, replaces)
                if old.state not in ("failed", "queued", "check"):
                    raise Conflict(
                        f"Outbox item {replaces} is {old.state}; only a queued or failed one is replaced."
                    )
                conn.execute(delete(outbox).where(outbox.c.id == replaces))
            new_id = conn.execute(
                insert(outbox).values(
                    mailbox_id=box.id,
                    user_id=actor.user.id,
                    state="queued",
                    attempts=0,
                    next_attempt_at=now,
                    message_id=built.message_id,
                    subject=compose.one_line(draft.subject),
                    envelope_from=built.envelope.mail_from,
                    recipients=json.dumps(list(built.envelope.recipients)),
                    draft=_draft_json(draft),
                    raw=built.raw,
                    bcc_header=built.bcc_header,
                    created_at=now,
                )
            ).inserted_primary_key[0]
            if box.owner_id != actor.user.id:
                audit.record(
                    conn,
                    actor,
                    box,
                    audit.SEND_AS,
                    {"message_id": built.message_id, "recipients": len(built.envelope.recipients)},
                    at=now,
                )
            return self._own(conn, actor, new_id)

    def list(self, actor: Actor, states: tuple[str, ...] | None = None) -> list[OutboxItem]:
        """The user's outbox items, newest first (delivered ones for a week), optionally only some states."""
        cond = [outbox.c.user_id == actor.user.id]
        if states:
            cond.append(outbox.c.state.in_(states))
        with db.read(self._engine) as conn:
            rows = conn.execute(
                _SELECT.where(and_(*cond)).order_by(outbox.c.created_at.desc(), outbox.c.id.desc())
            )
            return [_item(r) for r in rows.mappings()]

    def get(self, actor: Actor, item_id: int) -> OutboxItem:
        """One of the user's outbox items (anyone else's is reported as not found)."""
        with db.read(self._engine) as conn:
            return self._own(conn, actor, item_id)

    def _own(self, conn, actor: Actor, item_id: int) -> OutboxItem:  # noqa: ANN001
        r = (
            conn.execute(_SELECT.where(and_(outbox.c.id == item_id, outbox.c.user_id == actor.user.id)))
            .mappings()
            .first()
        )
        if r is None:
            raise NotFound(f"No outbox item {item_id}.")
        return _item(r)

    def draft_of(self, actor: Actor, item_id: int) -> Draft:
        """The draft an item was built from, attachments included, to edit and queue again (`replaces=`)."""
        self.get(actor, item_id)
        with db.read(self._engine) as conn:
            draft_text, raw = conn.execute(
                select(outbox.c.draft, outbox.c.raw).where(outbox.c.id == item_id)
            ).one()
        values = json.loads(draft_text)
        return Draft(**values, attachments=compose.attachments_of(raw))

    def retry(self, actor: Actor, item_id: int) -> OutboxItem:
        """Queue a failed or unsure item again now (for `check`, the user accepts a possible duplicate);
        for a sent item whose Sent copy is pending, try the copy again on the next delivery run."""
        now = self._store.clock().astimezone(UTC)
        with db.write(self._engine) as conn:
            item = self._own(conn, actor, item_id)
            if item.state in ("failed", "check", "queued"):
                conn.execute(
                    update(outbox)
                    .where(outbox.c.id == item_id)
                    .values(
                        state="queued",
                        next_attempt_at=now,
                        error_kind="",
                        data_started_at=None,
                        data_ended_at=None,
                    )
                )
            elif item.state == "sent" and not item.copy_done:
                conn.execute(
                    update(outbox).where(outbox.c.id == item_id).values(next_attempt_at=now, copy_refusals=0)
                )
            else:
                raise Conflict(f"Outbox item {item_id} is {item.state}; there is nothing to retry.")
            return self._own(conn, actor, item_id)

    def mark_sent(self, actor: Actor, item_id: int) -> OutboxItem:
        """The user found that a `check` item did arrive: it becomes sent, and the next delivery run saves
        its copy in the Sent folder (nothing is sent again)."""
        now = self._store.clock().astimezone(UTC)
        with db.write(self._engine) as conn:
            item = self._own(conn, actor, item_id)
            if item.state != "check":
                raise Conflict(
                    f"Outbox item {item_id} is {item.state}; only one to check can be marked sent."
                )
            handed = conn.execute(select(outbox.c.data_ended_at).where(outbox.c.id == item_id)).scalar()
            conn.execute(
                update(outbox)
                .where(outbox.c.id == item_id)
                .values(
                    state="sent",
                    sent_at=utc(handed) or now,
                    last_error="",
                    error_kind="",
                    copy_done=False,
                    copy_error="",
                    next_attempt_at=now,
                )
            )
            return self._own(conn, actor, item_id)

    def drop(self, actor: Actor, item_id: int) -> OutboxItem:
        """Remove an item that is not being sent right now (a queued one is then never sent)."""
        with db.write(self._engine) as conn:
            item = self._own(conn, actor, item_id)
            if item.state == "sending":
                raise Conflict(f"Outbox item {item_id} is being sent right now; try again in a moment.")
            conn.execute(delete(outbox).where(outbox.c.id == item_id))
        return item

    # -- delivery ----------------------------------------------------------------------------------

    def drain(
        self,
        secrets: SecretStore,
        now: datetime | None = None,
        only: set[int] | None = None,
        timeout: float | None = None,
    ) -> DrainReport:
        """Deliver every due item (or only the ids in *only*) and save pending Sent copies; blocking, so run
        it in a thread worker. Returns what happened to each item."""
        from store.delivery import Delivery

        return Delivery(self._store, secrets, timeout=timeout).drain(now=now, only=only)

    def next_due(self) -> datetime | None:
        """When the earliest queued item is due (None: nothing queued), so a worker knows how long to wait."""
        with db.read(self._engine) as conn:
            due = conn.execute(
                select(func.min(outbox.c.next_attempt_at)).where(
                    or_(
                        outbox.c.state == "queued",
                        and_(outbox.c.state == "sent", outbox.c.copy_done.is_(False)),
                    )
                )
            ).scalar_one_or_none()
        if isinstance(due, str):  # MIN() over a DateTime column comes back as text from SQLite
            due = datetime.fromisoformat(due)
        return utc(due)

    def prune(self, now: datetime) -> int:
        """Forget delivered items (with their Sent copy saved) older than a week; returns how many."""
        with db.write(self._engine) as conn:
            return conn.execute(
                delete(outbox).where(
                    and_(
                        outbox.c.state == "sent",
                        outbox.c.copy_done.is_(True),
                        outbox.c.sent_at < now.astimezone(UTC) - SENT_KEPT,
                    )
                )
            ).rowcount
