"""The copy of a sent message: appended to the mailbox's Sent folder over IMAP, then stored like synced mail.

The Sent folder is the one LIST marks `\\Sent` (RFC 6154 SPECIAL-USE), else the first with a usual name,
else a new `Sent`. A copy already there (same Message-ID) is not appended twice, so retrying is safe.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from store.delivery_loop import crash_point
from store.errors import StoreError

if TYPE_CHECKING:
    from imapclient import IMAPClient

    from store.mailboxes import Mailbox
    from store.secrets import SecretStore
    from store.service import Store

SENT_NAMES = (
    "Sent",
    "Sent Items",
    "Sent Messages",
    "Sent Mail",
    "INBOX/Sent",
    "INBOX.Sent",
    "[Gmail]/Sent Mail",
    "Gesendet",
    "Gesendete Elemente",
    "Envoyés",
    "Отправленные",
)
_APPENDUID = re.compile(rb"\[APPENDUID (\d+) (\d+)\]", re.I)


class CopyError(StoreError):
    """The Sent copy could not be saved (the message itself was delivered)."""


class SentFolder:
    """A logged-in IMAP session on one mailbox, ready to save sent messages into its Sent folder."""

    def __init__(self, store: Store, box: Mailbox, client: IMAPClient) -> None:
        self.store, self.box, self.client = store, box, client
        self.name, self.delimiter = find_sent(client)

    @classmethod
    def open(cls, store: Store, box: Mailbox, secrets: SecretStore, timeout: float) -> SentFolder:
        """Log in to the mailbox's IMAP server (TLS, verified) and find its Sent folder."""
        from store.net import Endpoint, imap_login

        secret = store.mailboxes.credentials(box, secrets)
        provider = store.providers.get(box.provider_id)
        client = imap_login(Endpoint.imap_of(provider), box.login, secret, timeout=timeout)
        try:
            return cls(store, box, client)
        except BaseException:
            _logout(client)
            raise

    def save(self, raw: bytes, message_id: str, when: datetime) -> tuple[int, int]:
        """Append *raw* (marked read) unless a message with *message_id* is already there, store it with its
        thread, and return (UIDVALIDITY, UID)."""
        found = self._find(message_id)
        if found is None:
            when = when.replace(tzinfo=UTC) if when.tzinfo is None else when
            reply = self.client.append(self.name, raw, flags=(b"\\Seen",), msg_time=when)
            crash_point("appended")  # test-only (store/delivery_loop.py)
            m = _APPENDUID.search(reply if isinstance(reply, bytes) else str(reply).encode())
            found = (int(m.group(1)), int(m.group(2))) if m else self._find(message_id)
            if found is None:
                raise CopyError(f"The copy appended to {self.name} could not be found again.")
        link(self.store, self.box, self.name, self.delimiter, found[0], found[1], raw)
        return found

    def _find(self, message_id: str) -> tuple[int, int] | None:
        info = self.client.select_folder(self.name, readonly=True)
        uids = self.client.search(["HEADER", "Message-ID", message_id.strip()])
        if not uids:
            return None
        return int(info[b"UIDVALIDITY"]), int(max(uids))

    def close(self) -> None:
        """Log out."""
        _logout(self.client)


def find_sent(client: IMAPClient) -> tuple[str, str]:
    """(name, delimiter) of the Sent folder: SPECIAL-USE `\\Sent`, else a usual name, else a new `Sent`."""
    folders = client.list_folders()
    for flags, delim, name in folders:
        if any((f.decode() if isinstance(f, bytes) else str(f)).lower() == "\\sent" for f in flags):
            return str(name), _text(delim)
    by_lower = {str(name).lower(): (str(name), _text(delim)) for _flags, delim, name in folders}
    for candidate in SENT_NAMES:
        if candidate.lower() in by_lower:
            return by_lower[candidate.lower()]
    client.create_folder("Sent")
    client.subscribe_folder("Sent")
    delim = _text(folders[0][1]) if folders else "/"
    return "Sent", delim


def _text(value: bytes | str | None) -> str:
    if not value:
        return "/"
    return value.decode() if isinstance(value, bytes) else str(value)


def _logout(client: IMAPClient) -> None:
    try:
        client.logout()
    except Exception:  # noqa: BLE001 - the connection may already be gone
        try:
            client.shutdown()
        except Exception:  # noqa: BLE001
            pass


def link(
    store: Store, box: Mailbox, folder: str, delimiter: str, uidvalidity: int, uid: int, raw: bytes
) -> int | None:
    """Store the sent message in the mailbox's Sent folder through the sync engine's writer, so it joins its
    thread at once; returns the stored message id (None when the folder's UIDVALIDITY changed: the next sync
    loads it). The key is the one the sync computes, so syncing the Sent folder later finds it known."""
    from store.sync import writer
    from store.sync.parse import parse_envelope, process, split_header

    fairy = store.engine.raw_connection()
    try:
        conn = fairy.driver_connection
        row = writer.folders(conn, box.id).get(folder)
        if row is None or row.gone:
            row = writer.add_folder(conn, box.id, folder, delimiter)
        elif row.uidvalidity is not None and row.uidvalidity != uidvalidity:
            return None
        end = raw.find(b"\r\n\r\n")
        header = raw[: end + 4] if end >= 0 else split_header(raw)[0]  # as BODY[HEADER]: with the empty line
        envelope = parse_envelope(header, len(raw), None)
        writer.store_headers(
            conn, box.id, row.id, [writer.HeaderRow(uid, "\\Seen", None, len(raw), envelope)], {}
        )
        message_id, loaded = conn.execute(
            "SELECT id, body_loaded FROM messages WHERE dedupe_key = ?", (envelope.dedupe_key,)
        ).fetchone()
        if not loaded:
            writer.store_bodies(conn, [process((message_id, raw))])
        return int(message_id)
    finally:
        fairy.close()
