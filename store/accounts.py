"""Connecting a new mailbox: address check, provider detection, live authorization, then storing it."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

from sqlalchemy import select

from store import db
from store.errors import Conflict, Invalid, StoreError
from store.net import DEFAULT_TIMEOUT, Endpoint, NetError, imap_login, smtp_login, wire_safe
from store.schema import mailboxes

if TYPE_CHECKING:
    from store.identity import Actor
    from store.mailboxes import Mailbox
    from store.providers import Provider
    from store.secrets import Secret, SecretStore
    from store.service import Store

log = logging.getLogger("mailroom.accounts")

How = Literal["lookup", "mx", "choice"]
Step = Literal["imap", "smtp", "save"]
DNS_ENV = "MAILROOM_DNS_SERVER"
DNS_TIMEOUT = 4.0
HOW_LABELS: dict[str, str] = {
    "lookup": "found in the Mail provider domains lookup",
    "mx": "recognised from the domain's MX records",
    "choice": "chosen by you",
}
LOGIN_LABELS = {"address": "the full address", "local_part": "the part before @", "ask": "typed by you"}


@dataclass(frozen=True)
class Address:
    """A validated e-mail address, split for detection and login."""

    email: str
    local_part: str
    domain: str


def check_address(text: str) -> Address:
    """Validate *text* as an e-mail address (syntax only, no DNS) or raise Invalid with the reason."""
    from email_validator import EmailNotValidError, validate_email

    text = text.strip()
    if not text:
        raise Invalid({"email": "Type your e-mail address, e.g. ann@example.com."})
    try:
        result = validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        if "special-use or reserved" not in str(exc):
            raise Invalid({"email": str(exc)}) from None
        return _internal_address(text)
    wire_safe(result.normalized, "email")
    return Address(result.normalized, result.local_part, result.ascii_domain.lower())


def _internal_address(text: str) -> Address:
    """An address on a company-internal domain (corp.local, mail.test): the local part is checked by the
    validator against a public stand-in domain, the domain by its DNS syntax alone."""
    from email_validator import EmailNotValidError, validate_email

    from store.providers import normalize_domain

    local, _, domain = text.rpartition("@")
    try:
        stand_in = validate_email(f"{local}@example.com", check_deliverability=False)
    except EmailNotValidError as exc:
        raise Invalid({"email": str(exc)}) from None
    try:
        ascii_domain = normalize_domain(domain)
    except Invalid:
        raise Invalid({"email": f"'{domain}' is not a valid domain"}) from None
    email = f"{stand_in.local_part}@{ascii_domain}"
    wire_safe(email, "email")
    return Address(email, stand_in.local_part, ascii_domain)


def login_for(provider: Provider, email: str, typed_login: str = "") -> str:
    """The login name the provider expects for *email*: the address, its local part, or what was typed."""
    if provider.login_format == "ask":
        login = typed_login.strip()
        if not login:
            raise Invalid({"login": f"{provider.name} needs a login name; type the one your admin gave you."})
    elif provider.login_format == "local_part":
        login = email.rpartition("@")[0]
    else:
        login = email
    return wire_safe(login, "login")


def server_lines(provider: Provider) -> list[str]:
    """What the wizard tells the user it will connect to, one line each."""
    lines = [f"IMAP  {Endpoint.imap_of(provider)}", f"SMTP  {Endpoint.smtp_of(provider)}"]
    lines.append(f"Login {LOGIN_LABELS[provider.login_format]}")
    if provider.ca_file:
        lines.append("TLS   certificates checked against the provider's own CA file")
    return lines


def app_password_hint(provider: Provider) -> str:
    """The advice appended to a refused login for providers that need an app password."""
    if not provider.app_password_required:
        return ""
    where = f" Instructions: {provider.help_url}" if provider.help_url else ""
    return f" {provider.name} needs an app password, not your usual password.{where}"


# -- detection --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Detection:
    """Which provider serves an address, how it was found, and the MX hosts seen on the way."""

    address: Address
    provider: Provider | None
    how: How | None
    mx_hosts: tuple[str, ...] = ()
    mx_note: str = ""

    def chosen(self, provider: Provider) -> Detection:
        """The same detection with a provider the user picked."""
        return replace(self, provider=provider, how="choice")

    @property
    def how_label(self) -> str:
        """How the provider was found, in words."""
        return HOW_LABELS.get(self.how or "", "not found")


def parse_dns_server(value: str) -> tuple[str, int]:
    """Split HOST[:PORT] (IPv6 as [ADDR]:PORT) into an address and a port, 53 by default."""
    value = value.strip()
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port = rest.removeprefix(":")
    elif value.count(":") == 1:
        host, _, port = value.partition(":")
    else:
        host, port = value, ""
    if not host or (port and not port.isdigit()) or not 0 < int(port or 53) < 65536:
        raise Invalid({"dns_server": f"expected HOST or HOST:PORT, got '{value}'"})
    return host, int(port or 53)


class Detector:
    """Finds the provider of an address: the domains lookup first, then the domain's MX records."""

    def __init__(
        self,
        store: Store,
        nameservers: list[str] | None = None,
        port: int = 53,
        timeout: float = DNS_TIMEOUT,
    ) -> None:
        self._store = store
        self._nameservers = list(nameservers or [])
        self._port = port
        self._timeout = timeout

    @classmethod
    def from_env(cls, store: Store, environ: Mapping[str, str] = os.environ) -> Detector:
        """A detector using MAILROOM_DNS_SERVER=host:port when set, else the system resolver."""
        value = environ.get(DNS_ENV, "").strip()
        if not value:
            return cls(store)
        host, port = parse_dns_server(value)
        return cls(store, [host], port)

    def mx_hosts(self, domain: str) -> tuple[tuple[str, ...], str]:
        """The domain's MX hosts by preference, and a note when there are none (never raises)."""
        import dns.exception
        import dns.resolver

        try:
            if self._nameservers:
                resolver = dns.resolver.Resolver(configure=False)
                resolver.nameservers = self._nameservers
                resolver.port = self._port
            else:
                resolver = dns.resolver.Resolver()
            answer = resolver.resolve(domain, "MX", lifetime=self._timeout, search=False)
        except dns.resolver.NXDOMAIN:
            return (), f"the domain {domain} does not exist in DNS"
        except dns.resolver.NoAnswer:
            return (), f"{domain} has no MX records"
        except dns.exception.Timeout:
            return (), "the DNS lookup of the MX records timed out"
        except (dns.exception.DNSException, OSError) as exc:
            return (), f"the DNS lookup of the MX records failed ({exc})"
        records = sorted(answer, key=lambda r: (r.preference, str(r.exchange)))
        hosts = tuple(h for h in (str(r.exchange).rstrip(".").lower() for r in records) if h)
        return hosts, "" if hosts else f"{domain} accepts no mail (null MX)"

    def detect(self, email: str) -> Detection:
        """Look the domain up, then its MX hosts; provider None means the user must pick one."""
        address = check_address(email)
        provider = self._store.providers.lookup(address.domain)
        if provider is not None:
            return Detection(address, provider, "lookup")
        hosts, note = self.mx_hosts(address.domain)
        provider = self._store.providers.by_mx(list(hosts)) if hosts else None
        if provider is not None:
            return Detection(address, provider, "mx", hosts)
        if hosts and not note:
            note = "its MX hosts match no known provider"
        return Detection(address, None, None, hosts, note)


