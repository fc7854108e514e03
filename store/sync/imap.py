"""The IMAP side of a sync: one logged-in session and the few commands the engine needs, in UID windows."""

from __future__ import annotations

import re
import types
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from imapclient import IMAPClient

    from store.sync.examine import Flight

HEADER_ITEMS = ["UID", "FLAGS", "RFC822.SIZE", "INTERNALDATE", "BODY.PEEK[HEADER]"]
BODY_ITEMS = ["UID", "BODY.PEEK[]"]
SEARCH_WINDOW = 50_000  # UIDs per windowed UID SEARCH: its one response line stays far below 1 MB
_SIMPLE_ITEMS = frozenset(
    {"UID", "FLAGS", "RFC822.SIZE", "INTERNALDATE", "MODSEQ", "BODY.PEEK[HEADER]", "BODY.PEEK[]"}
)
_UID = re.compile(rb"\bUID (\d+)")
_FLAGS = re.compile(rb"\bFLAGS \(([^)]*)\)")
_SIZE = re.compile(rb"\bRFC822\.SIZE (\d+)")
_MODSEQ = re.compile(rb"\bMODSEQ \((\d+)\)")
_DATE = re.compile(rb'\bINTERNALDATE "([^"]*)"')


def _literal_key(prefix: bytes) -> bytes | None:
    """The item name before a literal: the word before a final ` {n}` (what `(\\S+) \\{\\d+\\}$` finds, see
    tests/unit/test_parse.py), without a regex that would start a trial at every byte of the line."""
    body = prefix[:-1] if prefix.endswith(b"\n") else prefix  # `$` also matches before a final newline
    brace = body.rfind(b" {")
    if brace <= 0 or not body.endswith(b"}") or not body[brace + 2 : -1].isdigit():
        return None
    words = body[:brace].rsplit(None, 1)
    if not words or body[brace - 1 : brace].isspace():
        return None
    return words[-1]


def parse_simple_fetch(data: list[Any]) -> dict[int, dict[bytes, Any]] | None:
    """FETCH responses of plain items (no BODYSTRUCTURE or ENVELOPE) parsed with a few regular expressions,
    several times faster than the general parser; None when a response does not fit (then use that one)."""
    out: dict[int, dict[bytes, Any]] = {}
    text: list[bytes] = []
    item: dict[bytes, Any] = {}
    for piece in data:
        if isinstance(piece, tuple):
            prefix, literal = piece
            text.append(prefix)
            key = _literal_key(prefix)
            if key is None:
                return None
            item[key.upper()] = literal
            continue
        if piece is None:
            continue
        text.append(piece)
        line = b" ".join(text)
        text = []
        uid = _UID.search(line)
        if uid is not None:
            m = _FLAGS.search(line)
            if m is not None:
                item[b"FLAGS"] = tuple(m.group(1).split())
            m = _SIZE.search(line)
            if m is not None:
                item[b"RFC822.SIZE"] = int(m.group(1))
            m = _MODSEQ.search(line)
            if m is not None:
                item[b"MODSEQ"] = (int(m.group(1)),)
            m = _DATE.search(line)
            if m is not None:
                item[b"INTERNALDATE"] = m.group(1)
            out.setdefault(int(uid.group(1)), {}).update(item)
        item = {}
    return out


@dataclass(frozen=True)
class RemoteFolder:
    """A selectable folder as LIST shows it (name decoded from modified UTF-7)."""

    name: str
    delimiter: str
    flags: tuple[str, ...]


@dataclass(frozen=True)
class FolderStatus:
    """STATUS of a folder: enough to tell whether anything changed since the last sync."""

    uidvalidity: int
    uidnext: int
    messages: int
    highestmodseq: int | None


def uid_set(uids: Iterable[int]) -> str:
    """A compact IMAP sequence set ('1:5,7,9:12') of sorted UIDs."""
    out: list[str] = []
    start = prev = None
    for uid in sorted(set(uids)):
        if start is None:
            start = prev = uid
        elif uid == prev + 1:
            prev = uid
        else:
            out.append(f"{start}:{prev}" if start != prev else str(start))
            start = prev = uid
    if start is not None:
        out.append(f"{start}:{prev}" if start != prev else str(start))
    return ",".join(out)


def parse_uid_set(text: str) -> set[int]:
    """The UIDs of a sequence set such as '41,43:116' (used for VANISHED)."""
    out: set[int] = set()
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        lo, _, hi = item.partition(":")
        a, b = int(lo), int(hi or lo)
        out.update(range(min(a, b), max(a, b) + 1))
    return out


def flag_text(flags: Sequence[bytes | str]) -> str:
    """Flags as one space-separated, sorted string (the stored form)."""
    return " ".join(sorted(f.decode("utf-8", "replace") if isinstance(f, bytes) else f for f in flags))


