"""The readable text and the attachment metadata of a whole message, found with plain byte searches.

The walker works on offsets into the one message buffer: parts are never copied out, only the text parts
it decodes and the small header blocks. Attachment sizes come from the encoded length (base64: from its
line length). Nothing raises on malformed mail: what cannot be read is noted in `problems`.
"""

from __future__ import annotations

import binascii
import re
from dataclasses import dataclass, field

from store.sync.headertext import (
    clean_header_text,
    content_params,
    decode_charset,
    decode_words,
    header_end,
    header_fields,
    to_text,
)

TEXT_LIMIT = 1_000_000  # characters of body text kept per message; the raw message keeps the rest
MAX_DEPTH = 20  # MIME nesting walked; deeper parts stay in the raw message
PART_HEADERS = (b"content-type", b"content-transfer-encoding", b"content-disposition", b"content-id")
_BASE64_CHARS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\r\n\t "
_BAD_QP = re.compile(rb"=(?![0-9A-Fa-f]{2}|\r?\n|$)")


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
        data = binascii.a2b_qp(body)
        if not _qp_clean(body, len(data)) and _BAD_QP.search(body):
            problems.append("invalid quoted-printable escapes kept as they are")
        return data
    return body


def _qp_clean(body: bytes, decoded: int) -> bool:
    """Whether every '=' of quoted-printable *body* starts a hex escape or a soft line break, judged from
    counts alone: then a2b_qp turned each escape's 3 bytes into 1, each '=CRLF' into nothing (-3), each
    '=LF' (-2) and a final '=' (-1) too, and *decoded* (its output length) is exactly that. Any other '='
    ('=G', '==', a lone '=CR') shortens the output less or swallows more, so a mismatch (or a lone '=CR')
    sends the body to the exact, slower search. Never says clean when that search would find a bad one."""
    eq = body.count(b"=")
    if not eq:
        return True
    soft_crlf = body.count(b"=\r\n")
    if body.count(b"=\r") != soft_crlf:
        return False
    soft_lf = body.count(b"=\n")
    last = 1 if body.endswith(b"=") else 0
    escapes = eq - soft_crlf - soft_lf - last
    return len(body) - 2 * escapes - 3 * soft_crlf - 2 * soft_lf - last == decoded


def _base64_size(buf: bytes, start: int, end: int) -> int:
    """Decoded size of the base64 text buf[start:end], estimated from its line length without a pass over
    all of it."""
    size = end - start
    first = buf.find(b"\n", start, end)
    if first < 0 or size < 4096:
        breaks = buf.count(b"\n", start, end) + buf.count(b"\r", start, end)
        chars = size - breaks - buf.count(b" ", start, end)
    else:
        eol = 2 if first > start and buf[first - 1] == 0x0D else 1
        line = first - start + 1 - eol
        lines = size // (line + eol) if line > 0 else 0
        rest = buf[start + lines * (line + eol) : end].strip()
        chars = lines * line + len(rest)
    tail = buf[max(start, end - 8) : end].rstrip()
    return max(0, chars * 3 // 4 - tail[-2:].count(b"="))


class _Walker:
    """Walks a MIME tree with plain byte searches, numbering parts the way IMAP does (1, 2.1, …)."""

    def __init__(self) -> None:
        self.body = Body()
        self.plain: list[str] = []
        self.html: list[str] = []
        self.text_len = 0

    def walk(self, buf: bytes, start: int, end: int, path: str, depth: int = 0) -> None:
        """The part buf[start:end] (a whole message when *path* is '')."""
        stop, content = header_end(buf, start, end)
        fields = header_fields(buf[start:stop], PART_HEADERS)
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
                delimiter = b"--" + boundary.encode("utf-8", "replace")
                parts = _split_multipart(buf, content, end, delimiter, self.body.problems)
                prefix = f"{path}." if path else ""
                for n, (part, s, e) in enumerate(parts, 1):
                    self.walk(part, s, e, f"{prefix}{n}", depth + 1)
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
                data = _transfer_decode(buf[content:end], cte, self.body.problems)
                text = decode_charset(data, params.get("charset"), self.body.problems)
                self.text_len += len(text)
                (self.plain if ctype == "text/plain" else self.html).append(text)
            return
        if cte == "base64":
            size = _base64_size(buf, content, end)
        elif cte == "quoted-printable":
            size = len(binascii.a2b_qp(buf[content:end]))
        else:
            size = end - content
        if ctype == "message/rfc822" and not filename:
            inner_stop, _ = header_end(buf, content, end)
            subject = header_fields(buf[content:inner_stop], (b"subject",)).get(b"subject", b"")
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


def _split_multipart(
    buf: bytes, start: int, end: int, delimiter: bytes, problems: list[str]
) -> list[tuple[bytes, int, int]]:
    """The parts of buf[start:end] between the lines that begin with *delimiter* ('--' + boundary), as
    (buffer, start, end); a missing close delimiter keeps the rest."""
    parts: list[tuple[bytes, int, int]] = []
    pos = _find_delimiter(buf, delimiter, start, start, end)
    if pos < 0:
        problems.append("multipart boundary never found")
        content = buf[start:end]
        return [(b"\n" + content, 0, len(content) + 1)] if content.strip() else []
    while True:
        line_end = buf.find(b"\n", pos, end)
        after = pos + len(delimiter)
        if buf[after : min(after + 2, end)] == b"--":
            return parts
        if line_end < 0:
            return parts
        part = line_end + 1
        nxt = _find_delimiter(buf, delimiter, part, start, end)
        if nxt < 0:
            problems.append("multipart not closed")
            parts.append((buf, part, end))
            return parts
        stop = nxt - 1
        if stop > part and buf[stop - 1] == 0x0D:
            stop -= 1
        parts.append((buf, part, max(part, stop)))
        pos = nxt


def _find_delimiter(buf: bytes, delimiter: bytes, pos: int, start: int, end: int) -> int:
    """Offset of the next line of buf[start:end], from *pos* on, that begins with *delimiter*, or -1."""
    while True:
        pos = buf.find(delimiter, pos, end)
        if pos < 0:
            return -1
        if pos == start or buf[pos - 1] == 0x0A:
            return pos
        pos += len(delimiter)


def html_to_text(html: str, problems: list[str]) -> str:
    """Readable text of an HTML body (links kept, images dropped): see store/sync/htmltext.py."""
    from store.sync.htmltext import html_to_text as convert

    return convert(html, problems)


def parse_body(raw: bytes) -> Body:
    """The text and attachment metadata of a whole message; never raises on malformed mail."""
    walker = _Walker()
    try:
        walker.walk(raw, 0, len(raw), "")
    except Exception as exc:  # noqa: BLE001 - a parser bug must not stop a sync; the raw message is kept
        walker.body.problems.append(f"MIME not parsed: {type(exc).__name__}: {exc}")
    return walker.result()
