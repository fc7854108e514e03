"""The sync under stress: cut connections, refused passwords, two processes, big mail, SIGKILL, IDLE."""

from __future__ import annotations

import base64
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from store.secrets import Secret
from store.sync.events import Retrying
from store.sync.locks import MailboxLock
from store.sync.scheduler import SECRET_RECHECK, Scheduler
from tests.harness.fixtures import MailAccount
from tests.integration.sync_support import FAST, SyncEnv, append, fresh_env, make_env, simple_message

pytestmark = pytest.mark.integration


@pytest.fixture
def sync_env(mail_account: MailAccount, tmp_path: Path) -> Iterator[SyncEnv]:
    """A store with one mailbox (all folders, all mail) on a fresh, empty harness account."""
    yield from fresh_env(mail_account, tmp_path)


ROOT = Path(__file__).resolve().parents[2]


class CuttingProxy:
    """A loopback TCP proxy that closes its first connection after *cut_after* bytes from the server."""

    def __init__(self, target_port: int, cut_after: int) -> None:
        self.target_port, self.cut_after = target_port, cut_after
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.cuts = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            cut = self.cut_after if self.cuts == 0 else None
            if cut is not None:
                self.cuts += 1
            server = socket.create_connection(("127.0.0.1", self.target_port))
            threading.Thread(target=self._pump, args=(client, server, None), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, cut), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket, limit: int | None) -> None:
        sent = 0
        try:
            while data := src.recv(65536):
                if limit is not None and sent + len(data) >= limit:
                    dst.sendall(data[: limit - sent])
                    break
                dst.sendall(data)
                sent += len(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def close(self) -> None:
        self.listener.close()


def test_disconnect_mid_fetch_is_retried_and_loses_nothing(sync_env: SyncEnv) -> None:
    env = sync_env
    env.account.fill(count=120, avg_size=20000, seed=31)
    proxy = CuttingProxy(env.account.imaps_port, cut_after=600_000)
    try:
        with env.store.engine.begin() as conn:
            conn.exec_driver_sql(
                "UPDATE providers SET imap_port = ? WHERE id = ?", (proxy.port, env.provider.id)
            )
        summary = env.run(body_window_bytes=200_000)
        assert summary.ok, summary.error
        assert proxy.cuts == 1
        assert any(isinstance(e, Retrying) for e in env.events)
        assert env.stored() == {k: v for k, v in env.server().items() if v}
        assert env.sql("SELECT count(*) FROM messages WHERE body_loaded = 0") == [(0,)]
        assert env.sql("SELECT count(*) FROM message_locations") == [(120,)]
    finally:
        proxy.close()


class ReadCounter:
    """The secret store, counting how often a password is read."""

    def __init__(self, inner: object) -> None:
        self.inner, self.reads = inner, 0

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def get(self, ref: str) -> object:
        self.reads += 1
        return self.inner.get(ref)


def test_refused_password_marks_needs_attention_and_stops_retrying(sync_env: SyncEnv) -> None:
    env = sync_env
    append(env.account, "INBOX", simple_message(1))
    # The stored password no longer matches the server's (as after a change at the provider).
    env.secrets.set(env.box.secret_ref, Secret("an-outdated-password"))
    summary = env.run()
    assert not summary.ok and summary.error_kind == "auth"
    assert not any(isinstance(e, Retrying) for e in env.events)
    box = env.store.mailboxes.get(env.admin, env.box.id)
    assert box.status == "needs_attention" and "refused" in box.status_reason
    # the scheduler does not try again with the same password...
    runs: list[object] = []
    reads = ReadCounter(env.secrets)
    now = [1000.0]
    scheduler = Scheduler(env.store, reads, FAST, idle=False, on_summary=runs.append, clock=lambda: now[0])
    scheduler._tick()
    assert runs == [] and reads.reads == 1
    # ...and reads the password again at most once a minute, not at every tick (a few seconds apart)
    env.secrets.set(box.secret_ref, Secret(env.account.password))
    now[0] += 5
    scheduler._tick()
    assert runs == [] and reads.reads == 1
    # ...but once it did and the password changed, it syncs, and the mailbox is fine again
    now[0] += SECRET_RECHECK
    scheduler._tick()
    assert len(runs) == 1 and runs[0].ok
    assert env.store.mailboxes.get(env.admin, env.box.id).status == "ok"


def test_a_file_error_of_the_store_is_not_retried_as_a_network_error(sync_env: SyncEnv) -> None:
    """The folder for the raw copies cannot be made (a file sits where it belongs): waiting and retrying
    changes nothing, so the sync ends at once and says which path, instead of three retries and a
    'network' error."""
    env = sync_env
    append(env.account, "INBOX", simple_message(1))
    blocker = env.store.path.with_name(env.store.path.name + ".raw")
    blocker.write_text("not a folder")
    summary = env.run(retry_delays=(0.01, 0.01, 0.01))
    assert not summary.ok and summary.error_kind == "other", (summary.error_kind, summary.error)
    assert summary.error.startswith(f"The store cannot use {blocker}: File exists"), summary.error
    assert not any(isinstance(e, Retrying) for e in env.events)
    blocker.unlink()
    assert env.run().ok


def test_two_processes_cannot_sync_one_mailbox_at_once(sync_env: SyncEnv) -> None:
    env = sync_env
    append(env.account, "INBOX", simple_message(1))
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from store.sync.locks import MailboxLock;"
            "lock = MailboxLock(Path(sys.argv[1]), int(sys.argv[2])).acquire(); print('held', flush=True);"
            "time.sleep(60)",
            str(env.store.path),
            str(env.box.id),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        busy = env.run()
        assert not busy.ok and busy.error_kind == "busy"
        assert env.sql("SELECT count(*) FROM message_locations") == [(0,)]
    finally:
        holder.kill()
        holder.wait()
    assert env.run().ok  # the kernel released the dead process's lock
    with MailboxLock(env.store.path, env.box.id):
        pass


def test_reads_during_a_sync_never_see_database_is_locked(sync_env: SyncEnv) -> None:
    env = sync_env
    env.account.fill(count=150, avg_size=15000, seed=41)
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            try:
                env.store.messages.list(env.admin, limit=20)
                env.store.messages.count(env.admin)
                rows = env.store.messages.list(env.admin, limit=1)
                if rows:
                    env.store.messages.set_flags(env.admin, rows[0].location_id, add=("$Seen-by-ui",))
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        summary = env.run(body_window_count=10, header_window=20)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert summary.ok, summary.error
    assert errors == []


CHILD = """
import sys
from datetime import date
from pathlib import Path
from store.secrets import open_secret_store
from store.service import open_store
from store.sync.engine import SyncOptions
db, data, config = sys.argv[1:4]
store = open_store(Path(db))
secrets = open_secret_store("file", data_dir=Path(data), config_dir=Path(config))
box = store.mailboxes.all_for_sync()[0]
mode = sys.argv[4]  # "0": bodies in this process, "1": in a helper, "early": and a helper in the header phase
opts = SyncOptions(header_window=15, body_window_count=8, body_window_bytes=150_000, today=date(2025, 6, 1),
                   workers=None if mode == "early" else int(mode), early_lane_from=int(mode == "early"),
                   pool_threshold=0, retry_delays=())
s = store.sync.run(box, secrets, options=opts)
print("OK" if s.ok else "FAIL " + s.error, flush=True)
"""


def _crash_rounds(env: SyncEnv, rounds: int, seed: int) -> None:
    rng = random.Random(seed)
    args = [str(env.store.path), str(env.tmp / "secrets-data"), str(env.tmp / "secrets-config")]
    env.store.engine.dispose()
    finished = 0
    for n in range(rounds):
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, *args, ("0", "1", "early")[n % 3]],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(rng.uniform(0.3, 2.5))
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
        else:
            finished += 1
        child.communicate()
        if rng.random() < 0.25:  # now and then the server gets new mail between crashes
            append(env.account, "INBOX", simple_message(1000 + n, subject=f"arrived {n}"))
    done = subprocess.run([sys.executable, "-c", CHILD, *args, "1"], cwd=ROOT, capture_output=True, text=True)
    assert done.stdout.strip() == "OK", done.stderr[-2000:]
    server = {k: v for k, v in env.server().items() if v}
    assert env.stored() == server
    total = sum(len(v) for v in server.values())
    assert env.sql("SELECT count(*) FROM message_locations") == [(total,)]
    assert env.sql("SELECT count(*) FROM messages WHERE body_loaded = 0") == [(0,)]
    assert env.sql(
        "SELECT count(*) FROM messages m WHERE NOT EXISTS "
        "(SELECT 1 FROM message_raw r WHERE r.message_id = m.id)"
    ) == [(0,)]
    assert env.sql("SELECT count(*) - count(DISTINCT dedupe_key) FROM messages") == [(0,)]
    assert env.sql("PRAGMA integrity_check") == [("ok",)]


