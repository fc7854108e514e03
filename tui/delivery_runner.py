"""Delivery in the app: one DeliveryLoop thread while the app runs, its reports turned into messages."""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from textual.message import Message

from store.delivery import DeliveryLoop, DrainReport

if TYPE_CHECKING:
    from store.secrets import Secret, SecretStore
    from tui.app import MailroomApp

log = logging.getLogger("mailroom.tui.delivery")

JOIN_SECONDS = 5.0
"""How long quitting waits for a delivery run in progress before leaving it to the next start."""


@dataclass
class OutboxChanged(Message, bubble=False):
    """The outbox changed: a delivery run ended (*report*) or the user queued, retried or dropped an item.

    It does not bubble, because the app hands a copy to every open screen.
    """

    report: DrainReport | None = None


class LazySecrets:
    """The app's secret store, opened on the delivery thread the first time a message needs a password.

    A keyring may block, and most sessions send nothing, so the app does not open it at start.
    """

    def __init__(self, app: MailroomApp) -> None:
        self._app = app
        self._store: SecretStore | None = None
        self._lock = threading.Lock()

    def _opened(self) -> SecretStore:
        with self._lock:
            if self._store is None:
                from screens.wizard import open_secrets_for

                self._store = open_secrets_for(self._app)()
            return self._store

    def get(self, ref: str) -> Secret | None:
        """The secret stored under *ref*."""
        return self._opened().get(ref)

    def set(self, ref: str, secret: Secret) -> None:
        """Store *secret* under *ref*."""
        self._opened().set(ref, secret)

    def delete(self, ref: str) -> None:
        """Forget the secret under *ref*."""
        self._opened().delete(ref)

    def __repr__(self) -> str:
        return "LazySecrets(opened)" if self._store is not None else "LazySecrets(not opened)"


class DeliveryRunner:
    """Starts the app's one DeliveryLoop, wakes it after queueing, stops it when the app ends."""

    def __init__(self, app: MailroomApp) -> None:
        self.app = app
        self.loop: DeliveryLoop | None = None

    def start(self) -> None:
        """Start delivering the outbox, unless a loop of this app runs already."""
        if self.loop is not None and self.loop.is_alive():
            return
        secrets = cast("SecretStore", LazySecrets(self.app))
        self.loop = DeliveryLoop(self.app.store, secrets, on_report=self._report)
        self.loop.start()

    def wake(self) -> None:
        """Deliver what is due now (after queueing or retrying), starting the loop if it is not running."""
        if self.loop is None or not self.loop.is_alive():
            self.start()
        elif self.loop is not None:
            self.loop.wake()

    async def stop(self) -> None:
        """Stop the loop and wait a little for a run in progress (off the event loop)."""
        loop, self.loop = self.loop, None
        if loop is None:
            return
        loop.stop()
        await asyncio.to_thread(loop.join, JOIN_SECONDS)
        if loop.is_alive():
            log.warning("a delivery run was still in progress on quit; the next start resumes it")

    def _report(self, report: DrainReport) -> None:
        """Called on the delivery thread: hand the report to the app (post_message is thread-safe)."""
        self.app.post_message(OutboxChanged(report))


def report_text(report: DrainReport, user_id: int) -> tuple[str, str] | None:
    """A notification for what a delivery run did with the items *user_id* queued: (text, severity), or None
    when nothing needs saying. Any running app delivers everyone's items; each user hears only of theirs."""
    results = [r for r in report.results if r.user_id == user_id]
    failed = [r for r in results if r.state == "failed"]
    unsure = [r for r in (*results, *report.recovered) if r.state == "check" and r.user_id == user_id]
    sent = [r for r in results if r.state == "sent"]
    if failed:
        first = failed[0]
        more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
        return f"Not sent from {first.mailbox}: {first.detail}{more}. Press o for the outbox.", "error"
    if unsure:
        return (
            f"{len(unsure)} message(s) may have gone out when Mailroom stopped; see the outbox (o).",
            "warning",
        )
    if sent:
        return (f"Sent {len(sent)} messages." if len(sent) > 1 else "Message sent."), "information"
    return None
