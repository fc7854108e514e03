"""Mailboxes (connected mail accounts): records, settings and who may see them."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from sqlalchemy import Engine, delete, select, update

from store import db
from store.clock import Clock
from store.errors import Conflict, NotFound
from store.identity import Actor
from store.mailbox_record import Mailbox, credentials
from store.schema import mailbox_selected_folders, mailboxes, providers

if TYPE_CHECKING:
    from store.secrets import Secret, SecretStore

LOAD_PERIODS = ("day", "week", "month", "3months", "6months", "year", "all")
FOLDER_SCOPES = ("inbox", "all", "selected")


_SELECT = select(mailboxes, providers.c.name.label("provider_name")).join(
    providers, providers.c.id == mailboxes.c.provider_id
)


class Mailboxes:
    """Service for mailbox records; rights decide what each user sees."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock

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

    # Rights: every query below asks the same question, "what may this user do with which mailbox?"
    # Owners hold every right; sharing (store/sharing.py) adds rights given to users and roles.
    def _ids_with(self, actor: Actor, right: str) -> set[int]:
        from store.rights import mailbox_ids_with

        with db.read(self._engine) as conn:
            return mailbox_ids_with(conn, actor, right)

    def visible(self, actor: Actor) -> list[Mailbox]:
        """Mailboxes whose mail the user sees in their communication panel (owned, or shared to send)."""
        return self._load(mailboxes.c.id.in_(self._ids_with(actor, "panel")))

    def readable_ids(self, actor: Actor) -> set[int]:
        """Ids of mailboxes whose mail the user may read in CRM timelines (owned, shared to read or send)."""
        return self._ids_with(actor, "read")

    def sendable(self, actor: Actor) -> list[Mailbox]:
        """Mailboxes the user may send from: sending on, and owned or shared to send."""
        return [b for b in self._load(mailboxes.c.id.in_(self._ids_with(actor, "send"))) if b.send_enabled]

    def configurable_ids(self, actor: Actor) -> set[int]:
        """Ids of mailboxes whose settings the user may change."""
        return self._ids_with(actor, "configure")

    def get(self, actor: Actor, email_or_id: str | int, right: str = "panel") -> Mailbox:
        """One mailbox the user holds *right* on; any other is reported exactly like a missing one."""
        col = mailboxes.c.id if isinstance(email_or_id, int) else mailboxes.c.email
        key = email_or_id if isinstance(email_or_id, int) else email_or_id.strip().lower()
        found = self._load((col == key) & mailboxes.c.id.in_(self._ids_with(actor, right)))
        if not found:
            raise NotFound(f"No mailbox '{email_or_id}'.")
        return found[0]

    def all_for_sync(self) -> list[Mailbox]:
        """Every mailbox, for the headless sync engine that serves all users."""
        return self._load(mailboxes.c.id > 0)

    def create(
        self,
        actor: Actor,
        email: str,
        provider_id: int,
        login: str,
        secret: Secret,
        secrets: SecretStore,
    ) -> Mailbox:
        """Store a new mailbox with default settings and its password in the keyring, or nothing at all."""
        email = email.strip().lower()
        with db.read(self._engine) as conn:
            if conn.execute(select(mailboxes.c.id).where(mailboxes.c.email == email)).first():
                raise Conflict(f"Mailbox {email} is already connected.")
        ref = f"mailbox:{uuid.uuid4()}"
        secrets.set(ref, secret)
        try:
            with db.write(self._engine) as conn:
                if conn.execute(select(mailboxes.c.id).where(mailboxes.c.email == email)).first():
                    raise Conflict(f"Mailbox {email} is already connected.")
                self._clear_default_sender(conn, actor)
                new_id = conn.execute(
                    mailboxes.insert().values(
                        email=email,
                        owner_id=actor.user.id,
                        provider_id=provider_id,
                        login=login,
                        secret_ref=ref,
                        is_default_sender=True,
                        created_at=self._clock(),
                    )
                ).inserted_primary_key[0]
        except BaseException:
            secrets.delete(ref)
            raise
        return self.get(actor, new_id)

    def _clear_default_sender(self, conn, actor: Actor) -> None:  # noqa: ANN001
        conn.execute(
            update(mailboxes).where(mailboxes.c.owner_id == actor.user.id).values(is_default_sender=False)
        )

    def remove(self, actor: Actor, email_or_id: str | int, secrets: SecretStore) -> Mailbox:
        """Delete a mailbox the user owns, with its stored secret."""
        box = self.get(actor, email_or_id)
        if box.owner_id != actor.user.id:
            from store.errors import Forbidden

            raise Forbidden(f"Only the owner can remove {box.email}.")
        with db.write(self._engine) as conn:
            conn.execute(delete(mailboxes).where(mailboxes.c.id == box.id))
        secrets.delete(box.secret_ref)
        return box

    def credentials(self, box: Mailbox, secrets: SecretStore) -> Secret:
        """The mailbox's password: from its password command when set, else from the keyring."""
        return credentials(box, secrets)

    def set_status(self, mailbox_id: int, status: str, reason: str = "") -> None:
        """Mark a mailbox ok or needs_attention (used by the sync engine)."""
        with db.write(self._engine) as conn:
            conn.execute(
                update(mailboxes)
                .where(mailboxes.c.id == mailbox_id)
                .values(status=status, status_reason=reason)
            )

    def mark_synced(self, mailbox_id: int) -> None:
        """Record the time of the last successful sync."""
        with db.write(self._engine) as conn:
            conn.execute(
                update(mailboxes).where(mailboxes.c.id == mailbox_id).values(last_sync_at=self._clock())
            )
