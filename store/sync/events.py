"""Progress events and results of a sync, as plain dataclasses (the TUI turns them into its messages)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class SyncStarted:
    """A sync of one mailbox began (the lock is held, the server not yet contacted)."""

    mailbox_id: int
    email: str


@dataclass(frozen=True)
class FolderProgress:
    """Work done in one folder: *phase* is 'headers' (envelopes visible) or 'bodies' (text and raw stored)."""

    mailbox_id: int
    folder: str
    phase: str
    done: int
    total: int
    bytes: int = 0


@dataclass(frozen=True)
class FolderChanged:
    """A folder was renamed, deleted or reset (UIDVALIDITY changed) on the server; *removed* locations."""

    mailbox_id: int
    folder: str
    change: str  # 'renamed' | 'deleted' | 'uidvalidity' | 'out_of_scope'
    new_name: str = ""
    removed: int = 0


@dataclass(frozen=True)
class Retrying:
    """A network error interrupted the sync; it resumes after *delay* seconds."""

    mailbox_id: int
    attempt: int
    delay: float
    error: str


@dataclass
class SyncSummary:
    """What one sync of one mailbox did."""

    mailbox_id: int
    email: str
    ok: bool = True
    error: str = ""
    error_kind: str = ""  # '' | 'auth' | 'network' | 'busy' | 'server' | 'disk_full' | 'database' | 'other'
    folders: int = 0
    folders_skipped: int = 0
    new: int = 0
    bodies: int = 0
    bytes: int = 0
    flags_changed: int = 0
    flags_pushed: int = 0
    expunged: int = 0
    folder_changes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    headers_seconds: float = 0.0

    def as_dict(self) -> dict[str, object]:
        """The summary as a plain dict, for --json."""
        from dataclasses import asdict

        return asdict(self)


@dataclass(frozen=True)
class SyncFinished:
    """The sync ended, successfully or not; *summary* says what it did."""

    summary: SyncSummary


Event = SyncStarted | FolderProgress | FolderChanged | Retrying | SyncFinished
Progress = Callable[[Event], None]


def ignore(_event: Event) -> None:
    """A progress callback that drops every event."""
