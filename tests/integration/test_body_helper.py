"""The body-phase helper process (store/sync/worker.py) against the real Dovecot."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from store.sync.worker import WorkerLane
from tests.harness.fixtures import MailAccount
from tests.integration.sync_support import SyncEnv, append, fresh_env, simple_message

pytestmark = pytest.mark.integration


@pytest.fixture
def sync_env(mail_account: MailAccount, tmp_path: Path) -> Iterator[SyncEnv]:
    """A store with one mailbox (all folders, all mail) on a fresh, empty harness account."""
    yield from fresh_env(mail_account, tmp_path)


def _lane(env: SyncEnv) -> WorkerLane:
    """A helper with the configuration the body phase gives it (bodies._lane_config)."""
    return WorkerLane(
        {
            "db": str(env.store.path),
            "endpoint": {
                "host": "localhost",
                "port": env.account.imaps_port,
                "tls": "ssl",
                "ca_file": str(env.account.ca_file),
            },
            "login": env.account.email,
            "password": env.account.password,
            "timeout": 20.0,
            "condstore": True,
            "qresync": True,
        }
    )


def _jobs(env: SyncEnv, folder: str) -> tuple[int, list[tuple[int, int, int]]]:
    """The folder's stored UIDVALIDITY and its (message_id, uid, size) by UID."""
    ((validity,),) = env.sql("SELECT uidvalidity FROM sync_folders WHERE name = ?", folder)
    return validity, env.sql(
        "SELECT l.message_id, l.uid, m.size FROM message_locations l "
        "JOIN sync_folders f ON f.id = l.folder_id JOIN messages m ON m.id = l.message_id "
        "WHERE f.name = ? ORDER BY l.uid",
        folder,
    )


def _mismatched(env: SyncEnv) -> list[tuple]:
    """Messages whose stored body is another message's: each body names its own message's number."""
    rows = env.sql("SELECT header_message_id, body_text FROM messages WHERE body_loaded = 1")
    return [
        (mid, text)
        for mid, text in rows
        if re.search(r"m(\d+)@", mid)[1] != re.search(r"message (\d+)\.", text)[1]
    ]


def test_helper_skips_every_window_of_a_folder_whose_uidvalidity_changed(sync_env: SyncEnv) -> None:
    """A folder recreated after the header phase: the helper's SELECT shows another UIDVALIDITY, so it
    skips that window and every later one of the folder (the old UIDs now name other messages)."""
    env = sync_env
    append(env.account, "INBOX", simple_message(1))
    for n in range(4):
        append(env.account, "Work", simple_message(100 + n))
    assert env.run(bodies=False).ok
    old_validity, work = _jobs(env, "Work")
    client = env.account.imap()
    client.delete_folder("Work")
    time.sleep(1.1)  # Dovecot derives a new UIDVALIDITY from the clock
    client.create_folder("Work")
    client.logout()
    for n in range(4):  # longer than the old ones, so the cut-off check lets them through
        append(env.account, "Work", simple_message(200 + n, body=f"Body of message {200 + n}.\n" + "x" * 200))
    inbox_validity, inbox = _jobs(env, "INBOX")
    lane = _lane(env)
    try:
        lane.submit(("bodies", "Work", old_validity, work[:2]))
        lane.submit(("bodies", "Work", old_validity, work[2:]))
        assert lane.result() == (0, 0)
        assert lane.result() == (0, 0)  # the folder is still selected: the UIDVALIDITY must still differ
        lane.submit(("bodies", "INBOX", inbox_validity, inbox))
        lane.submit(("bodies", "Work", old_validity, work))
        stored, nbytes = lane.result()
        assert stored == 1 and nbytes > 0
        assert lane.result() == (0, 0)
    finally:
        lane.close()
    assert env.sql("SELECT count(*) FROM messages WHERE body_loaded = 1") == [(1,)]
    assert _mismatched(env) == []
    summary = env.run()  # the header phase sees the new UIDVALIDITY and loads the folder again
    assert summary.ok, summary.error
    assert env.sql("SELECT count(*) FROM messages WHERE body_loaded = 0") == [(0,)]
    assert env.sql("SELECT count(*) FROM messages") == [(5,)]
    assert _mismatched(env) == []
