"""IDLE watchers against the real Dovecot: new mail reported at once, renewal, reconnects, settings, stop."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from store.secrets import Secret
from store.sync.idle import IdleWatcher, IdleWatchers
from tests.harness.fixtures import MailAccount
from tests.integration.sync_support import SyncEnv, append, fresh_env, simple_message

pytestmark = pytest.mark.integration

FAST = {"poll": 0.1, "backoff": (0.2, 1.0), "timeout": 10.0}


@pytest.fixture
def sync_env(mail_account: MailAccount, tmp_path: Path) -> Iterator[SyncEnv]:
    """A store with one mailbox on a fresh harness account, loaded once (watchers want a first load)."""
    for env in fresh_env(mail_account, tmp_path):
        assert env.run().ok
        env.box = env.store.mailboxes.get(env.admin, env.box.id)
        yield env


class Calls:
    """Records the watchers' callbacks and lets a test wait for them."""

    def __init__(self) -> None:
        self.ids: list[int] = []
        self._changed = threading.Condition()

    def __call__(self, mailbox_id: int) -> None:
        with self._changed:
            self.ids.append(mailbox_id)
            self._changed.notify_all()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[int]:
        with self._changed:
            assert self._changed.wait_for(lambda: len(self.ids) >= count, timeout), self.ids
            return list(self.ids)


def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait for *condition*, checking every 20 ms, or fail after *timeout* seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def idle_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("idle-")]


def test_new_mail_is_reported_while_idle_and_stop_leaves_no_thread(sync_env: SyncEnv) -> None:
    env, calls = sync_env, Calls()
    watchers = IdleWatchers(env.store, calls, **FAST)
    watchers.update([env.box], env.secrets)
    watcher = watchers.get(env.box.id)
    assert watcher is not None and watcher.idling.wait(10)
    assert idle_threads() == [f"idle-{env.box.email}"]
    t0 = time.monotonic()
    append(env.account, "INBOX", simple_message(1, subject="pushed"))
    assert calls.wait_for(1) == [env.box.id]
    assert time.monotonic() - t0 < 5  # IDLE, not a poll: the interval is minutes
    summary = env.run()
    assert summary.ok and summary.new == 1
    assert [r.subject for r in env.store.messages.list(env.admin)] == ["pushed"]
    assert watcher.idling.wait(10)  # back in IDLE after reporting
    append(env.account, "Archive", simple_message(2))  # another folder: INBOX is watched
    time.sleep(0.5)
    assert calls.ids == [env.box.id]
    assert watchers.stop(timeout=5)
    assert watcher.state == "stopped" and watcher.finished.is_set()
    until(lambda: not idle_threads())
    watchers.update([env.box], env.secrets)  # a stopped set starts nothing again
    assert watchers.get(env.box.id) is None and not idle_threads()


def test_idle_is_renewed_and_still_reports(sync_env: SyncEnv) -> None:
    env, calls = sync_env, Calls()
    watcher = IdleWatcher(env.store, env.box, env.secrets, calls, renew=0.3, **FAST)
    watcher.start()
    try:
        until(lambda: watcher.idles >= 4)
        assert watcher.connects == 1 and calls.ids == []
        append(env.account, "INBOX", simple_message(3))
        assert calls.wait_for(1) == [env.box.id]
    finally:
        watcher.stop()
        assert watcher.join(5)


def test_watcher_reconnects_after_the_server_restarts(sync_env: SyncEnv) -> None:
    env, calls = sync_env, Calls()
    server = env.account.server.imap_server
    watcher = IdleWatcher(env.store, env.box, env.secrets, calls, **FAST)
    watcher.start()
    try:
        assert watcher.idling.wait(10)
        server.stop()
        until(lambda: watcher.state == "waiting")
        server.start()
        until(lambda: watcher.connects == 2 and watcher.idling.is_set(), timeout=20)
        assert calls.wait_for(1) == [env.box.id]  # mail may have come while away: sync once
        append(env.account, "INBOX", simple_message(4))
        assert calls.wait_for(2) == [env.box.id, env.box.id]
    finally:
        env.account.server.ensure_running()
        watcher.stop()
        assert watcher.join(5)


def test_a_refused_password_ends_the_watcher_without_retrying(sync_env: SyncEnv) -> None:
    env, calls = sync_env, Calls()
    env.secrets.set(env.box.secret_ref, Secret("an-outdated-password"))
    watchers = IdleWatchers(env.store, calls, **FAST)
    watchers.update([env.box], env.secrets)
    watcher = watchers.get(env.box.id)
    assert watcher is not None and watcher.join(10)
    assert watcher.state == "refused" and "refused" in watcher.error
    watchers.update([env.box], env.secrets)
    assert watchers.get(env.box.id) is watcher  # same settings: not started again
    assert watchers.stop(timeout=5)


def test_watchers_follow_the_mailbox_settings(sync_env: SyncEnv) -> None:
    env, calls = sync_env, Calls()
    watchers = IdleWatchers(env.store, calls, **FAST)
    try:
        watchers.update([env.box], env.secrets)
        first = watchers.get(env.box.id)
        assert first is not None and first.idling.wait(10)
        env.configure(auto_load=0)
        watchers.update([env.box], env.secrets)
        assert watchers.get(env.box.id) is None and first.join(5) and first.state == "stopped"
        env.configure(auto_load=1)
        watchers.update([env.box], env.secrets)
        second = watchers.get(env.box.id)
        assert second is not None and second is not first and second.idling.wait(10)
        env.configure(folder_scope="selected", selected_folders=["Archive"])  # INBOX out of scope
        watchers.update([env.box], env.secrets)
        assert watchers.get(env.box.id) is None and second.join(5)
        env.configure(selected_folders=["INBOX"])
        watchers.update([env.box], env.secrets)
        third = watchers.get(env.box.id)
        assert third is not None and third.idling.wait(10)
        watchers.update([], env.secrets)  # e.g. the user lost the right to the mailbox
        assert watchers.get(env.box.id) is None and third.join(5)
    finally:
        assert watchers.stop(timeout=5)
    until(lambda: not idle_threads())


def test_the_headless_scheduler_syncs_when_idle_reports_new_mail(sync_env: SyncEnv) -> None:
    from store.sync.scheduler import Scheduler

    env = sync_env
    summaries: list = []
    scheduler = Scheduler(env.store, env.secrets, interval_minutes=60, on_summary=summaries.append)
    runner = threading.Thread(target=scheduler.run, name="scheduler")
    runner.start()
    try:
        until(lambda: len(summaries) == 1)  # the first round syncs every mailbox that is due
        until(lambda: (w := scheduler.idle.get(env.box.id)) is not None and w.idling.is_set())
        append(env.account, "INBOX", simple_message(5, subject="while idle"))
        until(lambda: len(summaries) == 2)  # long before the 60 minutes
        assert summaries[1].ok and summaries[1].new == 1
    finally:
        scheduler.stop()
        runner.join(10)
    assert not runner.is_alive()
    until(lambda: not idle_threads())
