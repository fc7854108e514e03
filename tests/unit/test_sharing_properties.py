"""Property: for random users, nested roles, operations and shares, the store answers as the rules say.

A plain-Python oracle computes each user's rights from the model; every listing, every get() by id and
address for every right, and every sharing action must agree with it, also after shares are saved,
members leave or join roles and operations are revoked or granted while the users' sessions (their
Actors) stay open.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert

from store.errors import Forbidden, NotFound
from store.identity import Operation
from store.schema import mailboxes, operation_grants, principals, role_members
from store.schema_sharing import mailbox_shares, mailbox_sharing
from store.service import open_store
from store.sharing import ShareRow, SharingState

ACCESS = Operation.SHARED_MAILBOX_ACCESS.value
SYNC = Operation.SHARED_MAILBOX_SYNC.value
NOW = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
RIGHTS = ("panel", "read", "send", "configure")
Flags = tuple[bool, bool, bool]  # read, send, configure


@dataclass
class Box:
    """A mailbox of the model."""

    email: str
    owner: str
    send_enabled: bool
    sharing_on: bool
    shares: dict[str, Flags] = field(default_factory=dict)


@dataclass
class World:
    """The model: principals, membership, operations and mailboxes; the oracle reads only this."""

    users: list[str]
    roles: list[str]
    members: set[tuple[str, str]]  # (role, member)
    grants: set[tuple[str, str]]  # (operation, principal)
    boxes: list[Box]

    def reach(self, user: str) -> set[str]:
        found, frontier = {user}, [user]
        while frontier:
            member = frontier.pop()
            for role, m in self.members:
                if m == member and role not in found:
                    found.add(role)
                    frontier.append(role)
        return found

    def ops(self, user: str) -> set[str]:
        reach = self.reach(user)
        return {op for op, p in self.grants if p in reach}

    def rights(self, user: str, box: Box) -> dict[str, bool]:
        """The rules of docs/sharing.md, written out plainly."""
        owner = box.owner == user
        read = send = configure = False
        if box.sharing_on and ACCESS in self.ops(user):
            for p in self.reach(user):
                r, s, c = box.shares.get(p, (False, False, False))
                read, send, configure = read or r, send or s, configure or c
        return {
            "panel": owner or send,
            "read": owner or read or send,
            "send": owner or send,
            "configure": owner or configure,
        }

    def sharing_outcome(self, user: str, box: Box) -> str:
        if not {ACCESS, SYNC} <= self.ops(user):
            return "forbidden"
        rights = self.rights(user, box)
        if rights["configure"]:
            return "ok"
        return "forbidden" if rights["read"] else "notfound"


FLAGS = st.tuples(st.booleans(), st.booleans(), st.booleans()).map(lambda f: (f[0] or f[1], f[1], f[2]))


@st.composite
def worlds(draw: st.DrawFn) -> World:
    """Dense enough that most users reach a share through a role, so membership changes matter."""
    users = [f"u{i}" for i in range(draw(st.integers(2, 3)))]
    roles = [f"r{i}" for i in range(draw(st.integers(0, 3)))]
    members: set[tuple[str, str]] = set()
    for i, role in enumerate(roles):
        # A role may contain users and later roles only, so nesting never makes a cycle.
        members |= {(role, m) for m in users + roles[i + 1 :] if draw(st.booleans())}
    principals_ = users + roles
    grants = {(ACCESS, p) for p in principals_ if draw(st.booleans())}
    grants |= {(SYNC, p) for p in principals_ if draw(st.booleans())}
    boxes = []
    for i in range(draw(st.integers(1, 3))):
        owner = draw(st.sampled_from(users))
        box = Box(
            f"box{i}@example.com", owner, draw(st.booleans()), draw(st.sampled_from([True, True, False]))
        )
        for p in principals_:
            flags = draw(FLAGS)
            if p != owner and any(flags) and draw(st.booleans()):
                box.shares[p] = flags
        boxes.append(box)
    return World(users, roles, members, grants, boxes)


@st.composite
def steps(draw: st.DrawFn, world: World) -> list[tuple]:
    """Sharing saves by random users; members leaving and joining roles; operations revoked and granted."""
    out: list[tuple] = []
    principals_ = world.users + world.roles
    for _ in range(draw(st.integers(0, 2))):
        kind = draw(st.sampled_from(["save", "leave", "isolate", "join", "revoke", "grant"]))
        if kind == "save":
            b = draw(st.integers(0, len(world.boxes) - 1))
            owner = world.boxes[b].owner
            who = draw(st.sets(st.sampled_from([p for p in principals_ if p != owner]), max_size=3))
            rows = {p: draw(FLAGS) for p in sorted(who)}
            out.append(("save", draw(st.sampled_from(world.users)), b, draw(st.booleans()), rows))
        elif kind == "leave" and world.members:  # drawn from the start; leaving twice changes nothing
            out.append(("leave", draw(st.sampled_from(sorted(world.members)))))
        elif kind == "isolate":  # a user taken out of every role at once
            out.append(("isolate", draw(st.sampled_from(world.users))))
        elif kind == "join" and world.roles:
            i = draw(st.integers(0, len(world.roles) - 1))
            member = draw(st.sampled_from(world.users + world.roles[i + 1 :]))
            out.append(("join", (world.roles[i], member)))
        elif kind == "revoke" and world.grants:
            out.append(("revoke", draw(st.sampled_from(sorted(world.grants)))))
        elif kind == "grant":
            out.append(("grant", (draw(st.sampled_from([ACCESS, SYNC])), draw(st.sampled_from(principals_)))))
    out.append(("isolate", draw(st.sampled_from(world.users))))  # every plan ends with someone leaving
    return out


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, seeded database file each example copies, so no example pays for migrations."""
    path = tmp_path_factory.mktemp("template") / "mailroom.db"
    open_store(path, clock=lambda: NOW).close()
    return path


