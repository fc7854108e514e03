"""Sharing a mailbox with users and roles: who may share, the sharing table, and its audit trail."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, delete, func, insert, or_, select, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from store import audit, db
from store.clock import Clock
from store.errors import Forbidden, Invalid, NotFound, StoreError
from store.identity import Actor, Operation, Principal
from store.rights import MailboxKey, find_with, live_operations
from store.schema import principals
from store.schema_sharing import mailbox_shares, mailbox_sharing

if TYPE_CHECKING:
    from store.mailbox_settings import MailboxSettings, SettingsDraft
    from store.mailboxes import Mailbox

# Sharing a mailbox takes both operations, and the owner's or the Configure right on that mailbox.
SHARING_OPERATIONS = (Operation.SHARED_MAILBOX_ACCESS, Operation.SHARED_MAILBOX_SYNC)
SEARCH_LIMIT = 20


@dataclass(frozen=True)
class ShareRow:
    """One line of the sharing table: a user or role and the rights it holds on the mailbox."""

    principal_name: str
    kind: str = ""  # "user" or "role"; filled in by the store, ignored when saving
    read: bool = False
    send: bool = False
    configure: bool = False

    @property
    def rights(self) -> dict[str, bool]:
        """The three rights by name, as the audit log records them."""
        return {"read": self.read, "send": self.send, "configure": self.configure}


@dataclass(frozen=True)
class SharingState:
    """The sharing section of a mailbox's settings: "Access for other users" and its table."""

    enabled: bool
    rows: list[ShareRow] = field(default_factory=list)
    owner_name: str = ""  # shown for context; ignored when saving


class SharingRefused(Invalid):
    """The store refused the sharing table saved with the settings; keyed by user or role name."""


def missing_operations(operations: frozenset[str]) -> list[Operation]:
    """The sharing operations absent from *operations*."""
    return [op for op in SHARING_OPERATIONS if op.value not in operations]


