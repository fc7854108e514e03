"""Parsing mail for the store: envelopes, MIME text, attachments, malformed input, dedupe keys, raw chunks."""

from __future__ import annotations

import base64
import random
import re

import pytest

from store.sync import parse
from store.sync.imap import _literal_key, parse_simple_fetch, parse_uid_set, uid_set
from tests.harness import corpus


def _env(raw: bytes, size: int | None = None, internal: int | None = 1_700_000_000) -> parse.Envelope:
    header, _ = parse.split_header(raw)
    return parse.parse_envelope(header, len(raw) if size is None else size, internal)


PLAIN = (
    b"From: =?UTF-8?B?0JjQstCw0L0g0J/QtdGC0YDQvtCy?= <Ivan@Romashka.Example>\r\n"
    b"To: Bob <bob@x.example>, carol@y.example\r\n"
    b'Cc: "O\'Neil, Dave" <DAVE@z.example>\r\n'
    b"Subject: =?UTF-8?Q?=D0=A1=D1=87=D1=91=D1=82?=\r\n  =?UTF-8?Q?_=E2=84=966?=\r\n"
    b"Date: Tue, 02 Jan 2024 10:00:00 +0300\r\n"
    b"Message-ID: <abc@romashka.example>\r\n"
    b"In-Reply-To: <parent@x.example>\r\n"
    b"References: <root@x.example>\r\n <parent@x.example>\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
    b"Hello\r\n"
)


def test_envelope_fields_decoded_and_addresses_lower_case() -> None:
    env = _env(PLAIN)
    assert env.subject == "Счёт №6"
    assert (env.from_address, env.from_name) == ("ivan@romashka.example", "Иван Петров")
    assert env.message_id == "abc@romashka.example"
    assert env.in_reply_to == "parent@x.example"
    assert env.references == "root@x.example parent@x.example"
    assert env.sent_at == 1704178800
    assert env.addresses == (
        ("from", "ivan@romashka.example", "Иван Петров"),
        ("to", "bob@x.example", "Bob"),
        ("to", "carol@y.example", ""),
        ("cc", "dave@z.example", "O'Neil, Dave"),
    )
    assert env.problems == ""


def test_same_mail_with_other_received_headers_has_the_same_key() -> None:
    copy_a = b"Received: from a by b; Tue, 02 Jan 2024 10:00:01 +0300\r\n" + PLAIN
    copy_b = b"Received: from c by d\r\nReceived: from e by f; Tue, 02 Jan 2024 10:00:09 +0300\r\n" + PLAIN
    assert _env(copy_a).dedupe_key == _env(copy_b).dedupe_key


def test_different_mail_sharing_a_message_id_has_different_keys() -> None:
    other = PLAIN.replace(b"Hello\r\n", b"Another body entirely\r\n")
    assert _env(PLAIN).dedupe_key != _env(other).dedupe_key
    resent = PLAIN.replace(b"10:00:00", b"11:00:00")
    assert _env(PLAIN).dedupe_key != _env(resent).dedupe_key


def test_missing_date_falls_back_to_internal_date_and_says_so() -> None:
    raw = b"From: a@b.example\r\nSubject: x\r\n\r\nbody\r\n"
    env = _env(raw, internal=1234)
    assert env.sent_at == 1234 and "Date" in env.problems
    assert env.message_id == "" and env.dedupe_key
    assert _env(raw, internal=lambda: 99).sent_at == 99


def test_empty_angle_brackets_as_ids_do_not_raise() -> None:
    env = _env(b"From: a@b.example\r\nMessage-ID: <>\r\nIn-Reply-To: < >\r\n\r\nbody\r\n")
    assert env.message_id == "" and env.in_reply_to == "" and env.from_address == "a@b.example"
    assert parse.normalize_id("x <y@z>") == "y@z" and parse.normalize_id(" <bare@id ") == "bare@id"


def test_eight_bit_and_broken_headers_do_not_raise() -> None:
    raw = (
        "Subject: Сверка — без кодирования\r\nFrom: Пётр <petr@zavod.example>\r\n"
    ).encode() + b"X-Legacy: \xcf\xf0\xe8\r\nTo: undisclosed-recipients:;\r\nDate: garbage\r\n\r\nx\r\n"
    env = _env(raw)
    assert env.subject == "Сверка — без кодирования"
    assert env.from_address == "petr@zavod.example"
    assert "Date" in env.problems


def test_unknown_charset_and_raw_eight_bit_inside_encoded_words() -> None:
    assert parse.decode_words("=?x-unknown?B?" + base64.b64encode(b"ok").decode() + "?=") == "ok"
    broken_q = "=?UTF-8?Q?" + "Ð¡Ñ\x87Ñ\x91Ñ\x82".replace("\x87", "=87").replace("\x91", "=91") + "?="
    assert parse.decode_words(broken_q) == "Счёт"


def test_multipart_alternative_prefers_plain_and_lists_attachments() -> None:
    raw = (
        b'Content-Type: multipart/mixed; boundary="outer"\r\n\r\n'
        b"--outer\r\nContent-Type: multipart/alternative; boundary=inner\r\n\r\n"
        b"--inner\r\nContent-Type: text/plain; charset=koi8-r\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        + "Привет".encode("koi8-r")
        + b"\r\n"
        b"--inner\r\nContent-Type: text/html\r\n\r\n<p>Hi</p>\r\n--inner--\r\n"
        b'--outer\r\nContent-Type: application/pdf; name="a.pdf"\r\n'
        b"Content-Disposition: attachment; "
        b"filename*=UTF-8''%D0%94%D0%BE%D0%B3%D0%BE%D0%B2%D0%BE%D1%80.pdf\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(b"x" * 1000).replace(b"\n", b"\r\n")
        + b"--outer\r\nContent-Type: image/png\r\nContent-ID: <img1>\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(b"p" * 10) + b"--outer--\r\n"
    )
    body = parse.parse_body(raw)
    assert body.text.strip() == "Привет"
    assert [(a.part, a.filename, a.content_type, a.size, a.inline) for a in body.attachments] == [
        ("2", "Договор.pdf", "application/pdf", 1000, False),
        ("3", "", "image/png", 10, True),
    ]
    assert body.problems == []


