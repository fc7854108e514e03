"""Mail providers and the Mail provider domains lookup, with validation."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import Connection, Engine, delete, func, insert, select, update

from store import db
from store.clock import Clock
from store.errors import Conflict, Invalid, NotFound
from store.identity import Actor, Operation
from store.presets import PRESETS
from store.schema import mailboxes, provider_domains, providers

TlsMode = Literal["ssl", "starttls"]
HOST_RE = re.compile(
    r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
DOMAIN_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$")


def _clean_host(value: str) -> str:
    value = value.strip().lower().rstrip(".")
    if not HOST_RE.match(value):
        raise ValueError("not a valid host name")
    return value


def normalize_domain(value: str) -> str:
    """Lower-case an e-mail domain (IDNA for non-ASCII) and check its form."""
    value = value.strip().lower().rstrip(".")
    if value.startswith("@"):
        value = value[1:]
    try:
        ascii_domain = value.encode("idna").decode("ascii")
    except UnicodeError:
        raise Invalid({"domain": f"'{value}' is not a valid domain"}) from None
    if not DOMAIN_RE.match(ascii_domain):
        raise Invalid({"domain": f"'{value}' is not a valid domain (expected e.g. example.com)"})
    return ascii_domain


class ProviderDraft(BaseModel):
    """A provider as a user enters it; the authority on what is valid."""

    model_config = ConfigDict(frozen=True, str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=128)
    imap_host: str
    imap_port: int = Field(ge=1, le=65535)
    imap_tls: TlsMode = "ssl"
    smtp_host: str
    smtp_port: int = Field(ge=1, le=65535)
    smtp_tls: TlsMode = "ssl"
    auth_kind: Literal["password", "app_password", "oauth2"] = "password"
    login_format: Literal["address", "local_part", "ask"] = "address"
    app_password_required: bool = False
    help_url: str = ""
    ca_file: str = ""
    mx_suffixes: str = ""

    @field_validator("imap_host", "smtp_host")
    @classmethod
    def _host(cls, v: str) -> str:
        return _clean_host(v)

    @field_validator("imap_port", "smtp_port", mode="before")
    @classmethod
    def _port(cls, v: object) -> object:
        if isinstance(v, str):
            v = v.strip()
            if not v.isdigit():
                raise ValueError("a port is a number from 1 to 65535")
            v = int(v)
        if isinstance(v, int) and not 1 <= v <= 65535:
            raise ValueError("a port is a number from 1 to 65535")
        return v

    @field_validator("help_url")
    @classmethod
    def _url(cls, v: str) -> str:
        if v and not re.match(r"^https://\S+$", v):
            raise ValueError("must be an https:// address")
        return v

    @field_validator("ca_file")
    @classmethod
    def _ca(cls, v: str) -> str:
        if v:
            path = Path(v).expanduser()
            if not path.is_file():
                raise ValueError(f"no such file: {v}")
            with path.open("rb") as f:  # the start only: a huge file (or a device) is not read whole
                start = f.read(1_000_000)
            if b"-----BEGIN CERTIFICATE-----" not in start:
                raise ValueError("not a PEM certificate file")
            return str(path.resolve())
        return v

    @classmethod
    def parse(cls, **values: object) -> ProviderDraft:
        """Validate *values*, raising Invalid with one message per field."""
        try:
            return cls(**values)
        except ValidationError as exc:
            errors = {}
            for err in exc.errors():
                field = str(err["loc"][0]) if err["loc"] else ""
                errors.setdefault(field, err["msg"].removeprefix("Value error, "))
            raise Invalid(errors) from None


class Provider(ProviderDraft):
    """A stored provider."""

    id: int
    builtin: bool = False


def parse_hostport(value: str, field: str) -> tuple[str, int]:
    """Split HOST:PORT, with a clear message when it is not that."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise Invalid({field: f"expected HOST:PORT, got '{value}'"})
    return host, int(port)


