"""The audit log: who changed, shared or sent as which mailbox, and when; never message bodies or secrets."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, insert, select

from store import db
from store.clock import utc_now
from store.errors import NotFound
from store.identity import Actor, Operation
from store.schema_sharing import audit_log

# Actions, one vocabulary for every service that writes the log.
SHARING_ON = "sharing.on"
SHARING_OFF = "sharing.off"
SHARE_ADD = "share.add"
SHARE_CHANGE = "share.change"
SHARE_REMOVE = "share.remove"
SETTINGS_CHANGE = "settings.change"
PASSWORD_CHANGE = "password.change"
SEND_AS = "send_as"

MAX_DETAIL_CHARS = 4000
# Keys that would carry mail content or credentials; the log refuses them so no caller slips one in.
_UNSAFE_KEY = re.compile(r"body|html|attachment|password|secret|token|credential", re.IGNORECASE)


class MailboxRef(Protocol):
    """Anything naming a mailbox by id and address (a Mailbox, or a row a service already holds)."""

    @property
    def id(self) -> int: ...

    @property
    def email(self) -> str: ...


@dataclass(frozen=True)
class AuditEntry:
    """One line of the audit log."""

    id: int
    at: datetime
    actor_name: str
    mailbox_email: str
    action: str
    detail: dict[str, Any]


def _check_detail(detail: dict[str, Any], path: str = "") -> None:
    for key, value in detail.items():
        if _UNSAFE_KEY.search(str(key)):
            raise ValueError(f"audit detail may not carry {path}{key!r}: no message content or secrets")
        if isinstance(value, dict):
            _check_detail(value, f"{path}{key}.")


def record(
    conn: Connection,
    actor: Actor,
    mailbox: MailboxRef | None,
    action: str,
    detail: dict[str, Any] | None = None,
    *,
    at: datetime | None = None,
) -> None:
    """Write one audit line inside the caller's transaction, so the change and its record commit together.

    *detail* is JSON of what changed (field names, before and after, a message id); a key that looks like
    a body, an attachment or a credential is refused, as is anything that is not plain JSON. *at* defaults
    to now; services with a clock pass theirs.
    """
    detail = dict(detail or {})
    _check_detail(detail)
    if len(json.dumps(detail)) > MAX_DETAIL_CHARS:
        raise ValueError(f"audit detail over {MAX_DETAIL_CHARS} characters: log what changed, not content")
    conn.execute(
        insert(audit_log).values(
            at=at or utc_now(),
            actor_user_id=actor.user.id,
            actor_name=actor.user.name,
            mailbox_id=mailbox.id if mailbox else None,
            mailbox_email=mailbox.email if mailbox else "",
            action=action,
            detail=detail,
        )
    )


class Audit:
    """Reading the log: user managers see every line, others the lines of mailboxes they may configure."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def list(self, actor: Actor, mailbox: str | int | None = None, limit: int = 200) -> list[AuditEntry]:
        """The newest lines first, optionally of one mailbox (by address or id)."""
        from store.rights import find_with, live_operations, mailbox_ids_with

        query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
        with db.read(self._engine) as conn:
            if Operation.MANAGE_USERS.value in live_operations(conn, actor):
                if isinstance(mailbox, int):
                    query = query.where(audit_log.c.mailbox_id == mailbox)
                elif mailbox is not None:
                    query = query.where(audit_log.c.mailbox_email == mailbox.strip().lower())
            else:
                allowed = mailbox_ids_with(conn, actor, "configure")
                if mailbox is not None:
                    found = find_with(conn, actor, mailbox, "configure")
                    if found is None:
                        raise NotFound(f"No mailbox '{mailbox}'.")
                    allowed = {found.id}
                query = query.where(audit_log.c.mailbox_id.in_(allowed))
            rows = conn.execute(query).mappings().all()
        return [
            AuditEntry(r["id"], r["at"], r["actor_name"], r["mailbox_email"], r["action"], r["detail"])
            for r in rows
        ]
