"""Lying and truncated literals, and hang-ups in the middle of a FETCH, against the real sync engine.

After a broken sync no partial message may be stored (a stored body is byte-for-byte the message, and a
message without its body serves no bytes); the next sync against an honest server completes everything.
"""

from __future__ import annotations

import pytest

from tests.harness.hostile import send, tls
from tests.harness.hostile_imap import FakeMailbox, Fault, imap_session
from tests.security.conftest import LOGIN, PASSWORD

COUNT = 4
BROKEN_UID = 3
SMALL = {"large_message": 1 << 20}
STREAMED = {"large_message": 1000, "raw_chunk": 1024}  # every test message is streamed in chunks


def message(n: int) -> bytes:
    """A plain message of about 3 KB whose lines say where they are."""
    head = (
        f"From: Sender {n} <s{n}@example.test>\r\nTo: {LOGIN}\r\nSubject: Message {n}\r\n"
        f"Date: Fri, 30 May 2025 10:0{n}:00 +0000\r\nMessage-ID: <m{n}@example.test>\r\n\r\n"
    )
    body = "".join(f"line {k} of message {n}, nothing else to see here\r\n" for k in range(60))
    return (head + body).encode()


def mailbox() -> FakeMailbox:
    box = FakeMailbox(LOGIN, PASSWORD)
    for n in range(1, COUNT + 1):
        box.add("INBOX", message(n))
    return box


def start(hostile, pki, fault: Fault) -> tuple:  # noqa: ANN001
    """A server whose first connection breaks as *fault* says and whose later ones are honest."""
    box = mailbox()
    preface = [tls(pki.server), send("* OK ready")]
    server = hostile("IMAP", [*preface, imap_session(box, fault)], [*preface, imap_session(box)])
    return server, box


def stored(env) -> dict[str, tuple[int, str, bool, bytes]]:  # noqa: ANN001
    """Message-ID → (id, subject, body loaded, the bytes the store serves as the raw message)."""
    out = {}
    for mid, subject, loaded, message_id in env.sql(
        "SELECT id, subject, body_loaded, header_message_id FROM messages"
    ):
        out[message_id] = (mid, subject, bool(loaded), env.store.messages.raw(env.admin, mid))
    return out


def assert_nothing_partial(env) -> None:  # noqa: ANN001
    originals = {f"m{n}@example.test": message(n) for n in range(1, COUNT + 1)}
    for message_id, (_, subject, loaded, raw) in stored(env).items():
        assert message_id in originals, f"a message that does not exist was stored: {message_id!r}"
        n = int(message_id[1:].split("@")[0])
        assert subject == f"Message {n}", f"{message_id}: a partial header was stored ({subject!r})"
        if loaded:
            assert raw == originals[message_id], f"{message_id}: stored as loaded but not the whole message"
        else:
            assert raw == b"", (
                f"{message_id}: {len(raw)} bytes of a message whose body is not loaded are served"
            )


def assert_complete(env) -> None:  # noqa: ANN001
    rows = stored(env)
    assert sorted(rows) == sorted(f"m{n}@example.test" for n in range(1, COUNT + 1))
    for message_id, (_, _, loaded, raw) in rows.items():
        n = int(message_id[1:].split("@")[0])
        assert loaded and raw == message(n), f"{message_id} is not complete after the next sync"


KINDS = ["truncate", "lie_short", "lie_long", "drop_after"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("phase", ["header", "body"])
def test_broken_fetch_stores_nothing_partial(hostile, pki, box_env_factory, phase, kind):
    server, _ = start(hostile, pki, Fault(kind, phase, BROKEN_UID))
    env = box_env_factory(server.port, pki.ca_file)
    first = env.sync(**SMALL)
    assert not first.ok, "the broken FETCH went unnoticed"
    assert_nothing_partial(env)
    second = env.sync(**SMALL)
    assert second.ok, second.error
    assert_complete(env)


@pytest.mark.parametrize("kind", ["truncate", "drop_after"])
def test_broken_chunk_of_a_streamed_message(hostile, pki, box_env_factory, kind):
    """Large messages are stored chunk by chunk; a hang-up after the first chunk must not leave a readable
    half message, and the next sync must complete it."""
    server, _ = start(hostile, pki, Fault(kind, "partial", BROKEN_UID))
    env = box_env_factory(server.port, pki.ca_file)
    assert not env.sync(**STREAMED).ok
    assert_nothing_partial(env)
    second = env.sync(**STREAMED)
    assert second.ok, second.error
    assert_complete(env)


def test_short_body_is_not_taken_for_the_whole_message(hostile, pki, box_env_factory):
    server, _ = start(hostile, pki, Fault("short", "body", BROKEN_UID))
    env = box_env_factory(server.port, pki.ca_file)
    env.sync(**SMALL)
    assert_nothing_partial(env)
    assert env.sync(**SMALL).ok
    assert_complete(env)


@pytest.mark.parametrize("lane", [{}, {"workers": 1, "main_lane": False}], ids=["in-process", "helper"])
def test_the_same_short_body_sent_again_is_taken_with_a_note(hostile, pki, box_env_factory, lane):
    """A server that always sends less than the RFC822.SIZE it announced (estimated sizes, as Exchange may
    give) must not stop the body phase at that window in every sync: the shortfall is refused once and
    noted, the same shortfall the next time is taken as the message, and the note stays on it."""
    box = mailbox()
    preface = [tls(pki.server), send("* OK ready")]
    server = hostile("IMAP", [*preface, imap_session(box, Fault("short", "body", BROKEN_UID))])
    env = box_env_factory(server.port, pki.ca_file)
    assert not env.sync(**SMALL, **lane).ok
    assert_nothing_partial(env)
    second = env.sync(**SMALL, **lane)
    assert second.ok, second.error
    rows = stored(env)
    whole = message(BROKEN_UID)
    mid, _, loaded, raw = rows[f"m{BROKEN_UID}@example.test"]
    assert loaded and 0 < len(raw) < len(whole) and whole.startswith(raw)
    (problems,) = env.sql("SELECT problems FROM messages WHERE id = ?", mid)[0]
    assert f"the server announced {len(whole)} bytes and sent {len(raw)}" in problems
    for n in set(range(1, COUNT + 1)) - {BROKEN_UID}:
        assert rows[f"m{n}@example.test"][2:] == (True, message(n))


def test_short_chunk_is_not_taken_for_the_end_of_a_streamed_message(hostile, pki, box_env_factory):
    server, _ = start(hostile, pki, Fault("short", "partial", BROKEN_UID))
    env = box_env_factory(server.port, pki.ca_file)
    env.sync(**STREAMED)
    assert_nothing_partial(env)
    assert env.sync(**STREAMED).ok
    assert_complete(env)


def test_a_retry_within_the_same_sync_completes(hostile, pki, box_env_factory):
    server, _ = start(hostile, pki, Fault("truncate", "body", BROKEN_UID))
    env = box_env_factory(server.port, pki.ca_file)
    summary = env.sync(retry_delays=(0.01,), **SMALL)
    assert summary.ok, summary.error
    assert_complete(env)
    assert len(server.wait(2)) == 2
