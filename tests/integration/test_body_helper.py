"""The body-phase helper process (store/sync/worker.py) against the real Dovecot."""

from __future__ import annotations

import re
import select
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from store.sync.events import Retrying
from store.sync.worker import WorkerLane
from tests.harness.dovecot import HOST
from tests.harness.fixtures import MailAccount
from tests.integration.sync_support import SyncEnv, append, fresh_env, simple_message

pytestmark = pytest.mark.integration


@pytest.fixture
def sync_env(mail_account: MailAccount, tmp_path: Path) -> Iterator[SyncEnv]:
    """A store with one mailbox (all folders, all mail) on a fresh, empty harness account."""
    yield from fresh_env(mail_account, tmp_path)


def _lane(env: SyncEnv) -> WorkerLane:
    """A helper with the configuration the body phase gives it (bodies.lane_config)."""
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


class LoginStaller:
    """A TLS relay to the real Dovecot that holds the LOGIN of the connections numbered in *stall*: it never
    reaches the server and no answer comes back, as on a network that stopped carrying packets."""

    def __init__(self, account: MailAccount, stall: set[int]) -> None:
        self.account, self.stall, self.count = account, stall, 0
        self.server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        pki = account.server.pki.server
        self.server_ctx.load_cert_chain(pki.cert_file, pki.key_file)
        self.listener = socket.create_server((HOST, 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            self.count += 1
            threading.Thread(target=self._relay, args=(sock, self.count in self.stall), daemon=True).start()

    def _relay(self, sock: socket.socket, stall: bool) -> None:
        """Both TLS connections are read and written by this one thread: an SSL object must not be used
        by two threads at once (a reader thread that raced a close here once spun at full CPU)."""
        try:
            client = self.server_ctx.wrap_socket(sock, server_side=True)
            upstream = self.account.server.ssl_context().wrap_socket(
                socket.create_connection((HOST, self.account.imaps_port)), server_hostname="localhost"
            )
        except OSError:
            sock.close()
            return
        held = False
        try:
            while True:  # until either side closes, or nothing moves for 30 s
                ready = [s for s in (client, upstream) if s.pending()]
                ready = ready or select.select([client, upstream], [], [], 30)[0]
                if not ready:
                    break
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        raise EOFError
                    if s is upstream:
                        client.sendall(data)
                        continue
                    held = held or (stall and b" LOGIN " in data.upper())
                    if not held:
                        upstream.sendall(data)
        except (OSError, EOFError):
            pass
        for s in (client, upstream):
            s.close()

    def close(self) -> None:
        self.listener.close()


def test_helper_login_lost_to_the_network_is_retried_as_a_network_error(sync_env: SyncEnv) -> None:
    """The helper's own login times out: a network error, which the sync retries, and which ends it as
    `network` when no retry is left (not `other`, as a failure of the helper itself would)."""
    env = sync_env
    for n in range(3):
        append(env.account, "INBOX", simple_message(n))
    relay = LoginStaller(env.account, stall={2, 4})  # the helpers' connections: the sync's own comes first
    try:
        with env.store.engine.begin() as conn:
            conn.exec_driver_sql(
                "UPDATE providers SET imap_port = ? WHERE id = ?", (relay.port, env.provider.id)
            )
        opts = {"workers": 1, "main_lane": False, "timeout": 3.0}
        summary = env.run(**opts, retry_delays=())
        assert not summary.ok and summary.error_kind == "network", summary.error
        assert "timed out" in summary.error and env.account.password not in summary.error
        assert env.sql("SELECT count(*) FROM messages WHERE body_loaded = 0") == [(3,)]
        env.events.clear()
        summary = env.run(**opts, retry_delays=(0.05,))
        assert summary.ok, summary.error
        assert [e.attempt for e in env.events if isinstance(e, Retrying)] == [1]
        assert relay.count == 6
        assert env.sql("SELECT count(*) FROM messages WHERE body_loaded = 0") == [(0,)]
        assert _mismatched(env) == []
    finally:
        relay.close()
