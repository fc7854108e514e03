"""One sync per mailbox across processes: an fcntl lock file next to the database."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from store.errors import Conflict


class SyncBusy(Conflict):
    """Another process (or thread) is already syncing this mailbox."""


def lock_path(db_path: Path, mailbox_id: int) -> Path:
    """The lock file of one mailbox: `<db>.sync-<id>.lock` beside the database."""
    return db_path.with_name(f"{db_path.name}.sync-{mailbox_id}.lock")


class MailboxLock:
    """An exclusive, non-blocking lock; the kernel releases it when the process dies, even by SIGKILL."""

    def __init__(self, db_path: Path, mailbox_id: int, email: str = "") -> None:
        self.path = lock_path(db_path, mailbox_id)
        self.label = email or f"mailbox {mailbox_id}"
        self._fd: int | None = None

    def acquire(self) -> MailboxLock:
        """Take the lock or raise SyncBusy at once."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise SyncBusy(f"{self.label} is already being synced by another process.") from None
        self._fd = fd
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        except OSError:
            pass  # the pid is only informative: a full disk must not fail the sync here
        return self

    def release(self) -> None:
        """Give the lock up (the file stays; it is reused)."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> MailboxLock:
        return self.acquire()

    def __exit__(self, *_exc: object) -> None:
        self.release()
