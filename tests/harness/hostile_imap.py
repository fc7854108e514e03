"""The IMAP half of the hostile server: an honest STARTTLS preface and a small mailbox served to a real
client (the sync engine), which can break one FETCH on purpose."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from tests.harness.ca import CertFiles
from tests.harness.hostile import Command, Peer, ScriptError, Step, b64_text, expect, send, tls


def imap_starttls_preface(
    cert: CertFiles, capabilities: str = "IMAP4rev1 STARTTLS LOGINDISABLED"
) -> list[Step]:
    """An honest IMAP greeting, CAPABILITY and STARTTLS, then the TLS handshake with *cert*."""
    return [
        send("* OK hostile IMAP ready"),
        expect("CAPABILITY", f"* CAPABILITY {capabilities}", "{tag} OK CAPABILITY done"),
        expect("STARTTLS", "{tag} OK begin TLS now"),
        tls(cert),
    ]


# -- a small mailbox served over IMAP ----------------------------------------------------------------


@dataclass
class FakeMessage:
    """One message of a served folder."""

    uid: int
    raw: bytes
    flags: list[str] = field(default_factory=list)
    internaldate: str = "30-May-2025 10:00:00 +0000"

    @property
    def header(self) -> bytes:
        """The header block with its blank line."""
        head, sep, _ = self.raw.partition(b"\r\n\r\n")
        return head + sep


@dataclass
class FakeFolder:
    """A served folder; *wire_name* overrides how LIST shows the name (e.g. a literal with CR/LF)."""

    name: str
    messages: list[FakeMessage] = field(default_factory=list)
    uidvalidity: int = 7
    wire_name: bytes | None = None
    select_reply: str = ""  # a tagged reply that replaces the normal SELECT answer (e.g. a referral)
    fetch_reply: str = ""  # a tagged reply that replaces the answer to a UID FETCH (e.g. NO [SERVERBUG])…
    fetch_refused: str = ""  # …only to those asking for an item containing this (e.g. "BODY.PEEK[]")
    append_reply: str = ""  # a tagged reply that refuses an APPEND (e.g. NO [OVERQUOTA])

    @property
    def uidnext(self) -> int:
        """The UID the next message would get."""
        return max((m.uid for m in self.messages), default=0) + 1


@dataclass(frozen=True)
class Fault:
    """Misbehaviour in one FETCH response of a served session.

    kind: 'truncate' sends half the literal and hangs up; 'lie_short' announces half the literal's size and
    sends it all; 'lie_long' announces more than it sends, then hangs up; 'drop_after' sends the response,
    then hangs up before the tagged OK; 'short' sends a well-framed literal of only the first half.
    phase: 'header' (BODY[HEADER]), 'body' (BODY[]) or 'partial' (BODY[]<offset> past the first chunk).
    """

    kind: Literal["truncate", "lie_short", "lie_long", "drop_after", "short"]
    phase: Literal["header", "body", "partial"]
    uid: int


@dataclass
class FakeMailbox:
    """Folders, the one login it accepts, and what it advertises after TLS."""

    login: str
    password: str
    folders: dict[str, FakeFolder] = field(default_factory=dict)
    capabilities: str = "IMAP4rev1 LITERAL+ UIDPLUS"

    def folder(self, name: str) -> FakeFolder:
        """The folder of that name, created empty when missing."""
        return self.folders.setdefault(name, FakeFolder(name))

    def add(self, folder: str, raw: bytes, flags: Iterable[str] = ()) -> FakeMessage:
        """Append a message to a folder and return it."""
        f = self.folder(folder)
        message = FakeMessage(f.uidnext, raw, list(flags))
        f.messages.append(message)
        return message


class _Hangup(Exception):
    """A fault ended the session."""


def imap_session(mailbox: FakeMailbox, fault: Fault | None = None, greet: bool = False) -> Step:
    """Serve *mailbox* (LOGIN, AUTHENTICATE PLAIN, LIST, STATUS, SELECT, UID SEARCH/FETCH/STORE, LOGOUT)."""

    def step(peer: Peer) -> None:
        if greet:
            peer.send("* OK hostile IMAP ready")
        state = {"selected": None, "authenticated": False}
        try:
            while True:
                try:
                    command = peer.read_command()
                except ScriptError:
                    return
                if not _serve(peer, mailbox, state, command, fault):
                    return
        except _Hangup:
            peer.close()

    return step


def _serve(peer: Peer, box: FakeMailbox, state: dict, c: Command, fault: Fault | None) -> bool:
    name = c.name
    if name == "CAPABILITY":
        peer.send(f"* CAPABILITY {box.capabilities}", "{tag} OK done")
    elif name == "LOGIN":
        words = _astrings(c.raw.split(b" ", 2)[2])
        ok = len(words) == 2 and words[0] == box.login and words[1] == box.password
        state["authenticated"] = ok
        peer.send(
            f"{{tag}} OK [CAPABILITY {box.capabilities}] logged in"
            if ok
            else "{tag} NO [AUTHENTICATIONFAILED] no"
        )
    elif name == "AUTHENTICATE":
        peer.send("+ ")
        given = b64_text(peer.read_line().decode().strip()).split("\0")
        ok = given[-2:] == [box.login, box.password]
        state["authenticated"] = ok
        peer.send("{tag} OK logged in" if ok else "{tag} NO [AUTHENTICATIONFAILED] no")
    elif name == "LOGOUT":
        peer.send("* BYE bye", "{tag} OK bye")
        return False
    elif name in ("NOOP", "CHECK", "ENABLE", "ID"):
        peer.send("{tag} OK done")
    elif not state["authenticated"]:
        peer.send("{tag} NO log in first")
    elif name in ("LIST", "LSUB"):
        lines = []
        for f in box.folders.values():
            raw_name = f.wire_name if f.wire_name is not None else f.name.encode()
            if any(c in raw_name for c in b'\r\n\x00"\\') or not raw_name.isascii():
                wire = b"{%d}\r\n" % len(raw_name) + raw_name
            else:
                wire = b'"' + raw_name + b'"'
            lines.append(b'* LIST (\\HasNoChildren) "/" ' + wire)
        peer.send(*lines, "{tag} OK LIST done")
    elif name == "STATUS":
        f = _folder(box, c.raw)
        if f is None:
            peer.send("{tag} NO no such folder")
        else:
            peer.send(
                f"* STATUS {_quoted(f.name)} (MESSAGES {len(f.messages)} UIDNEXT {f.uidnext} "
                f"UIDVALIDITY {f.uidvalidity})",
                "{tag} OK STATUS done",
            )
    elif name in ("SELECT", "EXAMINE"):
        f = _folder(box, c.raw)
        if f is None:
            peer.send("{tag} NO no such folder")
        elif f.select_reply:
            state["selected"] = None  # a failed SELECT leaves no folder selected (RFC 3501 6.3.1)
            peer.send(f.select_reply)
        else:
            state["selected"] = f
            mode = "READ-ONLY" if name == "EXAMINE" else "READ-WRITE"
            peer.send(
                f"* {len(f.messages)} EXISTS",
                "* 0 RECENT",
                f"* OK [UIDVALIDITY {f.uidvalidity}] ok",
                f"* OK [UIDNEXT {f.uidnext}] ok",
                "* FLAGS (\\Seen \\Answered \\Flagged \\Deleted \\Draft)",
                f"{{tag}} OK [{mode}] selected",
            )
    elif name in ("CLOSE", "UNSELECT"):
        state["selected"] = None
        peer.send("{tag} OK closed")
    elif name == "UID SEARCH" and state["selected"] is not None:
        uids = _uids_in(c.args, state["selected"])
        peer.send("* SEARCH" + "".join(f" {u}" for u in uids), "{tag} OK SEARCH done")
    elif name == "UID FETCH" and state["selected"] is not None:
        f = state["selected"]
        if f.fetch_reply and f.fetch_refused.upper() in c.args.upper():
            peer.send(f.fetch_reply)
        else:
            _fetch(peer, f, c, fault)
    elif name == "APPEND":
        _append(peer, box, c)
    elif name == "UID STORE" and state["selected"] is not None:
        _store(state["selected"], c)
        peer.send("{tag} OK STORE done")
    else:
        peer.send("{tag} BAD not served here")
    return True


def _append(peer: Peer, box: FakeMailbox, c: Command) -> None:
    f = _folder(box, c.raw)
    literal = re.search(rb"\{(\d+)\+?\}\r\n", c.raw)
    if f is None:
        peer.send("{tag} NO [TRYCREATE] no such folder")
    elif f.append_reply:
        peer.send(f.append_reply)
    elif literal is None:
        peer.send("{tag} BAD no message")
    else:
        data = c.raw[literal.end() : literal.end() + int(literal.group(1))]
        message = box.add(f.name, data, ["\\Seen"])
        peer.send(f"{{tag}} OK [APPENDUID {f.uidvalidity} {message.uid}] appended")


def _quoted(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _astrings(data: bytes) -> list[str]:
    """The astrings of a command tail: quoted strings, literals ({n}\\r\\n...) and atoms."""
    out: list[str] = []
    i = 0
    data = data.rstrip(b"\r\n")
    while i < len(data):
        ch = data[i : i + 1]
        if ch == b" ":
            i += 1
        elif ch == b'"':
            j, buf = i + 1, bytearray()
            while j < len(data) and data[j : j + 1] != b'"':
                if data[j : j + 1] == b"\\":
                    j += 1
                buf += data[j : j + 1]
                j += 1
            out.append(buf.decode("utf-8", "replace"))
            i = j + 1
        elif ch == b"{":
            close_at = data.index(b"}", i)
            size = int(data[i + 1 : close_at].rstrip(b"+"))
            start = close_at + 3
            out.append(data[start : start + size].decode("utf-8", "replace"))
            i = start + size
        else:
            j = data.find(b" ", i)
            j = len(data) if j < 0 else j
            out.append(data[i:j].decode("utf-8", "replace"))
            i = j
    return out


def _folder(box: FakeMailbox, raw: bytes) -> FakeFolder | None:
    from imapclient.imap_utf7 import decode as decode_utf7

    words = _astrings(raw.split(b" ", 2)[2])
    if not words:
        return None
    wanted = decode_utf7(words[0].encode())
    for f in box.folders.values():
        if f.name == wanted or (f.name.upper() == "INBOX" and wanted.upper() == "INBOX"):
            return f
    return None


def _uid_set(text: str, folder: FakeFolder) -> set[int]:
    have = {m.uid for m in folder.messages}
    top = max(have, default=0)
    out: set[int] = set()
    for part in text.split(","):
        lo, _, hi = part.partition(":")
        a = top if lo == "*" else int(lo)
        b = a if not hi else (top if hi == "*" else int(hi))
        out.update(u for u in have if min(a, b) <= u <= max(a, b))
    return out


def _uids_in(args: str, folder: FakeFolder) -> list[int]:
    m = re.search(r"\bUID ([0-9:*,]+)", args)
    uids = _uid_set(m.group(1), folder) if m else {x.uid for x in folder.messages}
    return sorted(uids)


def _fetch(peer: Peer, folder: FakeFolder, c: Command, fault: Fault | None) -> None:
    uid_text, _, items = c.args.partition(" ")
    wanted = _uid_set(uid_text, folder)
    items_upper = items.upper()
    out = bytearray()
    for seq, m in enumerate(folder.messages, 1):
        if m.uid not in wanted:
            continue
        parts = [f"UID {m.uid}"]
        if "FLAGS" in items_upper:
            parts.append("FLAGS (" + " ".join(m.flags) + ")")
        if "RFC822.SIZE" in items_upper:
            parts.append(f"RFC822.SIZE {len(m.raw)}")
        if "INTERNALDATE" in items_upper:
            parts.append(f'INTERNALDATE "{m.internaldate}"')
        if "BODYSTRUCTURE" in items_upper:
            body = m.raw[len(m.header) :]
            lines = body.count(b"\n")
            parts.append(
                f'BODYSTRUCTURE ("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "7BIT" {len(body)} {lines})'
            )
        head = f"* {seq} FETCH (" + " ".join(parts)
        literal, phase, key = None, "", ""
        partial = re.search(r"BODY\.PEEK\[\]<(\d+)\.(\d+)>", items_upper)
        section = re.search(r"BODY\.PEEK\[(\d+)\]", items_upper)
        if "BODY.PEEK[HEADER]" in items_upper:
            literal, phase, key = m.header, "header", "BODY[HEADER]"
        elif partial:
            start, length = int(partial.group(1)), int(partial.group(2))
            literal, phase, key = (
                m.raw[start : start + length],
                "partial" if start else "",
                f"BODY[]<{start}>",
            )
        elif section:
            literal, phase, key = m.raw[len(m.header) :], "section", f"BODY[{section.group(1)}]"
        elif "BODY.PEEK[]" in items_upper:
            literal, phase, key = m.raw, "body", "BODY[]"
        if literal is None:
            out += (head + ")\r\n").encode()
            continue
        hit = fault is not None and fault.phase == phase and fault.uid == m.uid
        announced = len(literal)
        if hit and fault.kind == "lie_short":
            announced = len(literal) // 2
        elif hit and fault.kind == "lie_long":
            announced = len(literal) + 4096
        elif hit and fault.kind == "short":
            literal = literal[: len(literal) // 2]
            announced = len(literal)
        chunk = (head + f" {key} {{{announced}}}\r\n").encode() + literal + b")\r\n"
        if hit and fault.kind == "truncate":
            peer.send_raw(bytes(out) + chunk[: len(chunk) - len(literal) // 2 - 3])
            time.sleep(0.05)
            raise _Hangup
        out += chunk
        if hit and fault.kind in ("drop_after", "lie_long"):
            peer.send_raw(bytes(out))
            time.sleep(0.05)
            raise _Hangup
    peer.send_raw(bytes(out) + f"{c.tag} OK FETCH done\r\n".encode())


def _store(folder: FakeFolder, c: Command) -> None:
    m = re.match(r"([0-9:*,]+) ([+-]?)FLAGS(?:\.SILENT)? \((.*)\)", c.args)
    if not m:
        return
    flags = m.group(3).split()
    for message in folder.messages:
        if message.uid in _uid_set(m.group(1), folder):
            if m.group(2) == "+":
                message.flags = sorted(set(message.flags) | set(flags))
            elif m.group(2) == "-":
                message.flags = sorted(set(message.flags) - set(flags))
            else:
                message.flags = flags
