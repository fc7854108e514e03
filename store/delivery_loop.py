"""Running delivery: one delivering process at a time, the loop that drains when something is due, and
the test-only crash points.

`crash_point(step)` does nothing unless the environment variable `MAILROOM_TEST_KILL_AT` names *step*;
then the process kills itself with SIGKILL right there. Only the crash tests set it
(tests/integration/test_send_crash.py, docs/sending.md lists the steps); nothing in Mailroom sets it.
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import threading
from collections.abc import Callable
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from store.delivery import DrainReport
    from store.secrets import SecretStore
    from store.service import Store

log = logging.getLogger("mailroom.delivery")
KILL_ENV = "MAILROOM_TEST_KILL_AT"
CRASH_STEPS = ("queued", "sending", "data", "ended", "accepted", "sent", "appended", "copied")
"""Where `crash_point` is called, in the order a message passes them (docs/sending.md says what each is)."""


def crash_point(step: str) -> None:
    """Test-only: SIGKILL this process at *step* when `MAILROOM_TEST_KILL_AT` names it."""
    if os.environ.get(KILL_ENV) == step:
        os.kill(os.getpid(), signal.SIGKILL)


class OutboxLock:
    """One delivering process at a time: an fcntl lock beside the database, freed by the kernel on death."""

    def __init__(self, db_path: Path) -> None:
        self.path = db_path.with_name(f"{db_path.name}.outbox.lock")
        self._fd: int | None = None

    def acquire(self) -> bool:
        """Take the lock at once, or return False when another run holds it."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        """Give the lock up."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


class DeliveryLoop(threading.Thread):
    """Drains the outbox whenever something is due (at least every *interval* seconds) until `stop()`;
    `mailroom sync` and the app run one, and `wake()` after queueing sends at once."""

    def __init__(
        self,
        store: Store,
        secrets: SecretStore,
        on_report: Callable[[DrainReport], None] | None = None,
        interval: float = 60.0,
    ) -> None:
        super().__init__(name="outbox-delivery", daemon=True)
        self.store, self.secrets, self.on_report, self.interval = store, secrets, on_report, interval
        self._stopping = threading.Event()
        self._wake = threading.Event()

    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                report = self.store.outbox.drain(self.secrets)
                if self.on_report is not None and (report.results or report.copies or report.recovered):
                    self.on_report(report)
            except Exception:  # noqa: BLE001 - a broken run must not end the loop; the next one retries
                log.exception("outbox delivery run failed")
            self._wake.wait(self._delay())
            self._wake.clear()

    def _delay(self) -> float:
        due = self.store.outbox.next_due()
        if due is None:
            return self.interval
        wait = (due - self.store.clock().astimezone(UTC)).total_seconds()
        return min(self.interval, max(1.0, wait))

    def wake(self) -> None:
        """Deliver now (e.g. right after `Outbox.queue`)."""
        self._wake.set()

    def stop(self) -> None:
        """End the loop after the current drain."""
        self._stopping.set()
        self._wake.set()
