"""What a user may do with each mailbox: the one place every query and action asks."""

from __future__ import annotations

from sqlalchemy import Connection, select

from store.identity import Actor
from store.schema import mailboxes

# right → what it means
#   panel:     the mailbox's mail shows in the user's communication panel
#   read:      its mail shows in CRM timelines the user opens
#   send:      the user may send from it
#   configure: the user may change its settings
RIGHTS = ("panel", "read", "send", "configure")


def mailbox_ids_with(conn: Connection, actor: Actor, right: str) -> set[int]:
    """Ids of the mailboxes on which *actor* holds *right* (owners hold every right)."""
    if right not in RIGHTS:
        raise ValueError(f"unknown right {right!r}")
    owned = {r[0] for r in conn.execute(select(mailboxes.c.id).where(mailboxes.c.owner_id == actor.user.id))}
    return owned | _shared_ids(conn, actor, right)


def _shared_ids(conn: Connection, actor: Actor, right: str) -> set[int]:
    """Mailboxes shared with the user or one of their roles; empty until sharing is configured."""
    return set()
