"""Automatic loading for `mailroom sync`: every MailboxSyncInterval minutes, sooner when IDLE sees new mail.

One thread runs the syncs one mailbox at a time; the IDLE watchers (store/sync/idle.py, one thread per
mailbox) only wake it. `stop()` (called from SIGTERM/SIGINT handlers) ends both within about a second.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from store.sync.engine import NEEDS_ATTENTION, SyncOptions
from store.sync.events import Event, SyncSummary
from store.sync.idle import IdleWatchers

if TYPE_CHECKING:
    from store.mailboxes import Mailbox
    from store.secrets import SecretStore
    from store.service import Store

BACKOFF_START = 30.0  # seconds before the first retry after a failed sync; doubles up to the interval
SECRET_RECHECK = 60.0  # seconds between reads of a refused mailbox's password (keyring, or a command)


@dataclass
class _BoxState:
    next_due: float = 0.0
    failures: int = 0
    failed_secret: str | None = None
    secret_read_at: float = float("-inf")
    wake: threading.Event = field(default_factory=threading.Event)


class Scheduler:
    """Runs syncs of every mailbox with automatic loading on; `run()` blocks until `stop()`."""

    def __init__(
        self,
        store: Store,
        secrets: SecretStore,
        options: SyncOptions | None = None,
        interval_minutes: float | None = None,
        idle: bool = True,
        on_summary: Callable[[SyncSummary], None] | None = None,
        on_event: Callable[[Event], None] | None = None,
        only: set[int] | None = None,
        secret_recheck: float = SECRET_RECHECK,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store, self.secrets = store, secrets
        self.secret_recheck = secret_recheck
        self._clock = clock  # seconds, monotonic: when mailboxes are due, when a password was last read
        self.options = options or SyncOptions()
        self._interval = interval_minutes
        self.use_idle = idle
        self.on_summary = on_summary or (lambda _s: None)
        self.on_event = on_event
        self._stop = threading.Event()
        self._notify = threading.Event()
        self._boxes: dict[int, _BoxState] = {}
        self._only = only
        self.idle = IdleWatchers(store, self._new_mail)

    def interval_seconds(self) -> float:
        """The pause between automatic loads of one mailbox."""
        minutes = self._interval if self._interval is not None else self.store.system.sync_interval_minutes()
        return float(minutes) * 60.0

    def stop(self) -> None:
        """Ask the scheduler (and its IDLE threads) to finish; safe from a signal handler."""
        self._stop.set()
        self._notify.set()

    def sync_now(self, mailbox_id: int) -> None:
        """Load this mailbox at the next chance (the TUI's Sync now)."""
        state = self._boxes.setdefault(mailbox_id, _BoxState())
        state.next_due = 0.0
        self._notify.set()

    def run(self) -> None:
        """Sync due mailboxes until stopped."""
        try:
            while not self._stop.is_set():
                self._notify.clear()
                wait = self._tick()
                self._notify.wait(max(0.05, min(wait, 5.0)))
        finally:
            self._stop.set()
            self.idle.stop()

    def _new_mail(self, mailbox_id: int) -> None:
        """An IDLE watcher saw a change (called on its thread): sync that mailbox next."""
        self._boxes.setdefault(mailbox_id, _BoxState()).wake.set()
        self._notify.set()

    def _tick(self) -> float:
        now = self._clock()
        soonest = 5.0
        watched: list[Mailbox] = []
        for box in self.store.mailboxes.all_for_sync():
            if self._stop.is_set():
                break
            if self._only is not None and box.id not in self._only:
                continue
            state = self._boxes.setdefault(box.id, _BoxState())
            if not box.auto_load:
                continue
            if box.status == NEEDS_ATTENTION:
                if state.failed_secret is not None and now - state.secret_read_at < self.secret_recheck:
                    continue  # the tick comes every few seconds; a password command (gpg, op) need not
                digest = self._secret_digest(box)
                state.secret_read_at = now
                if state.failed_secret is None:
                    state.failed_secret = digest  # refused before we started: the stored one failed
                if state.failed_secret == digest:
                    continue  # no retry loop against a refused password: wait until it is changed
                state.failed_secret = None
            watched.append(box)
            if state.wake.is_set() or now >= state.next_due:
                state.wake.clear()
                self._sync(box, state)
                now = self._clock()
            soonest = min(soonest, max(0.0, state.next_due - now))
        if self.use_idle and not self._stop.is_set():
            # Watchers start after a mailbox's first load and stop when it leaves automatic loading.
            ids = {b.id for b in watched}  # read again: a sync may have changed their status
            self.idle.update([b for b in self.store.mailboxes.all_for_sync() if b.id in ids], self.secrets)
        return soonest

    def _sync(self, box: Mailbox, state: _BoxState) -> None:
        summary = self.store.sync.run(box, self.secrets, self.on_event, self.options)
        interval = self.interval_seconds()
        if summary.ok or summary.error_kind == "busy":
            state.failures = 0
            state.next_due = self._clock() + interval
        elif summary.error_kind == "auth":
            state.failed_secret = self._secret_digest(box)
            state.secret_read_at = self._clock()
            state.next_due = self._clock() + interval
        else:
            state.failures += 1
            state.next_due = self._clock() + min(interval, BACKOFF_START * 2 ** (state.failures - 1))
        self.on_summary(summary)

    def _secret_digest(self, box: Mailbox) -> str:
        try:
            secret = self.store.mailboxes.credentials(box, self.secrets)
            return hashlib.sha256(secret.reveal().encode()).hexdigest()
        except Exception:  # noqa: BLE001 - no password at all is "unchanged" until one is stored
            return ""


def describe(summary: SyncSummary) -> dict[str, Any]:
    """One line of a sync summary for tables."""
    return {
        "mailbox": summary.email,
        "ok": summary.ok,
        "new": summary.new,
        "bodies": summary.bodies,
        "flags": summary.flags_changed,
        "expunged": summary.expunged,
        "seconds": summary.seconds,
        "error": summary.error,
    }
