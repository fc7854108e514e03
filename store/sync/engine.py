"""SyncService: one sync of one mailbox, under its lock, with retries on network errors."""

from __future__ import annotations

import imaplib
import socket
import ssl
import time
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from store.errors import NotFound
from store.sync import writer
from store.sync.events import (
    Event,
    FolderChanged,
    Progress,
    Retrying,
    SyncFinished,
    SyncStarted,
    SyncSummary,
    ignore,
)
from store.sync.locks import MailboxLock, SyncBusy

if TYPE_CHECKING:
    import sqlite3

    from store.mailboxes import Mailbox
    from store.secrets import SecretStore
    from store.service import Store
    from store.sync.early import EarlyLane
    from store.sync.examine import Flight
    from store.sync.folders import Planned
    from store.sync.imap import Session

NEEDS_ATTENTION = "needs_attention"


@dataclass(frozen=True)
class SyncOptions:
    """Tuning and test switches of the engine; the defaults are what `mailroom sync` uses."""

    use_condstore: bool = True
    use_qresync: bool = True
    header_window: int = 2000
    # 3 MB: with three body threads about five windows are in memory; 4 MB windows took the first load's
    # peak to 117-123 MB (limit 120), 3 MB to 113 MB, 2 MB to 106 MB but ~0.5 s slower (10,000 messages)
    body_window_bytes: int = 3 << 20
    body_window_count: int = 500
    large_message: int = 8 << 20
    raw_chunk: int = 1 << 20
    workers: int | None = None  # helper processes for bodies; None: one when there is much to load
    pool_threshold: int = 48 << 20  # bytes of bodies from which a helper process pays off
    main_lane: bool = True  # this process loads bodies too (a UI may prefer to leave all to helpers)
    early_lane_from: int = 2000  # a first load with this many messages in the folders after its first
    # starts a helper that loads finished folders' bodies during the header phase (early.py); 0: never
    inline_bodies: int = 16 << 20  # an incremental sync loads up to this many new bytes per folder at once
    inline_count: int = 500  # up to this many new UIDs in a folder come with their first bytes…
    inline_prefix: int = 256 << 10  # …this many, so most messages need no second FETCH (128 KB left
    # about one folder in two with a second FETCH in the 100-change benchmark step)
    inline_window: int = 100  # UIDs per such FETCH (bounds memory: 100 × 256 KB)
    retry_delays: tuple[float, ...] = (1.0, 3.0, 9.0)
    timeout: float = 60.0
    today: date | None = None  # the load period is counted back from this day (tests fix it)
    bodies: bool = True  # False: envelopes only (the body phase runs on the next sync)


class TransientError(Exception):
    """A network failure worth retrying."""


class FolderRefused(imaplib.IMAP4.error):
    """The server answered NO (or BAD) for some folders; the other folders were synced."""

    def __init__(self, folders: list[str]) -> None:
        super().__init__(
            f"{len(folders)} folder(s) could not be read (the other folders are synced): "
            + "; ".join(folders)
        )


@dataclass
class Run:
    """Everything one sync attempt works with."""

    mailbox: Mailbox
    conn: sqlite3.Connection
    session: Session
    options: SyncOptions
    summary: SyncSummary
    progress: Progress
    since: date | None
    clock_text: str
    store: Store
    secret: Any
    pending_folders: set[int] = field(default_factory=set)
    selected_validity: int | None = None
    upcoming: list[Planned] = field(default_factory=list)  # the folders after the one being synced
    flight: Flight | None = None  # the EXAMINE of the next folder, sent and not read yet (folders.py)
    early: EarlyLane | None = None  # the helper that loads bodies during the header phase (early.py)

    def emit(self, event: Event) -> None:
        """Report progress; a failing callback must not break the sync."""
        try:
            self.progress(event)
        except Exception:  # noqa: BLE001 - the UI's problem, not the sync's
            pass

    def folder_changed(self, event: FolderChanged) -> None:
        """Record and report a renamed, deleted or reset folder."""
        text = f"{event.folder}: {event.change}"
        if event.new_name:
            text += f" to {event.new_name}"
        if event.removed:
            text += f" ({event.removed} messages no longer there)"
        self.summary.folder_changes.append(text)
        self.emit(event)

    def now_text(self) -> str:
        return self.clock_text


def _is_refusal(exc: BaseException) -> bool:
    """A server's NO or BAD to a command (quota, `[SERVERBUG]`, `[UNAVAILABLE]`…), not a lost connection."""
    return isinstance(exc, imaplib.IMAP4.error) and not isinstance(exc, imaplib.IMAP4.abort)


