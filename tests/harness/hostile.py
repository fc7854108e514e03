"""A scriptable fake IMAP or SMTP server on 127.0.0.1: it plays hostile scripts and records what clients send.

A script is a list of steps (send a greeting, expect a command and reply, upgrade to TLS with a chosen
certificate, inject lines, close); each connection plays one script, then the server keeps reading until the
client hangs up, so the transcript holds everything the client sent, split into before and after TLS.
`imap_session` serves a small mailbox to a real client (the sync engine) and can break one FETCH on purpose.
"""

from __future__ import annotations

import base64
import binascii
import re
import socket
import ssl
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from tests.harness.ca import CertFiles

HOST = "127.0.0.1"
READ_TIMEOUT = 5.0  # a script step waits this long for the client before giving up
DRAIN_TIMEOUT = 3.0  # after the script, how long to keep listening for what the client still sends
_LITERAL_AT_END = re.compile(rb"\{(\d+)(\+?)\}\r\n$")

Protocol = Literal["IMAP", "SMTP"]


class ScriptError(Exception):
    """The client did not do what the script expected (or went silent)."""


@dataclass(frozen=True)
class Command:
    """One command as the client sent it: IMAP tag (empty for SMTP), upper-case name, the rest, raw bytes."""

    tag: str
    name: str
    args: str
    raw: bytes


@dataclass
class Transcript:
    """Everything one client connection sent and received, and how it ended."""

    number: int
    received: list[tuple[bool, bytes]] = field(default_factory=list)  # (after TLS?, bytes) in order
    sent: list[tuple[bool, bytes]] = field(default_factory=list)
    commands: list[tuple[bool, Command]] = field(default_factory=list)
    tls_version: str = ""
    tls_error: str = ""
    script_error: str = ""
    finished: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def plain(self) -> bytes:
        """What the client sent before TLS."""
        return b"".join(data for tls, data in self.received if not tls)

    @property
    def encrypted(self) -> bytes:
        """What the client sent after TLS (decrypted)."""
        return b"".join(data for tls, data in self.received if tls)

    @property
    def all_received(self) -> bytes:
        """Everything the client sent."""
        return b"".join(data for _, data in self.received)

    def names(self, tls: bool | None = None) -> list[str]:
        """Command names in order, optionally only those before (False) or after (True) TLS."""
        return [c.name for t, c in self.commands if tls is None or t == tls]


Step = Callable[["Peer"], object]


