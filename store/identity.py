"""Users, roles (which may contain roles) and system operations granted to either."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import Connection, Engine, delete, func, insert, select, text

from store import db
from store.clock import Clock
from store.errors import Conflict, Forbidden, Invalid, NotFound, UnknownUser
from store.schema import operation_grants, principals, role_members


class Operation(StrEnum):
    """System operations that gate actions; the values are stable codes stored in the database."""

    SHARED_MAILBOX_ACCESS = "CanAccessSharedMailbox"
    SHARED_MAILBOX_SYNC = "CanConfigureSharedMailboxSync"
    MANAGE_DIRECTORIES = "CanManageDirectories"
    MANAGE_USERS = "CanManageUsers"

    @property
    def title(self) -> str:
        """The operation's name as users read it."""
        return OPERATION_TITLES[self]


OPERATION_TITLES = {
    Operation.SHARED_MAILBOX_ACCESS: "Access to shared mailbox connection",
    Operation.SHARED_MAILBOX_SYNC: "Configure synchronization with shared mailboxes",
    Operation.MANAGE_DIRECTORIES: "Manage mail providers and provider domains",
    Operation.MANAGE_USERS: "Manage users, roles and granted operations",
}

ADMIN_ROLE = "Administrators"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$")


@dataclass(frozen=True)
class Principal:
    """A user or a role."""

    id: int
    kind: str
    name: str
    display_name: str


@dataclass(frozen=True)
class Actor:
    """The user on whose behalf the store acts, with every role that reaches them."""

    user: Principal
    principal_ids: frozenset[int]
    operations: frozenset[str]

    def can(self, operation: Operation) -> bool:
        """Whether the user holds *operation*, directly or through a role."""
        return operation.value in self.operations

    def require(self, operation: Operation) -> None:
        """Refuse with a clear message unless the user holds *operation*."""
        if not self.can(operation):
            raise Forbidden(
                f"User '{self.user.name}' lacks the system operation '{operation.title}'. "
                f"An administrator can grant it: mailroom grant {operation.value} {self.user.name}"
            )


_ROW = (principals.c.id, principals.c.kind, principals.c.name, principals.c.display_name)

# Every principal reaching the user: the user and, transitively, the roles containing it.
_REACH_SQL = text(
    """
    WITH RECURSIVE reach(id) AS (
        SELECT :uid
        UNION
        SELECT rm.role_id FROM role_members rm JOIN reach r ON rm.member_id = r.id
    )
    SELECT id FROM reach
    """
)


def validate_name(name: str, field: str = "name") -> str:
    """Check a user or role name: letters, digits and . _ @ + -, at most 128 characters."""
    name = name.strip()
    if not NAME_RE.match(name):
        raise Invalid({field: "use 1–128 letters, digits or . _ @ + - (starting with a letter or digit)"})
    return name