def _error_kind(exc: BaseException) -> str:
    """The summary's error_kind of a failure that ended a sync."""
    from store.dbfile import is_disk_full
    from store.errors import DatabaseGone
    from store.net import NetError

    if is_disk_full(exc):
        return "disk_full"
    if isinstance(exc, DatabaseGone) or str(exc).startswith("DatabaseGone: "):  # or a helper's report
        return "database"
    if _is_transient(exc) or isinstance(exc, NetError):
        return "network"
    return "server" if _is_refusal(exc) else "other"


def _is_transient(exc: BaseException) -> bool:
    from imapclient.exceptions import IMAPClientAbortError

    from store.dbfile import is_disk_full
    from store.net import NetError

    if is_disk_full(exc):
        return False  # ENOSPC is an OSError, but waiting 13 s frees no space
    if isinstance(exc, NetError):
        return exc.kind in ("dns", "refused", "timeout", "network")
    if isinstance(exc, OSError) and exc.filename is not None:
        return False  # a file of the store (a pack refused, a folder gone): waiting changes nothing
    return isinstance(
        exc,
        imaplib.IMAP4.abort
        | IMAPClientAbortError
        | socket.timeout
        | ConnectionError
        | ssl.SSLError
        | TimeoutError
        | EOFError
        | OSError,
    )