class Peer:
    """The server's end of one client connection, driven by a script."""

    def __init__(self, sock: socket.socket, protocol: Protocol, transcript: Transcript) -> None:
        self.sock = sock
        self.protocol = protocol
        self.transcript = transcript
        self.tls = False
        self.tag = ""
        self.closed = False
        self._buffer = b""
        sock.settimeout(READ_TIMEOUT)

    # -- sending -------------------------------------------------------------------------------------

    def send(self, *lines: str | bytes) -> None:
        """Send lines (CRLF added) in one write; `{tag}` in a str line becomes the last command's tag."""
        self.send_raw(b"".join(self._line(line) for line in lines))

    def send_raw(self, data: bytes) -> None:
        """Send bytes exactly as given."""
        if self.closed or not data:
            return
        self.transcript.sent.append((self.tls, data))
        self.sock.sendall(data)

    def _line(self, line: str | bytes) -> bytes:
        if isinstance(line, str):
            line = line.replace("{tag}", self.tag).encode()
        return line if line.endswith(b"\r\n") else line + b"\r\n"

    # -- receiving -----------------------------------------------------------------------------------

    def _fill(self) -> bool:
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            raise ScriptError(f"the client sent nothing for {READ_TIMEOUT:.0f} s") from None
        except (OSError, ssl.SSLError):
            data = b""
        if not data:
            return False
        self.transcript.received.append((self.tls, data))
        self._buffer += data
        return True

    def read_line(self) -> bytes:
        """One line with its CRLF; raises ScriptError when the client hangs up first."""
        while b"\r\n" not in self._buffer:
            if not self._fill():
                raise ScriptError("the client closed the connection")
        line, _, self._buffer = self._buffer.partition(b"\r\n")
        return line + b"\r\n"

    def read_exact(self, size: int) -> bytes:
        """Exactly *size* bytes (an IMAP literal)."""
        while len(self._buffer) < size:
            if not self._fill():
                raise ScriptError("the client closed the connection inside a literal")
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def read_command(self) -> Command:
        """The next command; IMAP literals are read in (a synchronising one is answered with '+')."""
        raw = self.read_line()
        if self.protocol == "IMAP":
            while m := _LITERAL_AT_END.search(raw):
                if not m.group(2):
                    self.send("+ go ahead")
                raw += self.read_exact(int(m.group(1)))
                raw += self.read_line()
        text = raw.decode("utf-8", "replace").rstrip("\r\n")
        if self.protocol == "SMTP":
            name, _, rest = text.partition(" ")
            command = Command("", name.upper(), rest, raw)
        else:
            tag, _, rest = text.partition(" ")
            name, _, args = rest.partition(" ")
            if name.upper() == "UID":
                sub, _, args = args.partition(" ")
                name = f"UID {sub}"
            self.tag = tag
            command = Command(tag, name.upper(), args, raw)
        self.transcript.commands.append((self.tls, command))
        return command

    def expect(self, *names: str) -> Command:
        """Read the next command and fail the script unless its name is one of *names*."""
        command = self.read_command()
        if command.name not in {n.upper() for n in names}:
            raise ScriptError(f"expected {' or '.join(names)}, the client sent {command.raw!r}")
        return command

    # -- TLS and closing -----------------------------------------------------------------------------

    def start_tls(
        self, cert: CertFiles, versions: tuple[ssl.TLSVersion, ssl.TLSVersion] | None = None
    ) -> None:
        """Run the server side of a TLS handshake with *cert*; *versions* limits the protocol (min, max)."""
        if self._buffer:
            raise ScriptError(f"the client sent {self._buffer!r} before the TLS handshake")
        ctx = server_context(cert, versions)
        try:
            self.sock = ctx.wrap_socket(self.sock, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            self.transcript.tls_error = str(exc) or type(exc).__name__
            self.closed = True
            raise ScriptError(f"TLS handshake failed: {exc}") from None
        self.tls = True
        self.transcript.tls_version = self.sock.version() or ""

    def close(self) -> None:
        """Hang up."""
        if not self.closed:
            self.closed = True
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.sock.close()

    def drain(self, timeout: float = DRAIN_TIMEOUT) -> None:
        """Record whatever the client still sends until it hangs up (or *timeout* passes)."""
        if self.closed:
            return
        self.sock.settimeout(0.2)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            except (OSError, ssl.SSLError):
                break
            if not data:
                break
            self.transcript.received.append((self.tls, data))


def server_context(
    cert: CertFiles, versions: tuple[ssl.TLSVersion, ssl.TLSVersion] | None = None
) -> ssl.SSLContext:
    """A server context for *cert*; old protocol versions need OpenSSL's security level 0 to be offered."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert.cert_file, cert.key_file)
    if versions is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version, ctx.maximum_version = versions
        if versions[1] < ssl.TLSVersion.TLSv1_2:
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    return ctx


# -- script steps ------------------------------------------------------------------------------------


def send(*lines: str | bytes) -> Step:
    """Send lines in one write (`{tag}` is the last command's tag)."""
    return lambda peer: peer.send(*lines)


def send_raw(data: bytes) -> Step:
    """Send bytes exactly."""
    return lambda peer: peer.send_raw(data)


def expect(name: str, *replies: str | bytes) -> Step:
    """Wait for a command called *name*, then send *replies* in one write."""

    def step(peer: Peer) -> None:
        peer.expect(name)
        peer.send(*replies)

    return step


def tls(cert: CertFiles, versions: tuple[ssl.TLSVersion, ssl.TLSVersion] | None = None) -> Step:
    """Upgrade to TLS with *cert* (implicit TLS when it is the first step)."""
    return lambda peer: peer.start_tls(cert, versions)


def close() -> Step:
    """Hang up."""
    return lambda peer: peer.close()


def pause(seconds: float) -> Step:
    """Wait before the next step."""
    return lambda peer: time.sleep(seconds)


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


def smtp_starttls_preface(cert: CertFiles) -> list[Step]:
    """An honest SMTP greeting, EHLO offering STARTTLS, STARTTLS, then the TLS handshake with *cert*."""
    return [
        send("220 hostile.test ESMTP ready"),
        expect("EHLO", "250-hostile.test", "250-PIPELINING", "250 STARTTLS"),
        expect("STARTTLS", "220 2.0.0 go ahead"),
        tls(cert),
    ]


def smtp_session(password: str = "", auth: str = "PLAIN LOGIN") -> Step:
    """Answer EHLO (offering AUTH *auth*), AUTH (accepting *password* when given) and QUIT after TLS."""

    def step(peer: Peer) -> None:
        while True:
            try:
                command = peer.read_command()
            except ScriptError:
                return
            if command.name in ("EHLO", "HELO"):
                peer.send("250-hostile.test", *([f"250-AUTH {auth}"] if auth else []), "250 8BITMIME")
            elif command.name == "AUTH":
                given = _smtp_auth_password(peer, command)
                peer.send("235 2.7.0 ok" if password and given == password else "535 5.7.8 no")
            elif command.name == "QUIT":
                peer.send("221 bye")
                return
            elif command.name in ("NOOP", "RSET"):
                peer.send("250 ok")
            else:
                peer.send("502 5.5.1 not here")

    return step


def _smtp_auth_password(peer: Peer, command: Command) -> str:
    words = command.args.split()
    mechanism = words[0].upper() if words else ""
    if mechanism == "PLAIN":
        token = words[1] if len(words) > 1 else (peer.send("334 "), peer.read_line().decode().strip())[1]
        return _b64(token).split("\0")[-1]
    if mechanism == "LOGIN":
        peer.send("334 VXNlcm5hbWU6")
        peer.read_line()
        peer.send("334 UGFzc3dvcmQ6")
        return _b64(peer.read_line().decode().strip())
    return ""


def _b64(token: str) -> str:
    try:
        return base64.b64decode(token).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return ""


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
        given = _b64(peer.read_line().decode().strip()).split("\0")
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
        _fetch(peer, state["selected"], c, fault)
    elif name == "UID STORE" and state["selected"] is not None:
        _store(state["selected"], c)
        peer.send("{tag} OK STORE done")
    else:
        peer.send("{tag} BAD not served here")
    return True


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


# -- the server --------------------------------------------------------------------------------------


class HostileServer:
    """Listens on 127.0.0.1; connection N plays scripts[N] (the last script repeats) and is recorded."""

    def __init__(self, protocol: Protocol, *scripts: Sequence[Step]) -> None:
        if not scripts:
            raise ValueError("give at least one script")
        self.protocol = protocol
        self.scripts = [list(s) for s in scripts]
        self.transcripts: list[Transcript] = []
        self._listener: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self._peers: list[Peer] = []
        self._lock = threading.Lock()
        self.port = 0

    def start(self) -> HostileServer:
        """Listen on a free port and accept in a daemon thread."""
        self._listener = socket.create_server((HOST, 0))
        self.port = self._listener.getsockname()[1]
        thread = threading.Thread(
            target=self._accept, name=f"hostile-{self.protocol}-{self.port}", daemon=True
        )
        thread.start()
        self._threads.append(thread)
        return self

    def stop(self) -> None:
        """Stop listening and hang up on every client."""
        listener, self._listener = self._listener, None
        if listener is not None:
            try:
                listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
            except OSError:
                pass
            listener.close()
        with self._lock:
            peers = list(self._peers)
        for peer in peers:
            peer.close()
        for thread in self._threads:
            thread.join(DRAIN_TIMEOUT + READ_TIMEOUT)

    def __enter__(self) -> HostileServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def _accept(self) -> None:
        listener = self._listener
        while listener is not None:
            try:
                sock, _ = listener.accept()
            except OSError:
                return
            with self._lock:
                transcript = Transcript(len(self.transcripts))
                self.transcripts.append(transcript)
                script = self.scripts[min(transcript.number, len(self.scripts) - 1)]
            thread = threading.Thread(target=self._play, args=(sock, script, transcript), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _play(self, sock: socket.socket, script: list[Step], transcript: Transcript) -> None:
        peer = Peer(sock, self.protocol, transcript)
        with self._lock:
            self._peers.append(peer)
        try:
            for step in script:
                if peer.closed:
                    break
                step(peer)
            peer.drain()
        except ScriptError as exc:
            transcript.script_error = str(exc)
            peer.drain()
        except Exception as exc:  # noqa: BLE001 - recorded for the test to see
            transcript.script_error = f"{type(exc).__name__}: {exc}"
        finally:
            peer.close()
            transcript.finished.set()

    # -- what the tests look at ----------------------------------------------------------------------

    def wait(self, connections: int = 1, timeout: float = DRAIN_TIMEOUT + READ_TIMEOUT) -> list[Transcript]:
        """The transcripts once at least *connections* clients came and all of them hung up."""
        deadline = time.monotonic() + timeout
        while len(self.transcripts) < connections and time.monotonic() < deadline:
            time.sleep(0.01)
        for transcript in list(self.transcripts):
            transcript.finished.wait(max(0.0, deadline - time.monotonic()))
        return list(self.transcripts)

    def received(self) -> bytes:
        """Everything every client sent, in and out of TLS."""
        return b"".join(t.all_received for t in self.transcripts)

    def leaks(self, password: str, login: str = "", after_tls_ok: bool = False) -> list[str]:
        """What gave credentials away: a login command or the login name before TLS, or the password
        anywhere (as text, IMAP-quoted or inside base64); *after_tls_ok* allows it inside TLS."""
        found: list[str] = []
        for t in self.wait(len(self.transcripts)):
            for name in ("LOGIN", "AUTHENTICATE", "AUTH"):
                if name in t.names(tls=False):
                    found.append(f"connection {t.number}: {name} sent before TLS")
            if login and login.encode() in t.plain:
                found.append(f"connection {t.number}: the login name crossed before TLS")
            places = (
                (("before TLS", t.plain),)
                if after_tls_ok
                else (("before TLS", t.plain), ("after TLS", t.encrypted))
            )
            for where, data in places:
                if password and secret_in(password, data):
                    found.append(f"connection {t.number}: the password was sent {where}")
        return found


def secret_in(secret: str, data: bytes) -> bool:
    """Whether *secret* is in *data* as text, IMAP-quoted, or inside any base64 token."""
    raw = secret.encode()
    if raw in data or raw.replace(b"\\", b"\\\\").replace(b'"', b'\\"') in data:
        return True
    for token in re.findall(rb"[A-Za-z0-9+/=]{8,}", data):
        try:
            decoded = base64.b64decode(token + b"=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            continue
        if raw in decoded:
            return True
    return False
