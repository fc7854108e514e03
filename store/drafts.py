"""Drafts that start from stored mail: a reply, a reply to all, a forward.

The rules are pure functions over the original (`Original`); `start_reply` and `start_forward` read the
message and its raw bytes from the store for the user and pick the sender. `store/compose.py` then turns
whatever the user made of the draft into bytes.

Whom a reply goes to:
- to a message someone else sent: its Reply-To, else its sender; reply to all adds every other To and Cc
  recipient as Cc;
- to a message the user sent (its From is one of the user's own addresses): its original To recipients,
  as mail clients do, and reply to all adds its original Cc.
Reply to all never copies the user's own addresses: the addresses and logins of every mailbox they may
send from (so replying from a shared mailbox does not copy their personal one either).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from store.compose import Draft, attachments_of, clean_id, format_address, one_line, parse_addresses
from store.errors import Invalid, NotFound

if TYPE_CHECKING:
    from store.compose import Attachment
    from store.identity import Actor
    from store.mailboxes import Mailbox
    from store.service import Store
    from store.sync.messages import MessageDetail

_REPLY_PREFIX = re.compile(
    r"^\s*(?:(?:re|aw|sv|antw|vs|ref|odp|ynt)\s*(?:\[\d+\]|\(\d+\))?\s*[:：]\s*)+", re.I
)
_FORWARD_PREFIX = re.compile(r"^\s*(?:(?:fwd?|wg|tr)\s*:\s*)+", re.I)
NOT_LOADED = "(The text of this message is not loaded yet.)"


class Original(Protocol):
    """What a reply or forward needs of the message it starts from (MessageDetail fits)."""

    header_message_id: str
    references: tuple[str, ...]
    subject: str
    sent_at: datetime
    from_address: str
    from_name: str
    to: tuple[tuple[str, str], ...]
    cc: tuple[tuple[str, str], ...]
    body_text: str


# -- pure rules ------------------------------------------------------------------------------------


def own_addresses(boxes: Iterable[Mailbox]) -> frozenset[str]:
    """The user's own addresses, lower case: each mailbox's address, and its login when that is one."""
    out: set[str] = set()
    for box in boxes:
        out.add(box.email.strip().lower())
        login = (getattr(box, "login", "") or "").strip().lower()
        if "@" in login:
            out.add(login)
    return frozenset(out)


def reply_subject(subject: str) -> str:
    """`Re: ` once in front of the original subject, whatever reply prefixes it already had."""
    rest = _REPLY_PREFIX.sub("", one_line(subject))
    return f"Re: {rest}" if rest else "Re:"


def forward_subject(subject: str) -> str:
    """`Fwd: ` once in front of the original subject."""
    rest = _FORWARD_PREFIX.sub("", one_line(subject))
    return f"Fwd: {rest}" if rest else "Fwd:"


def quote(original: Original) -> str:
    """The original's text as a reply quotes it: an attribution line, then each line behind `> `."""
    who = format_address(original.from_address, original.from_name) if original.from_address else "someone"
    when = original.sent_at.strftime("%d %b %Y %H:%M %Z").strip()
    lines = _lines(original.body_text).rstrip("\n").split("\n") if original.body_text else []
    quoted = "\n".join(
        ">" if not line else (">" + line if line.startswith(">") else "> " + line) for line in lines
    )
    return f"On {when}, {who} wrote:\n{quoted}".rstrip("\n")


def reply_draft(
    original: Original,
    box: Mailbox,
    reply_all: bool = False,
    reply_to: str = "",
    own: Iterable[str] = (),
) -> Draft:
    """A reply from *box* with Re:, the thread headers and the quoted text. *own* are the user's addresses
    besides the box's (`own_addresses`); whom it goes to is described at the top of this module."""
    mine = own_addresses([box]) | {a.lower() for a in own}
    to: list[str] = []
    cc: list[str] = []
    seen = set(mine)

    def add(target: list[str], people: Iterable[tuple[str, str]]) -> None:
        for addr, name in people:
            if addr and addr.lower() not in seen:
                seen.add(addr.lower())
                target.append(format_address(addr, name))

    if original.from_address.lower() in mine:  # the user's own message: to whom it went
        add(to, original.to)
        if not to:  # a note to self, or only own addresses: back to the same place
            to = [format_address(a, n) for a, n in original.to if a][:1]
            to = to or [format_address(original.from_address, original.from_name)]
        if reply_all:
            add(cc, original.cc)
    else:
        if reply_to.strip():
            to = [reply_to.strip()]
        elif original.from_address:
            to = [format_address(original.from_address, original.from_name)]
        seen |= {_addr_of(t) for t in to}
        if reply_all:
            add(cc, (*original.to, *original.cc))
    mid = clean_id(original.header_message_id)
    refs = [r for r in (clean_id(x) for x in original.references) if r]
    if mid and mid not in refs:
        refs.append(mid)
    return Draft(
        from_mailbox_id=box.id,
        to=tuple(to),
        cc=tuple(cc),
        subject=reply_subject(original.subject),
        quoted=quote(original),
        in_reply_to=mid,
        references=tuple(refs),
    )


