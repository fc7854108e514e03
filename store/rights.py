"""What a user may do with each mailbox: the one place every query and action asks."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, select, text

from store.identity import Actor, Operation
from store.schema import mailboxes

# right → what it means (docs/sharing.md has the full rules)
#   panel:     the mailbox's mail shows in the user's communication panel
#   read:      its mail shows in CRM timelines the user opens
#   send:      the user may send from it (Mailboxes.sendable also asks that sending is on)
#   configure: the user may change its settings, the sharing table included
RIGHTS = ("panel", "read", "send", "configure")

# right → the share columns any one of which grants it; sending implies seeing the mail.
_GRANTED_BY = {
    "panel": "s.can_send",
    "read": "s.can_read OR s.can_send",
    "send": "s.can_send",
    "configure": "s.can_configure",
}

# The user and every role reaching them through nested roles, as the database says now.
_REACH = """
WITH RECURSIVE reach(id) AS (
    SELECT id FROM principals WHERE id = :uid
    UNION
    SELECT rm.role_id FROM role_members rm JOIN reach r ON rm.member_id = r.id
)
"""

_OPERATIONS = text(
    _REACH + "SELECT DISTINCT g.operation FROM operation_grants g JOIN reach r ON r.id = g.principal_id"
)

# Shared with the user or a role reaching them, while the mailbox's "Access for other users" is on and
# the user holds the access operation.
_SHARED_WITH = {
    right: text(
        _REACH
        + f"""
SELECT DISTINCT s.mailbox_id
FROM mailbox_shares s
JOIN reach r ON r.id = s.principal_id
JOIN mailbox_sharing f ON f.mailbox_id = s.mailbox_id AND f.enabled
WHERE ({granted})
  AND EXISTS (
      SELECT 1 FROM operation_grants g JOIN reach r2 ON r2.id = g.principal_id
      WHERE g.operation = :access
  )
"""
    )
    for right, granted in _GRANTED_BY.items()
}


def mailbox_ids_with(conn: Connection, actor: Actor, right: str) -> set[int]:
    """Ids of the mailboxes on which *actor* holds *right* (owners hold every right)."""
    if right not in RIGHTS:
        raise ValueError(f"unknown right {right!r}")
    owned = {r[0] for r in conn.execute(select(mailboxes.c.id).where(mailboxes.c.owner_id == actor.user.id))}
    return owned | _shared_ids(conn, actor, right)


def _shared_ids(conn: Connection, actor: Actor, right: str) -> set[int]:
    """Mailboxes shared with the user or one of their roles (docs/sharing.md).

    Membership and operations are read in the same query rather than taken from the Actor, so taking a
    user out of a role or revoking an operation ends their access at once, even in a running session.
    """
    params = {"uid": actor.user.id, "access": Operation.SHARED_MAILBOX_ACCESS.value}
    return {r[0] for r in conn.execute(_SHARED_WITH[right], params)}


def live_operations(conn: Connection, actor: Actor) -> frozenset[str]:
    """The operations the user holds now, directly or through roles (the Actor's copy may be older)."""
    return frozenset(r[0] for r in conn.execute(_OPERATIONS, {"uid": actor.user.id}))


@dataclass(frozen=True)
class MailboxKey:
    """The few columns services need to act on a mailbox inside their own transaction."""

    id: int
    email: str
    owner_id: int


def find_with(conn: Connection, actor: Actor, email_or_id: str | int, right: str) -> MailboxKey | None:
    """The mailbox named by address or id if *actor* holds *right* on it, else None (missing or hidden)."""
    col = mailboxes.c.id if isinstance(email_or_id, int) else mailboxes.c.email
    key = email_or_id if isinstance(email_or_id, int) else email_or_id.strip().lower()
    row = conn.execute(
        select(mailboxes.c.id, mailboxes.c.email, mailboxes.c.owner_id).where(
            col == key, mailboxes.c.id.in_(mailbox_ids_with(conn, actor, right))
        )
    ).first()
    return MailboxKey(*row) if row else None
