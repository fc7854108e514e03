"""IMAP and SMTP connections under one TLS policy: verified certificates, no plaintext passwords."""

from __future__ import annotations

import logging
import select
import socket
import ssl
import types
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from store.errors import StoreError

if TYPE_CHECKING:
    import smtplib

    from imapclient import IMAPClient

    from store.providers import Provider
    from store.secrets import Secret

Protocol = Literal["IMAP", "SMTP"]
DEFAULT_TIMEOUT = 20.0
WIRE_BREAKERS = "\r\n\x00"
# What an honest IMAP server says before TLS: its greeting, CAPABILITY, and status responses with the ALERT
# or CAPABILITY codes they may carry. All of it is dropped once TLS is up; anything else (mailbox data,
# referrals) before login means someone is writing into the connection.
_PRE_TLS_RESPONSES = frozenset({"OK", "NO", "BAD", "CAPABILITY", "ALERT"})
_SERVER_TEXT_LIMIT = 200
CUT = "…"  # ends a server text that server_text shortened
_UNTRUSTED = "What it said is not shown: nothing received before encryption can be trusted."


class NetError(StoreError):
    """A connection or login failure, classified so users can tell one cause from another."""

    def __init__(self, protocol: Protocol, kind: str, message: str) -> None:
        super().__init__(message)
        self.protocol = protocol
        self.kind = kind


@dataclass(frozen=True)
class Endpoint:
    """Where and how to reach one server."""

    host: str
    port: int
    tls: Literal["ssl", "starttls"]
    ca_file: str = ""

    @classmethod
    def imap_of(cls, p: Provider) -> Endpoint:
        """The provider's IMAP server."""
        return cls(p.imap_host, p.imap_port, p.imap_tls, p.ca_file)

    @classmethod
    def smtp_of(cls, p: Provider) -> Endpoint:
        """The provider's SMTP server."""
        return cls(p.smtp_host, p.smtp_port, p.smtp_tls, p.ca_file)

    def __str__(self) -> str:
        return f"{self.host}:{self.port} ({'implicit TLS' if self.tls == 'ssl' else 'STARTTLS'})"


def wire_safe(value: str, field: str) -> str:
    """Refuse text that would break out of an IMAP or SMTP command (CR, LF or NUL)."""
    if any(c in value for c in WIRE_BREAKERS):
        from store.errors import Invalid

        raise Invalid({field: "must not contain line breaks or NUL characters"})
    return value


def server_text(value: object) -> str:
    """Words a server sent, fit to show: control characters (terminal escapes) removed, at most 200 chars."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = squeezed(str(value))
    return text if len(text) <= _SERVER_TEXT_LIMIT else text[: _SERVER_TEXT_LIMIT - 1] + CUT


def squeezed(text: str) -> str:
    """*text* with every run of whitespace and non-printable characters made one space, trimmed."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())


def tls_context(ca_file: str = "") -> ssl.SSLContext:
    """A verifying client context, TLS 1.2 at least; a CA file replaces the system trust store."""
    ctx = ssl.create_default_context(cafile=ca_file or None)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def explain(protocol: Protocol, ep: Endpoint, exc: BaseException) -> NetError:
    """Turn a low-level failure into a NetError whose message says what failed and what to do."""
    import smtplib  # in the functions that need it: a sync that sends nothing does not import it

    if isinstance(exc, NetError):
        return exc
    where = f"{protocol} server {ep.host}:{ep.port}"
    if isinstance(exc, socket.gaierror):
        return NetError(protocol, "dns", f"Host '{ep.host}' not found. Check the {protocol} server name.")
    if isinstance(exc, ConnectionRefusedError):
        return NetError(protocol, "refused", f"Connection to {where} refused. Check the host and port.")
    if isinstance(exc, TimeoutError | socket.timeout):
        return NetError(
            protocol, "timeout", f"Connection to {where} timed out. Check the host, port and network."
        )
    if isinstance(exc, ssl.SSLCertVerificationError):
        return NetError(
            protocol,
            "cert",
            f"The TLS certificate of {where} is not trusted ({exc.verify_message}). "
            "For a company server with an internal CA, an admin can set the provider's CA file.",
        )
    if isinstance(exc, ssl.SSLError):
        return NetError(protocol, "tls", f"TLS with {where} failed: {exc.reason or exc}.")
    if isinstance(exc, smtplib.SMTPResponseException):  # an OSError too, but the server did answer
        return NetError(
            protocol, "protocol", f"{where} answered {exc.smtp_code}: {server_text(exc.smtp_error)}"
        )
    if isinstance(exc, ConnectionError | OSError):
        detail = server_text(exc.strerror or exc)
        return NetError(protocol, "network", f"Network error with {where}: {detail}.")
    return NetError(protocol, "protocol", f"{where} answered unexpectedly: {server_text(exc)}")


