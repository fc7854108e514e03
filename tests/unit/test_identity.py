"""Users, nested roles and system operations."""

from __future__ import annotations

import pytest

from store.errors import Conflict, Forbidden, Invalid, NotFound, UnknownUser
from store.identity import ADMIN_ROLE, Operation


def test_first_user_becomes_administrator_with_every_operation(store) -> None:
    actor = store.identity.actor("alice")
    assert all(actor.can(op) for op in Operation)
    assert [m.name for m in store.identity.members(ADMIN_ROLE)] == ["alice"]


def test_unknown_user_is_refused_once_users_exist(store, admin) -> None:
    with pytest.raises(UnknownUser, match="mailroom user add bob"):
        store.identity.actor("bob")


def test_nested_role_grants_reach_members(store, admin) -> None:
    ident = store.identity
    ident.add(admin, "user", "bob")
    ident.add(admin, "role", "Support")
    ident.add(admin, "role", "Desk")
    ident.add_member(admin, "Support", "Desk")
    ident.add_member(admin, "Desk", "bob")
    assert not ident.actor("bob").can(Operation.SHARED_MAILBOX_ACCESS)
    ident.grant(admin, Operation.SHARED_MAILBOX_ACCESS.value, "Support")
    assert ident.actor("bob").can(Operation.SHARED_MAILBOX_ACCESS)
    ident.remove_member(admin, "Desk", "bob")
    assert not ident.actor("bob").can(Operation.SHARED_MAILBOX_ACCESS)


def test_role_cycles_are_refused(store, admin) -> None:
    ident = store.identity
    for name in ("A", "B", "C"):
        ident.add(admin, "role", name)
    ident.add_member(admin, "A", "B")
    ident.add_member(admin, "B", "C")
    with pytest.raises(Conflict, match="cycle"):
        ident.add_member(admin, "C", "A")
    with pytest.raises(Conflict, match="cycle"):
        ident.add_member(admin, "A", "A")


def test_non_admin_cannot_manage(store, admin) -> None:
    store.identity.add(admin, "user", "bob")
    bob = store.identity.actor("bob")
    with pytest.raises(Forbidden, match="Manage users"):
        store.identity.add(bob, "user", "mallory")
    with pytest.raises(Forbidden):
        store.identity.grant(bob, Operation.MANAGE_USERS.value, "bob")


def test_names_and_operations_are_validated(store, admin) -> None:
    with pytest.raises(Invalid):
        store.identity.add(admin, "user", "bad name\n")
    with pytest.raises(Conflict):
        store.identity.add(admin, "role", "alice")
    with pytest.raises(Invalid, match="unknown operation"):
        store.identity.grant(admin, "Nope", "alice")
    with pytest.raises(NotFound):
        store.identity.grant(admin, Operation.MANAGE_USERS.value, "ghost")