def test_sigkill_during_first_load_then_restart_ends_exact(sync_env: SyncEnv) -> None:
    sync_env.account.fill(count=250, avg_size=12000, seed=51)
    _crash_rounds(sync_env, rounds=4, seed=1)


@pytest.mark.slow
def test_sigkill_fifty_rounds(sync_env: SyncEnv) -> None:
    sync_env.account.fill(count=1500, avg_size=20000, seed=52)
    _crash_rounds(sync_env, rounds=50, seed=2)


MEASURE = """
import json, sys
from datetime import date
from pathlib import Path
from store.secrets import open_secret_store
from store.service import open_store
from store.sync.engine import SyncOptions
store = open_store(Path(sys.argv[1]))
secrets = open_secret_store("file", data_dir=Path(sys.argv[2]), config_dir=Path(sys.argv[3]))
box = store.mailboxes.all_for_sync()[0]
s = store.sync.run(box, secrets, options=SyncOptions(today=date(2025, 6, 1), workers=0))
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))
print(json.dumps({"ok": s.ok, "error": s.error, "bodies": s.bodies, "hwm_kb": hwm}))
"""


def test_a_25_mb_message_is_streamed_with_bounded_memory(sync_env: SyncEnv) -> None:
    env = sync_env
    args = [str(env.store.path), str(env.tmp / "secrets-data"), str(env.tmp / "secrets-config")]
    append(env.account, "INBOX", simple_message(1, subject="small"))
    base = json.loads(
        subprocess.run(
            [sys.executable, "-c", MEASURE, *args], cwd=ROOT, capture_output=True, text=True
        ).stdout
    )
    payload = base64.encodebytes(random.Random(3).randbytes(25 << 20)).replace(b"\n", b"\r\n")
    big = (
        b"From: big@x.example\r\nTo: me@example.test\r\nSubject: 25 MB\r\nMessage-ID: <big@x.example>\r\n"
        b"Date: Fri, 30 May 2025 10:00:00 +0000\r\nContent-Type: multipart/mixed; boundary=BB\r\n\r\n"
        b"--BB\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee the attachment.\r\n"
        b'--BB\r\nContent-Type: application/octet-stream; name="big.bin"\r\n'
        b'Content-Disposition: attachment; filename="big.bin"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        + payload
        + b"--BB--\r\n"
    )
    append(env.account, "INBOX", big)
    del payload
    out = subprocess.run([sys.executable, "-c", MEASURE, *args], cwd=ROOT, capture_output=True, text=True)
    result = json.loads(out.stdout)
    assert result["ok"] and result["bodies"] == 1, out.stderr[-2000:]
    growth_mb = (result["hwm_kb"] - base["hwm_kb"]) / 1024
    assert growth_mb < 20, f"peak memory grew by {growth_mb:.0f} MB for a {len(big) >> 20} MB message"
    row = next(r for r in env.store.messages.list(env.admin) if r.subject == "25 MB")
    detail = env.store.messages.get(env.admin, row.message_id)
    assert detail.body_text.strip() == "See the attachment."
    [(name, size)] = [(a.filename, a.size) for a in detail.attachments]
    assert name == "big.bin" and abs(size - (25 << 20)) < (25 << 20) // 100  # estimated from BODYSTRUCTURE
    assert env.store.messages.raw(env.admin, row.message_id) == big