def _refused_before_tls(protocol: Protocol, ep: Endpoint, exc: BaseException) -> NetError:
    """A failure before TLS is up: network causes as usual, but nothing the server said is repeated."""
    import imaplib
    import smtplib

    if isinstance(exc, NetError):
        return exc
    if isinstance(exc, smtplib.SMTPServerDisconnected) and isinstance(exc.__context__, TimeoutError):
        return explain(protocol, ep, exc.__context__)
    closed = isinstance(exc, smtplib.SMTPServerDisconnected | EOFError) or str(exc) == "socket error: EOF"
    if closed:  # worth a retry, which will insist on TLS again
        return NetError(
            protocol, "network", f"{ep} closed the connection before encryption began; no password was sent."
        )
    if not isinstance(exc, imaplib.IMAP4.error | smtplib.SMTPException | ValueError):
        return explain(protocol, ep, exc)
    return NetError(
        protocol,
        "starttls",
        f"{ep} answered before encryption in a way Mailroom does not accept; "
        f"refusing the connection. {_UNTRUSTED}",
    )


def _unsolicited(sock: socket.socket, reader: object) -> bool:
    """Whether the server already sent bytes nothing asked for (in *reader*'s buffer or on the socket)."""
    timeout = sock.gettimeout()
    sock.setblocking(False)
    try:
        if reader is not None:
            return bool(reader.peek(1))  # type: ignore[attr-defined] - a BufferedReader over the socket
        return bool(select.select([sock], [], [], 0)[0])
    except OSError:
        return False
    finally:
        sock.settimeout(timeout)


def _check_wire(value: object) -> None:
    """Refuse a command argument that carries CR, LF or NUL (it would end the command and start another)."""
    if isinstance(value, bytes):
        bad = any(b in value for b in (b"\r", b"\n", b"\x00"))
    elif isinstance(value, str):
        bad = any(c in value for c in WIRE_BREAKERS)
    else:
        return
    if bad:
        from store.errors import Invalid

        raise Invalid({"command": "an argument contains a line break or NUL character; nothing was sent"})


def _require_tls(sock: object, protocol: Protocol, ep: Endpoint) -> None:
    if not isinstance(sock, ssl.SSLSocket):
        raise NetError(protocol, "starttls", f"Refusing to log in to {ep}: the connection is not encrypted.")


def imap_connect(ep: Endpoint, timeout: float = DEFAULT_TIMEOUT) -> IMAPClient:
    """An encrypted, not yet authenticated IMAP connection; STARTTLS never falls back to plaintext."""
    from imapclient import IMAPClient

    ctx = tls_context(ep.ca_file)
    implicit = ep.tls == "ssl"
    try:
        client = IMAPClient(
            ep.host, ep.port, ssl=implicit, ssl_context=ctx if implicit else None, timeout=timeout
        )
    except Exception as exc:
        raise (explain if implicit else _refused_before_tls)("IMAP", ep, exc) from None
    try:
        if not implicit:
            _imap_starttls(client, ep, ctx)
        _require_tls(client._imap.sock, "IMAP", ep)
    except Exception as exc:
        _close_quietly(client)
        raise explain("IMAP", ep, exc) from None
    _guard_imap(client)
    if not logging.getLogger("imapclient.imaplib").isEnabledFor(logging.DEBUG):
        # imapclient sets imaplib's debug level to 5, so imaplib formats a repr of every response (each
        # whole message, then each whole FETCH answer) for a debug log nobody reads: a third of the sync's
        # body-phase CPU, and work in every IDLE watcher and Sent copy. Kept when that log is switched on.
        client._imap.debug = 0
    return client


