"""Is a message automated (newsletters, notifications, bounces, auto-replies)? A pure test on its header.

Automated mail is stored and linked to existing contacts like any other, but never creates a contact,
never enters the unmatched queue and is never read for signatures.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

# Header fields the test reads (lower-case, as bytes, so the sync parser can ask for them).
AUTOMATION_HEADERS = (
    b"from",
    b"auto-submitted",
    b"list-id",
    b"list-unsubscribe",
    b"precedence",
    b"x-autoreply",
    b"x-autorespond",
    b"return-path",
)
_BULK_PRECEDENCE = {"bulk", "list", "junk", "auto_reply"}
# Local parts of senders that never are people: no-reply in its spellings, bounces, daemons.
_ROBOT_LOCAL = re.compile(
    r"^(no[-_.]?reply|do[-_.]?not[-_.]?reply|dont[-_.]?reply|noreply[-_.+].*|no[-_.]?reply[-_.+].*"
    r"|mailer[-_.]?daemon|postmaster|bounces?|bounces?[-_.+].*|notifications?|notify|automailer)$"
)


def is_automated_sender(address: str) -> bool:
    """Whether an address is a no-reply, bounce or mailer-daemon sender."""
    local = address.strip().lower().rpartition("@")[0]
    return bool(local) and bool(_ROBOT_LOCAL.match(local))


_WANTED = frozenset(h.decode() for h in AUTOMATION_HEADERS)


def _text(value: str | bytes) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def _sender(value: str) -> str:
    """The address in a From field ("Name <a@b>" or a bare a@b), without a full parse."""
    lt = value.rfind("<")
    if lt >= 0:
        gt = value.find(">", lt)
        return value[lt + 1 : gt if gt > 0 else None].strip()
    return next((word for word in value.split() if "@" in word), "")


def is_automated(headers: Mapping[str, str] | Mapping[bytes, bytes]) -> bool:
    """Whether a message's header fields (any case, str or bytes) mark it as automated mail."""
    fields: dict[str, str] = {}
    for key, value in headers.items():
        name = _text(key).strip().lower()
        if name in _WANTED:
            fields[name] = _text(value).strip()
    if (
        "list-id" in fields
        or "list-unsubscribe" in fields
        or "x-autoreply" in fields
        or "x-autorespond" in fields
    ):
        return True
    auto = fields.get("auto-submitted", "").lower()
    if auto and not auto.startswith("no"):
        return True
    if fields.get("precedence", "").lower() in _BULK_PRECEDENCE:
        return True
    if fields.get("return-path", "x").replace(" ", "") == "<>":  # the null sender of bounces
        return True
    return is_automated_sender(_sender(fields.get("from", "")))


def is_automated_fields(fields: Mapping[bytes, bytes]) -> bool:
    """is_automated for what header_fields(block, AUTOMATION_HEADERS…) returns (lower-case byte names, values
    stripped): the same test, decoding only the fields it reads (the sync's envelope parser uses it)."""
    if (
        b"list-id" in fields
        or b"list-unsubscribe" in fields
        or b"x-autoreply" in fields
        or b"x-autorespond" in fields
    ):
        return True
    value = fields.get(b"auto-submitted")
    if value is not None:
        auto = value.decode("utf-8", "replace").strip().lower()
        if auto and not auto.startswith("no"):
            return True
    value = fields.get(b"precedence")
    if value is not None and value.decode("utf-8", "replace").strip().lower() in _BULK_PRECEDENCE:
        return True
    value = fields.get(b"return-path")
    if value is not None and value.decode("utf-8", "replace").strip().replace(" ", "") == "<>":
        return True
    return is_automated_sender(_sender(fields.get(b"from", b"").decode("utf-8", "replace").strip()))
