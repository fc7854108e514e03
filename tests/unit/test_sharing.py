"""Shared mailboxes: each right, nested roles, the sharing option, hidden ids and the audit trail."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from store import audit
from store.errors import Forbidden, Invalid, NotFound
from store.identity import Operation
from store.schema import mailboxes, principals
from store.schema_sharing import audit_log
from store.secrets import Secret, open_secret_store
from store.sharing import ShareRow, SharingState

ACCESS = Operation.SHARED_MAILBOX_ACCESS.value
SYNC = Operation.SHARED_MAILBOX_SYNC.value
SHARED = "team@gmail.com"


@pytest.fixture
def secrets(tmp_path):
    return open_secret_store("file", data_dir=tmp_path / "sd", config_dir=tmp_path / "sc")


@pytest.fixture
def world(store, admin, secrets):
    """olga owns team@gmail.com; everyone else is in role Staff, which holds the access operation."""
    ident = store.identity
    for name in ("olga", "rita", "sam", "carl", "nina", "zed"):
        ident.add(admin, "user", name)
    ident.add(admin, "role", "Staff")
    for name in ("olga", "rita", "sam", "carl", "nina", "zed"):
        ident.add_member(admin, "Staff", name)
    ident.grant(admin, ACCESS, "Staff")
    for name in ("olga", "carl"):
        ident.grant(admin, SYNC, name)
    olga = ident.actor("olga")
    gmail = store.providers.get("Gmail")
    box = store.mailboxes.create(olga, SHARED, gmail.id, SHARED, Secret("pw"), secrets)
    return box


def actor(store, name):
    return store.identity.actor(name)


def share(store, who, *rows, enabled=True):
    return store.sharing.save(actor(store, who), SHARED, SharingState(enabled, list(rows)))


def rights_of(store, name, box_id):
    a = actor(store, name)
    m = store.mailboxes
    return {
        "panel": box_id in {b.id for b in m.visible(a)},
        "read": box_id in m.readable_ids(a),
        "send": box_id in {b.id for b in m.sendable(a)},
        "configure": box_id in m.configurable_ids(a),
    }


NONE = {"panel": False, "read": False, "send": False, "configure": False}


def test_owner_holds_every_right_without_any_share(store, world) -> None:
    assert rights_of(store, "olga", world.id) == {
        "panel": True,
        "read": True,
        "send": True,
        "configure": True,
    }
    assert rights_of(store, "zed", world.id) == NONE


def test_read_only_holder_sees_mail_in_timelines_not_in_the_panel(store, world) -> None:
    share(store, "olga", ShareRow("rita", read=True))
    assert rights_of(store, "rita", world.id) == dict(NONE, read=True)
    rita = actor(store, "rita")
    assert store.mailboxes.get(rita, SHARED, "read").id == world.id
    with pytest.raises(NotFound):
        store.mailboxes.get(rita, SHARED)  # the panel's question
    with pytest.raises(NotFound):
        store.mailboxes.get(rita, SHARED, "send")


def test_send_holder_sees_it_in_panel_and_timelines_and_may_send(store, world) -> None:
    state = share(store, "olga", ShareRow("sam", send=True))
    assert state.rows == [ShareRow("sam", "user", read=True, send=True, configure=False)]  # send implies read
    assert rights_of(store, "sam", world.id) == {
        "panel": True,
        "read": True,
        "send": True,
        "configure": False,
    }
    with pytest.raises(NotFound):
        store.mailboxes.get(actor(store, "sam"), SHARED, "configure")


def test_sending_off_keeps_the_panel_but_leaves_the_from_field(store, world) -> None:
    share(store, "olga", ShareRow("sam", send=True))
    with store.engine.begin() as conn:
        conn.execute(update(mailboxes).where(mailboxes.c.id == world.id).values(send_enabled=False))
    assert rights_of(store, "sam", world.id) == {
        "panel": True,
        "read": True,
        "send": False,
        "configure": False,
    }


def test_configure_holder_changes_settings_and_the_sharing_table(store, world) -> None:
    share(store, "olga", ShareRow("carl", configure=True))
    assert rights_of(store, "carl", world.id) == dict(NONE, configure=True)
    carl = actor(store, "carl")
    state = store.sharing.get(carl, SHARED)
    assert state.owner_name == "olga" and state.enabled
    store.sharing.save(carl, SHARED, SharingState(True, [*state.rows, ShareRow("rita", read=True)]))
    assert rights_of(store, "rita", world.id)["read"]


def test_right_given_to_a_role_reaches_members_of_nested_roles(store, admin, world) -> None:
    ident = store.identity
    ident.add(admin, "role", "Sales")
    ident.add(admin, "role", "SalesEast")
    ident.add_member(admin, "Sales", "SalesEast")
    ident.add_member(admin, "SalesEast", "nina")
    share(store, "olga", ShareRow("Sales", send=True))
    assert rights_of(store, "nina", world.id)["send"]
    assert rights_of(store, "zed", world.id) == NONE


def test_removing_a_user_from_the_role_removes_access_at_once(store, admin, world) -> None:
    ident = store.identity
    ident.add(admin, "role", "Sales")
    ident.add(admin, "role", "SalesEast")
    ident.add_member(admin, "Sales", "SalesEast")
    ident.add_member(admin, "SalesEast", "nina")
    share(store, "olga", ShareRow("Sales", send=True))
    nina = actor(store, "nina")  # a running session keeps this Actor
    assert store.mailboxes.get(nina, SHARED).id == world.id
    ident.remove_member(admin, "SalesEast", "nina")
    assert store.mailboxes.visible(nina) == []
    assert store.mailboxes.readable_ids(nina) == set()
    with pytest.raises(NotFound):
        store.mailboxes.get(nina, SHARED, "read")


def test_holder_without_the_access_operation_gets_nothing_from_shares(store, admin, world) -> None:
    share(store, "olga", ShareRow("rita", send=True, configure=True))
    rita = actor(store, "rita")
    assert rights_of(store, "rita", world.id)["send"]
    store.identity.remove_member(admin, "Staff", "rita")  # Staff carried the access operation
    assert rights_of(store, "rita", world.id) == NONE
    assert store.mailboxes.visible(rita) == []
    store.identity.grant(admin, ACCESS, "rita")
    assert rights_of(store, "rita", world.id)["send"]


def test_sharing_off_grants_nothing_and_keeps_the_table(store, world) -> None:
    share(store, "olga", ShareRow("sam", send=True))
    olga = actor(store, "olga")
    state = store.sharing.set_enabled(olga, SHARED, False)
    assert not state.enabled and [r.principal_name for r in state.rows] == ["sam"]
    assert rights_of(store, "sam", world.id) == NONE
    store.sharing.set_enabled(olga, SHARED, True)
    assert rights_of(store, "sam", world.id)["send"]


def test_rows_before_the_option_is_ever_turned_on_grant_nothing(store, world) -> None:
    share(store, "olga", ShareRow("sam", send=True), enabled=False)
    assert rights_of(store, "sam", world.id) == NONE


def test_a_hidden_id_answers_exactly_like_a_missing_one(store, world) -> None:
    zed = actor(store, "zed")
    messages = []
    for key in (world.id, world.id + 1000):
        for right in ("panel", "read", "send", "configure"):
            with pytest.raises(NotFound) as err:
                store.mailboxes.get(zed, key, right)
            messages.append(str(err.value).replace(str(key), "ID"))
    assert set(messages) == {"No mailbox 'ID'."}
    store.identity.grant(store.identity.actor("alice"), SYNC, "zed")
    hidden, missing = [], []
    for key, out in ((SHARED, hidden), ("nobody@gmail.com", missing)):
        with pytest.raises(NotFound) as err:
            store.sharing.get(zed, key)
        out.append(str(err.value).replace(key, "X"))
    assert hidden == missing == ["No mailbox 'X'."]


def test_own_address_or_alias_matching_a_shared_mailbox_grants_nothing(store, admin, world, secrets) -> None:
    zed = actor(store, "zed")
    gmail = store.providers.get("Gmail")
    own = store.mailboxes.create(zed, "zed@gmail.com", gmail.id, "zed@gmail.com", Secret("z"), secrets)
    with store.engine.begin() as conn:
        conn.execute(update(mailboxes).where(mailboxes.c.id == own.id).values(alias=SHARED))
        conn.execute(update(principals).where(principals.c.name == "zed").values(display_name=SHARED))
    zed = actor(store, "zed")
    assert [b.email for b in store.mailboxes.visible(zed)] == ["zed@gmail.com"]
    assert store.mailboxes.readable_ids(zed) == {own.id}
    assert store.mailboxes.configurable_ids(zed) == {own.id}
    with pytest.raises(NotFound):
        store.mailboxes.get(zed, SHARED, "read")
    # A user named like the mailbox is just another principal.
    store.identity.add(admin, "user", SHARED)
    store.identity.add_member(admin, "Staff", SHARED)
    assert rights_of(store, SHARED, world.id) == NONE


def test_who_may_share(store, admin, world) -> None:
    assert store.sharing.may_share(actor(store, "olga"))
    assert not store.sharing.may_share(actor(store, "rita"))  # access only, not sync
    with pytest.raises(Forbidden) as err:
        store.sharing.get(actor(store, "rita"), SHARED)
    assert "Configure synchronization with shared mailboxes" in str(err.value)
    assert "Access to shared mailbox connection" not in str(err.value)
    store.identity.add(admin, "user", "outsider")
    with pytest.raises(
        Forbidden, match="'Access to shared mailbox connection' and 'Configure synchronization"
    ):
        store.sharing.search_principals(actor(store, "outsider"), "")
    # Both operations but no right on this mailbox: it stays hidden.
    with pytest.raises(NotFound):
        store.sharing.get(actor(store, "carl"), SHARED)
    # Both operations and Read: visible, so the refusal may say why.
    share(store, "olga", ShareRow("carl", read=True))
    with pytest.raises(Forbidden, match="Configure mailbox"):
        store.sharing.save(actor(store, "carl"), SHARED, SharingState(True, []))
    # The owner without the sync operation may not share either.
    store.identity.grant(admin, SYNC, "olga", revoke=True)
    with pytest.raises(Forbidden):
        store.sharing.get(actor(store, "olga"), SHARED)


def test_invalid_tables_change_nothing(store, world) -> None:
    olga = actor(store, "olga")
    share(store, "olga", ShareRow("sam", send=True))
    for rows, field in (
        ([ShareRow("ghost", read=True)], "ghost"),
        ([ShareRow("olga", read=True)], "olga"),
        ([ShareRow("rita", read=True), ShareRow("rita", send=True)], "rita"),
    ):
        with pytest.raises(Invalid) as err:
            store.sharing.save(olga, SHARED, SharingState(True, [ShareRow("carl", read=True), *rows]))
        assert field in err.value.errors
    state = store.sharing.get(olga, SHARED)
    assert [(r.principal_name, r.send) for r in state.rows] == [("sam", True)]


def test_a_row_without_rights_is_removed(store, world) -> None:
    share(store, "olga", ShareRow("sam", send=True), ShareRow("rita", read=True))
    state = share(store, "olga", ShareRow("sam"), ShareRow("rita", read=True))
    assert [r.principal_name for r in state.rows] == ["rita"]
    assert rights_of(store, "sam", world.id) == NONE


def test_every_rights_change_is_audited_in_the_same_transaction(store, admin, world) -> None:
    olga = actor(store, "olga")
    share(store, "olga", ShareRow("sam", send=True), ShareRow("Staff", read=True))
    share(store, "olga", ShareRow("sam", read=True), ShareRow("Staff", read=True))
    share(store, "olga", ShareRow("Staff", read=True), enabled=False)
    share(store, "olga", ShareRow("Staff", read=True), enabled=False)  # no change, no line
    entries = store.audit.list(olga, SHARED)
    assert [e.action for e in reversed(entries)] == [
        audit.SHARING_ON,
        audit.SHARE_ADD,
        audit.SHARE_ADD,
        audit.SHARE_CHANGE,
        audit.SHARING_OFF,
        audit.SHARE_REMOVE,
    ]
    changed = next(e for e in entries if e.action == audit.SHARE_CHANGE)
    assert changed.actor_name == "olga" and changed.mailbox_email == SHARED
    assert changed.detail == {
        "principal": "sam",
        "kind": "user",
        "before": {"read": True, "send": True, "configure": False},
        "after": {"read": True, "send": False, "configure": False},
    }
    # A failed save leaves neither the change nor its audit line.
    before = len(store.audit.list(admin))
    with pytest.raises(Invalid):
        share(store, "olga", ShareRow("zed", read=True), ShareRow("ghost", read=True))
    assert len(store.audit.list(admin)) == before


def test_audit_is_for_admins_and_configure_holders_of_their_mailboxes(store, admin, world) -> None:
    share(store, "olga", ShareRow("rita", read=True))
    assert len(store.audit.list(admin)) == 2
    assert len(store.audit.list(actor(store, "olga"))) == 2
    assert store.audit.list(actor(store, "rita")) == []
    with pytest.raises(NotFound, match="No mailbox"):
        store.audit.list(actor(store, "rita"), SHARED)
    share(store, "olga", ShareRow("rita", read=True), ShareRow("carl", configure=True))
    assert [e.action for e in store.audit.list(actor(store, "carl"), SHARED)][0] == audit.SHARE_ADD


def test_audit_outlives_the_mailbox(store, admin, world, secrets) -> None:
    share(store, "olga", ShareRow("rita", read=True))
    store.mailboxes.remove(actor(store, "olga"), SHARED, secrets)
    entries = store.audit.list(admin, SHARED)
    assert {e.mailbox_email for e in entries} == {SHARED} and len(entries) == 2


def test_audit_refuses_content_and_secrets(store, admin, world) -> None:
    olga = actor(store, "olga")
    with store.engine.begin() as conn:
        for detail in ({"body": "hi"}, {"changed": {"password_command": "x"}}, {"signature": Secret("pw")}):
            with pytest.raises((ValueError, TypeError)):
                audit.record(conn, olga, world, audit.SETTINGS_CHANGE, detail, at=store.clock())
        with pytest.raises(ValueError, match="over 4000"):
            audit.record(conn, olga, world, audit.SEND_AS, {"subject": "x" * 5000}, at=store.clock())
        audit.record(
            conn, olga, world, audit.SEND_AS, {"message_id": "<1@x>", "to_count": 2}, at=store.clock()
        )
        assert conn.execute(select(audit_log.c.action)).scalars().all() == [audit.SEND_AS]


def test_search_principals_for_the_add_row_field(store, admin, world) -> None:
    olga = actor(store, "olga")
    store.identity.add(admin, "role", "Sales_Team", "people who sell")
    names = [p.name for p in store.sharing.search_principals(olga, "s")]
    assert names[:3] == ["Sales_Team", "sam", "Staff"]  # names starting with the text first
    assert "rita" not in names
    assert [p.name for p in store.sharing.search_principals(olga, "SELL")] == ["Sales_Team"]
    assert [p.name for p in store.sharing.search_principals(olga, "s_t")] == ["Sales_Team"]  # _ is literal
    assert store.sharing.search_principals(olga, "%") == []
    assert {p.kind for p in store.sharing.search_principals(olga, "")} == {"user", "role"}