class SyncService:
    """Loads mail of mailboxes into the store; the CLI, the scheduler and the TUI call `run` alike."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def run(
        self,
        mailbox: Mailbox,
        secrets: SecretStore,
        progress: Progress | None = None,
        options: SyncOptions | None = None,
    ) -> SyncSummary:
        """Sync one mailbox now and return what was done; errors are reported in the summary, not raised."""
        progress = progress or ignore
        options = options or SyncOptions()
        summary = SyncSummary(mailbox.id, mailbox.email)
        started = time.perf_counter()
        lock = MailboxLock(self._store.path, mailbox.id, mailbox.email)
        try:
            lock.acquire()
        except SyncBusy as exc:
            summary.ok, summary.error, summary.error_kind = False, str(exc), "busy"
            progress(SyncFinished(summary))
            return summary
        except OSError as exc:  # the lock file cannot be made (a full disk, a read-only folder)
            summary.ok, summary.error_kind = False, _error_kind(exc)
            summary.error = (
                self._describe(exc, mailbox)
                if summary.error_kind == "disk_full"
                else f"Cannot create the sync lock {lock.path}: {exc.strerror or exc}"
            )
            progress(SyncFinished(summary))
            return summary
        try:
            progress(SyncStarted(mailbox.id, mailbox.email))
            self._run_with_retries(mailbox, secrets, progress, options, summary)
        finally:
            lock.release()
            summary.seconds = round(time.perf_counter() - started, 3)
        try:
            progress(SyncFinished(summary))
        except Exception:  # noqa: BLE001
            pass
        return summary

    def _run_with_retries(
        self,
        box: Mailbox,
        secrets: SecretStore,
        progress: Progress,
        options: SyncOptions,
        summary: SyncSummary,
    ) -> None:
        from store.errors import StoreError
        from store.net import NetError, server_text
        from store.secrets import redact

        try:
            secret = self._store.mailboxes.credentials(box, secrets)
        except Exception as exc:  # noqa: BLE001 - missing keyring entry, failing password command
            self._needs_attention(box, summary, f"No usable password: {exc}")
            return
        attempt = 0
        while True:
            try:
                self._attempt(box, secret, progress, options, summary)
                self._store.mailboxes.mark_synced(box.id)
                if box.status == NEEDS_ATTENTION:
                    self._store.mailboxes.set_status(box.id, "ok", "")
                return
            except NetError as exc:
                if exc.kind == "auth":
                    self._needs_attention(box, summary, server_text(redact(str(exc), secret)))
                    return
                error: BaseException = exc
                text = str(exc)
            except Exception as exc:  # noqa: BLE001 - sorted into transient and fatal below
                error = exc
                text = self._describe(exc, box)
            # What a server said may echo the password or carry terminal escapes: neither is shown.
            ours = (  # no server's words in it
                isinstance(error, StoreError)
                or _error_kind(error) == "disk_full"
                or (isinstance(error, OSError) and error.filename is not None)
            )
            text = redact(text, secret) if ours else server_text(redact(text, secret))
            if not _is_transient(error) or attempt >= len(options.retry_delays):
                summary.ok, summary.error = False, text
                summary.error_kind = _error_kind(error)
                return
            delay = options.retry_delays[attempt]
            attempt += 1
            try:
                progress(Retrying(box.id, attempt, delay, text))
            except Exception:  # noqa: BLE001
                pass
            time.sleep(delay)

    def _describe(self, exc: BaseException, box: Mailbox) -> str:
        """What went wrong, in words for the summary: the store's own errors as they are."""
        from store.dbfile import disk_full, is_disk_full
        from store.errors import StoreError

        if is_disk_full(exc):
            return str(disk_full(self._store.path))
        if isinstance(exc, StoreError):
            return str(exc)
        if _is_refusal(exc):
            return f"The IMAP server of {box.email} refused: {exc}"
        if isinstance(exc, OSError) and exc.filename is not None:
            return f"The store cannot use {exc.filename}: {exc.strerror or type(exc).__name__}"
        return f"Connection to the IMAP server of {box.email} failed: {type(exc).__name__}: {exc}"

    def _needs_attention(self, box: Mailbox, summary: SyncSummary, reason: str) -> None:
        self._store.mailboxes.set_status(box.id, NEEDS_ATTENTION, reason)
        summary.ok, summary.error, summary.error_kind = False, reason, "auth"

    def _attempt(
        self, box: Mailbox, secret: Any, progress: Progress, options: SyncOptions, summary: SyncSummary
    ) -> None:
        from store.net import Endpoint, imap_login
        from store.sync import folders
        from store.sync.early import EarlyLane
        from store.sync.imap import Session

        provider = self._store.providers.get(box.provider_id)
        client = imap_login(Endpoint.imap_of(provider), box.login, secret, timeout=options.timeout)
        try:
            session = Session(client, options.use_condstore, options.use_qresync)
            fairy = self._store.raw_connection()  # the Store's or the LiteStore's (store/lite.py)
        except BaseException:
            from store.net import _close_quietly

            _close_quietly(client)  # logged in: log out, do not leave the connection to the server's timeout
            raise
        run: Run | None = None
        try:
            conn = fairy.driver_connection
            today = options.today or self._store.clock().date()
            run = Run(
                box,
                conn,
                session,
                options,
                summary,
                progress,
                folders.since_date(box.load_period, today),
                self._store.clock().isoformat(" "),
                self._store,
                secret,
            )
            run.pending_folders = writer.folders_with_pending_flags(conn, box.id)
            t0 = time.perf_counter()
            refused: list[str] = []
            planned = folders.plan(run)
            run.early = EarlyLane.start(run, planned)  # None unless a big first load
            for i, folder in enumerate(planned):
                run.upcoming = planned[i + 1 :]
                try:
                    folders.sync_folder(run, folder)
                except Exception as exc:  # noqa: BLE001 - a NO for one folder: the others go on
                    if not _is_refusal(exc):
                        raise
                    refused.append(f"{folder.remote.name}: {exc}")
                    session.selected, run.selected_validity = None, None  # a failed SELECT deselects
                    continue
                if run.early is not None:
                    run.early.folder_done(folder.row.id)
            folders.land(run)
            summary.headers_seconds = round(time.perf_counter() - t0, 3)
            if run.early is not None:
                run.early.finish()  # before the body phase reads what is left to load
            # Every folder was seen, so mail that only moved was linked again: what no location holds now
            # is gone. Asked of the whole run, not this attempt: an earlier attempt that removed locations
            # and then lost its connection left the cleanup to this one. Before the body phase, whose
            # failure (a refused SELECT, a full disk) must not leave it undone.
            if (summary.expunged or summary.folder_changes) and writer.remove_orphans(conn):
                from store.sync.packs import compact

                compact(conn, self._store.path)  # frees packs that are now mostly dead bytes
            pending = writer.pending_bodies(conn, box.id) if options.bodies else {}
            if pending:
                from store.sync.bodies import load_bodies  # with the parser: only when there is work

                load_bodies(run, pending)
            if refused:
                raise FolderRefused(refused)
        finally:
            if run is not None and run.early is not None:
                run.early.close()
            fairy.close()
            session.close()


def mailbox_by_email(store: Store, email: str) -> Mailbox:
    """A mailbox by address among all of them (the headless sync serves every user)."""
    email = email.strip().lower()
    for box in store.mailboxes.all_for_sync():
        if box.email == email:
            return box
    raise NotFound(f"No mailbox '{email}'.")
