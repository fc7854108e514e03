"""Turn raw mail into what the store keeps: an envelope from the header, text and attachments from the body.

Everything here is pure (bytes in, dataclasses out) so it can run in worker processes, and nothing raises
on malformed mail: what cannot be parsed is recorded in `problems` and the rest is kept.
"""

from __future__ import annotations

import binascii
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import getaddresses, mktime_tz, parsedate_tz

from store.crm.automated import AUTOMATION_HEADERS, is_automated
from store.sync.codec import CODEC, RAW_CHUNK, ZSTD_LEVEL, compress, compress_chunks, decompress  # noqa: F401

TEXT_LIMIT = 1_000_000  # characters of body text kept per message; the raw message keeps the rest
HEADER_TEXT_LIMIT = 2_000  # characters of a stored subject or display name; the raw header keeps the rest
MAX_DEPTH = 20  # MIME nesting walked; deeper parts stay in the raw message
ENVELOPE_HEADERS = (b"from", b"to", b"cc", b"subject", b"date", b"message-id", b"in-reply-to", b"references")
_ID = re.compile(r"<([^<>\s]+)>")
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")
_ENCODED_GAP = re.compile(r"(\?=)\s+(=\?)")
_CONTROLS = re.compile(r"[\x00-\x1f\x7f]+")  # CR, LF, NUL, … in header text: never stored
_BASE64_CHARS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\r\n\t "
_BAD_QP = re.compile(rb"=(?![0-9A-Fa-f]{2}|\r?\n|$)")
_CHARSET_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "ks_c_5601-1987": "cp949",
    "x-sjis": "shift_jis",
    "unknown-8bit": "utf-8",
    "x-unknown": "utf-8",
    "cp-850": "cp850",
}


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


@dataclass(frozen=True)
class Attachment:
    """Metadata of one attached (or inline non-text) part; the bytes stay in the raw message."""

    part: str
    filename: str
    content_type: str
    size: int
    content_id: str = ""
    inline: bool = False


@dataclass
class Body:
    """The readable text of a message and its attachments' metadata."""

    text: str = ""
    attachments: list[Attachment] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


# -- headers ---------------------------------------------------------------------------------------


def split_header(raw: bytes) -> tuple[bytes, bytes]:
    """Split a message (or MIME part) into its header block and its body at the first empty line."""
    crlf = raw.find(b"\r\n\r\n")
    lf = raw.find(b"\n\n", 0, crlf + 2 if crlf >= 0 else len(raw))
    if crlf >= 0 and (lf < 0 or crlf <= lf + 1):
        return raw[: crlf + 2], raw[crlf + 4 :]
    if lf >= 0:
        return raw[: lf + 1], raw[lf + 2 :]
    return raw, b""


def header_block(raw: bytes) -> bytes | None:
    """The header of a CRLF message through its blank line, as IMAP's BODY[HEADER] returns it (None when
    *raw* holds no blank line, e.g. a cut-off start of a message)."""
    end = raw.find(b"\r\n\r\n")
    return raw[: end + 4] if end >= 0 else None


def header_fields(block: bytes, wanted: tuple[bytes, ...] | None = None) -> dict[bytes, bytes]:
    """Unfolded header fields by lower-case name (the first occurrence wins), optionally only *wanted*."""
    out: dict[bytes, bytes] = {}
    name = b""
    parts: list[bytes] = []
    for line in block.replace(b"\r\n", b"\n").split(b"\n"):
        if line[:1] in (b" ", b"\t"):
            if name:
                parts.append(line)
            continue
        if name and name not in out:
            out[name] = b" ".join(p.strip() for p in parts)
        colon = line.find(b":")
        if colon <= 0:
            name = b""
            continue
        name = line[:colon].strip().lower()
        if wanted is not None and name not in wanted:
            name = b""
            continue
        parts = [line[colon + 1 :]]
    if name and name not in out:
        out[name] = b" ".join(p.strip() for p in parts)
    return out


def to_text(value: bytes) -> str:
    """Header bytes as text: UTF-8 when valid (8-bit headers are usually UTF-8), else Windows-1252."""
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("cp1252", "replace")


