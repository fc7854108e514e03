"""Companies (the CRM's account records) and the domains that link mail to them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, delete, func, insert, or_, select, update

from store import db
from store.clock import Clock
from store.crm.drafts import CompanyDraft
from store.crm.tables import companies, company_domains, contacts
from store.errors import Conflict, NotFound
from store.identity import Actor


@dataclass(frozen=True)
class Company:
    """A company record with its domains and how many contacts belong to it."""

    id: int
    name: str
    domains: tuple[str, ...]
    contacts: int
    created_at: datetime
    updated_at: datetime


def name_key(name: str) -> str:
    """What makes two company names the same name."""
    return " ".join(name.casefold().split())


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class Companies:
    """Service for company records; every user may read and edit them (mail on them is rights-filtered)."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock

    # -- reading -----------------------------------------------------------------------------------

    def _load(self, conn: Connection, ids: list[int]) -> list[Company]:
        if not ids:
            return []
        doms: dict[int, list[str]] = {}
        for domain, cid in conn.execute(
            select(company_domains.c.domain, company_domains.c.company_id)
            .where(company_domains.c.company_id.in_(ids))
            .order_by(company_domains.c.domain)
        ):
            doms.setdefault(cid, []).append(domain)
        counts = dict(
            conn.execute(
                select(contacts.c.company_id, func.count())
                .where(contacts.c.company_id.in_(ids))
                .group_by(contacts.c.company_id)
            ).all()
        )
        rows = conn.execute(select(companies).where(companies.c.id.in_(ids))).mappings().all()
        by_id = {
            r["id"]: Company(
                r["id"],
                r["name"],
                tuple(doms.get(r["id"], ())),
                counts.get(r["id"], 0),
                r["created_at"],
                r["updated_at"],
            )
            for r in rows
        }
        return [by_id[i] for i in ids if i in by_id]

    def list(self, actor: Actor, search: str = "", limit: int = 200, offset: int = 0) -> list[Company]:
        """Companies by name; *search* matches part of a name or a domain."""
        with db.read(self._engine) as conn:
            q = select(companies.c.id)
            if search.strip():
                pattern = _like(search.strip().casefold())
                by_domain = select(company_domains.c.company_id).where(
                    company_domains.c.domain.like(pattern, escape="\\")
                )
                q = q.where(
                    or_(companies.c.name_key.like(pattern, escape="\\"), companies.c.id.in_(by_domain))
                )
            ids = list(conn.execute(q.order_by(companies.c.name_key).limit(limit).offset(offset)).scalars())
            return self._load(conn, ids)

    def get(self, actor: Actor, company_id: int) -> Company:
        """One company by id."""
        with db.read(self._engine) as conn:
            found = self._load(conn, [company_id])
        if not found:
            raise NotFound(f"No company {company_id}.")
        return found[0]

    def find(self, actor: Actor, key: str | int) -> Company:
        """A company by id, one of its domains, or its name (any case)."""
        with db.read(self._engine) as conn:
            cid = self._find_id(conn, key)
            if cid is None:
                raise NotFound(f"No company '{key}'.")
            return self._load(conn, [cid])[0]

    @staticmethod
    def _find_id(conn: Connection, key: str | int) -> int | None:
        if isinstance(key, int) or key.strip().isdigit():
            return conn.execute(select(companies.c.id).where(companies.c.id == int(key))).scalar()
        text = key.strip().lower().removeprefix("@")
        cid = conn.execute(
            select(company_domains.c.company_id).where(company_domains.c.domain == text)
        ).scalar()
        if cid is None:
            cid = conn.execute(select(companies.c.id).where(companies.c.name_key == name_key(key))).scalar()
        return cid

    def by_domain(self, actor: Actor, domain: str) -> Company | None:
        """The company owning *domain*, if any."""
        with db.read(self._engine) as conn:
            cid = conn.execute(
                select(company_domains.c.company_id).where(company_domains.c.domain == domain.strip().lower())
            ).scalar()
            return self._load(conn, [cid])[0] if cid is not None else None

    # -- changing ----------------------------------------------------------------------------------

    def add(self, actor: Actor, draft: CompanyDraft) -> Company:
        """Store a new company with its domains."""
        with db.write(self._engine) as conn:
            cid = self.insert(conn, draft.name)
            self._set_domains(conn, cid, draft.domains)
            return self._load(conn, [cid])[0]

    def insert(self, conn: Connection, name: str) -> int:
        """Create a company named *name* in the caller's transaction (refused when the name is taken)."""
        key = name_key(name)
        if conn.execute(select(companies.c.id).where(companies.c.name_key == key)).first():
            raise Conflict(f"A company named '{name}' already exists.")
        now = self._clock()
        return conn.execute(
            insert(companies).values(name=name, name_key=key, created_at=now, updated_at=now)
        ).inserted_primary_key[0]

    def ensure(self, conn: Connection, name_or_domain: str) -> int:
        """The id of the company with this name or domain, created (without domains) when there is none."""
        cid = self._find_id(conn, name_or_domain)
        return cid if cid is not None else self.insert(conn, " ".join(name_or_domain.split()))

    def update(self, actor: Actor, company_id: int, draft: CompanyDraft) -> Company:
        """Rename a company and replace its domains."""
        with db.write(self._engine) as conn:
            self._require(conn, company_id)
            key = name_key(draft.name)
            other = conn.execute(select(companies.c.id).where(companies.c.name_key == key)).scalar()
            if other is not None and other != company_id:
                raise Conflict(f"A company named '{draft.name}' already exists.")
            conn.execute(
                update(companies)
                .where(companies.c.id == company_id)
                .values(name=draft.name, name_key=key, updated_at=self._clock())
            )
            conn.execute(delete(company_domains).where(company_domains.c.company_id == company_id))
            self._set_domains(conn, company_id, draft.domains)
            return self._load(conn, [company_id])[0]

    def add_domain(self, actor: Actor, company_id: int, domain: str) -> Company:
        """Give a company one more domain (mail from and to it links at once)."""
        clean = CompanyDraft.parse(name="x", domains=(domain,)).domains
        with db.write(self._engine) as conn:
            self._require(conn, company_id)
            self._set_domains(conn, company_id, clean)
            return self._load(conn, [company_id])[0]

    def remove_domain(self, actor: Actor, company_id: int, domain: str) -> Company:
        """Take a domain away from a company."""
        with db.write(self._engine) as conn:
            self._require(conn, company_id)
            conn.execute(
                delete(company_domains).where(
                    company_domains.c.company_id == company_id,
                    company_domains.c.domain == domain.strip().lower(),
                )
            )
            return self._load(conn, [company_id])[0]

    def remove(self, actor: Actor, company_id: int) -> Company:
        """Delete a company; its contacts stay, without a company."""
        with db.write(self._engine) as conn:
            self._require(conn, company_id)
            found = self._load(conn, [company_id])[0]
            conn.execute(update(contacts).where(contacts.c.company_id == company_id).values(company_id=None))
            conn.execute(delete(companies).where(companies.c.id == company_id))
        return found

    @staticmethod
    def _require(conn: Connection, company_id: int) -> None:
        if conn.execute(select(companies.c.id).where(companies.c.id == company_id)).first() is None:
            raise NotFound(f"No company {company_id}.")

    @staticmethod
    def _set_domains(conn: Connection, company_id: int, domains: tuple[str, ...]) -> None:
        for domain in domains:
            owner = conn.execute(
                select(company_domains.c.company_id, companies.c.name)
                .join(companies, companies.c.id == company_domains.c.company_id)
                .where(company_domains.c.domain == domain)
            ).first()
            if owner is not None and owner[0] != company_id:
                raise Conflict(f"{domain} already belongs to the company '{owner[1]}'.")
            if owner is None:
                conn.execute(insert(company_domains).values(domain=domain, company_id=company_id))