def _imap_starttls(client: IMAPClient, ep: Endpoint, ctx: ssl.SSLContext) -> None:
    """STARTTLS as RFC 3501 6.2.1 and RFC 2595 3.1 ask: the tagged OK is the very next line, nothing comes
    unasked before or after it, and nothing said before TLS (greeting, capabilities, alerts) survives."""
    raw = client._imap
    if raw.state != "NONAUTH":  # a PREAUTH greeting would skip TLS entirely
        raise NetError("IMAP", "starttls", f"{ep} greeted with PREAUTH before TLS; refusing the connection.")
    if "STARTTLS" not in raw.capabilities:
        raise NetError(
            "IMAP", "starttls", f"{ep} does not offer STARTTLS; Mailroom never sends a password unencrypted."
        )
    if set(raw.untagged_responses) - _PRE_TLS_RESPONSES:
        raise NetError(
            "IMAP",
            "starttls",
            f"{ep} sent mailbox data before login and before encryption, which no honest "
            "server does: someone may be tampering with the connection. Refusing it.",
        )
    if _unsolicited(raw.sock, raw.file):
        raise NetError(
            "IMAP",
            "starttls",
            f"{ep} answered a command Mailroom had not sent yet (before STARTTLS): "
            "someone may be tampering with the connection. Refusing it.",
        )
    raw.untagged_responses.clear()
    tag = raw._new_tag()
    try:
        raw.send(tag + b" STARTTLS\r\n")
        line = raw._get_line()
    except Exception as exc:
        raise _refused_before_tls("IMAP", ep, exc) from None
    finally:
        raw.tagged_commands.pop(tag, None)
    if line != tag + b" OK" and not line.startswith(tag + b" OK "):
        raise NetError(
            "IMAP",
            "starttls",
            f"{ep} {_starttls_answer(line, tag)}; Mailroom never continues without encryption. {_UNTRUSTED}",
        )
    if _unsolicited(raw.sock, raw.file):
        raise NetError(
            "IMAP",
            "starttls",
            f"{ep} sent more after accepting STARTTLS, before encryption began: "
            "someone may be injecting commands. Refusing the connection.",
        )
    raw.sock = ctx.wrap_socket(raw.sock, server_hostname=raw.host)
    raw.file = raw.sock.makefile("rb")
    raw._tls_established = True
    client._starttls_done = True
    raw.welcome = b""  # the greeting came unencrypted
    raw.untagged_responses.clear()
    raw._get_capabilities()  # over TLS; the capabilities read before it are gone
    raw.untagged_responses.clear()
    client._cached_capabilities = None


def _starttls_answer(line: bytes, tag: bytes) -> str:
    """What kind of answer to STARTTLS the server gave, in words of our own."""
    if line.startswith(tag + b" NO"):
        return "refused STARTTLS (NO)"
    if line.startswith(tag + b" BAD"):
        return "rejected STARTTLS (BAD)"
    if line.startswith(b"+"):
        return "answered STARTTLS with a continuation request instead of OK"
    if line.startswith(b"* "):
        return "answered STARTTLS with an untagged response instead of OK"
    return "answered STARTTLS with a line that is not its OK"


def _guard_imap(client: IMAPClient) -> None:
    """Make every command the client sends refuse arguments with CR, LF or NUL (literals may carry them)."""
    raw = client._imap
    command, raw_command = raw._command, client._raw_command

    def checked_command(_self: object, name: str, *args: object) -> object:
        for arg in args:
            _check_wire(arg)
        return command(name, *args)

    def checked_raw_command(name: bytes, args: object, uid: bool = True) -> object:
        for arg in args if isinstance(args, list | tuple) else [args]:
            if type(arg).__name__ != "_literal":  # imapclient's marker for data sent as a literal
                _check_wire(arg)
        return raw_command(name, args, uid=uid)

    raw._command = types.MethodType(checked_command, raw)  # a bound method: imaplib compares its type
    client._raw_command = checked_raw_command