def _refusal(actor: Actor, missing: list[Operation]) -> Forbidden:
    titles = " and ".join(f"'{op.title}'" for op in missing)
    grants = "; ".join(f"mailroom grant {op.value} {actor.user.name}" for op in missing)
    noun = "operation" if len(missing) == 1 else "operations"
    return Forbidden(
        f"User '{actor.user.name}' may not share mailboxes: lacks the system {noun} {titles}. "
        f"An administrator can grant {'it' if len(missing) == 1 else 'them'}: {grants}"
    )


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class Sharing:
    """Service behind the sharing section of the settings page and `mailroom share`."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock

    # -- who may share -------------------------------------------------------------
    def may_share(self, actor: Actor) -> bool:
        """Whether the user holds both sharing operations; only then does the settings page show sharing."""
        with db.read(self._engine) as conn:
            return not missing_operations(live_operations(conn, actor))

    def _require(self, conn: Connection, actor: Actor, mailbox: str | int) -> MailboxKey:
        """The mailbox if *actor* may share it; a missing operation is refused, an unseen mailbox hidden."""
        missing = missing_operations(live_operations(conn, actor))
        if missing:
            raise _refusal(actor, missing)
        box = find_with(conn, actor, mailbox, "configure")
        if box is not None:
            return box
        seen = find_with(conn, actor, mailbox, "read")
        if seen is None:
            raise NotFound(f"No mailbox '{mailbox}'.")
        raise Forbidden(
            f"User '{actor.user.name}' may not change the sharing of {seen.email}: "
            "that takes its owner or the Configure mailbox right."
        )

    # -- the sharing table ---------------------------------------------------------------
    def get(self, actor: Actor, mailbox: str | int) -> SharingState:
        """The mailbox's sharing option and table, rows sorted by name."""
        with db.read(self._engine) as conn:
            box = self._require(conn, actor, mailbox)
            return self._state(conn, box)

    def _state(self, conn: Connection, box: MailboxKey) -> SharingState:
        enabled = conn.execute(
            select(mailbox_sharing.c.enabled).where(mailbox_sharing.c.mailbox_id == box.id)
        ).scalar_one_or_none()
        rows = conn.execute(
            select(
                principals.c.name,
                principals.c.kind,
                mailbox_shares.c.can_read,
                mailbox_shares.c.can_send,
                mailbox_shares.c.can_configure,
            )
            .join(principals, principals.c.id == mailbox_shares.c.principal_id)
            .where(mailbox_shares.c.mailbox_id == box.id)
            .order_by(func.lower(principals.c.name))
        )
        owner = conn.execute(select(principals.c.name).where(principals.c.id == box.owner_id)).scalar_one()
        return SharingState(bool(enabled), [ShareRow(*r) for r in rows], owner)

    def save(self, actor: Actor, mailbox: str | int, state: SharingState) -> SharingState:
        """Replace the mailbox's sharing option and table in one transaction; returns what was stored.

        Rows without any right are dropped (that is how a row is removed); Send implies Read, so a row
        with Send is stored with Read on.
        """
        with db.write(self._engine) as conn:
            return self._save_on(conn, actor, mailbox, state)

    def _save_on(
        self, conn: Connection, actor: Actor, mailbox: str | int, state: SharingState
    ) -> SharingState:
        """Replace the sharing option and table inside the caller's transaction *conn*."""
        box = self._require(conn, actor, mailbox)
        wanted = self._resolve(conn, box, state.rows)
        self._apply(conn, actor, box, state.enabled, wanted)
        return self._state(conn, box)

    def save_with_settings(
        self,
        settings: MailboxSettings,
        actor: Actor,
        mailbox_id: int,
        draft: SettingsDraft,
        state: SharingState,
    ) -> Mailbox:
        """Store the settings page's *draft* and sharing *state* in one transaction (the page's Save).

        A refusal of the sharing part is raised as SharingRefused, so the page shows it beside the table.
        """

        def share(conn: Connection) -> None:
            try:
                self._save_on(conn, actor, mailbox_id, state)
            except Invalid as exc:
                raise SharingRefused(exc.errors) from exc
            except StoreError as exc:
                raise SharingRefused({"": str(exc)}) from exc

        return settings.save(actor, mailbox_id, draft, also=share)

    def set_rights(
        self, actor: Actor, mailbox: str | int, principal_name: str, read: bool, send: bool, configure: bool
    ) -> SharingState:
        """Set one user's or role's rights on the mailbox (all False removes the row); the option is kept."""
        with db.write(self._engine) as conn:
            box = self._require(conn, actor, mailbox)
            current = self._state(conn, box)
            name = principal_name.strip()
            rows = [r for r in current.rows if r.principal_name != name]
            rows.append(ShareRow(name, read=read, send=send, configure=configure))
            wanted = self._resolve(conn, box, rows)
            self._apply(conn, actor, box, current.enabled, wanted)
            return self._state(conn, box)

    def set_enabled(self, actor: Actor, mailbox: str | int, enabled: bool) -> SharingState:
        """Turn "Access for other users" on or off, keeping the table."""
        with db.write(self._engine) as conn:
            box = self._require(conn, actor, mailbox)
            current = self._state(conn, box)
            wanted = self._resolve(conn, box, current.rows)
            self._apply(conn, actor, box, enabled, wanted)
            return self._state(conn, box)

    def _resolve(self, conn: Connection, box: MailboxKey, rows: list[ShareRow]) -> dict[int, ShareRow]:
        """Validate rows against the principals table: principal id → normalised row."""
        names = [r.principal_name.strip() for r in rows]
        found = {
            name: (pid, kind)
            for pid, name, kind in conn.execute(
                select(principals.c.id, principals.c.name, principals.c.kind).where(
                    principals.c.name.in_(names)
                )
            )
        }
        errors: dict[str, str] = {}
        wanted: dict[int, ShareRow] = {}
        for name, row in zip(names, rows, strict=True):
            if name in errors:
                continue
            if name not in found:
                errors[name] = f"no user or role named '{name}'"
                continue
            pid, kind = found[name]
            if pid == box.owner_id:
                errors[name] = f"'{name}' owns {box.email} and holds every right already"
            elif pid in wanted:
                errors[name] = f"'{name}' appears twice in the table"
            elif row.read or row.send or row.configure:
                wanted[pid] = ShareRow(name, kind, row.read or row.send, row.send, row.configure)
            else:
                wanted[pid] = ShareRow(name, kind)  # kept only to notice duplicates; removed below
        if errors:
            raise Invalid(errors)
        return {pid: r for pid, r in wanted.items() if r.read or r.configure}

    def _apply(
        self, conn: Connection, actor: Actor, box: MailboxKey, enabled: bool, wanted: dict[int, ShareRow]
    ) -> None:
        """Write the difference between the stored and the wanted state, one audit line per change."""
        at = self._clock()
        was_enabled = bool(
            conn.execute(
                select(mailbox_sharing.c.enabled).where(mailbox_sharing.c.mailbox_id == box.id)
            ).scalar_one_or_none()
        )
        if enabled != was_enabled:
            stmt = sqlite_insert(mailbox_sharing).values(mailbox_id=box.id, enabled=enabled)
            conn.execute(stmt.on_conflict_do_update(index_elements=["mailbox_id"], set_={"enabled": enabled}))
            audit.record(conn, actor, box, audit.SHARING_ON if enabled else audit.SHARING_OFF, at=at)

        stored = {
            r.principal_id: r
            for r in conn.execute(
                select(
                    mailbox_shares.c.principal_id,
                    principals.c.name,
                    principals.c.kind,
                    mailbox_shares.c.can_read,
                    mailbox_shares.c.can_send,
                    mailbox_shares.c.can_configure,
                )
                .join(principals, principals.c.id == mailbox_shares.c.principal_id)
                .where(mailbox_shares.c.mailbox_id == box.id)
            )
        }
        for pid, old in stored.items():
            if pid not in wanted:
                conn.execute(
                    delete(mailbox_shares).where(
                        mailbox_shares.c.mailbox_id == box.id, mailbox_shares.c.principal_id == pid
                    )
                )
                before = ShareRow(old.name, old.kind, old.can_read, old.can_send, old.can_configure)
                self._log(conn, actor, box, audit.SHARE_REMOVE, before, None, at)
        for pid, row in wanted.items():
            values = {"can_read": row.read, "can_send": row.send, "can_configure": row.configure}
            old = stored.get(pid)
            if old is None:
                conn.execute(insert(mailbox_shares).values(mailbox_id=box.id, principal_id=pid, **values))
                self._log(conn, actor, box, audit.SHARE_ADD, None, row, at)
            elif (old.can_read, old.can_send, old.can_configure) != (row.read, row.send, row.configure):
                conn.execute(
                    update(mailbox_shares)
                    .where(mailbox_shares.c.mailbox_id == box.id, mailbox_shares.c.principal_id == pid)
                    .values(**values)
                )
                before = ShareRow(old.name, old.kind, old.can_read, old.can_send, old.can_configure)
                self._log(conn, actor, box, audit.SHARE_CHANGE, before, row, at)

    @staticmethod
    def _log(
        conn: Connection,
        actor: Actor,
        box: MailboxKey,
        action: str,
        before: ShareRow | None,
        after: ShareRow | None,
        at: datetime,
    ) -> None:
        who = after if after is not None else before
        detail = {
            "principal": who.principal_name if who else "",
            "kind": who.kind if who else "",
            "before": before.rights if before else None,
            "after": after.rights if after else None,
        }
        audit.record(conn, actor, box, action, detail, at=at)

    # -- the "+ add row" search ------------------------------------------------------------
    def search_principals(self, actor: Actor, text: str, limit: int = SEARCH_LIMIT) -> list[Principal]:
        """Users and roles whose name or display name contains *text*, names starting with it first."""
        with db.read(self._engine) as conn:
            missing = missing_operations(live_operations(conn, actor))
            if missing:
                raise _refusal(actor, missing)
            needle = _escape_like(text.strip().lower())
            pattern = f"%{needle}%"
            starts = func.lower(principals.c.name).like(f"{needle}%", escape="\\")
            rows = conn.execute(
                select(principals.c.id, principals.c.kind, principals.c.name, principals.c.display_name)
                .where(
                    or_(
                        func.lower(principals.c.name).like(pattern, escape="\\"),
                        func.lower(principals.c.display_name).like(pattern, escape="\\"),
                    )
                )
                .order_by(starts.desc(), func.lower(principals.c.name))
                .limit(limit)
            )
            return [Principal(*r) for r in rows]
