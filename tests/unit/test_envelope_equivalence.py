"""parse_envelope stores the same values as the frozen reference in data/envelopes.json (issue #4).

The reference was recorded by record_envelopes.py before the parser was made faster: every field (dedupe
key, ids, subject cut, addresses with names, dates, problems, automated flag) of 3,000 corpus messages
(CRLF as IMAP sends them, every fifth also with LF line ends) and of hand-made hostile headers. A changed
dedupe key would make stored mail look new, so no difference is allowed.
"""

from __future__ import annotations

import json
import random
from email.utils import mktime_tz, parsedate_tz

from store.crm.automated import AUTOMATION_HEADERS, is_automated, is_automated_fields
from store.sync.headertext import _PLAIN_DATE, _fields_by_lines, header_fields, parse_date
from store.sync.mime import PART_HEADERS
from store.sync.parse import ENVELOPE_HEADERS
from tests.unit import record_envelopes as rec

FIXTURE = json.loads(rec.FIXTURE.read_text())


def test_fixture_covers_the_corpus_it_was_recorded_from() -> None:
    assert FIXTURE["corpus"] == rec.CORPUS
    assert len(FIXTURE["corpus_digests"]) >= 3_000
    assert len(FIXTURE["hostile"]) == 2 * len(rec.hostile_headers())


def test_corpus_envelopes_are_unchanged() -> None:
    cases = list(rec.corpus_headers())
    assert len(cases) == len(FIXTURE["corpus_digests"])
    changed = [
        (n, rec.envelope_json(*case))
        for n, (case, want) in enumerate(zip(cases, FIXTURE["corpus_digests"], strict=True))
        if rec.digest(rec.envelope_json(*case)) != want
    ]
    assert not changed, f"{len(changed)} envelopes differ; first: case {changed[0][0]} now {changed[0][1]}"


def test_hostile_envelopes_are_unchanged_field_by_field() -> None:
    cases = rec.hostile_cases()
    for n, (case, want) in enumerate(zip(cases, FIXTURE["hostile"], strict=True)):
        got = json.loads(rec.envelope_json(*case))
        diff = {k: (want[k], got[k]) for k in want if got[k] != want[k]}
        assert not diff, f"hostile case {n} ({case[0][:60]!r}…): field (recorded, now): {diff}"


# -- the faster pieces against the slower ones they replace -----------------------------------------

_PIECES = [
    b"\r",
    b"\n",
    b"\r\n",
    b" ",
    b"\t",
    b":",
    b"\x0b",
    b"\x0c",
    b"\x1c",
    b"\x00",
    b"\xff",
    b"-",
    b"x",
    b"From",
    b"fRoM",
    b"to",
    b"TO",
    b"cc",
    b"subject",
    b"Message-ID",
    b"list-id",
    b"  ",
]


def test_header_fields_by_regex_reads_like_the_line_loop() -> None:
    rng = random.Random(4)
    blocks = [case[0] for case in rec.hostile_cases()[::2]]
    blocks += [case[0] for n, case in enumerate(rec.corpus_headers()) if n < 600]
    blocks += [b"".join(rng.choice(_PIECES) for _ in range(rng.randint(0, 40))) for _ in range(20_000)]
    wanted_sets = [ENVELOPE_HEADERS + AUTOMATION_HEADERS, (b"from",), (b"to", b"cc"), PART_HEADERS]
    for block in blocks:
        for wanted in wanted_sets:
            assert header_fields(block, wanted) == _fields_by_lines(block, wanted), (block, wanted)
    assert header_fields(b"From: a\r\n b\r\nX: y\r\n", (b"from",)) == {b"from": b"a b"}


def test_is_automated_fields_agrees_with_is_automated() -> None:
    blocks = [case[0] for case in rec.hostile_cases()[::2]]
    blocks += [case[0] for case in rec.corpus_headers()]
    flagged = 0
    for block in blocks:
        fields = header_fields(block, ENVELOPE_HEADERS + AUTOMATION_HEADERS)
        assert is_automated_fields(fields) == is_automated(fields), block
        flagged += is_automated(fields)
    assert 100 < flagged < len(blocks) - 100  # both answers occur often


def _date_by_email_utils(value: str) -> int | None:
    parsed = parsedate_tz(value)
    if parsed is None:
        return None
    ts = mktime_tz(parsed)
    return ts if -(2**40) < ts < 2**40 else None


def test_plain_dates_read_as_email_utils_reads_them() -> None:
    rng = random.Random(5)
    days = ["Mon", "Tue", "xyz", "TUE"]
    months = ["Jan", "Feb", "Dec", "jan", "Foo"]
    zones = ["+0000", "-0000", "+0100", "-0530", "+9999", "-0001", "+100", "GMT", "EST", "+01000"]
    tails = ["", " (CET)", "  (CET)", " x y z", "\t(CET)", " "]
    values = []
    for _ in range(20_000):
        values.append(
            f"{rng.choice(days)}, {rng.choice(['0', '1', '02', '31', '99', '100'])} {rng.choice(months)} "
            f"{rng.choice(['1000', '2024', '9999', '0999', '24', '1969'])} "
            f"{rng.choice(['00', '23', '99'])}:{rng.choice(['00', '59', '99'])}:"
            f"{rng.choice(['00', '60', '7'])} "
            f"{rng.choice(zones)}{rng.choice(tails)}"
        )
    values += [
        "Tue, 02 Jan 2024 10:00:00 +0000",
        "Tue,  2 Jan 2024 10:00:00 +0000",
        "2 Jan 2024 10:00 GMT",
        "Tue, 02 Jan 2024 10:00:00 +0000\n(CET)",
        "Tue, ٠2 Jan 2024 10:00:00 +0000",
        "",
    ]
    fast = 0
    for value in values:
        assert parse_date(value) == _date_by_email_utils(value), value
        fast += _PLAIN_DATE.fullmatch(value) is not None
    assert fast > 1_000  # the fast path was taken, and agreed
