"""The byte-level MIME walker (store/sync/mime.py) against Python's email package, on the harness corpus.

The walker never copies parts out of the message and sizes base64 attachments from their line length; the
email package parses every part in full. On every well-formed corpus message both must find the same text
(HTML converted the same way) and the same attachments: IMAP part number, file name, type, decoded size,
Content-ID, inline flag. Malformed messages are compared where the email package has a defined answer.
"""

from __future__ import annotations

import binascii
import email
import random
from email.message import Message
from email.policy import compat32

import pytest

from store.sync import mime
from store.sync.headertext import clean_header_text, decode_charset, decode_words
from tests.harness import corpus

MESSAGES = [
    *corpus.generate(count=300, avg_size=63_000, seed=7),  # the benchmark's kind of mail
    *corpus.generate(count=300, avg_size=8_000, seed=21),  # the tests' default corpus size
]


def _oracle(raw: bytes) -> tuple[str, list[tuple[str, str, str, int, str, bool]]]:
    """Text and attachments as the email package sees them, numbered and decided like the walker."""
    msg = email.message_from_bytes(raw, policy=compat32)
    plain: list[str] = []
    html: list[str] = []
    attachments: list[tuple[str, str, str, int, str, bool]] = []

    def visit(part: Message, path: str) -> None:
        ctype = part.get_content_type()
        if part.is_multipart() and ctype != "message/rfc822":
            for n, sub in enumerate(part.get_payload(), 1):
                visit(sub, f"{path}.{n}" if path else str(n))
            return
        disposition = (part.get_content_disposition() or "").lower()
        filename = clean_header_text(decode_words(part.get_filename() or ""))
        if ctype in ("text/plain", "text/html") and disposition != "attachment" and not filename:
            data = part.get_payload(decode=True) or b""
            text = decode_charset(data, part.get_param("charset"))
            (plain if ctype == "text/plain" else html).append(text)
            return
        if ctype == "message/rfc822":
            inner = part.get_payload()[0]
            filename = (
                filename or (clean_header_text(decode_words(inner.get("Subject", ""))) or "message") + ".eml"
            )
            size = len(raw_payload(part))
        else:
            size = len(part.get_payload(decode=True) or b"")
        cid = (part.get("Content-ID") or "").strip().strip("<>")
        inline = disposition == "inline" or (not filename and bool(cid))
        attachments.append((path or "1", filename, ctype, size, cid, inline))

    visit(msg, "")
    if plain:
        text = "\n\n".join(plain)
    elif html:
        text = mime.html_to_text("\n".join(html), [])
    else:
        text = ""
    return text.replace("\r\n", "\n").replace("\r", "\n"), attachments


def raw_payload(part: Message) -> bytes:
    """The undecoded bytes of a message/rfc822 part as they stand in the message."""
    return part.get_payload()[0].as_bytes(policy=compat32)


def _walked(raw: bytes) -> tuple[str, list[tuple[str, str, str, int, str, bool]]]:
    body = mime.parse_body(raw)
    return body.text, [
        (a.part, a.filename, a.content_type, a.size, a.content_id, a.inline) for a in body.attachments
    ]


WELL_FORMED = [m for m in MESSAGES if m.kind not in ("broken-boundary", "bad-charset")]


def test_the_corpus_has_every_kind_of_part() -> None:
    kinds = {m.kind for m in MESSAGES}
    assert {"plain", "html", "alternative", "attachment", "automated"} <= kinds
    with_files = [m for m in WELL_FORMED if _walked(m.wire)[1]]
    assert len(with_files) > 50, "too few messages with attachments to compare sizes"


@pytest.mark.parametrize("wire", [True, False], ids=["crlf", "lf"])
def test_walker_finds_what_the_email_package_finds(wire: bool) -> None:
    differ = []
    for m in WELL_FORMED:
        raw = m.wire if wire else m.raw
        if _walked(raw) != _oracle(raw):
            differ.append((m.index, m.kind))
    assert not differ, f"{len(differ)} messages differ, e.g. {differ[:5]}"


def test_bad_charsets_decode_alike() -> None:
    for m in (m for m in MESSAGES if m.kind == "bad-charset"):
        assert _walked(m.wire)[0] == _oracle(m.wire)[0], m.index


def test_broken_boundaries_keep_text_and_say_so() -> None:
    """A boundary that is never closed (the email package then finds no text at all): the walker keeps
    the text of the parts it found and notes the problem."""
    broken = [m for m in MESSAGES if m.kind == "broken-boundary"]
    assert broken
    for m in broken:
        body = mime.parse_body(m.wire)
        assert body.text.strip() and "multipart not closed" in body.problems, m.index


def test_quoted_printable_check_by_counts_never_misses_a_bad_escape() -> None:
    """_qp_clean (counts only) may send a body to the exact search, but never passes a bad one."""
    rng = random.Random(4)
    passed = 0
    for _ in range(60_000):
        body = bytes(rng.choice(b"=3DaG\r\n \t") for _ in range(rng.randrange(0, 14)))
        if mime._qp_clean(body, len(binascii.a2b_qp(body))):
            passed += 1
            assert not mime._BAD_QP.search(body), body
    assert passed > 10_000  # the fast answer is the usual one
    for good in (b"caf=C3=A9 =\r\nnext=3D line=\n", b"plain", b"end="):
        assert mime._qp_clean(good, len(binascii.a2b_qp(good)))


def test_parts_are_not_copied_out_of_the_message() -> None:
    """A 20 MB attachment costs the walker no copy of itself (the sizes come from offsets)."""
    import tracemalloc

    b64 = (b"QUJD" * 19 + b"\r\n") * 260_000
    raw = (
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n"
        b"--b\r\nContent-Type: application/pdf; name=a.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + b64
        + b"\r\n--b--\r\n"
    )
    tracemalloc.start()
    body = mime.parse_body(raw)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert body.text == "hi" and body.attachments[0].size == len(binascii.a2b_base64(b64))
    assert peak < len(raw) // 10, peak