@pytest.mark.parametrize("count", [pytest.param(10_000, marks=pytest.mark.slow), 2_000])
def test_many_messages_in_one_folder(sync_env: SyncEnv, count: int) -> None:
    env = sync_env
    env.configure(load_period="year")  # a windowed UID SEARCH SINCE over the whole folder
    stats = env.account.fill(count=count, avg_size=1200, seed=61, folders=("INBOX",))
    summary = env.run(header_window=count // 8)
    assert summary.ok, summary.error
    client = env.account.imap(timeout=120)
    client.select_folder("INBOX", readonly=True)
    expected = len(client.search(["SINCE", date_since()]))
    client.logout()
    assert stats.total_messages == count
    assert summary.new == expected and 0 < expected < count
    assert env.sql("SELECT count(*) FROM message_locations") == [(expected,)]
    again = env.run()
    assert again.ok and again.folders == 0 and again.new == 0


def date_since():  # noqa: ANN201 - the day a 'year' period starts for the tests' fixed today
    from store.sync.folders import since_date
    from tests.integration.sync_support import TODAY

    return since_date("year", TODAY)


def test_scheduler_picks_new_mail_up_by_idle_and_stops_on_sigterm(
    mail_account: MailAccount, tmp_path: Path
) -> None:
    from store.secrets import open_secret_store

    env = make_env(tmp_path / "data" / "mailroom.db", mail_account, tmp_path)
    env.configure(load_period="all")
    secrets = open_secret_store(
        "file", data_dir=tmp_path / "xdg-data" / "mailroom", config_dir=tmp_path / "xdg-config" / "mailroom"
    )
    secrets.set(env.box.secret_ref, Secret(mail_account.password))
    append(mail_account, "INBOX", simple_message(1))
    cli_env = {
        **os.environ,
        "MAILROOM_DB": str(env.store.path),
        "XDG_DATA_HOME": str(tmp_path / "xdg-data"),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),
        "MAILROOM_CONFIG": str(tmp_path / "none.toml"),
        "MAILROOM_SECRETS__BACKEND": "file",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "sync", "--json"],
        cwd=ROOT,
        env=cli_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = json.loads(proc.stdout.readline())
        assert first["ok"] and first["new"] == 1
        time.sleep(1.0)  # let the IDLE connection settle
        started = time.monotonic()
        append(mail_account, "INBOX", simple_message(2, subject="pushed"))
        second = json.loads(proc.stdout.readline())
        assert second["ok"] and second["new"] == 1
        assert time.monotonic() - started < 10  # the interval is 5 minutes: IDLE brought it
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        env.store.close()