def forward_draft(
    original: Original, box: Mailbox, attachments: Sequence[Attachment] = (), body_loaded: bool = True
) -> Draft:
    """A forward from *box*: no recipients yet, the original's text below a header block, its attachments."""
    lines = [
        "---------- Forwarded message ----------",
        f"From: {format_address(original.from_address, original.from_name)}",
        f"Date: {original.sent_at:%d %b %Y %H:%M %Z}".rstrip(),
        f"Subject: {one_line(original.subject)}",
    ]
    people = ", ".join(format_address(a, n) for a, n in original.to)
    if people:
        lines.append(f"To: {people}")
    copied = ", ".join(format_address(a, n) for a, n in original.cc)
    if copied:
        lines.append(f"Cc: {copied}")
    text = _lines(original.body_text) if body_loaded else NOT_LOADED
    return Draft(
        box.id,
        subject=forward_subject(original.subject),
        quoted="\n".join(lines) + "\n\n" + text,
        attachments=tuple(attachments),
    )


def _lines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _addr_of(item: str) -> str:
    item = item.strip()
    if item.endswith(">") and "<" in item:
        item = item[item.rfind("<") + 1 : -1]
    return item.lower()


# -- from the store ----------------------------------------------------------------------------------


def _sender_for(
    store: Store, actor: Actor, original: MessageDetail, from_mailbox_id: int | None
) -> tuple[Mailbox, list[Mailbox]]:
    """(the sender, every sender): *from_mailbox_id*, else the mailbox the message sits in when the user may
    send from it, else the default sender."""
    senders = store.outbox.senders(actor)
    if not senders:
        raise NotFound("There is no mailbox you may send from.")
    if from_mailbox_id is not None:
        return store.outbox.sender(actor, from_mailbox_id), senders
    by_id = {b.id: b for b in senders}
    box = next((by_id[loc.mailbox_id] for loc in original.locations if loc.mailbox_id in by_id), senders[0])
    return box, senders


def start_reply(
    store: Store, actor: Actor, message_id: int, reply_all: bool = False, from_mailbox_id: int | None = None
) -> Draft:
    """A reply draft to a stored message the user may read (blocking: call it from a worker)."""
    original = store.messages.get(actor, message_id)
    box, senders = _sender_for(store, actor, original, from_mailbox_id)
    return reply_draft(
        original, box, reply_all, reply_to_of(store, actor, message_id), own_addresses(senders)
    )


def start_forward(store: Store, actor: Actor, message_id: int, from_mailbox_id: int | None = None) -> Draft:
    """A forward draft of a stored message, with its attachments (blocking: call it from a worker)."""
    original = store.messages.get(actor, message_id)
    box, _senders = _sender_for(store, actor, original, from_mailbox_id)
    raw = store.messages.raw(actor, message_id)
    return forward_draft(original, box, attachments_of(raw) if raw else (), original.body_loaded)


def reply_to_of(store: Store, actor: Actor, message_id: int) -> str:
    """The stored message's Reply-To as typed recipients, or '' (none, or not a valid address list)."""
    from store.sync.parse import decode_words, header_fields, split_header, to_text

    raw = store.messages.raw(actor, message_id)
    if not raw:
        return ""
    value = header_fields(split_header(raw)[0], (b"reply-to",)).get(b"reply-to", b"")
    text = one_line(decode_words(to_text(value)))
    try:
        return ", ".join(str(a) for a in parse_addresses([text], "reply-to")) if text else ""
    except Invalid:
        return ""
