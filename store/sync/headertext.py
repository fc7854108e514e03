"""Header text: header blocks and fields, RFC 2047 words, RFC 2231 parameters, charsets, dates, Message-IDs.

Pure functions (bytes or text in, text out) shared by the envelope (parse.py) and the MIME walker (mime.py);
none raises on malformed input.
"""

from __future__ import annotations

import binascii
import re
from calendar import timegm
from email.utils import mktime_tz, parsedate_tz

HEADER_TEXT_LIMIT = 2_000  # characters of a stored subject or display name; the raw header keeps the rest
_ID = re.compile(r"<([^<>\s]+)>")
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")
_ENCODED_GAP = re.compile(r"(\?=)\s+(=\?)")
_CONTROLS = re.compile(r"[\x00-\x1f\x7f]+")  # CR, LF, NUL, … in header text: never stored
_MONTHS = {m: n for n, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}
# "Tue, 2 Jan 2024 10:00:00 +0100" with one space between the parts, then perhaps " (comment)": the five
# parts email.utils' parsedate_tz reads after a "Day," word; a year of four digits from 1000 is taken as is.
_PLAIN_DATE = re.compile(
    r"[A-Za-z]{3}, ([0-9]{1,2}) (" + "|".join(_MONTHS) + r") ([1-9][0-9]{3}) ([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r" ((?:\+[0-9]{4})|(?:-(?!0000)[0-9]{4}))(?: .*)?",
    re.DOTALL,
)
_CHARSET_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "ks_c_5601-1987": "cp949",
    "x-sjis": "shift_jis",
    "unknown-8bit": "utf-8",
    "x-unknown": "utf-8",
    "cp-850": "cp850",
}


def split_header(raw: bytes) -> tuple[bytes, bytes]:
    """Split a message (or MIME part) into its header block and its body at the first empty line."""
    stop, body = header_end(raw, 0, len(raw))
    return raw[:stop], raw[body:]


def header_end(raw: bytes, start: int, end: int) -> tuple[int, int]:
    """split_header on raw[start:end] without copying: where its header block stops and its body begins."""
    crlf = raw.find(b"\r\n\r\n", start, end)
    lf = raw.find(b"\n\n", start, crlf + 2 if crlf >= 0 else end)
    if crlf >= 0 and (lf < 0 or crlf <= lf + 1):
        return crlf + 2, crlf + 4
    if lf >= 0:
        return lf + 1, lf + 2
    return end, end


def header_block(raw: bytes) -> bytes | None:
    """The header of a CRLF message through its blank line, as IMAP's BODY[HEADER] returns it (None when
    *raw* holds no blank line, e.g. a cut-off start of a message)."""
    end = raw.find(b"\r\n\r\n")
    return raw[: end + 4] if end >= 0 else None


def header_fields(block: bytes, wanted: tuple[bytes, ...] | None = None) -> dict[bytes, bytes]:
    """Unfolded header fields by lower-case name (the first occurrence wins), optionally only *wanted*."""
    if wanted is None:
        return _fields_by_lines(block, None)
    pattern = _WANTED_PATTERNS.get(wanted)
    if pattern is None:
        pattern = _WANTED_PATTERNS[wanted] = _wanted_pattern(wanted)
    out: dict[bytes, bytes] = {}
    for name, value in pattern.findall(b"\n" + block.replace(b"\r\n", b"\n")):
        name = name.lower()
        if name not in out:
            out[name] = b" ".join(p.strip() for p in value.split(b"\n")) if b"\n" in value else value.strip()
    return out


_WANTED_PATTERNS: dict[tuple[bytes, ...], re.Pattern[bytes]] = {}


def _wanted_pattern(wanted: tuple[bytes, ...]) -> re.Pattern[bytes]:
    """One regex that finds the *wanted* fields exactly as _fields_by_lines reads them: a line that does not
    start with a space or tab, its name (ASCII case-insensitive) between the whitespace bytes.strip() removes,
    the first colon, then the rest of the line and the folded lines after it. The text it runs on starts with
    a newline, so every match starts with a literal and the regex engine skips ahead between lines."""
    names = b"|".join(re.escape(n) for n in sorted(set(wanted), key=len, reverse=True))
    return re.compile(
        rb"\n(?:[\r\x0b\x0c][ \t\r\x0b\x0c]*)?(" + names + rb")[ \t\r\x0b\x0c]*:([^\n]*(?:\n[ \t][^\n]*)*)",
        re.IGNORECASE,
    )


def _fields_by_lines(block: bytes, wanted: tuple[bytes, ...] | None) -> dict[bytes, bytes]:
    """header_fields line by line: the reference the regex of _wanted_pattern follows (see its test)."""
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
    # isprintable() is True only without control characters, so the usual value skips the regex
    value = value.strip() if value.isprintable() else _CONTROLS.sub(" ", value).strip()
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
    words = value.strip().strip("<>").split()  # "<>" alone leaves nothing
    return words[0] if words else ""


def parse_date(value: str) -> int | None:
    """Seconds since the epoch for an RFC 5322 date, or None when it cannot be read."""
    m = _PLAIN_DATE.fullmatch(value)
    if m is not None:  # the usual form, read as email.utils would (a "-0000" zone is left to it)
        day, month, year, hour, minute, second, zone = m.groups()
        offset = int(zone)
        offset = (1 if offset >= 0 else -1) * ((abs(offset) // 100) * 3600 + (abs(offset) % 100) * 60)
        ts = timegm((int(year), _MONTHS[month], int(day), int(hour), int(minute), int(second))) - offset
        return ts if -(2**40) < ts < 2**40 else None
    try:
        parsed = parsedate_tz(value)
        if parsed is None:
            return None
        ts = mktime_tz(parsed)
        return ts if -(2**40) < ts < 2**40 else None
    except (ValueError, OverflowError, TypeError, IndexError):
        return None


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
    if "\\" not in value and ";" not in "".join(value.split('"')[1::2]):
        return value.split(";")  # no ';' inside quotes and no escapes: the loop below would split alike
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