# -- authorization ----------------------------------------------------------------------------


class Cancelled(StoreError):
    """The user cancelled before anything was stored."""

    def __init__(self) -> None:
        super().__init__("Cancelled: nothing was stored.")


class CancelToken:
    """Cancellation shared with a worker; once saving has begun, cancelling no longer takes effect."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cancelled = False
        self._saving = False

    def cancel(self) -> bool:
        """Ask to stop; False when it is too late because the mailbox is being stored."""
        with self._lock:
            if self._saving:
                return False
            self._cancelled = True
            return True

    @property
    def cancelled(self) -> bool:
        """Whether cancel() took effect."""
        return self._cancelled

    def check(self) -> None:
        """Raise Cancelled if the user cancelled."""
        if self._cancelled:
            raise Cancelled()

    def begin_saving(self) -> None:
        """Enter the point of no return, unless already cancelled."""
        with self._lock:
            self.check()
            self._saving = True


class AuthorizeError(StoreError):
    """A failed live login, with a short title of what failed and the detailed message."""

    def __init__(self, title: str, detail: str, kind: str, protocol: str, imap_ok: bool) -> None:
        super().__init__(f"{title}: {detail}")
        self.title = title
        self.detail = detail
        self.kind = kind
        self.protocol = protocol
        self.imap_ok = imap_ok


_TITLES = {
    "auth": "Wrong password",
    "dns": "Host not found",
    "refused": "Connection refused",
    "timeout": "Connection timed out",
    "cert": "TLS certificate not trusted",
    "tls": "TLS connection failed",
    "starttls": "Encryption (STARTTLS) not available",
    "network": "Network error",
    "protocol": "Unexpected server answer",
}
_SMTP_AFTER_IMAP = {
    "auth": "IMAP ok, SMTP refused the login",
    "dns": "IMAP ok, SMTP host not found",
    "refused": "IMAP ok, SMTP refused the connection",
    "timeout": "IMAP ok, SMTP timed out",
    "cert": "IMAP ok, SMTP certificate not trusted",
}
_ADVICE = {
    "auth": " The password works for IMAP, so the account may not be allowed to send (SMTP AUTH):"
    " enable it in the account's settings or ask your mail admin.",
    "dns": " If the name is right, check the network connection and DNS.",
}
_PASSWORD_ADVICE = " Check the password, and that this address has an account with this provider."


def classify(exc: NetError, imap_ok: bool) -> AuthorizeError:
    """The AuthorizeError for a connection failure, titled by what failed (after IMAP worked, for SMTP)."""
    if exc.protocol == "SMTP" and imap_ok:
        title = _SMTP_AFTER_IMAP.get(
            exc.kind, f"IMAP ok, SMTP failed ({_TITLES.get(exc.kind, exc.kind).lower()})"
        )
        detail = str(exc) + _ADVICE.get(exc.kind, "")
    else:
        title = _TITLES.get(exc.kind, "Connection failed")
        detail = str(exc) + ("" if exc.kind == "auth" else _ADVICE.get(exc.kind, ""))
    return AuthorizeError(title, detail, exc.kind, exc.protocol, imap_ok)


def authorize(
    provider: Provider,
    login: str,
    secret: Secret,
    cancel: CancelToken | None = None,
    progress: Callable[[Step], None] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> None:
    """Log in to IMAP, then authenticate to SMTP, and log out of both; raise AuthorizeError or Cancelled."""
    cancel = cancel or CancelToken()
    report = progress or (lambda step: None)
    hint = app_password_hint(provider) or _PASSWORD_ADVICE
    imap_ok = False
    try:
        cancel.check()
        report("imap")
        client = imap_login(Endpoint.imap_of(provider), login, secret, timeout, hint)
        _logout(client.logout)
        imap_ok = True
        cancel.check()
        report("smtp")
        smtp = smtp_login(Endpoint.smtp_of(provider), login, secret, timeout)  # the password worked for IMAP
        _logout(smtp.quit)
        cancel.check()
    except NetError as exc:
        log.info("authorization of %s at %s failed: %s %s", login, provider.name, exc.protocol, exc.kind)
        raise classify(exc, imap_ok) from None


def _logout(method: Callable[[], object]) -> None:
    try:
        method()
    except Exception:  # noqa: BLE001 - the login already succeeded; a rude goodbye changes nothing
        log.debug("logout failed", exc_info=True)


class Accounts:
    """The new-account service the wizard and `mailroom mailbox add` share."""

    def __init__(
        self, store: Store, detector: Detector | None = None, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self._store = store
        self.detector = detector or Detector.from_env(store)
        self.timeout = timeout

    def detect(self, email: str) -> Detection:
        """See Detector.detect."""
        return self.detector.detect(email)

    def providers(self) -> list[Provider]:
        """Every provider the user may pick."""
        return self._store.providers.list()

    def is_connected(self, email: str) -> bool:
        """Whether any user already connected this address."""
        with db.read(self._store.engine) as conn:
            return (
                conn.execute(select(mailboxes.c.id).where(mailboxes.c.email == email.lower())).first()
                is not None
            )

    def ensure_not_connected(self, email: str) -> None:
        """Raise Conflict when the address is connected already."""
        if self.is_connected(email):
            raise Conflict(f"Mailbox {email.lower()} is already connected.")

    def connect(
        self,
        actor: Actor,
        detection: Detection,
        login: str,
        secret: Secret,
        secrets: SecretStore,
        cancel: CancelToken | None = None,
        progress: Callable[[Step], None] | None = None,
    ) -> Mailbox:
        """Authorize live and, only if both logins succeed, store the mailbox and learn a picked domain."""
        provider = detection.provider
        if provider is None:
            raise Invalid({"provider": "Choose a provider first."})
        if not secret:
            raise Invalid({"password": "Type the password."})
        cancel = cancel or CancelToken()
        email = detection.address.email
        self.ensure_not_connected(email)
        authorize(provider, login, secret, cancel, progress, self.timeout)
        cancel.begin_saving()
        if progress:
            progress("save")
        box = self._store.mailboxes.create(actor, email, provider.id, login, secret, secrets)
        log.info("connected mailbox %s (provider %s, %s)", email, provider.name, detection.how)
        if detection.how == "choice" and self._store.providers.lookup(detection.address.domain) is None:
            self.learn_domain(detection.address.domain, provider)
        return box

    def learn_domain(self, domain: str, provider: Provider) -> bool:
        """Teach the lookup that *domain* belongs to *provider*; False if it is mapped already."""
        try:
            self._store.providers.add_domain(None, domain, provider.id, source="user")
        except Conflict:
            return False
        return True
