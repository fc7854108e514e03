"""Sync in the app: one thread worker per mailbox, engine events turned into messages, automatic loading.

Automatic loading syncs each mailbox every MailboxSyncInterval minutes, and at once when its IDLE watcher
(store/sync/idle.py) reports new mail; a report during a sync of that mailbox makes the worker sync once more.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING

from textual.message import Message
from textual.worker import Worker, get_current_worker

from store.errors import NotFound
from store.sync.engine import NEEDS_ATTENTION, SyncOptions
from store.sync.events import Event, FolderProgress, Retrying, SyncFinished, SyncStarted, SyncSummary
from store.sync.idle import IdleWatchers

if TYPE_CHECKING:
    from textual.message_pump import MessagePump

    from store.mailboxes import Mailbox
    from store.secrets import SecretStore
    from tui.app import MailroomApp

log = logging.getLogger("mailroom.tui.sync")

TICK_SECONDS = 30.0
"""How often the app looks for mailboxes whose automatic load is due."""

WATCH_DELAY = TICK_SECONDS
"""Seconds after the app opens before IDLE watchers start (sooner once a sync of this session succeeded),
so opening the app touches neither the keyring nor the servers."""

BUSY_POLL = 0.5
"""How often a sync that found its mailbox locked by another process looks whether it is free again."""

MAX_PARALLEL = 3
"""Syncs running at once; each holds a database connection for its whole run, the pool has twelve."""


@dataclass
class MailboxNewMail(Message):
    """The mailbox's IDLE watcher saw new or changed mail in its INBOX (posted from the watcher's thread)."""

    mailbox_id: int


@dataclass
class MailboxSyncQueued(Message):
    """A sync of the mailbox was asked for; it starts when a slot is free."""

    mailbox_id: int


@dataclass
class MailboxSyncStarted(Message):
    """The engine began syncing the mailbox; *first_load* when it has never synced successfully."""

    mailbox_id: int
    first_load: bool


@dataclass
class MailboxSyncProgress(Message):
    """Messages *done* of *total* in *phase* ('headers' or 'bodies') for the whole mailbox so far."""

    mailbox_id: int
    phase: str
    folder: str
    done: int
    total: int

    def can_replace(self, message: Message) -> bool:
        """A newer count of the same mailbox makes this one stale (the counts are totals, not steps)."""
        return isinstance(message, MailboxSyncProgress) and message.mailbox_id == self.mailbox_id


@dataclass
class MailboxSyncRetrying(Message):
    """A network error interrupted the sync; the engine tries again after *delay* seconds."""

    mailbox_id: int
    attempt: int
    delay: float
    error: str


@dataclass
class MailboxSyncFinished(Message):
    """The sync ended; *summary* says what it loaded or why it failed."""

    summary: SyncSummary

    @property
    def mailbox_id(self) -> int:
        """The mailbox that was synced."""
        return self.summary.mailbox_id


class SyncCancelled(BaseException):
    """Raised from the progress callback to stop the engine when its worker is cancelled (e.g. on quit).

    A BaseException, like asyncio's CancelledError, so the engine's `except Exception` lets it through
    while its `finally` blocks still roll back, release the lock and close the connections.
    """


@dataclass
class _Tally:
    """Turns the engine's per-folder events into mailbox-wide counts for one running sync."""

    mailbox_id: int
    first_load: bool
    headers: dict[str, tuple[int, int]] = field(default_factory=dict)

    def message(self, event: Event) -> Message | None:
        if isinstance(event, SyncStarted):
            return MailboxSyncStarted(self.mailbox_id, self.first_load)
        if isinstance(event, FolderProgress):
            if event.phase == "headers":
                self.headers[event.folder] = (event.done, event.total)
                done = sum(d for d, _ in self.headers.values())
                total = sum(t for _, t in self.headers.values())
                return MailboxSyncProgress(self.mailbox_id, "headers", event.folder, done, total)
            return MailboxSyncProgress(self.mailbox_id, event.phase, event.folder, event.done, event.total)
        if isinstance(event, Retrying):
            return MailboxSyncRetrying(self.mailbox_id, event.attempt, event.delay, event.error)
        if isinstance(event, SyncFinished):
            return MailboxSyncFinished(event.summary)
        return None  # FolderChanged: the summary lists folder changes when the sync ends


def is_due(box: Mailbox, now: datetime, interval_minutes: int, last_attempt: float | None) -> bool:
    """Whether automatic loading should sync *box* now; *last_attempt* is a monotonic time of this session."""
    if not box.auto_load or box.status == NEEDS_ATTENTION:
        return False  # a refused password is not retried in a loop; Sync now or new settings retry it
    interval = interval_minutes * 60
    if last_attempt is not None and time.monotonic() - last_attempt < interval:
        return False
    if box.last_sync_at is None:
        return True
    last = box.last_sync_at if box.last_sync_at.tzinfo else box.last_sync_at.replace(tzinfo=UTC)
    return (now - last).total_seconds() >= interval