def _build(store, world: World) -> tuple[dict[str, int], dict[int, int]]:
    """Write the model into the database; returns principal ids and mailbox ids by box index."""
    ids: dict[str, int] = {}
    box_ids: dict[int, int] = {}
    provider_id = store.providers.get("Gmail").id
    with store.engine.begin() as conn:
        for kind, names in (("user", world.users), ("role", world.roles)):
            for name in names:
                ids[name] = conn.execute(
                    insert(principals).values(kind=kind, name=name, display_name="", created_at=NOW)
                ).inserted_primary_key[0]
        for role, member in world.members:
            conn.execute(insert(role_members).values(role_id=ids[role], member_id=ids[member]))
        for op, p in world.grants:
            conn.execute(insert(operation_grants).values(operation=op, principal_id=ids[p]))
        for i, box in enumerate(world.boxes):
            box_ids[i] = conn.execute(
                insert(mailboxes).values(
                    email=box.email,
                    owner_id=ids[box.owner],
                    provider_id=provider_id,
                    login=box.email,
                    secret_ref=f"mailbox:{i}",
                    send_enabled=box.send_enabled,
                    created_at=NOW,
                )
            ).inserted_primary_key[0]
            conn.execute(insert(mailbox_sharing).values(mailbox_id=box_ids[i], enabled=box.sharing_on))
            for p, (r, s, c) in box.shares.items():
                conn.execute(
                    insert(mailbox_shares).values(
                        mailbox_id=box_ids[i], principal_id=ids[p], can_read=r, can_send=s, can_configure=c
                    )
                )
    return ids, box_ids


def _outcome(call) -> str:  # noqa: ANN001 - a zero-argument callable
    try:
        call()
    except NotFound:
        return "notfound"
    except Forbidden:
        return "forbidden"
    return "ok"


