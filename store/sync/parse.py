"""Turn raw mail into what the store keeps: an envelope from the header, text and attachments from the body.

Everything here is pure (bytes in, dataclasses out) so it can run in any thread or process, and nothing
raises on malformed mail: what cannot be parsed is recorded in `problems` and the rest is kept. Header text
helpers live in headertext.py, the MIME walker in mime.py, the raw codec in codec.py; their public names are
re-exported here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.utils import getaddresses
from functools import lru_cache

from store.crm.automated import AUTOMATION_HEADERS, is_automated_fields
from store.sync.codec import CODEC, RAW_CHUNK, ZSTD_LEVEL, compress, compress_chunks, decompress  # noqa: F401
from store.sync.headertext import (  # noqa: F401 - re-exported
    _ID,
    HEADER_TEXT_LIMIT,
    clean_header_text,
    content_params,
    decode_charset,
    decode_words,
    header_block,
    header_end,
    header_fields,
    normalize_id,
    parse_date,
    split_header,
    to_text,
)
from store.sync.mime import (  # noqa: F401 - re-exported
    MAX_DEPTH,
    TEXT_LIMIT,
    Attachment,
    Body,
    _transfer_decode,
    html_to_text,
    parse_body,
)

ENVELOPE_HEADERS = (b"from", b"to", b"cc", b"subject", b"date", b"message-id", b"in-reply-to", b"references")
_ENVELOPE_AND_AUTOMATION = ENVELOPE_HEADERS + AUTOMATION_HEADERS
_ENVELOPE_NAMES = tuple((key, key.decode()) for key in ENVELOPE_HEADERS)


@dataclass(frozen=True)
class Envelope:
    """The header facts of one message, and the key that recognises the same message elsewhere."""

    dedupe_key: str
    message_id: str
    in_reply_to: str
    references: str
    subject: str
    from_address: str
    from_name: str
    sent_at: int
    addresses: tuple[tuple[str, str, str], ...]  # (kind, lower-case address, name)
    problems: str = ""
    automated: bool = False  # newsletters, notifications, bounces (store/crm/automated.py)


# -- envelope --------------------------------------------------------------------------------------


def _simple_addresses(value: str) -> list[tuple[str, str]] | None:
    """Fast path for the usual `Name <a@b>, c@d` lists; None when the email package must decide."""
    if '"' in value or "(" in value or ":" in value or ";" in value or "\\" in value:
        return None
    out = []
    for item in value.split(","):
        item = item.strip()
        if not item:
            continue
        lt = item.find("<")
        if lt < 0:
            if " " in item or "<" in item or ">" in item:
                return None
            out.append(("", item))
            continue
        gt = item.find(">", lt)
        if gt < 0 or item.find("<", lt + 1) >= 0 or item[gt + 1 :].strip():
            return None
        out.append((item[:lt].strip(), item[lt + 1 : gt].strip()))
    return out


def _addresses(value: str) -> tuple[tuple[str, str], ...]:
    """(lower-case address, display name) of an address list; lists up to 1,000 characters are remembered,
    since the same From and To values come back message after message (a pure function of the text)."""
    return _remembered_addresses(value) if len(value) <= 1_000 else _read_addresses(value)


@lru_cache(maxsize=4096)
def _remembered_addresses(value: str) -> tuple[tuple[str, str], ...]:
    return _read_addresses(value)


def _lenient_keyword() -> dict[str, bool]:
    """getaddresses' keyword for the lenient reading on every interpreter. Security releases (3.11.10+,
    3.12.6+, and distributions' backports such as Debian's 3.11.2-6+deb12u6) added strict=True as the default,
    which gives nothing at all for an address list it finds ambiguous (a lone CR, a stray parenthesis);
    older 3.11 releases have no such parameter and read those lists leniently. The same message must give
    the same envelope on either, and From/To/Cc of received mail decide nothing here but which contact a
    message is shown with (the sender writes them as it likes anyway), so the lenient reading it is."""
    try:
        getaddresses(["a@b.example"], strict=False)  # type: ignore[call-arg]
    except TypeError:
        return {}
    return {"strict": False}


_LENIENT = _lenient_keyword()


def _read_addresses(value: str) -> tuple[tuple[str, str], ...]:
    pairs = _simple_addresses(value)
    if pairs is None:
        try:
            pairs = getaddresses([value], **_LENIENT)
        except Exception:  # noqa: BLE001 - the email package can fail in odd ways on hostile input
            return ()
    out = []
    for name, addr in pairs:
        addr = addr.strip().lower()
        if "@" not in addr or len(addr) > 320:
            continue
        out.append((addr, clean_header_text(decode_words(name)) if name else ""))
    return tuple(out)


def parse_envelope(header: bytes, size: int, internal_ts: int | None | Callable[[], int | None]) -> Envelope:
    """The envelope of a message from its header block; *size* is RFC822.SIZE, used for the dedupe key."""
    problems = []
    fields = header_fields(header, _ENVELOPE_AND_AUTOMATION)
    text = {name: to_text(fields[key]) for key, name in _ENVELOPE_NAMES if key in fields}
    raw_subject = decode_words(text.get("subject", "")).strip()
    subject = clean_header_text(raw_subject, problems, "Subject")
    sent_at = parse_date(text["date"]) if "date" in text else None
    if sent_at is None:
        problems.append("no readable Date")
        if callable(internal_ts):
            internal_ts = internal_ts()
        sent_at = internal_ts if internal_ts is not None else 0
    addresses: list[tuple[str, str, str]] = []
    seen = set()
    for kind in ("from", "to", "cc"):
        value = text.get(kind)
        if not value:
            continue
        for addr, name in _addresses(value):
            if (kind, addr) not in seen:
                seen.add((kind, addr))
                addresses.append((kind, addr, name))
    from_address, from_name = next(((a, n) for k, a, n in addresses if k == "from"), ("", ""))
    if not from_address and text.get("from"):
        from_name = clean_header_text(decode_words(text["from"]))
    message_id = normalize_id(text.get("message-id", ""))
    references = " ".join(_ID.findall(text.get("references", "")))
    in_reply_to = normalize_id(text.get("in-reply-to", ""))
    body_size = max(0, size - len(header))
    key_parts = [
        message_id,
        text.get("date", "").strip(),
        text.get("from", "").strip(),
        raw_subject,  # as before the cleaning, so keys of stored messages do not change
        str(body_size),
    ]
    if not message_id:
        key_parts += [text.get("to", "").strip(), text.get("cc", "").strip()]
    digest = hashlib.sha256("\x00".join(key_parts).encode("utf-8", "surrogatepass")).hexdigest()
    return Envelope(
        dedupe_key=digest[:40],
        message_id=message_id,
        in_reply_to=in_reply_to,
        references=references,
        subject=subject,
        from_address=from_address,
        from_name=from_name,
        sent_at=int(sent_at),
        addresses=tuple(addresses),
        problems="; ".join(problems),
        automated=is_automated_fields(fields),
    )


def internal_timestamp(value: datetime | bytes | None) -> int | None:
    """INTERNALDATE as epoch seconds (naive values are taken as UTC)."""
    if value is None:
        return None
    if isinstance(value, bytes):
        try:
            value = datetime.strptime(value.decode().strip(), "%d-%b-%Y %H:%M:%S %z")
        except ValueError:
            return None
    if value.tzinfo is None:
        from datetime import UTC

        value = value.replace(tzinfo=UTC)
    return int(value.timestamp())


# -- raw storage -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Parsed:
    """What a worker returns for one fetched message: ready to insert."""

    message_id: int
    text: str
    attachments: tuple[Attachment, ...]
    problems: str
    chunks: tuple[bytes, ...]


def process(item: tuple[int, bytes]) -> Parsed:
    """Parse and compress one message (the unit of work of the parsing pool)."""
    message_id, raw = item
    body = parse_body(raw)
    return Parsed(
        message_id, body.text, tuple(body.attachments), "; ".join(body.problems), tuple(compress_chunks(raw))
    )


def process_batch(items: list[tuple[int, bytes]]) -> list[Parsed]:
    """Parse and compress a batch of messages."""
    return [process(item) for item in items]
