"""How a delivery attempt that did not end in 250 is classified, and when it is tried again.

Temporary (4xx, network trouble, timeouts) → queued again after a backoff; permanent (5xx, refused
recipient, bad certificate) → failed; auth (refused login, no right) → failed and the mailbox needs
attention; uncertain (the connection broke after DATA) → check. `store/delivery.py` applies it.
"""

from __future__ import annotations

import socket
import ssl
from datetime import timedelta

from store.errors import StoreError

BACKOFF = (60, 120, 300, 600, 1800)  # seconds before the 1st, 2nd, … retry after a temporary failure
GIVE_UP_AFTER = timedelta(days=3)  # a message still not accepted after this fails with the last reason
COPY_RETRY = timedelta(minutes=5)  # between attempts to save a Sent copy (network trouble: tried again)
COPY_REFUSED_RETRY = (timedelta(hours=1), timedelta(hours=6))  # after the server's 1st and 2nd NO
COPY_GIVE_UP = 3  # the server's NOs (quota, size limit) after which the copy waits for the user


class Failure(Exception):
    """A delivery attempt that did not end in 250, classified: temporary, permanent, auth or uncertain."""

    def __init__(self, kind: str, text: str) -> None:
        super().__init__(text)
        self.kind, self.text = kind, text


def _reply_text(code: int, reply: bytes | str) -> str:
    from store.net import server_text

    return f"{code} {server_text(reply)}".strip()


def classify(exc: BaseException) -> Failure:
    """Sort a failure: 4xx, network trouble and timeouts are temporary; 5xx and refused recipients are
    permanent (with the server's words); a refused login is auth; anything else is permanent."""
    import smtplib  # here, not at the top: `mailroom sync --once` reads COPY_GIVE_UP and sends nothing

    from store.errors import Invalid, NotFound
    from store.net import NetError

    if isinstance(exc, Failure):
        return exc
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        parts = [f"{rcpt}: {_reply_text(code, msg)}" for rcpt, (code, msg) in exc.recipients.items()]
        permanent = any(code >= 500 for code, _ in exc.recipients.values())
        return Failure("permanent" if permanent else "temporary", "Recipient refused: " + "; ".join(parts))
    if isinstance(exc, smtplib.SMTPResponseException):
        text = _reply_text(exc.smtp_code, exc.smtp_error)
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            return Failure("auth", f"SMTP login refused: {text}")
        if 400 <= exc.smtp_code < 500 or exc.smtp_code < 200:
            return Failure("temporary", f"The server said: {text}")
        return Failure("permanent", f"The server refused the message: {text}")
    if isinstance(exc, NetError):
        if exc.kind == "auth":
            return Failure("auth", str(exc))
        if exc.kind in ("cert", "starttls"):
            return Failure("permanent", str(exc))
        return Failure("temporary", str(exc))
    if isinstance(exc, Invalid | NotFound):
        return Failure("auth", str(exc))
    if isinstance(
        exc,
        smtplib.SMTPServerDisconnected
        | socket.timeout
        | TimeoutError
        | ConnectionError
        | ssl.SSLError
        | OSError,
    ):
        return Failure("temporary", f"Connection to the SMTP server lost: {type(exc).__name__}: {exc}")
    if isinstance(exc, StoreError):
        return Failure("permanent", str(exc))
    return Failure("permanent", f"{type(exc).__name__}: {exc}")


def backoff(attempts: int) -> timedelta:
    """How long to wait after the *attempts*-th failed attempt."""
    return timedelta(seconds=BACKOFF[min(max(attempts, 1), len(BACKOFF)) - 1])


def copy_refused(exc: BaseException) -> bool:
    """True when the IMAP server answered the Sent copy with NO or BAD (quota, size, no Sent folder), not
    when the connection failed: only a refusal counts towards giving the copy up."""
    from imapclient.exceptions import IMAPClientAbortError, IMAPClientError

    from store.sent_copy import CopyError

    if isinstance(exc, CopyError):
        return True
    return isinstance(exc, IMAPClientError) and not isinstance(exc, IMAPClientAbortError)
