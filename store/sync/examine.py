"""EXAMINE with QRESYNC and the FETCH of a folder's first new messages in one flight (RFC 7162, RFC 3501
5.5: the server runs pipelined commands in order). A folder with a few new messages then costs one round
trip for its flag changes, its expunges and those messages with their first bytes, and the next folder's
flight can be sent before this one's messages are parsed and stored (store/sync/folders.py)."""

from __future__ import annotations

import imaplib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from store.sync.imap import HEADER_ITEMS, FolderStatus, parse_simple_fetch, parse_uid_set

if TYPE_CHECKING:
    from store.sync.imap import Session


def new_items(session: Session, prefix: int) -> list[str]:
    """The items of `Session.fetch_new`: the header fields and the first *prefix* bytes of each message."""
    items = [i for i in HEADER_ITEMS if i != "BODY.PEEK[HEADER]"] + [f"BODY.PEEK[]<0.{prefix}>"]
    return items + (["MODSEQ"] if session.condstore else [])


@dataclass(frozen=True)
class Flight:
    """An EXAMINE (QRESYNC) and maybe a UID FETCH of the folder's first new messages, sent and not yet read.

    The sync sends the next folder's flight while it still parses and stores the folder it has read, so
    the server works on one folder while this process works on the other."""

    folder: str
    uidvalidity: int
    examine: str  # the commands' tags
    fetch: str | None
    uids: str | None
    items: tuple[str, ...]


def send_examine(
    session: Session, folder: str, uidvalidity: int, modseq: int, uids: str | None, prefix: int
) -> Flight:
    """Send EXAMINE *folder* (QRESYNC since *modseq*) and, with *uids*, the UID FETCH of `fetch_new`
    without waiting; `read_examine` reads the answers. Nothing else may be sent on the session before."""
    client = session.client
    imap = client._imap
    imap.untagged_responses = {}
    imap.is_readonly = True
    items = new_items(session, prefix) if uids else []
    name = client._normalise_folder(folder)
    examine = imap._command("EXAMINE", name, f"(QRESYNC ({uidvalidity} {modseq}))")
    fetch = None
    if uids:
        imap.state = "SELECTED"  # imaplib sends UID FETCH only then; the server runs it after the EXAMINE
        fetch = imap._command("UID", "FETCH", uids, "(" + " ".join(items) + ")")
    flight = Flight(folder, uidvalidity, examine, fetch, uids, tuple(items))
    session.flight = flight  # nothing else may be sent until read_examine
    return flight


def read_examine(
    session: Session, flight: Flight
) -> tuple[FolderStatus, dict[int, dict[bytes, Any]], set[int], dict[int, dict[bytes, Any]] | None]:
    """The answers to a flight: the folder's status, the flags changed and the UIDs vanished since the
    flight's modseq, and the new messages as `Session.fetch_new` returns them, or None when the folder's
    UIDVALIDITY is not the flight's any more (their UIDs name other messages then; changes are then
    empty too) or when the flight asked for none. A refused EXAMINE raises IMAPClientError, after the
    FETCH's answer has been read, so the session can go on."""
    from imapclient.exceptions import IMAPClientError

    client = session.client
    imap = client._imap
    session.flight = None
    try:
        typ, data = imap._command_complete("EXAMINE", flight.examine)
    except imaplib.IMAP4.abort:
        raise
    except imaplib.IMAP4.error as exc:  # BAD
        typ, data = "BAD", [str(exc).encode()]
    if typ != "OK":  # no folder is selected now, so the FETCH fails too: read its answer, report the NO
        imap.state, session.selected = "AUTH", None
        if flight.fetch is not None:
            try:
                imap._command_complete("FETCH", flight.fetch)
            except imaplib.IMAP4.abort:
                raise
            except imaplib.IMAP4.error:
                pass
        imap.untagged_responses = {}
        raise IMAPClientError(f"select failed: {data}")
    imap.state = "SELECTED"
    changed = parse_simple_fetch(imap.untagged_responses.pop("FETCH", [])) or {}
    vanished: set[int] = set()
    for line in imap.untagged_responses.pop("VANISHED", []):
        text = line.decode() if isinstance(line, bytes) else str(line)
        vanished |= parse_uid_set(text.replace("(EARLIER)", "").strip())
    resp = client._process_select_response(imap.untagged_responses)
    session.selected = flight.folder
    status = FolderStatus(
        int(resp.get(b"UIDVALIDITY", 0)),
        int(resp.get(b"UIDNEXT", 0) or 0),
        int(resp.get(b"EXISTS", 0)),
        int(resp[b"HIGHESTMODSEQ"]) if b"HIGHESTMODSEQ" in resp else None,
    )
    new = session.read_fetch(flight.fetch, list(flight.items)) if flight.fetch is not None else None
    if status.uidvalidity != flight.uidvalidity:
        return status, {}, set(), None
    return status, changed, vanished, new
