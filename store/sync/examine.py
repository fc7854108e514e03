"""EXAMINE with QRESYNC and the FETCH of a folder's first new messages in one flight (RFC 7162, RFC 3501
5.5: the server runs pipelined commands in order). A folder with a few new messages then costs one round
trip for its flag changes, its expunges and those messages with their first bytes."""

from __future__ import annotations

import imaplib
from typing import TYPE_CHECKING, Any

from store.sync.imap import HEADER_ITEMS, FolderStatus, parse_simple_fetch, parse_uid_set

if TYPE_CHECKING:
    from store.sync.imap import Session


def new_items(session: Session, prefix: int) -> list[str]:
    """The items of `Session.fetch_new`: the header fields and the first *prefix* bytes of each message."""
    items = [i for i in HEADER_ITEMS if i != "BODY.PEEK[HEADER]"] + [f"BODY.PEEK[]<0.{prefix}>"]
    return items + (["MODSEQ"] if session.condstore else [])


def examine_and_fetch_new(
    session: Session, folder: str, uidvalidity: int, modseq: int, uids: str, prefix: int
) -> tuple[FolderStatus, dict[int, dict[bytes, Any]], set[int], dict[int, dict[bytes, Any]] | None]:
    """`session.select_qresync` (read-only) and `session.fetch_new(uids, prefix)` in one flight.

    Returns the status, the changed flags and the vanished UIDs as select_qresync does, and the new
    messages as fetch_new does, or None when the folder's UIDVALIDITY is not *uidvalidity* any more (their
    UIDs name other messages then). A refused EXAMINE raises IMAP4.error like select_qresync, after the
    FETCH's answer has been read, so the session can go on."""
    from imapclient.exceptions import IMAPClientError

    client = session.client
    imap = client._imap
    imap.untagged_responses = {}
    imap.is_readonly = True
    items = new_items(session, prefix)
    name = client._normalise_folder(folder)
    examine = imap._command("EXAMINE", name, f"(QRESYNC ({uidvalidity} {modseq}))")
    imap.state = "SELECTED"  # imaplib sends UID FETCH only in this state; the server runs it after EXAMINE
    fetch = imap._command("UID", "FETCH", uids, "(" + " ".join(items) + ")")
    try:
        typ, data = imap._command_complete("EXAMINE", examine)
    except imaplib.IMAP4.abort:
        raise
    except imaplib.IMAP4.error as exc:  # BAD
        typ, data = "BAD", [str(exc).encode()]
    if typ != "OK":  # no folder is selected now, so the FETCH fails too: read its answer, report the NO
        imap.state, session.selected = "AUTH", None
        try:
            imap._command_complete("FETCH", fetch)
        except imaplib.IMAP4.abort:
            raise
        except imaplib.IMAP4.error:
            pass
        imap.untagged_responses = {}
        raise IMAPClientError(f"select failed: {data}")
    changed = parse_simple_fetch(imap.untagged_responses.pop("FETCH", [])) or {}
    vanished: set[int] = set()
    for line in imap.untagged_responses.pop("VANISHED", []):
        text = line.decode() if isinstance(line, bytes) else str(line)
        vanished |= parse_uid_set(text.replace("(EARLIER)", "").strip())
    resp = client._process_select_response(imap.untagged_responses)
    session.selected = folder
    status = FolderStatus(
        int(resp.get(b"UIDVALIDITY", 0)),
        int(resp.get(b"UIDNEXT", 0) or 0),
        int(resp.get(b"EXISTS", 0)),
        int(resp[b"HIGHESTMODSEQ"]) if b"HIGHESTMODSEQ" in resp else None,
    )
    new = session.read_fetch(fetch, items)
    if status.uidvalidity != uidvalidity:
        return status, {}, set(), None
    return status, changed, vanished, new