def decode_charset(data: bytes, charset: str | None, problems: list[str] | None = None) -> str:
    """Decode *data* in *charset*, falling back to UTF-8 with replacement for unknown or wrong charsets
    (noted in *problems* when given)."""
    cs = (charset or "utf-8").strip().strip('"').lower()
    cs = _CHARSET_ALIASES.get(cs, cs)
    try:
        if problems is None:
            return data.decode(cs, "replace")
        try:
            return data.decode(cs)
        except UnicodeDecodeError:
            problems.append(f"text not valid {cs}; replacement characters used")
            return data.decode(cs, "replace")
    except (LookupError, ValueError):
        if problems is not None:
            problems.append(f"unknown charset {cs[:40]!r}; read as UTF-8")
        return data.decode("utf-8", "replace")


def clean_header_text(value: str, problems: list[str] | None = None, what: str = "header") -> str:
    """Header text fit to store: control characters (CR, LF, NUL, …) become one space, and an absurdly
    long value is cut at HEADER_TEXT_LIMIT characters (noted in *problems* when given)."""
    value = _CONTROLS.sub(" ", value).strip()
    if len(value) > HEADER_TEXT_LIMIT:
        value = value[:HEADER_TEXT_LIMIT]
        if problems is not None:
            problems.append(f"{what} cut at {HEADER_TEXT_LIMIT:,} characters")
    return value


def decode_words(value: str) -> str:
    """Decode RFC 2047 encoded words; a bad charset or encoding degrades to replacement characters."""
    if "=?" not in value:
        return value
    value = _ENCODED_GAP.sub(r"\1\2", value)

    def one(m: re.Match[str]) -> str:
        charset, enc, text = m.group(1).split("*")[0], m.group(2).upper(), m.group(3)
        try:
            try:
                encoded = text.encode("latin-1")  # 8-bit bytes inside a word (broken, but seen) survive
            except UnicodeEncodeError:
                encoded = text.encode("utf-8")
            if enc == "B":
                data = binascii.a2b_base64(encoded + b"===")
            else:
                data = binascii.a2b_qp(encoded, header=True)
        except binascii.Error:
            return m.group(0)
        return decode_charset(data, charset)

    return _ENCODED_WORD.sub(one, value)


def normalize_id(value: str) -> str:
    """A Message-ID without angle brackets or spaces ('' when there is none)."""
    m = _ID.search(value)
    if m:
        return m.group(1)
    return value.strip().strip("<>").split()[0] if value.strip() else ""


def parse_date(value: str) -> int | None:
    """Seconds since the epoch for an RFC 5322 date, or None when it cannot be read."""
    try:
        parsed = parsedate_tz(value)
        if parsed is None:
            return None
        ts = mktime_tz(parsed)
        return ts if -(2**40) < ts < 2**40 else None
    except (ValueError, OverflowError, TypeError, IndexError):
        return None


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


def _addresses(value: str) -> list[tuple[str, str]]:
    pairs = _simple_addresses(value)
    if pairs is None:
        try:
            pairs = getaddresses([value])
        except Exception:  # noqa: BLE001 - the email package can fail in odd ways on hostile input
            return []
    out = []
    for name, addr in pairs:
        addr = addr.strip().lower()
        if "@" not in addr or len(addr) > 320:
            continue
        out.append((addr, clean_header_text(decode_words(name))))
    return out


def parse_envelope(header: bytes, size: int, internal_ts: int | None | Callable[[], int | None]) -> Envelope:
    """The envelope of a message from its header block; *size* is RFC822.SIZE, used for the dedupe key."""
    problems = []
    fields = header_fields(header, ENVELOPE_HEADERS + AUTOMATION_HEADERS)
    text = {k.decode(): to_text(v) for k, v in fields.items()}
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
        for addr, name in _addresses(text.get(kind, "")):
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
        automated=is_automated(fields),
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


# -- MIME body -------------------------------------------------------------------------------------


