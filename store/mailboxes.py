"""Mailboxes (connected mail accounts): records, settings and who may see them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select

from store import db
from store.errors import NotFound
from store.identity import Actor
from store.schema import mailbox_selected_folders, mailboxes, providers

LOAD_PERIODS = ("day", "week", "month", "3months", "6months", "year", "all")
FOLDER_SCOPES = ("inbox", "all", "selected")


@dataclass(frozen=True)
class Mailbox:
    """A connected mail account with its settings; holds no secret, only a reference to it."""

    id: int
    email: str
    owner_id: int
    provider_id: int
    provider_name: str
    login: str
    secret_ref: str
    password_command: str
    load_period: str
    auto_load: bool
    folder_scope: str
    send_enabled: bool
    alias: str
    is_default_sender: bool
    use_signature: bool
    signature: str
    status: str
    status_reason: str
    created_at: datetime
    last_sync_at: datetime | None
    selected_folders: tuple[str, ...] = ()


_SELECT = select(mailboxes, providers.c.name.label("provider_name")).join(
    providers, providers.c.id == mailboxes.c.provider_id
)


class Mailboxes:
    """Service for mailbox records; rights decide what each user sees."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def _load(self, where) -> list[Mailbox]:  # noqa: ANN001 - a SQLAlchemy clause
        with db.read(self._engine) as conn:
            rows = conn.execute(_SELECT.where(where).order_by(mailboxes.c.email)).mappings().all()
            folders: dict[int, list[str]] = {}
            if rows:
                sel = select(mailbox_selected_folders).where(
                    mailbox_selected_folders.c.mailbox_id.in_([r["id"] for r in rows])
                )
                for f in conn.execute(sel).mappings():
                    folders.setdefault(f["mailbox_id"], []).append(f["folder"])
        return [Mailbox(**r, selected_folders=tuple(sorted(folders.get(r["id"], [])))) for r in rows]

    def visible(self, actor: Actor) -> list[Mailbox]:
        """Mailboxes whose mail the user sees in their communication panel."""
        return self._load(mailboxes.c.owner_id.in_(actor.principal_ids))

    def get(self, actor: Actor, email_or_id: str | int) -> Mailbox:
        """One mailbox the user may see; an invisible one is reported exactly like a missing one."""
        col = mailboxes.c.id if isinstance(email_or_id, int) else mailboxes.c.email
        key = email_or_id if isinstance(email_or_id, int) else email_or_id.strip().lower()
        found = self._load((col == key) & mailboxes.c.owner_id.in_(actor.principal_ids))
        if not found:
            raise NotFound(f"No mailbox '{email_or_id}'.")
        return found[0]

    def all_for_sync(self) -> list[Mailbox]:
        """Every mailbox, for the headless sync engine that serves all users."""
        return self._load(mailboxes.c.id > 0)
