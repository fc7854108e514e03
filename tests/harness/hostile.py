"""A scriptable fake IMAP or SMTP server on 127.0.0.1: it plays hostile scripts and records what clients send.

A script is a list of steps (send a greeting, expect a command and reply, upgrade to TLS with a chosen
certificate, inject lines, close); each connection plays one script, then the server keeps reading until the
client hangs up, so the transcript holds everything the client sent, split into before and after TLS.
The IMAP half (a served mailbox, `imap_session`, faults) is in `hostile_imap.py`, the SMTP half in
`hostile_smtp.py`; this module holds the server, the peer, the generic script steps and `secret_in`.
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
from collections.abc import Callable, Sequence
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


def hold(seconds: float = 15.0) -> Step:
    """Keep the line open, saying nothing, until the client hangs up (at most *seconds*): for a client
    that must give up by its own timeout, which the default drain (as long as the tests' client timeout)
    could otherwise beat by closing first on a busy machine."""
    return lambda peer: peer.drain(seconds)


def pause(seconds: float) -> Step:
    """Wait before the next step."""
    return lambda peer: time.sleep(seconds)


def b64_text(token: str) -> str:
    try:
        return base64.b64decode(token).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return ""


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