class Session:
    """A logged-in IMAP connection with the extensions the engine may use switched on."""

    def __init__(self, client: IMAPClient, use_condstore: bool = True, use_qresync: bool = True) -> None:
        self.client = client
        client.normalise_times = False
        caps = {c.decode().upper() if isinstance(c, bytes) else c.upper() for c in client.capabilities()}
        self.caps = caps
        self.qresync = use_qresync and use_condstore and "QRESYNC" in caps
        self.condstore = use_condstore and ("CONDSTORE" in caps or self.qresync)
        self.list_status = "LIST-STATUS" in caps
        self.special_use = "SPECIAL-USE" in caps
        self.idle = "IDLE" in caps
        if self.qresync:
            client.enable("QRESYNC")
        elif self.condstore:
            client.enable("CONDSTORE")
        self.selected: str | None = None
        self.flight: Flight | None = None  # an EXAMINE sent ahead and not read yet (examine.py)
        self._hold_while_in_flight()

    def _hold_while_in_flight(self) -> None:
        """Refuse any command while a flight is in the air: the server runs commands in order, so a FETCH
        sent then would run in the next folder, which the flight's EXAMINE opens. A programming error, so it
        fails loudly instead of storing one folder's messages under another."""
        imap, client = self.client._imap, self.client
        command, raw_command = imap._command, client._raw_command

        def check(name: object) -> None:
            if self.flight is not None and name not in ("LOGOUT", b"LOGOUT"):
                raise RuntimeError(f"{name!r} sent while the EXAMINE of {self.flight.folder} is in flight")

        def held_command(_imap: object, name: str, *args: object) -> object:
            check(name)
            return command(name, *args)

        def held_raw_command(name: bytes, args: object, uid: bool = True) -> object:
            check(name)
            return raw_command(name, args, uid=uid)

        imap._command = types.MethodType(held_command, imap)  # bound, as imaplib compares its type
        client._raw_command = held_raw_command

    # -- folders -----------------------------------------------------------------------------------

    def folders_with_status(self) -> tuple[list[RemoteFolder], dict[str, FolderStatus]]:
        """Every selectable folder and, with LIST-STATUS, its status from the same round trip."""
        if not self.list_status:
            return self._list(), {}
        items = "MESSAGES UIDNEXT UIDVALIDITY" + (" HIGHESTMODSEQ" if self.condstore else "")
        imap = self.client._imap
        imap.untagged_responses.pop("STATUS", None)
        # With RETURN options a server names the special-use folders (\\Sent …) only when asked to.
        special = "SPECIAL-USE " if self.special_use else ""
        typ, data = imap._simple_command("LIST", '""', '"*"', "RETURN", f"({special}STATUS ({items}))")
        typ, data = imap._untagged_response(typ, data, "LIST")
        if typ != "OK":
            return self._list(), {}
        folders = self._folders_from(data)
        statuses: dict[str, FolderStatus] = {}
        from imapclient.imap_utf7 import decode as decode_utf7
        from imapclient.response_parser import parse_response

        for line in imap.untagged_responses.pop("STATUS", []):
            parsed = parse_response([line] if isinstance(line, bytes) else list(line))
            name = parsed[0]
            name = decode_utf7(name) if isinstance(name, bytes) else str(name)
            statuses[name] = _status_of(dict(_pairs(parsed[1])))
        return folders, statuses

    def _list(self) -> list[RemoteFolder]:
        return [
            RemoteFolder(name, _delim(delim), tuple(_s(f) for f in flags))
            for flags, delim, name in self.client.list_folders()
            if not _unselectable(flags)
        ]

    def _folders_from(self, data: list[Any]) -> list[RemoteFolder]:
        out = []
        for flags, delim, name in self.client._proc_folder_list(data):
            if not _unselectable(flags):
                out.append(RemoteFolder(str(name), _delim(delim), tuple(_s(f) for f in flags)))
        return out

    def status(self, folder: str) -> FolderStatus:
        """STATUS of one folder."""
        what = ["MESSAGES", "UIDNEXT", "UIDVALIDITY"] + (["HIGHESTMODSEQ"] if self.condstore else [])
        return _status_of(self.client.folder_status(folder, what))

    def select(self, folder: str, writable: bool = False) -> FolderStatus:
        """SELECT (or EXAMINE) a folder and return its status as the server reported it."""
        resp = self.client.select_folder(folder, readonly=not writable)
        self.selected = folder
        return FolderStatus(
            int(resp.get(b"UIDVALIDITY", 0)),
            int(resp.get(b"UIDNEXT", 0) or 0),
            int(resp.get(b"EXISTS", 0)),
            int(resp[b"HIGHESTMODSEQ"]) if self.condstore and b"HIGHESTMODSEQ" in resp else None,
        )

    # -- reading -----------------------------------------------------------------------------------

    def fetch(
        self, uids: str, items: Sequence[str], modifiers: Sequence[str] = ()
    ) -> dict[int, dict[bytes, Any]]:
        """UID FETCH over a UID set given as text (imapclient's fetch only takes lists of numbers)."""
        return self.read_fetch(self.send_fetch(uids, items, modifiers), items)

    def send_fetch(self, uids: str, items: Sequence[str], modifiers: Sequence[str] = ()) -> str:
        """Send a UID FETCH without waiting for its answer (read it with read_fetch); returns its tag.
        Nothing else may be sent on the session until that answer is read."""
        args = ["UID", "FETCH", uids, "(" + " ".join(items) + ")"]
        if modifiers:
            args.append("(" + " ".join(modifiers) + ")")
        return self.client._imap._command(*args)

    def read_fetch(self, tag: str, items: Sequence[str]) -> dict[int, dict[bytes, Any]]:
        """The answer to the UID FETCH sent as *tag*, by UID."""
        from imapclient.response_parser import parse_fetch_response

        imap = self.client._imap
        typ, data = imap._command_complete("FETCH", tag)
        self.client._checkok("fetch", typ, data)
        typ, data = imap._untagged_response(typ, data, "FETCH")
        if data == [None]:
            return {}
        if all(i.split("<")[0] in _SIMPLE_ITEMS for i in items):
            fast = parse_simple_fetch(data)
            if fast is not None:
                return fast
        return parse_fetch_response(data, False, True)

    def search_uids(self, lo: int, hi: int, since: date | None = None) -> list[int]:
        """UIDs in lo..hi (optionally SINCE a date), searched in windows so no response line grows huge."""
        out: list[int] = []
        for start in range(lo, hi + 1, SEARCH_WINDOW):
            end = min(hi, start + SEARCH_WINDOW - 1)
            criteria: list[Any] = ["UID", f"{start}:{end}"]
            if since is not None:
                criteria += ["SINCE", since]
            out.extend(int(u) for u in self.client.search(criteria))
        return sorted(u for u in out if lo <= u <= hi)

    def fetch_headers(self, uids: str) -> dict[int, dict[bytes, Any]]:
        """Flags, size, internal date and the header block of the messages in a UID set."""
        return self.read_headers(self.send_headers(uids))

    def send_headers(self, uids: str) -> str:
        """Ask for fetch_headers' items without waiting (read the answer with read_headers)."""
        return self.send_fetch(uids, self._header_items())

    def read_headers(self, tag: str) -> dict[int, dict[bytes, Any]]:
        return self.read_fetch(tag, self._header_items())

    def _header_items(self) -> list[str]:
        return HEADER_ITEMS + (["MODSEQ"] if self.condstore else [])

    def fetch_new(self, uids: str, prefix: int) -> dict[int, dict[bytes, Any]]:
        """Like fetch_headers, but with the first *prefix* bytes of each message instead of its header, so
        a small new message arrives whole in the same round trip (key b"BODY[]<0>")."""
        items = [i for i in HEADER_ITEMS if i != "BODY.PEEK[HEADER]"] + [f"BODY.PEEK[]<0.{prefix}>"]
        return self.fetch(uids, items + (["MODSEQ"] if self.condstore else []))

    def select_qresync(
        self, folder: str, uidvalidity: int, modseq: int, writable: bool = False
    ) -> tuple[FolderStatus, dict[int, dict[bytes, Any]], set[int]]:
        """SELECT with QRESYNC (RFC 7162): the folder's status, the flags changed since *modseq* and the UIDs
        expunged since, all in one round trip (nothing changed is reported if UIDVALIDITY differs)."""
        from imapclient.exceptions import IMAPClientError

        imap = self.client._imap
        imap.untagged_responses = {}
        imap.is_readonly = not writable  # as imaplib's own select() does; EXAMINE answers READ-ONLY
        name = self.client._normalise_folder(folder)
        typ, data = imap._simple_command(
            "SELECT" if writable else "EXAMINE", name, f"(QRESYNC ({uidvalidity} {modseq}))"
        )
        if typ != "OK":
            raise IMAPClientError(f"select failed: {data}")
        imap.state = "SELECTED"
        fetched = parse_simple_fetch(imap.untagged_responses.pop("FETCH", [])) or {}
        vanished: set[int] = set()
        for line in imap.untagged_responses.pop("VANISHED", []):
            text = line.decode() if isinstance(line, bytes) else str(line)
            vanished |= parse_uid_set(text.replace("(EARLIER)", "").strip())
        resp = self.client._process_select_response(imap.untagged_responses)
        self.selected = folder
        status = FolderStatus(
            int(resp.get(b"UIDVALIDITY", 0)),
            int(resp.get(b"UIDNEXT", 0) or 0),
            int(resp.get(b"EXISTS", 0)),
            int(resp[b"HIGHESTMODSEQ"]) if b"HIGHESTMODSEQ" in resp else None,
        )
        if status.uidvalidity != uidvalidity:
            return status, {}, set()
        return status, fetched, vanished

    def fetch_flags(self, uids: str) -> dict[int, dict[bytes, Any]]:
        """Flags (and MODSEQ) of the messages in a UID set."""
        return self.fetch(uids, ["UID", "FLAGS"] + (["MODSEQ"] if self.condstore else []))

    def changed_since(self, hi: int, modseq: int) -> tuple[dict[int, dict[bytes, Any]], set[int] | None]:
        """Flags changed since *modseq* among UIDs 1..hi, and (with QRESYNC) the UIDs expunged since."""
        imap = self.client._imap
        imap.untagged_responses.pop("VANISHED", None)
        modifiers = [f"CHANGEDSINCE {modseq}"] + (["VANISHED"] if self.qresync else [])
        changed = self.fetch(f"1:{hi}", ["UID", "FLAGS", "MODSEQ"], modifiers)
        vanished: set[int] | None = None
        if self.qresync:
            vanished = set()
            for line in imap.untagged_responses.pop("VANISHED", []):
                text = line.decode() if isinstance(line, bytes) else str(line)
                vanished |= parse_uid_set(text.replace("(EARLIER)", "").strip())
        return changed, vanished

    def fetch_bodies(self, uids: str) -> dict[int, bytes]:
        """Whole raw messages (BODY.PEEK[], so nothing is marked read) of a UID set."""
        return self.read_bodies(self.send_bodies(uids))

    def send_bodies(self, uids: str) -> str:
        """Ask for the whole raw messages of a UID set without waiting (the server prepares them while the
        caller works on something else); read them with read_bodies."""
        return self.send_fetch(uids, BODY_ITEMS)

    def read_bodies(self, tag: str) -> dict[int, bytes]:
        """The raw messages asked for by send_bodies, by UID."""
        data = self.read_fetch(tag, BODY_ITEMS)
        return {uid: d[b"BODY[]"] for uid, d in data.items() if b"BODY[]" in d}

    def fetch_partial(self, uid: int, offset: int, length: int) -> bytes | None:
        """*length* bytes of a raw message from *offset* (None when the message is gone)."""
        data = self.fetch(str(uid), ["UID", f"BODY.PEEK[]<{offset}.{length}>"])
        item = data.get(uid)
        if item is None:
            return None
        for key, value in item.items():
            if key.startswith(b"BODY[]"):
                return value or b""
        return None

    def fetch_section(self, uid: int, section: str) -> bytes | None:
        """One MIME part of a message, still transfer-encoded."""
        data = self.fetch(str(uid), ["UID", f"BODY.PEEK[{section}]"])
        item = data.get(uid) or {}
        return item.get(f"BODY[{section}]".encode())

    def bodystructure(self, uid: int) -> Any:
        """The server's BODYSTRUCTURE of one message (imapclient BodyData), or None."""
        item = self.fetch(str(uid), ["UID", "BODYSTRUCTURE"]).get(uid) or {}
        return item.get(b"BODYSTRUCTURE")

    # -- writing (only flags the user changed) -----------------------------------------------------

    def store_flags(self, uids: Sequence[int], add: Sequence[str], remove: Sequence[str]) -> None:
        """Add and remove flags on messages of the selected folder."""
        if add:
            self.client.add_flags(list(uids), list(add), silent=True)
        if remove:
            self.client.remove_flags(list(uids), list(remove), silent=True)

    def close(self) -> None:
        """Log out, ignoring a connection that is already broken."""
        try:
            self.client.logout()
        except Exception:  # noqa: BLE001 - the connection may already be gone
            try:
                self.client.shutdown()
            except Exception:  # noqa: BLE001
                pass


def _s(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _delim(value: bytes | str | None) -> str:
    return _s(value) if value else "/"


def _unselectable(flags: Sequence[bytes | str]) -> bool:
    names = {_s(f).lower() for f in flags}
    return "\\noselect" in names or "\\nonexistent" in names


def _pairs(items: Sequence[Any]) -> Iterable[tuple[bytes, Any]]:
    for i in range(0, len(items) - 1, 2):
        key = items[i]
        yield (key.upper() if isinstance(key, bytes) else str(key).upper().encode()), items[i + 1]


def _status_of(raw: dict[Any, Any]) -> FolderStatus:
    status = {(k.upper() if isinstance(k, bytes) else str(k).upper().encode()): v for k, v in raw.items()}
    modseq = status.get(b"HIGHESTMODSEQ")
    return FolderStatus(
        int(status.get(b"UIDVALIDITY", 0)),
        int(status.get(b"UIDNEXT", 0) or 0),
        int(status.get(b"MESSAGES", 0)),
        int(modseq) if modseq is not None else None,
    )