class Providers:
    """Service for the Providers and Mail provider domains directories."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock

    def seed_presets(self) -> None:
        """Add the shipped providers and their domains once, to an empty directory."""
        with db.write(self._engine) as conn:
            if conn.execute(select(func.count()).select_from(providers)).scalar_one():
                return
            for p in PRESETS:
                pid = conn.execute(
                    insert(providers).values(
                        name=p["name"],
                        imap_host=p["imap"][0],
                        imap_port=p["imap"][1],
                        imap_tls=p["imap"][2],
                        smtp_host=p["smtp"][0],
                        smtp_port=p["smtp"][1],
                        smtp_tls=p["smtp"][2],
                        auth_kind=p["auth_kind"],
                        login_format=p.get("login_format", "address"),
                        app_password_required=p["app_password_required"],
                        help_url=p["help_url"],
                        mx_suffixes=" ".join(p["mx"]),
                        builtin=True,
                    )
                ).inserted_primary_key[0]
                for d in p["domains"]:
                    conn.execute(
                        insert(provider_domains).values(
                            domain=d, provider_id=pid, source="preset", created_at=self._clock()
                        )
                    )

    # -- providers -----------------------------------------------------------------
    def list(self) -> list[Provider]:
        """All providers by name."""
        with db.read(self._engine) as conn:
            rows = conn.execute(select(providers).order_by(func.lower(providers.c.name))).mappings()
            return [Provider(**r) for r in rows]

    def get(self, name_or_id: str | int) -> Provider:
        """One provider by name or id."""
        with db.read(self._engine) as conn:
            return self._get(conn, name_or_id)

    @staticmethod
    def _get(conn: Connection, name_or_id: str | int) -> Provider:
        col = providers.c.id if isinstance(name_or_id, int) else func.lower(providers.c.name)
        key = name_or_id if isinstance(name_or_id, int) else name_or_id.strip().lower()
        row = conn.execute(select(providers).where(col == key)).mappings().first()
        if row is None:
            raise NotFound(f"No provider named '{name_or_id}'.")
        return Provider(**row)

    def add(self, actor: Actor, draft: ProviderDraft) -> Provider:
        """Store a new provider."""
        actor.require(Operation.MANAGE_DIRECTORIES)
        with db.write(self._engine) as conn:
            self._check_name_free(conn, draft.name, None)
            pid = conn.execute(insert(providers).values(**draft.model_dump())).inserted_primary_key[0]
            return self._get(conn, pid)

    def update(self, actor: Actor, provider_id: int, draft: ProviderDraft) -> Provider:
        """Change a provider's settings."""
        actor.require(Operation.MANAGE_DIRECTORIES)
        with db.write(self._engine) as conn:
            self._get(conn, provider_id)
            self._check_name_free(conn, draft.name, provider_id)
            conn.execute(update(providers).where(providers.c.id == provider_id).values(**draft.model_dump()))
            return self._get(conn, provider_id)

    @staticmethod
    def _check_name_free(conn: Connection, name: str, own_id: int | None) -> None:
        row = conn.execute(select(providers.c.id).where(func.lower(providers.c.name) == name.lower())).first()
        if row and row[0] != own_id:
            raise Invalid({"name": f"a provider named '{name}' already exists"})

    def remove(self, actor: Actor, name_or_id: str | int) -> None:
        """Delete a provider that no mailbox uses, with its domains."""
        actor.require(Operation.MANAGE_DIRECTORIES)
        with db.write(self._engine) as conn:
            p = self._get(conn, name_or_id)
            used = conn.execute(
                select(func.count()).select_from(mailboxes).where(mailboxes.c.provider_id == p.id)
            ).scalar_one()
            if used:
                raise Conflict(
                    f"Provider '{p.name}' is used by {used} mailbox(es); remove or move them first."
                )
            conn.execute(delete(provider_domains).where(provider_domains.c.provider_id == p.id))
            conn.execute(delete(providers).where(providers.c.id == p.id))

    # -- domains -------------------------------------------------------------------
    def domains(self) -> list[tuple[str, str, str]]:
        """Every (domain, provider name, source) of the lookup, by domain."""
        with db.read(self._engine) as conn:
            rows = conn.execute(
                select(provider_domains.c.domain, providers.c.name, provider_domains.c.source)
                .join(providers, providers.c.id == provider_domains.c.provider_id)
                .order_by(provider_domains.c.domain)
            )
            return [(r[0], r[1], r[2]) for r in rows]

    def lookup(self, domain: str) -> Provider | None:
        """The provider the lookup maps *domain* to, if any."""
        domain = normalize_domain(domain)
        with db.read(self._engine) as conn:
            row = conn.execute(
                select(provider_domains.c.provider_id).where(provider_domains.c.domain == domain)
            ).first()
            return self._get(conn, row[0]) if row else None

    def by_mx(self, mx_hosts: list[str]) -> Provider | None:
        """The provider whose MX suffix matches the hosts best (longest suffix wins)."""
        best: tuple[int, Provider] | None = None
        for p in self.list():
            for suffix in p.mx_suffixes.split():
                for host in mx_hosts:
                    host = host.lower().rstrip(".")
                    if (host == suffix or host.endswith("." + suffix)) and (
                        best is None or len(suffix) > best[0]
                    ):
                        best = (len(suffix), p)
        return best[1] if best else None

    def add_domain(self, actor: Actor | None, domain: str, provider: str | int, source: str = "admin") -> str:
        """Map a domain to a provider; *actor* None is the wizard teaching the lookup."""
        if actor is not None:
            actor.require(Operation.MANAGE_DIRECTORIES)
        domain = normalize_domain(domain)
        with db.write(self._engine) as conn:
            p = self._get(conn, provider)
            existing = conn.execute(
                select(providers.c.name)
                .join(provider_domains, providers.c.id == provider_domains.c.provider_id)
                .where(provider_domains.c.domain == domain)
            ).first()
            if existing:
                raise Conflict(f"Domain '{domain}' is already mapped to '{existing[0]}'.")
            conn.execute(
                insert(provider_domains).values(
                    domain=domain, provider_id=p.id, source=source, created_at=self._clock()
                )
            )
        return domain

    def remove_domain(self, actor: Actor, domain: str) -> None:
        """Take a domain out of the lookup."""
        actor.require(Operation.MANAGE_DIRECTORIES)
        domain = normalize_domain(domain)
        with db.write(self._engine) as conn:
            if not conn.execute(delete(provider_domains).where(provider_domains.c.domain == domain)).rowcount:
                raise NotFound(f"Domain '{domain}' is not in the lookup.")
