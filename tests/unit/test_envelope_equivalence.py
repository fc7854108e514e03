"""parse_envelope stores the same values as the frozen reference in data/envelopes.json (issue #4).

The reference was recorded by record_envelopes.py before the parser was made faster: every field (dedupe
key, ids, subject cut, addresses with names, dates, problems, automated flag) of 3,000 corpus messages
(CRLF as IMAP sends them, every fifth also with LF line ends) and of hand-made hostile headers. A changed
dedupe key would make stored mail look new, so no difference is allowed.
"""

from __future__ import annotations

import json

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