def _check(store, world: World, actors: dict, box_ids: dict[int, int]) -> None:
    m = store.mailboxes
    for user, a in actors.items():
        expected = {i: world.rights(user, box) for i, box in enumerate(world.boxes)}
        want = {r: {box_ids[i] for i, e in expected.items() if e[r]} for r in RIGHTS}
        sendable = {box_ids[i] for i, e in expected.items() if e["send"] and world.boxes[i].send_enabled}
        assert {b.id for b in m.visible(a)} == want["panel"], user
        assert m.readable_ids(a) == want["read"], user
        assert {b.id for b in m.sendable(a)} == sendable, user
        assert m.configurable_ids(a) == want["configure"], user
        for i, box in enumerate(world.boxes):
            for right in RIGHTS:
                got = _outcome(lambda: m.get(a, box_ids[i], right))  # noqa: B023
                assert got == ("ok" if expected[i][right] else "notfound"), (user, i, right)
            got = _outcome(lambda: m.get(a, box.email, "read"))  # noqa: B023
            assert got == ("ok" if expected[i]["read"] else "notfound"), (user, i)
            assert _outcome(lambda: store.sharing.get(a, box.email)) == world.sharing_outcome(user, box)  # noqa: B023
        assert _outcome(lambda: m.get(a, 99_999, "read")) == "notfound"  # noqa: B023
        assert store.sharing.may_share(a) == ({ACCESS, SYNC} <= world.ops(user))


def _apply(
    store, world: World, actors: dict, ids: dict[str, int], box_ids: dict[int, int], step: tuple
) -> None:
    if step[0] == "save":
        _, user, b, enabled, rows = step
        box = world.boxes[b]
        state = SharingState(
            enabled, [ShareRow(p, read=r, send=s, configure=c) for p, (r, s, c) in rows.items()]
        )
        expected = world.sharing_outcome(user, box)
        assert _outcome(lambda: store.sharing.save(actors[user], box.email, state)) == expected, step
        if expected == "ok":
            box.sharing_on = enabled
            box.shares = {p: f for p, f in rows.items() if any(f)}
    elif step[0] == "leave":
        role, member = step[1]
        with store.engine.begin() as conn:
            conn.execute(
                delete(role_members).where(
                    role_members.c.role_id == ids[role], role_members.c.member_id == ids[member]
                )
            )
        world.members.discard((role, member))
    elif step[0] == "isolate":
        with store.engine.begin() as conn:
            conn.execute(delete(role_members).where(role_members.c.member_id == ids[step[1]]))
        world.members = {(role, m) for role, m in world.members if m != step[1]}
    elif step[0] == "join":
        role, member = step[1]
        with store.engine.begin() as conn:
            conn.execute(
                insert(role_members).prefix_with("OR IGNORE").values(role_id=ids[role], member_id=ids[member])
            )
        world.members.add((role, member))
    elif step[0] == "revoke":
        op, p = step[1]
        with store.engine.begin() as conn:
            conn.execute(
                delete(operation_grants).where(
                    operation_grants.c.operation == op, operation_grants.c.principal_id == ids[p]
                )
            )
        world.grants.discard((op, p))
    else:
        op, p = step[1]
        with store.engine.begin() as conn:
            conn.execute(
                insert(operation_grants).prefix_with("OR IGNORE").values(operation=op, principal_id=ids[p])
            )
        world.grants.add((op, p))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_store_answers_equal_the_oracle(template: Path, data: st.DataObject) -> None:
    world = data.draw(worlds(), label="world")
    plan = data.draw(steps(world), label="steps")
    folder = Path(tempfile.mkdtemp(dir=template.parent))
    shutil.copy(template, folder / "mailroom.db")
    store = open_store(folder / "mailroom.db", clock=lambda: NOW)
    try:
        ids, box_ids = _build(store, world)
        actors = {u: store.identity.actor(u) for u in world.users}  # sessions stay open across the steps
        _check(store, world, actors, box_ids)
        for step in plan:
            _apply(store, world, actors, ids, box_ids, step)
            _check(store, world, actors, box_ids)
    finally:
        store.close()
        shutil.rmtree(folder, ignore_errors=True)