def test_html_only_is_converted_to_text() -> None:
    raw = b"Content-Type: text/html; charset=utf-8\r\n\r\n<html><body><h1>Title</h1><p>Para <b>bold</b></p>"
    text = parse.parse_body(raw).text
    assert "Title" in text and "**bold**" in text and "<p>" not in text


@pytest.mark.parametrize("kind", corpus.MALFORMED_KINDS)
def test_corpus_malformed_kinds_parse_with_what_can_be_parsed(kind: str) -> None:
    msg = next(m for m in corpus.generate(count=400, avg_size=6000, seed=5) if m.kind == kind)
    env = _env(msg.wire)
    body = parse.parse_body(msg.wire)
    assert env.dedupe_key
    assert body.text or body.attachments


def test_broken_boundary_keeps_the_text_and_notes_the_problem() -> None:
    raw = (
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n"
        b"kept text\r\n--b\r\nContent-Type: application/octet-stream\r\n\r\ncut off"
    )
    body = parse.parse_body(raw)
    assert "kept text" in body.text
    assert body.attachments[0].content_type == "application/octet-stream"
    assert "multipart not closed" in body.problems


def test_whole_corpus_parses_without_exceptions() -> None:
    for msg in corpus.generate(count=300, avg_size=5000, seed=11):
        _env(msg.wire)
        parse.parse_body(msg.wire)


def test_raw_chunks_round_trip() -> None:
    raw = bytes(range(256)) * 10_000  # 2.5 MB: three chunks
    chunks = parse.compress_chunks(raw)
    assert len(chunks) == 3
    assert b"".join(parse.decompress(parse.CODEC, c) for c in chunks) == raw
    parsed = parse.process((7, PLAIN))
    assert parsed.message_id == 7 and parsed.text.strip() == "Hello"


def test_uid_sets() -> None:
    assert uid_set([5, 1, 2, 3, 9, 10, 7]) == "1:3,5,7,9:10"
    assert parse_uid_set("41,43:45,50") == {41, 43, 44, 45, 50}


def test_literal_key_finds_what_the_regex_found() -> None:
    regex = re.compile(rb"(\S+) \{\d+\}$")  # what parse_simple_fetch used before (#4)
    pieces = [
        b" ",
        b"{",
        b"}",
        b"1",
        b"0",
        b"x",
        b"\t",
        b"\n",
        b"\r",
        b"\x0b",
        b"\x1c",
        b"\xff",
        b"(",
        b"BODY[]",
        b" {12}",
    ]
    rng = random.Random(3)
    prefixes = [b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 12))) for _ in range(50_000)]
    prefixes.append(b'1 (UID 5 FLAGS (\\Seen) INTERNALDATE "01-Jan-2024 10:00:00 +0000" BODY[HEADER] {582}')
    found = 0
    for prefix in prefixes:
        m = regex.search(prefix)
        assert _literal_key(prefix) == (m.group(1) if m else None), prefix
        found += m is not None
    assert found > 1_000 and _literal_key(prefixes[-1]) == b"BODY[HEADER]"


def test_fast_fetch_parser_reads_literals_and_items() -> None:
    data = [
        (
            b'1 (UID 17 FLAGS (\\Seen $Label) RFC822.SIZE 123 INTERNALDATE "02-Jan-2024 10:00:00 +0300" '
            b"MODSEQ (42) BODY[HEADER] {5}",
            b"H: x\r\n",
        ),
        b")",
        (b"2 (UID 18 BODY[] {3}", b"abc"),
        b" FLAGS ())",
        b"3 (FLAGS (\\Deleted))",  # unsolicited, without UID: ignored
    ]
    out = parse_simple_fetch(data)
    assert out[17] == {
        b"FLAGS": (b"\\Seen", b"$Label"),
        b"RFC822.SIZE": 123,
        b"INTERNALDATE": b"02-Jan-2024 10:00:00 +0300",
        b"MODSEQ": (42,),
        b"BODY[HEADER]": b"H: x\r\n",
    }
    assert out[18] == {b"BODY[]": b"abc", b"FLAGS": ()}
    assert set(out) == {17, 18}
    assert parse.internal_timestamp(out[17][b"INTERNALDATE"]) == 1704178800


def test_a_window_compressed_in_one_call_gives_the_same_chunks() -> None:
    from store.sync.codec import compress_many

    big = bytes(range(256)) * (5 << 12) + b"!"  # 5 MiB and a byte: six chunks
    raws = [b"", b"Subject: x\r\n\r\nhi\r\n", big, next(corpus.generate(count=1, avg_size=60_000)).wire]
    windows = compress_many(raws)
    assert windows == [tuple(parse.compress_chunks(r)) for r in raws]
    assert [len(w) for w in windows[:3]] == [1, 1, 6]
    for raw, chunks in zip(raws, windows, strict=True):
        assert b"".join(parse.decompress(parse.CODEC, c) for c in chunks) == raw
