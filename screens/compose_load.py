"""What a compose screen starts from, read in its worker: the senders and the first draft."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from store import compose
from store.compose import Draft
from store.identity import Actor
from store.mailboxes import Mailbox
from store.service import Store

StartKind = Literal["new", "reply", "reply_all", "forward", "resend"]
_FORWARD_PREFIX = re.compile(r"^\s*(?:fwd?|wg|tr)\s*:\s*", re.I)


@dataclass(frozen=True)
class ComposeStart:
    """How a compose screen opens: a new message, an answer to stored mail, or an outbox item again."""

    kind: StartKind = "new"
    ref: int | None = None
    """The stored message's id (reply, reply_all, forward) or the outbox item's id (resend)."""

    @property
    def title(self) -> str:
        """The screen's title for this start."""
        return {
            "new": "New message",
            "reply": "Reply",
            "reply_all": "Reply to all",
            "forward": "Forward",
            "resend": "Edit and resend",
        }[self.kind]


@dataclass(frozen=True)
class ComposeLoaded:
    """What the worker read: the mailboxes the user may send from (default first) and the first draft."""

    senders: list[Mailbox]
    draft: Draft | None
    replaces: int | None = None


def load(store: Store, actor: Actor, start: ComposeStart) -> ComposeLoaded:
    """Read the senders and build the draft for *start*; blocking, so call it from a thread worker."""
    senders = store.outbox.senders(actor)
    if not senders:
        return ComposeLoaded([], None)
    if start.kind == "new" or start.ref is None:
        return ComposeLoaded(senders, Draft(senders[0].id))
    if start.kind in ("reply", "reply_all"):
        return ComposeLoaded(
            senders, store.outbox.reply(actor, start.ref, reply_all=start.kind == "reply_all")
        )
    if start.kind == "forward":
        return ComposeLoaded(senders, forward_draft(store, actor, start.ref, senders))
    return ComposeLoaded(senders, store.outbox.draft_of(actor, start.ref), replaces=start.ref)


def forward_subject(subject: str) -> str:
    """`Fwd: ` once in front of the original subject."""
    rest = _FORWARD_PREFIX.sub("", compose.one_line(subject))
    return f"Fwd: {rest}" if rest else "Fwd:"


def forward_draft(store: Store, actor: Actor, message_id: int, senders: list[Mailbox]) -> Draft:
    """A forward of a stored message: no recipients yet, its text below a header block, its attachments."""
    original = store.messages.get(actor, message_id)
    by_id = {b.id: b for b in senders}
    box = next((by_id[loc.mailbox_id] for loc in original.locations if loc.mailbox_id in by_id), senders[0])
    raw = store.messages.raw(actor, message_id)
    attachments = compose.attachments_of(raw) if raw else ()
    people = ", ".join(compose.format_address(a, n) for a, n in original.to)
    lines = [
        "---------- Forwarded message ----------",
        f"From: {compose.format_address(original.from_address, original.from_name)}",
        f"Date: {original.sent_at:%d %b %Y %H:%M %Z}".rstrip(),
        f"Subject: {compose.one_line(original.subject)}",
    ]
    if people:
        lines.append(f"To: {people}")
    text = original.body_text if original.body_loaded else "(The text of this message is not loaded yet.)"
    return Draft(
        box.id,
        subject=forward_subject(original.subject),
        quoted="\n".join(lines) + "\n\n" + text.replace("\r\n", "\n"),
        attachments=attachments,
    )


def label(box: Mailbox) -> str:
    """How a sender reads in the From choice."""
    return compose.sender_label(box)
