"""Delivering the outbox: SMTP with the mailbox's provider settings, retries with backoff, the Sent copy.

Every message goes out at most once and is never dropped silently. One drain runs at a time across
processes (a lock file the kernel releases when a process dies), so an item found in `sending` under the
lock belongs to a run that died: before the end-of-data line was sent the server cannot have accepted it,
so it is queued again; after it the message may have been delivered, so it becomes `check` and the user
decides (docs/sending.md).
"""

from __future__ import annotations

import json
import logging
import re
import smtplib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, or_, select, update

from store import db
from store.delivery_loop import DeliveryLoop, OutboxLock, crash_point
from store.delivery_policy import (
    BACKOFF,
    COPY_GIVE_UP,
    COPY_REFUSED_RETRY,
    COPY_RETRY,
    GIVE_UP_AFTER,
    Failure,
    backoff,
    classify,
    copy_refused,
)
from store.errors import StoreError
from store.schema import principals
from store.schema_outbox import outbox

if TYPE_CHECKING:
    from store.mailboxes import Mailbox
    from store.secrets import Secret, SecretStore
    from store.service import Store

__all__ = [
    "BACKOFF",
    "COPY_RETRY",
    "GIVE_UP_AFTER",
    "Delivery",
    "DeliveryLoop",
    "DrainReport",
    "Failure",
    "OutboxLock",
    "SendResult",
    "backoff",
    "classify",
]
log = logging.getLogger("mailroom.delivery")
DEFAULT_TIMEOUT = 30.0
NEEDS_ATTENTION = "needs_attention"
UNCERTAIN = (
    "Mailroom stopped right after handing the whole message to the server, before the server confirmed "
    "it, so it may have been delivered. Ask a recipient; then send it again (it may arrive twice), mark "
    "it as sent (its copy is then saved in Sent), or drop it."
)


@dataclass(frozen=True)
class SendResult:
    """What one drain did with one outbox item."""

    item_id: int
    mailbox: str
    state: str  # queued | sent | failed | check
    detail: str = ""
    copy_done: bool = False
    user_id: int | None = None  # who queued the item: only they are told about it


@dataclass
class DrainReport:
    """Everything one drain did; *busy* when another process was delivering and this one did nothing."""

    results: list[SendResult] = field(default_factory=list)
    copies: list[SendResult] = field(default_factory=list)
    recovered: list[SendResult] = field(default_factory=list)
    busy: bool = False


_DOT = re.compile(rb"(?m)^\.")


