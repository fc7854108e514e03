"""What a compose screen starts from, read in its worker: the senders and the first draft (replies and
forwards are built by store/drafts.py through `store.outbox`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from store import compose
from store.compose import Draft
from store.identity import Actor
from store.mailboxes import Mailbox
from store.service import Store

StartKind = Literal["new", "reply", "reply_all", "forward", "resend"]


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
        return ComposeLoaded(senders, store.outbox.forward(actor, start.ref))
    return ComposeLoaded(senders, store.outbox.draft_of(actor, start.ref), replaces=start.ref)


def label(box: Mailbox) -> str:
    """How a sender reads in the From choice."""
    return compose.sender_label(box)
