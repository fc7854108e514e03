"""IDLE watchers: a connection per mailbox that holds IDLE on its INBOX and says when mail arrives there.

The headless scheduler and the TUI share them: each gives `IdleWatchers.update` the mailboxes it serves and a
callback, and syncs the mailbox the callback names. A watcher has its own IMAP connection (store/net.py) and
its own daemon thread, renews IDLE before servers drop it (RFC 2177: 29 minutes), reconnects with backoff
after network trouble, and ends for good only when stopped, when the server does not offer IDLE, or when the
login is refused.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from imapclient import IMAPClient

    from store.mailboxes import Mailbox
    from store.secrets import Secret, SecretStore
    from store.service import Store

log = logging.getLogger("mailroom.sync.idle")

IDLE_RENEW = 25 * 60.0
"""Seconds after which IDLE is ended and issued again (servers may drop it after 30 minutes)."""

IDLE_POLL = 0.5
"""How often a watcher looks at its stop flag while it waits for the server."""

BACKOFF = (5.0, 300.0)
"""First and longest pause before reconnecting after a failure; the pause doubles in between."""

CHANGES = frozenset({b"EXISTS", b"EXPUNGE", b"FETCH", b"VANISHED"})
"""Untagged responses during IDLE that mean the folder changed."""

OnChange = Callable[[int], None]


def wants_watcher(box: Mailbox) -> bool:
    """Whether *box* should be watched: automatic loading on, usable, loaded once, its INBOX in scope."""
    inbox_in_scope = box.folder_scope != "selected" or any(f.upper() == "INBOX" for f in box.selected_folders)
    return box.auto_load and box.status == "ok" and box.last_sync_at is not None and inbox_in_scope


def watch_key(box: Mailbox) -> tuple[object, ...]:
    """The settings a watcher depends on; when they change it is replaced by a new one."""
    return (
        box.provider_id,
        box.login,
        box.secret_ref,
        box.password_command,
        box.folder_scope,
        box.selected_folders,
    )


class IdleWatcher:
    """Holds IDLE on one mailbox's INBOX and calls *on_change(mailbox_id)* when the server reports a change.

    `state` is one of starting, idle, waiting (for a reconnect), unsupported, refused or stopped.
    """

    def __init__(
        self,
        store: Store,
        box: Mailbox,
        secrets: SecretStore,
        on_change: OnChange,
        *,
        renew: float = IDLE_RENEW,
        poll: float = IDLE_POLL,
        backoff: tuple[float, float] = BACKOFF,
        timeout: float = 30.0,
    ) -> None:
        self.store, self.box, self.secrets, self.on_change = store, box, secrets, on_change
        self.renew, self.poll, self.backoff, self.timeout = renew, poll, backoff, timeout
        self.state = "starting"
        self.error = ""
        self.connects = 0
        self.connects_since_wait = 0
        self.idles = 0
        """IDLE commands issued so far (one per renewal or change)."""
        self.idling = threading.Event()
        """Set while the server holds our IDLE (mail arriving now will be reported)."""
        self.finished = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._secret: Secret | None = None

    @property
    def mailbox_id(self) -> int:
        """The watched mailbox."""
        return self.box.id

    def start(self) -> None:
        """Watch on a daemon thread of its own."""
        self._thread = threading.Thread(target=self.run, name=f"idle-{self.box.email}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Ask the watcher to end IDLE, log out and finish (within about `poll` seconds); never blocks."""
        self._stop.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait until the watcher finished; True when it did."""
        return self.finished.wait(timeout)

    def run(self) -> None:
        """Watch until stopped or a final state (blocks; `start` runs it on a thread)."""
        delay, missed = self.backoff[0], False
        try:
            while not self._stop.is_set():
                try:
                    self._watch(report_first=missed)
                    return  # stopped, or the server has no IDLE
                except Exception as exc:  # noqa: BLE001 - sorted below; a watcher never dies of an error
                    from store.net import NetError, server_text
                    from store.secrets import redact

                    self.idling.clear()
                    # What a server said may echo the password or carry terminal escapes: neither is kept.
                    text = server_text(redact(f"{type(exc).__name__}: {exc}", self._secret))
                    if isinstance(exc, NetError) and exc.kind == "auth":
                        self.state, self.error = "refused", text
                        return  # no retry loop against a refused password; new settings start a new watcher
                    self.error = text
                if self.connects_since_wait:
                    delay = self.backoff[0]  # the last connection worked: start the backoff over
                self.connects_since_wait = 0
                missed = True  # mail may arrive while we are away: report a change after reconnecting
                self.state = "waiting"
                log.info("IDLE on %s failed (%s); again in %g s", self.box.email, self.error, delay)
                self._stop.wait(delay)
                delay = min(delay * 2, self.backoff[1])
        finally:
            self.idling.clear()
            if self.state not in ("unsupported", "refused"):
                self.state = "stopped"
            self.finished.set()

    def _watch(self, report_first: bool) -> None:
        from store.net import Endpoint, imap_login

        provider = self.store.providers.get(self.box.provider_id)
        self._secret = secret = self.store.mailboxes.credentials(self.box, self.secrets)
        client = imap_login(Endpoint.imap_of(provider), self.box.login, secret, timeout=self.timeout)
        try:
            self.connects += 1
            if b"IDLE" not in client.capabilities():
                self.state = "unsupported"
                log.info("%s offers no IDLE; new mail comes with the interval", self.box.email)
                return
            client.select_folder("INBOX", readonly=True)
            self.connects_since_wait += 1
            if report_first:
                self._report()
            while not self._stop.is_set():
                changed = self._idle_once(client)
                if changed:
                    self._report()
        finally:
            self.idling.clear()
            try:
                client.logout()
            except Exception:  # noqa: BLE001 - the connection may be gone already
                pass

    def _idle_once(self, client: IMAPClient) -> bool:
        """One IDLE command, until a change, the renewal time or a stop; True on a change."""
        client.idle()
        self.idles += 1
        self.state = "idle"
        self.idling.set()
        started, quick_empties, changed = time.monotonic(), 0, False
        while not self._stop.is_set() and time.monotonic() - started < self.renew:
            asked = time.monotonic()
            responses = client.idle_check(timeout=self.poll)
            if any(len(r) > 0 and r[0] == b"BYE" for r in responses):
                raise ConnectionError("the server ended the connection")
            if _changes(responses):
                changed = True
                break
            # A closed socket reads as "readable, nothing in it" at once, again and again.
            quick = not responses and time.monotonic() - asked < self.poll / 2
            quick_empties = quick_empties + 1 if quick else 0
            if quick_empties >= 3:
                raise ConnectionError("the connection was closed")
        self.idling.clear()
        _text, late = client.idle_done()  # what the server said between our last check and DONE
        return changed or _changes(late)

    def _report(self) -> None:
        try:
            self.on_change(self.box.id)
        except Exception:  # noqa: BLE001 - the owner's trouble must not end the watch
            log.exception("IDLE callback for %s failed", self.box.email)


def _changes(responses: list) -> bool:  # noqa: ANN401 - imapclient's parsed untagged responses
    return any(len(r) > 1 and r[1] in CHANGES for r in responses)


class IdleWatchers:
    """The watchers of the mailboxes an owner serves: `update` starts, stops and replaces them."""

    def __init__(self, store: Store, on_change: OnChange, **options: float | tuple[float, float]) -> None:
        self.store, self.on_change, self.options = store, on_change, options
        self._watchers: dict[int, tuple[tuple[object, ...], IdleWatcher]] = {}
        self._lock = threading.Lock()
        self._closed = False

    def update(self, boxes: Iterable[Mailbox], secrets: SecretStore) -> None:
        """Watch exactly those of *boxes* that want it; a watcher whose settings changed is replaced.

        A watcher in a final state (no IDLE, password refused) stays until its settings change.
        """
        wanted = {b.id: b for b in boxes if wants_watcher(b)}
        with self._lock:
            if self._closed:
                return
            for mailbox_id, (key, watcher) in list(self._watchers.items()):
                box = wanted.get(mailbox_id)
                if box is None or watch_key(box) != key:
                    watcher.stop()
                    del self._watchers[mailbox_id]
            for mailbox_id, box in wanted.items():
                if mailbox_id not in self._watchers:
                    watcher = IdleWatcher(self.store, box, secrets, self.on_change, **self.options)  # type: ignore[arg-type]
                    self._watchers[mailbox_id] = (watch_key(box), watcher)
                    watcher.start()

    def clear(self) -> None:
        """Stop every watcher without waiting (automatic loading was turned off)."""
        with self._lock:
            watchers = [w for _, w in self._watchers.values()]
            self._watchers.clear()
        for watcher in watchers:
            watcher.stop()

    def get(self, mailbox_id: int) -> IdleWatcher | None:
        """The watcher of a mailbox, if it has one."""
        with self._lock:
            found = self._watchers.get(mailbox_id)
        return found[1] if found else None

    def all(self) -> list[IdleWatcher]:
        """Every current watcher."""
        with self._lock:
            return [w for _, w in self._watchers.values()]

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop every watcher and wait for them; True when all finished in time. No watcher starts after."""
        with self._lock:
            self._closed = True
            watchers = [w for _, w in self._watchers.values()]
            self._watchers.clear()
        for watcher in watchers:
            watcher.stop()
        deadline = time.monotonic() + timeout
        return all(w.join(max(0.0, deadline - time.monotonic())) for w in watchers)