class Delivery:
    """One drain of the outbox over the store; the CLI, `mailroom sync` and the app's worker call it alike."""

    def __init__(self, store: Store, secrets: SecretStore, timeout: float | None = None) -> None:
        self._store = store
        self._engine = store.engine
        self._secrets = secrets
        self._timeout = timeout or DEFAULT_TIMEOUT

    def drain(self, now: datetime | None = None, only: set[int] | None = None) -> DrainReport:
        """Send every due item (or those in *only*), then save pending Sent copies."""
        now = (now or self._store.clock()).astimezone(UTC)
        lock = OutboxLock(self._store.path)
        if not lock.acquire():
            return DrainReport(busy=True)
        try:
            report = DrainReport(recovered=self._recover())
            for box_id, ids in self._due(now, only).items():
                report.results += self._send_mailbox(box_id, ids, now)
            for box_id, ids in self._due_copies(now, only).items():
                report.copies += self._copy_mailbox(box_id, ids, now)
            self._store.outbox.prune(now)
            return report
        finally:
            lock.release()

    # -- the state machine, each step committed ----------------------------------------------------

    def _set(self, item_id: int, **values: Any) -> None:
        with db.write(self._engine) as conn:
            conn.execute(update(outbox).where(outbox.c.id == item_id).values(**values))

    def _claim(self, row: dict[str, Any]) -> bool:
        """queued → sending, only while the item is still the queued one *row* was read as: a `drop` or an
        edit and resend (`queue(replaces=…)`) may have committed since, and SQLite may give the replacing
        row the same id, so its Message-ID (new for every queued message) must match too. False: the claim
        was lost, so nothing may be sent from *row*."""
        with db.write(self._engine) as conn:
            claimed = conn.execute(
                update(outbox)
                .where(
                    outbox.c.id == row["id"],
                    outbox.c.state == "queued",
                    outbox.c.message_id == row["message_id"],
                )
                .values(
                    state="sending", attempts=row["attempts"] + 1, data_started_at=None, data_ended_at=None
                )
            ).rowcount
        if claimed != 1:
            return False
        row["attempts"] += 1
        return True

    def _recover(self) -> list[SendResult]:
        """Items left in `sending` by a run that died (this run holds the lock, so no live run owns them)."""
        out = []
        with db.write(self._engine) as conn:
            rows = conn.execute(
                select(outbox.c.id, outbox.c.envelope_from, outbox.c.data_ended_at, outbox.c.user_id).where(
                    outbox.c.state == "sending"
                )
            ).all()
            for item_id, sender, data_ended, user_id in rows:
                if data_ended is None:
                    values = dict(
                        state="queued",
                        last_error="Interrupted before the server had the whole message; "
                        "it will be sent again.",
                        error_kind="temporary",
                        data_started_at=None,
                    )
                else:
                    values = dict(state="check", error_kind="uncertain", last_error=UNCERTAIN)
                conn.execute(update(outbox).where(outbox.c.id == item_id).values(**values))
                out.append(
                    SendResult(item_id, sender, values["state"], values["last_error"], user_id=user_id)
                )
        return out

    def _due(self, now: datetime, only: set[int] | None) -> dict[int, list[int]]:
        cond = [
            outbox.c.state == "queued",
            or_(outbox.c.next_attempt_at.is_(None), outbox.c.next_attempt_at <= now),
        ]
        if only is not None:
            cond.append(outbox.c.id.in_(sorted(only)))
        return self._grouped(and_(*cond))

    def _due_copies(self, now: datetime, only: set[int] | None) -> dict[int, list[int]]:
        cond = [
            outbox.c.state == "sent",
            outbox.c.copy_done.is_(False),
            outbox.c.copy_refusals < COPY_GIVE_UP,
            or_(outbox.c.next_attempt_at.is_(None), outbox.c.next_attempt_at <= now),
        ]
        if only is not None:
            cond.append(outbox.c.id.in_(sorted(only)))
        return self._grouped(and_(*cond))

    def _grouped(self, where) -> dict[int, list[int]]:  # noqa: ANN001 - a SQLAlchemy clause
        out: dict[int, list[int]] = {}
        with db.read(self._engine) as conn:
            for item_id, box_id in conn.execute(
                select(outbox.c.id, outbox.c.mailbox_id)
                .where(where)
                .order_by(outbox.c.created_at, outbox.c.id)
            ):
                out.setdefault(box_id, []).append(item_id)
        return out

    def _row(self, item_id: int) -> dict[str, Any] | None:
        with db.read(self._engine) as conn:
            r = (
                conn.execute(
                    select(outbox, principals.c.name.label("user_name"))
                    .join(principals, principals.c.id == outbox.c.user_id)
                    .where(outbox.c.id == item_id)
                )
                .mappings()
                .first()
            )
            return dict(r) if r else None

    def _mailbox(self, box_id: int) -> Mailbox | None:
        return next((b for b in self._store.mailboxes.all_for_sync() if b.id == box_id), None)

    def _may_send(self, row: dict[str, Any], box: Mailbox) -> str:
        """'' when the user who queued the item may still send from the mailbox, else why not."""
        from store.rights import mailbox_ids_with

        if not box.send_enabled:
            return f"Sending is turned off for {box.email}."
        actor = self._store.identity.actor(row["user_name"])
        with db.read(self._engine) as conn:
            if box.id not in mailbox_ids_with(conn, actor, "send"):
                return f"{row['user_name']} may no longer send from {box.email}."
        return ""

    # -- sending -----------------------------------------------------------------------------------

    def _send_mailbox(self, box_id: int, ids: list[int], now: datetime) -> list[SendResult]:
        box = self._mailbox(box_id)
        if box is None:
            return []
        results: list[SendResult] = []
        smtp: smtplib.SMTP | None = None
        try:
            for n, item_id in enumerate(ids):
                row = self._row(item_id)
                if row is None or row["state"] != "queued":
                    continue  # dropped or changed meanwhile
                why_not = self._may_send(row, box)
                if why_not:
                    results.append(self._failed(row, box, Failure("permanent", why_not), now))
                    continue
                crash_point("queued")
                if not self._claim(row):
                    continue  # dropped or replaced since it was read: nothing is sent
                if smtp is None:
                    try:
                        smtp = self._login(box)
                    except Exception as exc:  # noqa: BLE001 - unreachable or refused: every item waits alike
                        failure = classify(exc)
                        results.append(self._failed(row, box, failure, now))
                        results += self._fail_rest(ids[n + 1 :], box, failure, now)
                        break
                crash_point("sending")
                try:
                    self._transmit(smtp, row, now)
                except Exception as exc:  # noqa: BLE001 - every failure is classified and recorded
                    results.append(self._failed(row, box, classify(exc), now))
                    if not isinstance(exc, smtplib.SMTPResponseException):  # the session itself is broken
                        _quit(smtp)
                        smtp = None
                    continue
                crash_point("accepted")
                self._set(
                    item_id, state="sent", sent_at=now, last_error="", error_kind="", next_attempt_at=now
                )
                results.append(
                    SendResult(item_id, box.email, "sent", "accepted by the server", user_id=row["user_id"])
                )
        finally:
            _quit(smtp)
        return results

    def _login(self, box: Mailbox) -> smtplib.SMTP:
        from store.keyring_file import SecretsError
        from store.net import Endpoint, smtp_login

        try:
            secret: Secret = self._store.mailboxes.credentials(box, self._secrets)
        except SecretsError as exc:  # a locked keyring, a failing password command: wait, do not fail
            raise Failure(
                "temporary",
                f"The password of {box.email} could not be read ({exc}); the message stays queued and "
                "is tried again.",
            ) from None
        provider = self._store.providers.get(box.provider_id)
        return smtp_login(Endpoint.smtp_of(provider), box.login, secret, timeout=self._timeout)

    def _transmit(self, smtp: smtplib.SMTP, row: dict[str, Any], now: datetime) -> None:
        """MAIL, every RCPT (one refused recipient stops the whole message), DATA. `data_started_at` is
        committed once the server said 354 and `data_ended_at` right before the end-of-data line: until that
        line the server discards what it got when the connection breaks (RFC 5321 4.1.1.4), so only a break
        after `data_ended_at` leaves the message uncertain."""
        raw: bytes = row["raw"]
        sender = row["envelope_from"]
        options = [f"SIZE={len(raw)}"] if smtp.has_extn("size") else []
        code, reply = smtp.mail(sender, options)
        if code != 250:
            _rset(smtp)
            raise smtplib.SMTPSenderRefused(code, reply, sender)
        refused = {}
        for rcpt in json.loads(row["recipients"]):
            code, reply = smtp.rcpt(rcpt)
            if code not in (250, 251):
                refused[rcpt] = (code, reply)
        if refused:
            _rset(smtp)
            raise smtplib.SMTPRecipientsRefused(refused)
        code, reply = smtp.docmd("DATA")
        if code != 354:
            _rset(smtp)  # the session is kept for the next message; some servers keep MAIL/RCPT open
            raise smtplib.SMTPDataError(code, reply)
        self._set(row["id"], data_started_at=now)
        payload = _DOT.sub(b"..", raw if raw.endswith(b"\r\n") else raw + b"\r\n")
        half = len(payload) // 2
        try:
            smtp.send(payload[:half])
            crash_point("data")  # half of the message handed over
            smtp.send(payload[half:])
        except Exception as exc:  # noqa: BLE001 - no end of data: the server keeps nothing
            raise Failure(
                "temporary",
                f"The connection broke while the message was being sent ({type(exc).__name__}: {exc}); "
                "the server keeps nothing of an unfinished message, so it will be sent again.",
            ) from exc
        self._set(row["id"], data_ended_at=now)
        crash_point("ended")
        try:
            smtp.send(b".\r\n")
            code, reply = smtp.getreply()
        except Exception as exc:  # noqa: BLE001 - the server may or may not have taken it
            raise Failure(
                "uncertain",
                f"The connection broke after the whole message was sent, before the server confirmed "
                f"it ({type(exc).__name__}: {exc}), so it may have been delivered. Ask a recipient; then "
                "retry it (it may arrive twice), mark it as sent, or drop it.",
            ) from exc
        if code != 250:
            raise smtplib.SMTPDataError(code, reply)

    def _failed(self, row: dict[str, Any], box: Mailbox, failure: Failure, now: datetime) -> SendResult:
        """Record a failed attempt: temporary → queued with backoff (failed after GIVE_UP_AFTER); permanent
        and auth → failed (auth also marks the mailbox); uncertain → check."""
        created = (
            row["created_at"].replace(tzinfo=UTC) if row["created_at"].tzinfo is None else row["created_at"]
        )
        kind, text = failure.kind, failure.text
        if kind == "temporary" and now - created > GIVE_UP_AFTER:
            kind, text = "permanent", f"Gave up after {row['attempts']} attempts: {text}"
        if kind == "temporary":
            state, due = "queued", now + backoff(row["attempts"])
        elif kind == "uncertain":
            state, due = "check", None
        else:
            state, due = "failed", None
        if kind == "auth":
            self._store.mailboxes.set_status(box.id, NEEDS_ATTENTION, text)
        log.warning("outbox item %s from %s: %s (%s)", row["id"], box.email, state, text)
        values: dict[str, Any] = dict(state=state, last_error=text, error_kind=kind, next_attempt_at=due)
        if state != "check":
            values.update(data_started_at=None, data_ended_at=None)
        self._set(row["id"], **values)
        return SendResult(row["id"], box.email, state, text, user_id=row["user_id"])

    def _fail_rest(self, ids: list[int], box: Mailbox, failure: Failure, now: datetime) -> list[SendResult]:
        """The server could not be reached or refused the login: the other due items of the mailbox share
        the reason (each counted as an attempt)."""
        out = []
        for item_id in ids:
            row = self._row(item_id)
            if row is None or row["state"] != "queued":
                continue
            row["attempts"] += 1
            self._set(item_id, attempts=row["attempts"])
            out.append(self._failed(row, box, failure, now))
        return out

    # -- the Sent copy -----------------------------------------------------------------------------

    def _copy_mailbox(self, box_id: int, ids: list[int], now: datetime) -> list[SendResult]:
        from store.sent_copy import SentFolder

        box = self._mailbox(box_id)
        if box is None:
            return []
        out: list[SendResult] = []
        folder: SentFolder | None = None
        try:
            for item_id in ids:
                row = self._row(item_id)
                if row is None or row["copy_done"]:
                    continue
                crash_point("sent")
                try:
                    if folder is None:
                        folder = SentFolder.open(self._store, box, self._secrets, self._timeout)
                    folder.save(row["bcc_header"] + row["raw"], row["message_id"], row["sent_at"] or now)
                except Exception as exc:  # noqa: BLE001 - the message is sent; the copy is retried later
                    text = f"{type(exc).__name__}: {exc}" if not isinstance(exc, StoreError) else str(exc)
                    self._copy_failed(item_id, row["copy_refusals"], exc, text, now)
                    out.append(SendResult(item_id, box.email, "sent", text, user_id=row["user_id"]))
                    if folder is not None:
                        folder.close()
                    folder = None
                    continue
                self._set(item_id, copy_done=True, copy_error="", next_attempt_at=None)
                crash_point("copied")
                done = SendResult(item_id, box.email, "sent", "copy saved in Sent", True, row["user_id"])
                out.append(done)
        finally:
            if folder is not None:
                folder.close()
        return out

    def _copy_failed(self, item_id: int, refusals: int, exc: Exception, text: str, now: datetime) -> None:
        """Network trouble: try again in COPY_RETRY. The server's NO: back off, and after COPY_GIVE_UP of
        them stop (no next attempt) until the user retries, saying so in the copy's error."""
        if not copy_refused(exc):
            self._set(item_id, copy_error=text, next_attempt_at=now + COPY_RETRY)
            return
        refusals += 1
        if refusals >= COPY_GIVE_UP:
            text += f" (refused {refusals} times; no longer tried until you retry it)"
            self._set(item_id, copy_error=text, copy_refusals=refusals, next_attempt_at=None)
            return
        delay = COPY_REFUSED_RETRY[min(refusals, len(COPY_REFUSED_RETRY)) - 1]
        self._set(item_id, copy_error=text, copy_refusals=refusals, next_attempt_at=now + delay)


def _rset(smtp: smtplib.SMTP) -> None:
    try:
        smtp.rset()
    except (smtplib.SMTPException, OSError):
        pass


def _quit(smtp: smtplib.SMTP | None) -> None:
    if smtp is None:
        return
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()
