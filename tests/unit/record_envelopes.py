"""Record parse_envelope's output over the harness corpus and hand-made hostile headers, as the frozen
reference of tests/unit/test_envelope_equivalence.py (issue #4: a faster parser must store the same values).

Run `.venv/bin/python -m tests.unit.record_envelopes` only when a change of stored values is intended (and
then the dedupe keys of stored mail change too: never for speed work).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

from store.sync import parse
from tests.harness import corpus

FIXTURE = Path(__file__).parent / "data" / "envelopes.json"
CORPUS = {"count": 3000, "avg_size": 3000, "seed": 7}
_WORD_B = b"=?UTF-8?B?" + base64.b64encode(b"a\r\nBcc: x@evil.example\x00b") + b"?="
_WORD_Q = b"=?UTF-8?Q?a=0D=0ABcc=3A_x=00b?="


def hostile_headers() -> list[bytes]:
    """Header blocks that test the edges: folding, 8-bit and encoded words, odd addresses, dates, ids."""
    out = [
        b"Received: from relay.example by mx.example; Tue, 02 Jan 2024 10:00:00 +0000\r\n" * 2_000
        + b"From: Big <big@x.example>\r\nSubject: "
        + b"A" * 200_000
        + b"\r\nDate: Tue, 02 Jan 2024 10:00:00 +0000\r\n\r\n",
        b"From: \xff\xfe Name <a@b.example>\r\nSubject: caf\xe9 \x81 \xff\r\nDate: x\r\n\r\n",
        b"From: =?UTF-8?Q?Eve=0D=0A=00?=\r\nSubject: x\x00y\r\n\r\n",
        b"",
        b"\r\n",
        b"Subject\r\n\r\n",
        b": no name\r\nSubject: s\r\n\r\n",
        b"from: lower <L@X.Example>\nSUBJECT: upper\nDate: Tue, 2 Jan 2024 10:00:00 -0800\n\n",
        b"From: a@b.example\r\nSubject: folded\r\n  over\r\n\tthree lines\r\n"
        b"To: x@y.example,\r\n z@w.example\r\n\r\n",
        b"From: a@b.example\r\n  continued from\r\nFrom: second@b.example\r\n"
        b"Subject: first\r\nSubject: second\r\n\r\n",
        b" leading fold\r\nFrom: a@b.example\r\n\r\n",
        b"From : spaced <s@p.example>\r\nSubject :  spaced name \r\n\r\n",
        b"From: a@b.example\rSubject: lone CR\r\n\r\n",
        b'From: "Doe, John" <john@x.example>, (comment) jane@x.example (Jane)\r\n'
        b'To: group: one@x.example, two@x.example;, "q\\"uote" <q@x.example>\r\n'
        b"Cc: <bare@x.example>, noat, Broken <unclosed@x.example, x@y@z.example, <a>@b.example\r\n\r\n",
        b"From: Name <A@B.EXAMPLE>\r\nTo: a@b.example, A@B.example, Name <a@b.example>, , ,\r\n"
        b"Cc: a@b.example\r\n\r\n",
        b'From: "" <>\r\nTo: <>, <@>, "x" <' + b"y" * 400 + b"@z.example>\r\n\r\n",
        b"From: Two Words a@b.example\r\nTo: x@y.example z@w.example\r\n\r\n",
        b"From: <a@b.example> trailing\r\nTo: Name<n@x.example>,Other <o@x.example>\r\n\r\n",
        b"From: =?iso-8859-1?q?J=F6rg?= <j@x.example>\r\nSubject: =?utf-8?b?w6k=?= =?utf-8?b?w6k=?=\r\n"
        b"\t=?x-klingon?q?abc?= =?utf-8?b?!!!?= =?gb2312?b?xOO6ww==?=\r\n\r\n",
        b"From: "
        + _WORD_B
        + b" <from@x.example>\r\nTo: "
        + _WORD_Q
        + b" <to@x.example>\r\nSubject: "
        + _WORD_B
        + b"\r\n\r\n",
        b"From: a@b.example\r\nMessage-ID: <id@x.example> <second@x.example>\r\n"
        b"In-Reply-To: no brackets here\r\nReferences: <r1@x> junk <r2@x>\r\n\t<r3@x>\r\n\r\n",
        b"Message-ID:   \r\nIn-Reply-To: <>\r\nReferences: \r\n\r\n",
        b"Message-ID: <a b@x.example>\r\nIn-Reply-To: <<double@x>>\r\n\r\n",
        b"Date: Mon, 32 Jan 2024 99:99:99 +0000\r\n\r\n",
        b"Date: 2 Jan 2024 10:00 GMT\r\n\r\n",
        b"Date: Tue, 02 Jan 99999999 10:00:00 +0000\r\n\r\n",
        b"Date: Tue, 02 Jan 2024 10:00:00 +9999\r\n\r\n",
        b"Date: Tue,  2 Jan 2024 10:00:00 EST\r\n\r\n",
        b"Date: \r\n\r\n",
        b"Date: Tue, 02 Jan 1969 10:00:00 -0000\r\nDate: second\r\n\r\n",
        b"Date: 2024-01-02T10:00:00Z\r\n\r\n",
        b"Date: Tue, 02 Jan 24 10:00:00 +0100 (CET)\r\n\r\n",
        b"From: noreply@x.example\r\n\r\n",
        b"From: Alerts <Notifications+abc@x.example>\r\n\r\n",
        b"From: a@b.example\r\nList-Id: <list.x.example>\r\n\r\n",
        b"From: a@b.example\r\nlist-unsubscribe: <mailto:u@x.example>\r\n\r\n",
        b"From: a@b.example\r\nAuto-Submitted: no\r\n\r\n",
        b"From: a@b.example\r\nAuto-Submitted: auto-replied\r\n\r\n",
        b"From: a@b.example\r\nPrecedence: BULK\r\n\r\n",
        b"From: a@b.example\r\nPrecedence: first-class\r\n\r\n",
        b"From: a@b.example\r\nReturn-Path: < >\r\n\r\n",
        b"From: a@b.example\r\nReturn-Path: <a@b.example>\r\n\r\n",
        b"From: a@b.example\r\nX-Autoreply: yes\r\n\r\n",
        b"From: a@b.example\r\nX-AutoRespond: \r\n\r\n",
        b"From: MAILER-DAEMON@x.example (Mail Delivery System)\r\n\r\n",
        b"From: bounces+123@x.example\r\n\r\n",
        b"From: Name <postmaster@x.example\r\n\r\n",
        b"From: \xe9\xe9 <\xe9@x.example>\r\nAuto-Submitted: \xff\r\n\r\n",
        b"From: a@b.example\r\nSubject: \xc3\xa9t\xc3\xa9 ok utf-8\r\nTo: \xc3\xa9 <u@x.example>\r\n\r\n",
        b"Subject: " + "é".encode() * 1500 + b"\r\n\r\n",
        b"Subject: =?utf-8?q?" + b"=C3=A9" * 2500 + b"?=\r\n\r\n",
        b"Subject: tab\there\x0bvt\x7fdel\r\n\r\n",
        b"Subject:no space\r\nFrom:x@y.example\r\n\r\n",
        b"X-Other: a\r\nFrom: a@b.example\r\nX-Other2: b\r\n folded other\r\n\r\n",
    ]
    return out


def corpus_headers() -> Iterator[tuple[bytes, int, int]]:
    """(header as BODY[HEADER], RFC822.SIZE, INTERNALDATE) for each corpus message, plus its LF-only form."""
    for m in corpus.generate(**CORPUS):
        wire = m.wire
        header = parse.header_block(wire) or wire
        yield header, len(wire), m.timestamp
        if m.index % 5 == 0:
            lf, _ = parse.split_header(m.raw)
            yield lf, len(m.raw), m.timestamp


def envelope_json(header: bytes, size: int, ts: int | None) -> str:
    env = parse.parse_envelope(header, size, ts)
    return json.dumps(dataclasses.asdict(env), ensure_ascii=True, sort_keys=True)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def hostile_cases() -> list[tuple[bytes, int, int | None]]:
    cases = []
    for n, header in enumerate(hostile_headers()):
        cases.append((header, len(header) + 100 * n, 1_700_000_000))
        cases.append((header, 0, None))
    return cases


def record() -> dict[str, object]:
    return {
        "corpus": CORPUS,
        "corpus_digests": [digest(envelope_json(*case)) for case in corpus_headers()],
        "hostile": [json.loads(envelope_json(*case)) for case in hostile_cases()],
    }


if __name__ == "__main__":
    FIXTURE.write_text(json.dumps(record(), indent=0, ensure_ascii=True) + "\n")
    print(f"wrote {FIXTURE}")