class SyncRunner:
    """Starts syncs of the user's mailboxes in thread workers (group "sync") and posts their progress."""

    def __init__(self, app: MailroomApp, options: SyncOptions | None = None) -> None:
        self.app = app
        self.options = options or SyncOptions(main_lane=False)  # big body loads parse in a helper process
        self.auto_load = True
        self.watch_delay = WATCH_DELAY
        self._watching = False
        self._slots = threading.BoundedSemaphore(MAX_PARALLEL)
        self._workers: dict[int, Worker[None]] = {}
        self._attempts: dict[int, float] = {}
        self._secrets: SecretStore | None = None
        self._secrets_lock = threading.Lock()
        self.idle = IdleWatchers(app.store, self._new_mail_seen)
        self._lock = threading.Lock()
        self._active: set[int] = set()  # mailboxes whose sync worker has not ended its last round
        self._again: set[int] = set()  # ...and that IDLE reported during it: one more round

    # -- on the UI thread ---------------------------------------------------------------------
    def start_automatic(self) -> None:
        """Look for due mailboxes every TICK_SECONDS while the app runs, and start the IDLE watchers."""
        self.app.set_interval(TICK_SECONDS, self.tick, name="sync.automatic")
        if self.watch_delay > 0:
            self.app.set_timer(self.watch_delay, self._begin_watching, name="sync.idle")
        else:
            self.app.call_later(self._begin_watching)

    def _begin_watching(self) -> None:
        self._watching = True
        self.watch()

    def tick(self) -> None:
        """Sync the mailboxes whose automatic load is due (the interval setting is read each time); the
        watchers follow rights and settings that changed elsewhere."""
        if self.auto_load:
            self._plan(None, "automatic")
        self.watch()

    def sync(self, mailbox_id: int | None = None) -> None:
        """Sync one mailbox of the user now, or all of them when *mailbox_id* is None."""
        if mailbox_id is not None and self.is_running(mailbox_id):
            self.app.notify("This mailbox is being synced already.", title="Sync now")
            return
        self._plan(mailbox_id, "manual")

    def new_mail(self, mailbox_id: int) -> None:
        """IDLE saw a change in the mailbox: sync it now, or once more when its running sync ends."""
        if not self.auto_load:
            return
        with self._lock:
            if mailbox_id in self._active:
                self._again.add(mailbox_id)
                return
        self._plan(mailbox_id, "new_mail")

    def watch(self, mailboxes: list[Mailbox] | None = None) -> None:
        """Bring the IDLE watchers in line with the user's mailboxes (*mailboxes*, or read afresh)."""
        if not self._watching:
            return
        self.app.run_worker(
            partial(self._watch, mailboxes),
            thread=True,
            group="sync.idle",
            exit_on_error=False,
            description="Watch mailboxes for new mail",
        )

    def stop(self) -> None:
        """Stop the IDLE watchers without waiting for them (each logs out within a second); on quit."""
        self.idle.stop(timeout=0)

    def is_running(self, mailbox_id: int) -> bool:
        """Whether a sync worker of this mailbox has not finished yet."""
        worker = self._workers.get(mailbox_id)
        return worker is not None and not worker.is_finished

    def _plan(self, mailbox_id: int | None, reason: str) -> None:
        self.app.run_worker(
            partial(self._choose, mailbox_id, reason),
            thread=True,
            group="sync.plan",
            exit_on_error=False,
            description="Find mailboxes to sync",
        )

    def _start(self, boxes: list[Mailbox], reason: str) -> None:
        for box in boxes:
            with self._lock:
                if box.id in self._active or self.is_running(box.id):
                    if reason == "new_mail":
                        self._again.add(box.id)
                    continue
                self._active.add(box.id)
            self._attempts[box.id] = time.monotonic()
            self._target().post_message(MailboxSyncQueued(box.id))
            self._workers[box.id] = self.app.run_worker(
                partial(self._run, box),
                name=f"sync:{box.id}",
                thread=True,
                group="sync",
                exit_on_error=False,
                description=f"Sync {box.email}",
            )
        if not boxes and reason == "manual":
            self.app.notify("There is no mailbox to sync.", title="Sync now")

    def _target(self) -> MessagePump:
        return self.app.panel if self.app.panel is not None else self.app

    # -- in worker threads ------------------------------------------------------------------------
    def _choose(self, mailbox_id: int | None, reason: str) -> None:
        """Read the mailboxes to sync (a plan worker); start their workers back on the UI thread."""
        store, actor = self.app.store, self.app.actor
        if mailbox_id is None:
            boxes = store.mailboxes.visible(actor)
        elif reason == "new_mail":
            try:
                boxes = [store.mailboxes.get(actor, mailbox_id)]
            except NotFound:
                boxes = []  # the right went away since the watcher started; the next watch() ends it
            boxes = [b for b in boxes if b.auto_load and b.status != NEEDS_ATTENTION]
        else:
            boxes = [store.mailboxes.get(actor, mailbox_id)]
        if reason == "automatic":
            minutes, now = store.system.sync_interval_minutes(), self.app.clock()
            boxes = [b for b in boxes if is_due(b, now, minutes, self._attempts.get(b.id))]
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._start, boxes, reason)

    def _watch(self, mailboxes: list[Mailbox] | None) -> None:
        """Start, stop or replace IDLE watchers (a worker: reading mailboxes and the keyring may block)."""
        if not self.auto_load:
            self.idle.clear()
            return
        boxes = mailboxes if mailboxes is not None else self.app.store.mailboxes.visible(self.app.actor)
        self.idle.update(boxes, self._secret_store())

    def _new_mail_seen(self, mailbox_id: int) -> None:
        """A watcher's callback, on its thread: hand the news to the UI thread."""
        self._target().post_message(MailboxNewMail(mailbox_id))

    def _run(self, box: Mailbox) -> None:
        """Sync *box*: waits for a slot, runs the engine, posts its events; again while IDLE asks for it,
        and once more after another process (e.g. `mailroom sync`) that held the mailbox is done."""
        worker = get_current_worker()
        target = self._target()
        first_load = box.last_sync_at is None
        try:
            while True:
                if not self._take_slot(worker):
                    target.post_message(MailboxSyncFinished(_cancelled(box)))
                    return
                try:
                    summary = self._run_once(box, worker, target, first_load)
                finally:
                    self._slots.release()
                if summary.error_kind == "busy":
                    if not self._wait_while_busy(box, worker):
                        target.post_message(MailboxSyncFinished(_cancelled(box)))
                        return
                elif summary.ok and self._again_for(box.id, worker):
                    first_load = False
                else:
                    return
        finally:
            with self._lock:
                self._active.discard(box.id)
                self._again.discard(box.id)

    def _take_slot(self, worker: Worker[None]) -> bool:
        while not self._slots.acquire(timeout=0.2):
            if worker.is_cancelled:
                return False
        return True

    def _wait_while_busy(self, box: Mailbox, worker: Worker[None]) -> bool:
        """Wait until no other process syncs *box* (its lock is free); False when cancelled meanwhile."""
        from store.sync.locks import MailboxLock, SyncBusy

        while not worker.is_cancelled:
            try:
                MailboxLock(self.app.store.path, box.id).acquire().release()
                return True
            except SyncBusy:
                time.sleep(BUSY_POLL)
        return False

    def _again_for(self, mailbox_id: int, worker: Worker[None]) -> bool:
        """Whether IDLE reported new mail during the round that just ended; if not, the sync is over."""
        with self._lock:
            again = mailbox_id in self._again and not worker.is_cancelled
            self._again.discard(mailbox_id)
            if not again:
                self._active.discard(mailbox_id)
            return again

    def _run_once(
        self, box: Mailbox, worker: Worker[None], target: MessagePump, first_load: bool
    ) -> SyncSummary:
        """One engine run of *box*; the summary (a failed one when cancelled) is also posted."""
        tally = _Tally(box.id, first_load)

        def progress(event: Event) -> None:
            if worker.is_cancelled and not isinstance(event, SyncFinished):
                raise SyncCancelled
            message = tally.message(event)
            if message is not None:
                target.post_message(message)

        try:
            summary = self.app.store.sync.run(box, self._secret_store(), progress, self.options)
            self._watching = self._watching or summary.ok  # the keyring is open now: watch at once
            log.info("Synced %s: ok=%s new=%s error=%s", box.email, summary.ok, summary.new, summary.error)
            return summary
        except SyncCancelled:
            log.info("Sync of %s cancelled", box.email)
            summary = _cancelled(box)
            target.post_message(MailboxSyncFinished(summary))
            return summary
        except Exception as exc:
            target.post_message(MailboxSyncFinished(_failed(box, "other", f"{type(exc).__name__}: {exc}")))
            raise  # the app reports a failed worker with the details in the log

    def _secret_store(self) -> SecretStore:
        """The app's secret store, opened once (a keyring may block, so never on the UI thread)."""
        with self._secrets_lock:
            if self._secrets is None:
                from screens.wizard import open_secrets_for

                self._secrets = open_secrets_for(self.app)()
            return self._secrets


def _failed(box: Mailbox, kind: str, error: str) -> SyncSummary:
    return replace(SyncSummary(box.id, box.email), ok=False, error=error, error_kind=kind)


def _cancelled(box: Mailbox) -> SyncSummary:
    return _failed(box, "cancelled", "The sync was cancelled.")