class Identity:
    """Service for users, roles, membership and operation grants."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock

    # -- lookups -----------------------------------------------------------------
    @staticmethod
    def _get(conn: Connection, name: str) -> Principal | None:
        row = conn.execute(select(*_ROW).where(principals.c.name == name)).first()
        return Principal(*row) if row else None

    def find(self, name: str) -> Principal:
        """The user or role called *name*."""
        with db.read(self._engine) as conn:
            found = self._get(conn, name)
        if found is None:
            raise NotFound(f"No user or role named '{name}'.")
        return found

    def list(self, kind: str) -> list[Principal]:
        """All users or all roles, by name."""
        with db.read(self._engine) as conn:
            rows = conn.execute(select(*_ROW).where(principals.c.kind == kind).order_by(principals.c.name))
            return [Principal(*r) for r in rows]

    def members(self, role_name: str) -> list[Principal]:
        """Direct members of a role."""
        with db.read(self._engine) as conn:
            role = self._get(conn, role_name)
            if role is None or role.kind != "role":
                raise NotFound(f"No role named '{role_name}'.")
            rows = conn.execute(
                select(*_ROW)
                .join(role_members, role_members.c.member_id == principals.c.id)
                .where(role_members.c.role_id == role.id)
                .order_by(principals.c.name)
            )
            return [Principal(*r) for r in rows]

    def grants(self) -> list[tuple[str, str]]:
        """Every (operation, principal name) grant."""
        with db.read(self._engine) as conn:
            rows = conn.execute(
                select(operation_grants.c.operation, principals.c.name)
                .join(principals, principals.c.id == operation_grants.c.principal_id)
                .order_by(operation_grants.c.operation, principals.c.name)
            )
            return [(r[0], r[1]) for r in rows]

    # -- the current user ----------------------------------------------------------
    def actor(self, user_name: str) -> Actor:
        """The Actor for *user_name*; the very first user becomes the administrator."""
        with db.write(self._engine) as conn:
            user = self._get(conn, user_name)
            if user is None:
                users = conn.execute(select(func.count()).where(principals.c.kind == "user")).scalar_one()
                if users:
                    raise UnknownUser(
                        f"User '{user_name}' is not known to this Mailroom installation. "
                        f"An administrator can add it with: mailroom user add {user_name}"
                    )
                user = self._bootstrap_admin(conn, validate_name(user_name, "user"))
            return self._actor(conn, user)

    def _actor(self, conn: Connection, user: Principal) -> Actor:
        ids = frozenset(r[0] for r in conn.execute(_REACH_SQL, {"uid": user.id}))
        ops = frozenset(
            r[0]
            for r in conn.execute(
                select(operation_grants.c.operation).where(operation_grants.c.principal_id.in_(ids))
            )
        )
        return Actor(user=user, principal_ids=ids, operations=ops)

    def _bootstrap_admin(self, conn: Connection, user_name: str) -> Principal:
        user = self._insert(conn, "user", user_name, "")
        role = self._get(conn, ADMIN_ROLE) or self._insert(conn, "role", ADMIN_ROLE, "Every system operation")
        conn.execute(insert(role_members).values(role_id=role.id, member_id=user.id))
        for op in Operation:
            conn.execute(
                insert(operation_grants)
                .prefix_with("OR IGNORE")
                .values(operation=op.value, principal_id=role.id)
            )
        return user

    def _insert(self, conn: Connection, kind: str, name: str, display_name: str) -> Principal:
        if self._get(conn, name) is not None:
            raise Conflict(f"A user or role named '{name}' already exists.")
        new_id = conn.execute(
            insert(principals).values(
                kind=kind, name=name, display_name=display_name, created_at=self._clock()
            )
        ).inserted_primary_key[0]
        return Principal(new_id, kind, name, display_name)

    # -- changes (admin) -------------------------------------------------------------
    def add(self, actor: Actor, kind: str, name: str, display_name: str = "") -> Principal:
        """Create a user or a role."""
        actor.require(Operation.MANAGE_USERS)
        name = validate_name(name)
        with db.write(self._engine) as conn:
            return self._insert(conn, kind, name, display_name.strip())

    def add_member(self, actor: Actor, role_name: str, member_name: str) -> None:
        """Put a user or role into a role, refusing cycles."""
        actor.require(Operation.MANAGE_USERS)
        with db.write(self._engine) as conn:
            role, member = self._role_and_member(conn, role_name, member_name)
            reach_of_role = {r[0] for r in conn.execute(_REACH_SQL, {"uid": role.id})}
            if member.id in reach_of_role:
                raise Conflict(f"'{role_name}' is already inside '{member_name}'; that would make a cycle.")
            conn.execute(
                insert(role_members).prefix_with("OR IGNORE").values(role_id=role.id, member_id=member.id)
            )

    def remove_member(self, actor: Actor, role_name: str, member_name: str) -> None:
        """Take a user or role out of a role."""
        actor.require(Operation.MANAGE_USERS)
        with db.write(self._engine) as conn:
            role, member = self._role_and_member(conn, role_name, member_name)
            gone = conn.execute(
                delete(role_members).where(
                    role_members.c.role_id == role.id, role_members.c.member_id == member.id
                )
            ).rowcount
            if not gone:
                raise NotFound(f"'{member_name}' is not a member of '{role_name}'.")

    def _role_and_member(
        self, conn: Connection, role_name: str, member_name: str
    ) -> tuple[Principal, Principal]:
        role = self._get(conn, role_name)
        if role is None or role.kind != "role":
            raise NotFound(f"No role named '{role_name}'.")
        member = self._get(conn, member_name)
        if member is None:
            raise NotFound(f"No user or role named '{member_name}'.")
        return role, member

    def grant(self, actor: Actor, operation: str, principal_name: str, revoke: bool = False) -> None:
        """Grant (or revoke) a system operation to a user or role."""
        actor.require(Operation.MANAGE_USERS)
        try:
            op = Operation(operation)
        except ValueError:
            known = ", ".join(o.value for o in Operation)
            raise Invalid({"operation": f"unknown operation '{operation}'; known: {known}"}) from None
        with db.write(self._engine) as conn:
            target = self._get(conn, principal_name)
            if target is None:
                raise NotFound(f"No user or role named '{principal_name}'.")
            if revoke:
                conn.execute(
                    delete(operation_grants).where(
                        operation_grants.c.operation == op.value, operation_grants.c.principal_id == target.id
                    )
                )
            else:
                conn.execute(
                    insert(operation_grants)
                    .prefix_with("OR IGNORE")
                    .values(operation=op.value, principal_id=target.id)
                )