def imap_login(
    ep: Endpoint, login: str, secret: Secret, timeout: float = DEFAULT_TIMEOUT, hint: str = ""
) -> IMAPClient:
    """Connect and log in; a refused login says so, with *hint* (e.g. the app-password advice)."""
    import imaplib

    from imapclient.exceptions import LoginError

    wire_safe(login, "login")
    _check_secret(secret)
    client = imap_connect(ep, timeout)
    try:
        _require_tls(client._imap.sock, "IMAP", ep)
        _imap_authenticate(client, ep, login, secret)
        return client
    except LoginError as exc:
        _close_quietly(client)
        if isinstance(exc.__context__, imaplib.IMAP4.abort):  # imapclient wraps a lost connection too
            raise NetError(
                "IMAP",
                "network",
                f"The connection to {ep} was lost during the login, before the server answered it.",
            ) from None
        raise NetError(
            "IMAP", "auth", f"IMAP login for '{login}' was refused: wrong password?{hint}"
        ) from None
    except imaplib.IMAP4.abort:  # AUTHENTICATE PLAIN is not wrapped
        _close_quietly(client)
        raise NetError(
            "IMAP",
            "network",
            f"The connection to {ep} was lost during the login, before the server answered it.",
        ) from None
    except Exception as exc:
        _close_quietly(client)
        raise _without_secret(explain("IMAP", ep, exc), login, secret) from None


def smtp_connect(
    ep: Endpoint, timeout: float = DEFAULT_TIMEOUT, local_hostname: str | None = None
) -> smtplib.SMTP:
    """An encrypted SMTP session after EHLO; STARTTLS is required on plain ports."""
    import smtplib

    ctx = tls_context(ep.ca_file)
    implicit = ep.tls == "ssl"
    try:
        if implicit:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                ep.host, ep.port, timeout=timeout, context=ctx, local_hostname=local_hostname
            )
        else:
            smtp = smtplib.SMTP(ep.host, ep.port, timeout=timeout, local_hostname=local_hostname)
    except Exception as exc:
        raise (explain if implicit else _refused_before_tls)("SMTP", ep, exc) from None
    _guard_smtp(smtp)
    try:
        if not implicit:
            _smtp_starttls(smtp, ep, ctx)
        smtp.ehlo()
        _require_tls(smtp.sock, "SMTP", ep)
        return smtp
    except Exception as exc:
        _close_quietly(smtp)
        raise explain("SMTP", ep, exc) from None


def _smtp_starttls(smtp: smtplib.SMTP, ep: Endpoint, ctx: ssl.SSLContext) -> None:
    """STARTTLS as RFC 3207 asks: only a 220 answer counts, nothing may come unasked before or after it, and
    what EHLO said before TLS is forgotten (smtplib drops its reader, so old buffered lines are gone too)."""
    try:
        smtp.ehlo()
    except Exception as exc:
        raise _refused_before_tls("SMTP", ep, exc) from None
    if not smtp.has_extn("starttls"):
        raise NetError(
            "SMTP", "starttls", f"{ep} does not offer STARTTLS; Mailroom never sends a password unencrypted."
        )
    if _unsolicited(smtp.sock, smtp.file):
        raise NetError(
            "SMTP",
            "starttls",
            f"{ep} answered a command Mailroom had not sent yet (before STARTTLS): "
            "someone may be tampering with the connection. Refusing it.",
        )
    try:
        code, _ = smtp.docmd("STARTTLS")
    except Exception as exc:
        raise _refused_before_tls("SMTP", ep, exc) from None
    if code != 220:
        what = f"with {code}" if code > 0 else "with a line that is not a reply"
        raise NetError(
            "SMTP",
            "starttls",
            f"{ep} answered STARTTLS {what}; Mailroom never continues without encryption. {_UNTRUSTED}",
        )
    if _unsolicited(smtp.sock, smtp.file):
        raise NetError(
            "SMTP",
            "starttls",
            f"{ep} sent more after accepting STARTTLS, before encryption began: "
            "someone may be injecting commands. Refusing the connection.",
        )
    smtp.sock = ctx.wrap_socket(smtp.sock, server_hostname=smtp._host)
    smtp.file = None
    smtp.helo_resp = smtp.ehlo_resp = None
    smtp.esmtp_features = {}
    smtp.does_esmtp = False


