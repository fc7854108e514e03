"""IMAP and SMTP connections under one TLS policy: verified certificates, no plaintext passwords."""

from __future__ import annotations

import smtplib
import socket
import ssl
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from store.errors import StoreError

if TYPE_CHECKING:
    from imapclient import IMAPClient

    from store.providers import Provider
    from store.secrets import Secret

Protocol = Literal["IMAP", "SMTP"]
DEFAULT_TIMEOUT = 20.0


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
    if any(c in value for c in "\r\n\x00"):
        from store.errors import Invalid

        raise Invalid({field: "must not contain line breaks or NUL characters"})
    return value


def tls_context(ca_file: str = "") -> ssl.SSLContext:
    """A verifying client context, TLS 1.2 at least; a CA file replaces the system trust store."""
    ctx = ssl.create_default_context(cafile=ca_file or None)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def explain(protocol: Protocol, ep: Endpoint, exc: BaseException) -> NetError:
    """Turn a low-level failure into a NetError whose message says what failed and what to do."""
    if isinstance(exc, NetError):
        return exc
    where = f"{protocol} server {ep.host}:{ep.port}"
    if isinstance(exc, socket.gaierror):
        return NetError(protocol, "dns", f"Host '{ep.host}' not found. Check the {protocol} server name.")
    if isinstance(exc, ConnectionRefusedError):
        return NetError(protocol, "refused", f"Connection to {where} refused. Check the host and port.")
    if isinstance(exc, TimeoutError | socket.timeout):
        return NetError(protocol, "timeout", f"Connection to {where} timed out. Check the host, port and network.")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return NetError(
            protocol,
            "cert",
            f"The TLS certificate of {where} is not trusted ({exc.verify_message}). "
            "For a company server with an internal CA, an admin can set the provider's CA file.",
        )
    if isinstance(exc, ssl.SSLError):
        return NetError(protocol, "tls", f"TLS with {where} failed: {exc.reason or exc}.")
    if isinstance(exc, ConnectionError | OSError):
        return NetError(protocol, "network", f"Network error with {where}: {exc.strerror or exc}.")
    return NetError(protocol, "protocol", f"{where} answered unexpectedly: {exc}")


def _require_tls(sock: object, protocol: Protocol, ep: Endpoint) -> None:
    if not isinstance(sock, ssl.SSLSocket):
        raise NetError(protocol, "starttls", f"Refusing to log in to {ep}: the connection is not encrypted.")


def imap_connect(ep: Endpoint, timeout: float = DEFAULT_TIMEOUT) -> IMAPClient:
    """An encrypted, not yet authenticated IMAP connection; STARTTLS never falls back to plaintext."""
    from imapclient import IMAPClient

    ctx = tls_context(ep.ca_file)
    try:
        if ep.tls == "ssl":
            client = IMAPClient(ep.host, ep.port, ssl=True, ssl_context=ctx, timeout=timeout)
            return client
        client = IMAPClient(ep.host, ep.port, ssl=False, timeout=timeout)
    except Exception as exc:
        raise explain("IMAP", ep, exc) from None
    try:
        raw = client._imap
        if raw.state != "NONAUTH":  # a PREAUTH greeting would skip TLS entirely
            raise NetError("IMAP", "starttls", f"{ep} greeted with PREAUTH before TLS; refusing the connection.")
        if "STARTTLS" not in raw.capabilities:
            raise NetError(
                "IMAP", "starttls", f"{ep} does not offer STARTTLS; Mailroom never sends a password unencrypted."
            )
        raw.untagged_responses.clear()
        try:
            client.starttls(ctx)
        except ssl.SSLError:
            raise
        except Exception as exc:
            raise NetError("IMAP", "starttls", f"STARTTLS with {ep} failed ({exc}); refusing to continue.") from None
        # Nothing said before TLS may survive into the session: drop it and re-read capabilities.
        raw.untagged_responses.clear()
        client._cached_capabilities = None
        _require_tls(raw.sock, "IMAP", ep)
        return client
    except Exception as exc:
        _close_quietly(client)
        raise explain("IMAP", ep, exc) from None


def imap_login(
    ep: Endpoint, login: str, secret: Secret, timeout: float = DEFAULT_TIMEOUT, hint: str = ""
) -> IMAPClient:
    """Connect and log in; a refused login says so, with *hint* (e.g. the app-password advice)."""
    from imapclient.exceptions import LoginError

    wire_safe(login, "login")
    _check_secret(secret)
    client = imap_connect(ep, timeout)
    try:
        _require_tls(client._imap.sock, "IMAP", ep)
        _imap_authenticate(client, ep, login, secret)
        return client
    except LoginError:
        _close_quietly(client)
        raise NetError("IMAP", "auth", f"IMAP login for '{login}' was refused: wrong password?{hint}") from None
    except Exception as exc:
        _close_quietly(client)
        raise explain("IMAP", ep, exc) from None


def smtp_connect(ep: Endpoint, timeout: float = DEFAULT_TIMEOUT, local_hostname: str | None = None) -> smtplib.SMTP:
    """An encrypted SMTP session after EHLO; STARTTLS is required on plain ports."""
    ctx = tls_context(ep.ca_file)
    try:
        if ep.tls == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                ep.host, ep.port, timeout=timeout, context=ctx, local_hostname=local_hostname
            )
            smtp.ehlo()
            return smtp
        smtp = smtplib.SMTP(ep.host, ep.port, timeout=timeout, local_hostname=local_hostname)
    except Exception as exc:
        raise explain("SMTP", ep, exc) from None
    try:
        smtp.ehlo()
        if not smtp.has_extn("starttls"):
            raise NetError(
                "SMTP", "starttls", f"{ep} does not offer STARTTLS; Mailroom never sends a password unencrypted."
            )
        code, reply = smtp.starttls(context=ctx)  # smtplib drops its buffer and EHLO state on upgrade
        if code != 220:
            raise NetError("SMTP", "starttls", f"STARTTLS with {ep} was answered {code}; refusing to continue.")
        smtp.ehlo()
        _require_tls(smtp.sock, "SMTP", ep)
        return smtp
    except smtplib.SMTPResponseException as exc:
        _close_quietly(smtp)
        raise NetError(
            "SMTP", "starttls", f"STARTTLS with {ep} was refused ({exc.smtp_code}); refusing to continue."
        ) from None
    except Exception as exc:
        _close_quietly(smtp)
        raise explain("SMTP", ep, exc) from None


def smtp_login(
    ep: Endpoint, login: str, secret: Secret, timeout: float = DEFAULT_TIMEOUT, hint: str = ""
) -> smtplib.SMTP:
    """Connect and authenticate over TLS."""
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
        raise explain("SMTP", ep, exc) from None


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