def content_params(value: str) -> tuple[str, dict[str, str]]:
    """The lower-case main value of a structured header and its parameters (RFC 2231 decoded)."""
    items = _split_params(value)
    main = items[0].strip().lower() if items else ""
    params: dict[str, str] = {}
    continued: dict[str, dict[int, tuple[bool, str]]] = {}
    for item in items[1:]:
        key, eq, val = item.partition("=")
        if not eq:
            continue
        key = key.strip().lower()
        val = val.strip()
        if len(val) >= 2 and val[0] == '"' and val[-1] == '"':
            val = val[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        if "*" in key:
            base, _, rest = key.partition("*")
            encoded = rest.endswith("*") or rest == ""
            index = rest.strip("*")
            continued.setdefault(base, {})[int(index) if index.isdigit() else 0] = (encoded, val)
        else:
            params.setdefault(key, val)
    for base, pieces in continued.items():
        params[base] = _join_2231([pieces[i] for i in sorted(pieces)])
    return main, params


def _split_params(value: str) -> list[str]:
    if '"' not in value:
        return value.split(";")
    out, cur, quoted, escape = [], [], False, False
    for ch in value:
        if escape:
            cur.append(ch)
            escape = False
        elif ch == "\\" and quoted:
            cur.append(ch)
            escape = True
        elif ch == '"':
            quoted = not quoted
            cur.append(ch)
        elif ch == ";" and not quoted:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return out


def _join_2231(pieces: list[tuple[bool, str]]) -> str:
    from urllib.parse import unquote_to_bytes

    charset = "utf-8"
    data = b""
    for n, (encoded, val) in enumerate(pieces):
        if encoded:
            if n == 0 and val.count("'") >= 2:
                charset, _, val = val.split("'", 2)
            data += unquote_to_bytes(val)
        else:
            data += val.encode("utf-8", "replace")
    return decode_charset(data, charset or "utf-8")


def _transfer_decode(body: bytes, cte: str, problems: list[str]) -> bytes:
    if cte == "base64":
        if body.translate(None, _BASE64_CHARS):
            problems.append("base64 with invalid characters (skipped)")
        try:
            return binascii.a2b_base64(body)
        except binascii.Error:
            problems.append("damaged base64")
            cleaned = re.sub(rb"[^A-Za-z0-9+/]", b"", body)
            try:
                return binascii.a2b_base64(cleaned[: len(cleaned) // 4 * 4])
            except binascii.Error:
                problems.append("undecodable base64")
                return b""
    if cte == "quoted-printable":
        if _BAD_QP.search(body):
            problems.append("invalid quoted-printable escapes kept as they are")
        return binascii.a2b_qp(body)
    return body


def _base64_size(body: bytes) -> int:
    """Decoded size of base64 text, estimated from its line length without a pass over all of it."""
    first = body.find(b"\n")
    if first < 0 or len(body) < 4096:
        chars = len(body) - body.count(b"\n") - body.count(b"\r") - body.count(b" ")
    else:
        eol = 2 if body[first - 1 : first] == b"\r" else 1
        line = first + 1 - eol
        lines = len(body) // (line + eol) if line > 0 else 0
        rest = body[lines * (line + eol) :].strip()
        chars = lines * line + len(rest)
    tail = body[-8:].rstrip()
    return max(0, chars * 3 // 4 - tail[-2:].count(b"="))


class _Walker:
    """Walks a MIME tree with plain byte searches, numbering parts the way IMAP does (1, 2.1, …)."""

    def __init__(self) -> None:
        self.body = Body()
        self.plain: list[str] = []
        self.html: list[str] = []
        self.text_len = 0

    def walk(self, raw: bytes, path: str, depth: int = 0) -> None:
        header, content = split_header(raw)
        fields = header_fields(
            header, (b"content-type", b"content-transfer-encoding", b"content-disposition", b"content-id")
        )
        ctype, params = content_params(to_text(fields.get(b"content-type", b"text/plain")))
        if "/" not in ctype:
            ctype = "text/plain"
        if ctype.startswith("multipart/") and depth >= MAX_DEPTH:
            self.body.problems.append(
                f"MIME nested deeper than {MAX_DEPTH} levels; part {path} kept only in the raw message"
            )
        if ctype.startswith("multipart/") and depth < MAX_DEPTH:
            boundary = params.get("boundary", "")
            if boundary:
                parts = _split_multipart(content, boundary.encode("utf-8", "replace"), self.body.problems)
                prefix = f"{path}." if path else ""
                for n, part in enumerate(parts, 1):
                    self.walk(part, f"{prefix}{n}", depth + 1)
                return
            self.body.problems.append(f"{ctype} without a boundary")
            ctype = "text/plain"
        leaf = path or "1"
        cte = to_text(fields.get(b"content-transfer-encoding", b"")).strip().lower()
        disposition, dparams = content_params(to_text(fields.get(b"content-disposition", b"")))
        filename = clean_header_text(decode_words(dparams.get("filename") or params.get("name") or ""))
        is_text = ctype in ("text/plain", "text/html") and disposition != "attachment" and not filename
        if is_text:
            if self.text_len < TEXT_LIMIT:
                data = _transfer_decode(content, cte, self.body.problems)
                text = decode_charset(data, params.get("charset"), self.body.problems)
                self.text_len += len(text)
                (self.plain if ctype == "text/plain" else self.html).append(text)
            return
        if cte == "base64":
            size = _base64_size(content)
        elif cte == "quoted-printable":
            size = len(binascii.a2b_qp(content))
        else:
            size = len(content)
        if ctype == "message/rfc822" and not filename:
            subject = header_fields(split_header(content)[0], (b"subject",)).get(b"subject", b"")
            filename = (clean_header_text(decode_words(to_text(subject))) or "message") + ".eml"
        cid = to_text(fields.get(b"content-id", b"")).strip().strip("<>")
        self.body.attachments.append(
            Attachment(
                leaf, filename, ctype, size, cid, disposition == "inline" or (not filename and bool(cid))
            )
        )

    def result(self) -> Body:
        if self.plain:
            text = "\n\n".join(self.plain)
        elif self.html:
            text = html_to_text("\n".join(self.html), self.body.problems)
        else:
            text = ""
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        if len(text) > TEXT_LIMIT:
            text = text[:TEXT_LIMIT]
            self.body.problems.append("text cut at 1,000,000 characters")
        self.body.text = text
        return self.body


def _split_multipart(content: bytes, boundary: bytes, problems: list[str]) -> list[bytes]:
    """The parts between the delimiter lines of *boundary*; a missing close delimiter keeps the rest."""
    delimiter = b"--" + boundary
    parts: list[bytes] = []
    pos = _find_delimiter(content, delimiter, 0)
    if pos < 0:
        problems.append("multipart boundary never found")
        return [b"\n" + content] if content.strip() else []
    while True:
        line_end = content.find(b"\n", pos)
        after = content[pos + len(delimiter) : pos + len(delimiter) + 2]
        if after == b"--":
            return parts
        if line_end < 0:
            return parts
        start = line_end + 1
        nxt = _find_delimiter(content, delimiter, start)
        if nxt < 0:
            problems.append("multipart not closed")
            parts.append(content[start:])
            return parts
        end = nxt - 1
        if end > start and content[end - 1 : end] == b"\r":
            end -= 1
        parts.append(content[start : max(start, end)])
        pos = nxt


def _find_delimiter(content: bytes, delimiter: bytes, start: int) -> int:
    """Offset of the next line that begins with *delimiter*, or -1."""
    pos = start
    while True:
        pos = content.find(delimiter, pos)
        if pos < 0:
            return -1
        if pos == 0 or content[pos - 1] == 0x0A:
            return pos
        pos += len(delimiter)


def html_to_text(html: str, problems: list[str]) -> str:
    """Readable text of an HTML body (links kept, images dropped)."""
    try:
        import html2text

        conv = html2text.HTML2Text()
        conv.body_width = 0
        conv.ignore_images = True
        conv.unicode_snob = True
        return conv.handle(html).strip()
    except Exception as exc:  # noqa: BLE001 - html2text on hostile HTML; keep a crude text instead
        problems.append(f"HTML not converted: {type(exc).__name__}")
        return re.sub(r"<[^>]*>", " ", html)


def parse_body(raw: bytes) -> Body:
    """The text and attachment metadata of a whole message; never raises on malformed mail."""
    walker = _Walker()
    try:
        walker.walk(raw, "")
    except Exception as exc:  # noqa: BLE001 - a parser bug must not stop a sync; the raw message is kept
        walker.body.problems.append(f"MIME not parsed: {type(exc).__name__}: {exc}")
    return walker.result()


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
