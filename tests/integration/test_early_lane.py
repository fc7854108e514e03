"""The early body lane (store/sync/early.py): a helper process loads the bodies of finished folders during a
first load's header phase, against the real Dovecot."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from store.sync import early
from tests.harness.fixtures import MailAccount
from tests.integration.sync_support import SyncEnv, append, fresh_env, simple_message
from tests.integration.test_body_helper import LoginStaller

pytestmark = pytest.mark.integration


@pytest.fixture
def sync_env(mail_account: MailAccount, tmp_path: Path) -> Iterator[SyncEnv]:
    yield from fresh_env(mail_account, tmp_path)


@pytest.fixture
def finishes(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What each lane had done when the header phase ended: bodies it stored (as the store shows them at
    that moment: only the helper stores bodies before the body phase) and how long stopping it took."""
    seen: list[dict[str, Any]] = []
    original = early.EarlyLane.finish

    def finish(self: early.EarlyLane) -> None:
        started = time.perf_counter()
        original(self)
        loaded = self.run.conn.execute(
            "SELECT m.id, f.name, l.uid FROM messages m JOIN message_locations l ON l.message_id = m.id "
            "JOIN sync_folders f ON f.id = l.folder_id WHERE m.body_loaded = 1"
        ).fetchall()
        seen.append({"loaded": loaded, "seconds": time.perf_counter() - started, "error": self.error})

    monkeypatch.setattr(early.EarlyLane, "finish", finish)
    return seen


def test_the_helper_loads_finished_folders_and_the_body_phase_the_rest_once(
    sync_env: SyncEnv, finishes: list[dict[str, Any]]
) -> None:
    env = sync_env
    env.account.fill(count=240, avg_size=6000, seed=71)
    summary = env.run(early_lane_from=1, body_window_count=6)
    assert summary.ok, summary.error
    assert len(finishes) == 1 and finishes[0]["error"] == ""
    early_ones = finishes[0]["loaded"]
    assert early_ones, "the helper stored no body during the header phase"
    server = {k: v for k, v in env.server().items() if v}
    assert env.stored() == server
    total = env.sql("SELECT count(*) FROM messages")[0][0]
    # every body stored, none fetched twice: the body phase took only what the helper had not stored
    assert summary.bodies == total
    assert env.sql("SELECT count(*) FROM messages WHERE body_loaded = 0") == [(0,)]
    # what the helper stored is the server's message, byte for byte
    client = env.account.imap()
    try:
        for message_id, folder, uid in early_ones[:40]:
            client.select_folder(folder, readonly=True)
            wire = client.fetch([uid], ["BODY.PEEK[]"])[uid][b"BODY[]"]
            assert env.store.messages.raw(env.admin, message_id) == wire
    finally:
        client.logout()
    again = env.run(early_lane_from=1)
    assert again.ok and again.new == 0 and again.bodies == 0
    assert len(finishes) == 1  # a re-sync has no first load: no helper


def test_one_folder_alone_starts_no_helper(sync_env: SyncEnv, finishes: list[dict[str, Any]]) -> None:
    """The helper can only start on a folder whose envelopes are stored: with one folder to load there is
    nothing for it to do before the body phase, so it is not started."""
    env = sync_env
    for n in range(12):
        append(env.account, "INBOX", simple_message(n))
    summary = env.run(early_lane_from=1)
    assert summary.ok, summary.error
    assert finishes == []
    assert summary.bodies == 12


def test_a_helper_that_cannot_log_in_is_stopped_and_the_body_phase_loads_all(
    sync_env: SyncEnv, finishes: list[dict[str, Any]]
) -> None:
    """The helper's login never gets an answer: the body phase does not wait for the network timeout (20 s
    here) but stops the helper after early.FINISH_WAIT, then loads every body itself."""
    env = sync_env
    env.account.fill(count=60, avg_size=4000, seed=72)
    relay = LoginStaller(env.account, stall={2})  # the sync's own connection comes first, the helper's second
    try:
        with env.store.engine.begin() as conn:
            conn.exec_driver_sql(
                "UPDATE providers SET imap_port = ? WHERE id = ?", (relay.port, env.provider.id)
            )
        summary = env.run(early_lane_from=1, body_window_count=6)
    finally:
        relay.close()
    assert summary.ok, summary.error
    assert len(finishes) == 1 and finishes[0]["loaded"] == []
    assert finishes[0]["seconds"] < early.FINISH_WAIT + 2
    assert summary.bodies == env.sql("SELECT count(*) FROM messages")[0][0]
    assert env.sql("SELECT count(*) FROM messages WHERE body_loaded = 0") == [(0,)]


def test_a_helper_that_fails_only_stops_itself(
    sync_env: SyncEnv,
    finishes: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The helper's own login is refused (it was given a wrong password): that stops the helper, not the
    sync; the mailbox does not get marked as needing attention and the body phase loads every body."""
    from store.sync import bodies

    original = bodies.lane_config
    monkeypatch.setattr(bodies, "lane_config", lambda run: {**original(run), "password": "not-the-password"})
    env = sync_env
    env.account.fill(count=60, avg_size=4000, seed=73)
    with caplog.at_level(logging.INFO, logger="mailroom.sync.early"):
        summary = env.run(early_lane_from=1, body_window_count=6)
    assert summary.ok, summary.error
    assert len(finishes) == 1 and finishes[0]["loaded"] == []
    said = [r.getMessage() for r in caplog.records if r.name == "mailroom.sync.early"]
    assert len(said) == 1 and "early body helper stopped" in said[0] and env.account.email in said[0]
    assert "not-the-password" not in said[0] and env.account.password not in said[0]
    assert "LOGIN" in finishes[0]["error"].upper() or "AUTH" in finishes[0]["error"].upper(), finishes[0]
    assert "not-the-password" not in finishes[0]["error"]
    assert env.sql("SELECT status FROM mailboxes") != [("needs_attention",)]
    assert summary.bodies == env.sql("SELECT count(*) FROM messages")[0][0]
    assert env.sql("SELECT count(*) FROM messages WHERE body_loaded = 0") == [(0,)]
