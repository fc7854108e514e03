"""Disk full: the database and its WAL on a small real filesystem (tmpfs) that fills during a first load.

The sync must stop with an error that says "disk full" and names the file, store nothing partial, leave a
sound database, and complete with exactly the server's messages once room is made.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from store.errors import DiskFull
from tests.security.conftest import make_box_env
from tests.security.faults import (
    assert_exactly,
    assert_nothing_partial,
    fault_mailbox,
    fill,
    integrity,
    serve,
    server_messages,
    small_filesystem,
)

COUNT, SIZE = 24, 200_000  # about 4.8 MB of incompressible mail


@pytest.fixture
def small(tmp_path: Path):  # noqa: ANN201
    with small_filesystem(tmp_path / "small", 24) as where:
        yield where


@pytest.mark.parametrize(
    "workers,leave",
    [(0, 3 << 20), (1, 3 << 20), (0, 0)],
    ids=["bodies", "bodies-with-helper", "headers"],
)
def test_first_load_on_a_full_disk_stops_cleanly_and_completes_later(hostile, pki, small, workers, leave):
    box = fault_mailbox(COUNT, SIZE, ("INBOX", "Archive"))
    server = serve(hostile, pki, box)
    env = make_box_env(small, server.port, pki.ca_file)
    try:
        filler = fill(small, leave)  # 3 MB left is not enough for the mail and its WAL; 0 not for envelopes
        first = env.sync(workers=workers)
        assert not first.ok, "the sync claims success on a full disk"
        assert first.error_kind == "disk_full", (first.error_kind, first.error)
        assert "Disk full" in first.error and str(env.store.path) in first.error, first.error
        assert integrity(env.store.path) == "ok"
        originals = server_messages(box)
        loaded = assert_nothing_partial(env, originals)
        assert loaded < COUNT, "everything fitted: the test did not fill the disk"
        if not leave:
            assert env.sql("SELECT count(*) FROM messages") == [(0,)], "envelopes stored on a full disk"

        filler.unlink()
        second = env.sync(workers=workers)
        assert second.ok, second.error
        assert_exactly(env, originals)
        assert integrity(env.store.path) == "ok"
    finally:
        env.store.close()


def test_queueing_a_message_on_a_full_disk_says_so(hostile, pki, small):
    """The outbox on a full disk: a clear DiskFull naming the file, nothing queued; it works once room is
    made."""
    from store.compose import Draft

    server = serve(hostile, pki, fault_mailbox(0, 0))
    env = make_box_env(small, server.port, pki.ca_file)
    try:
        big = "x" * (2 << 20)
        draft = Draft(env.box.id, to=("bob@example.test",), subject="Full", body=big)
        filler = fill(small, leave=256 << 10)
        with pytest.raises(DiskFull) as caught:
            env.store.outbox.queue(env.admin, draft)
        assert str(env.store.path) in str(caught.value)
        assert env.sql("SELECT count(*) FROM outbox") == [(0,)]
        filler.unlink()
        env.store.outbox.queue(env.admin, draft)
        assert env.sql("SELECT count(*) FROM outbox") == [(1,)]
        assert integrity(env.store.path) == "ok"
    finally:
        env.store.close()


def test_delivering_on_a_full_disk_sends_nothing_and_sends_once_later(hostile, pki, small):
    """A drain that cannot record `sending` must not send: DiskFull, nothing on the wire, the item still
    queued; with room again it goes out once."""
    from datetime import UTC, datetime

    from store.compose import Draft
    from tests.harness.hostile import send, tls
    from tests.harness.hostile_smtp import smtp_session
    from tests.security.conftest import PASSWORD

    box = fault_mailbox(0, 0)
    box.folder("INBOX")
    box.folder("Sent")
    imap = serve(hostile, pki, box)
    session = smtp_session(PASSWORD)
    smtp = hostile("SMTP", [tls(pki.server), send("220 hostile.test ESMTP"), session])
    env = make_box_env(small, imap.port, pki.ca_file, smtp_port=smtp.port)
    try:
        draft = Draft(env.box.id, to=("bob@example.test",), subject="Later", body="y" * 300_000)
        item = env.store.outbox.queue(env.admin, draft)
        filler = fill(small, 0)
        with pytest.raises(DiskFull):
            env.store.outbox.drain(env.secrets, now=datetime.now(UTC), timeout=5)
        assert session.received == [], "sent although the store could not record it"
        filler.unlink()
        assert env.store.outbox.get(env.admin, item.id).state == "queued"
        env.store.outbox.drain(env.secrets, now=datetime.now(UTC), timeout=5)
        assert env.store.outbox.get(env.admin, item.id).state == "sent"
        assert len(session.received) == 1
        assert len(box.folders["Sent"].messages) == 1
    finally:
        env.store.close()