def _guard_smtp(smtp: smtplib.SMTP) -> None:
    """Make every command the session sends refuse CR, LF or NUL (smtplib itself only checks CR and LF)."""
    putcmd = smtp.putcmd

    def checked_putcmd(cmd: str, args: str = "") -> None:
        _check_wire(cmd)
        _check_wire(args)
        putcmd(cmd, args)

    smtp.putcmd = checked_putcmd  # type: ignore[method-assign]


def smtp_login(
    ep: Endpoint, login: str, secret: Secret, timeout: float = DEFAULT_TIMEOUT, hint: str = ""
) -> smtplib.SMTP:
    """Connect and authenticate over TLS."""
    import smtplib

    wire_safe(login, "login")
    _check_secret(secret)
    smtp = smtp_connect(ep, timeout)
    try:
        _require_tls(smtp.sock, "SMTP", ep)
        if not smtp.has_extn("auth"):
            raise NetError("SMTP", "auth", f"{ep} offers no AUTH; Mailroom cannot log in there.")
        if (login + secret.reveal()).isascii():
            smtp.login(login, secret.reveal())
        else:
            _smtp_plain_utf8(smtp, ep, login, secret)
        return smtp
    except smtplib.SMTPAuthenticationError as exc:
        _close_quietly(smtp)
        raise NetError(
            "SMTP", "auth", f"SMTP login for '{login}' was refused ({exc.smtp_code}): wrong password?{hint}"
        ) from None
    except Exception as exc:
        _close_quietly(smtp)
        raise _without_secret(explain("SMTP", ep, exc), login, secret) from None


def _without_secret(err: NetError, login: str, secret: Secret) -> NetError:
    """The error with the password masked, should a server have echoed it (raw, quoted or as AUTH PLAIN)."""
    import base64

    from store.secrets import redact

    token = base64.b64encode(f"\0{login}\0{secret.reveal()}".encode()).decode("ascii")
    text = redact(str(err), secret, token)
    return err if text == str(err) else NetError(err.protocol, err.kind, text)


def _check_secret(secret: Secret) -> None:
    """Refuse a password with CR, LF or NUL before any connection; the message never shows it."""
    if any(c in secret.reveal() for c in "\r\n\x00"):
        from store.errors import Invalid

        raise Invalid({"password": "must not contain line breaks or NUL characters"})


def _imap_quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _imap_authenticate(client: IMAPClient, ep: Endpoint, login: str, secret: Secret) -> None:
    """LOGIN with both names quoted; non-ASCII credentials go through AUTHENTICATE PLAIN in UTF-8."""
    if (login + secret.reveal()).isascii():
        client.login(_imap_quote(login), secret.reveal())  # imaplib quotes only the password
        return
    if "AUTH=PLAIN" not in {c.decode().upper() for c in client.capabilities()}:
        raise NetError(
            "IMAP", "auth", f"{ep} cannot take a login or password with non-ASCII characters (no AUTH=PLAIN)."
        )
    client.plain_login(login, secret.reveal())


def _smtp_plain_utf8(smtp: smtplib.SMTP, ep: Endpoint, login: str, secret: Secret) -> None:
    """AUTH PLAIN with UTF-8 credentials, which smtplib would encode as ASCII and fail on."""
    import base64
    import smtplib

    if "PLAIN" not in smtp.esmtp_features.get("auth", "").upper().split():
        raise NetError(
            "SMTP", "auth", f"{ep} cannot take a login or password with non-ASCII characters (no AUTH PLAIN)."
        )
    token = base64.b64encode(b"\0" + login.encode() + b"\0" + secret.reveal().encode()).decode("ascii")
    code, reply = smtp.docmd("AUTH", "PLAIN " + token)
    del token
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, reply)


def _close_quietly(conn: object) -> None:
    for method in ("shutdown", "close"):
        fn = getattr(conn, method, None)
        if fn is not None:
            try:
                fn()
                return
            except Exception:  # closing a broken connection may fail; nothing to do about it
                continue
