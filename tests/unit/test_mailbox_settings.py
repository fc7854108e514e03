"""The settings page's rules, without a server: validation, one-transaction save, KEY=VALUE parsing."""

from __future__ import annotations

import pytest

from store.errors import Invalid, NotFound
from store.mailbox_settings import SettingsDraft, apply_assignments
from store.secrets import Secret, open_secret_store


@pytest.fixture
def boxes(store, admin, tmp_path):
    secrets = open_secret_store("file", data_dir=tmp_path / "sd", config_dir=tmp_path / "sc")
    gmail = store.providers.get("Gmail")
    a = store.mailboxes.create(admin, "a@gmail.com", gmail.id, "a@gmail.com", Secret("x"), secrets)
    b = store.mailboxes.create(admin, "b@gmail.com", gmail.id, "b@gmail.com", Secret("y"), secrets)
    return a, b


def test_save_every_setting(store, admin, boxes) -> None:
    a, _ = boxes
    sig = "Анна Петрова\n— отдел продаж\n電話 +7 495 000-00-00\n"
    draft = SettingsDraft.parse(
        load_period="3months",
        auto_load=False,
        folder_scope="selected",
        selected_folders=("Projects/Alpha", "Clients/Ромашка"),
        send_enabled=True,
        alias="Anna (Sales)",
        is_default_sender=True,
        use_signature=True,
        signature=sig,
    )
    saved = store.settings.save(admin, a.id, draft)
    assert (saved.load_period, saved.auto_load, saved.folder_scope) == ("3months", False, "selected")
    assert saved.selected_folders == ("Clients/Ромашка", "Projects/Alpha")
    assert saved.signature == sig and saved.alias == "Anna (Sales)"
    assert [b.email for b in store.mailboxes.visible(admin) if b.is_default_sender] == ["a@gmail.com"]


def test_default_sender_is_unique_per_owner(store, admin, boxes) -> None:
    a, b = boxes
    assert store.mailboxes.get(admin, b.id).is_default_sender
    store.settings.save(admin, a.id, SettingsDraft.of(a).model_copy(update={"is_default_sender": True}))
    defaults = {x.email: x.is_default_sender for x in store.mailboxes.visible(admin)}
    assert defaults == {"a@gmail.com": True, "b@gmail.com": False}


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"folder_scope": "selected"}, ""),
        ({"alias": "Evil\r\nBcc: x@y"}, "alias"),
        ({"use_signature": True, "signature": "  "}, ""),
        ({"load_period": "fortnight"}, "load_period"),
        ({"send_enabled": False, "is_default_sender": True}, ""),
        ({"folder_scope": "selected", "selected_folders": ("A\r\nB",)}, "selected_folders"),
    ],
)
def test_invalid_drafts_say_why(values, field) -> None:
    with pytest.raises(Invalid) as err:
        SettingsDraft.parse(**values)
    assert field in err.value.errors


def test_failed_save_changes_nothing(store, admin, boxes) -> None:
    a, _ = boxes
    bad = SettingsDraft.model_construct(**{**SettingsDraft.of(a).model_dump(), "alias": "x\ny"})
    with pytest.raises(Invalid):
        store.settings.save(admin, a.id, bad)
    assert store.mailboxes.get(admin, a.id).alias == ""


def test_others_cannot_open_or_save(store, admin, boxes) -> None:
    a, _ = boxes
    store.identity.add(admin, "user", "bob")
    bob = store.identity.actor("bob")
    with pytest.raises(NotFound, match="No mailbox"):
        store.settings.open(bob, a.id)
    with pytest.raises(NotFound):
        store.settings.save(bob, a.id, SettingsDraft.of(a))


def test_assignments_as_the_cli_takes_them(tmp_path) -> None:
    (tmp_path / "sig.txt").write_text("Best,\nИван\n", encoding="utf-8")
    base = SettingsDraft.parse(folder_scope="selected", selected_folders=("Archive/2024",))
    d = apply_assignments(
        base,
        [
            "period=month",
            "auto_load=off",
            "folders=+Projects/Alpha,-Archive/2024",
            "send=on",
            "alias=Ivan",
            "default_sender=on",
            "use_signature=on",
            "signature=@sig.txt",
        ],
        cwd=tmp_path,
    )
    assert d.selected_folders == ("Projects/Alpha",) and d.load_period == "month" and not d.auto_load
    assert d.signature == "Best,\nИван\n" and d.is_default_sender and d.alias == "Ivan"
    with pytest.raises(Invalid, match="period"):
        apply_assignments(base, ["period=fortnight"])
    with pytest.raises(Invalid, match="expected on or off"):
        apply_assignments(base, ["send=maybe"])
    with pytest.raises(Invalid, match="KEY=VALUE"):
        apply_assignments(base, ["colour=blue"])
    with pytest.raises(Invalid, match="cannot read"):
        apply_assignments(base, ["signature=@missing.txt"], cwd=tmp_path)
    with pytest.raises(Invalid, match="at least one folder"):
        apply_assignments(base, ["folders=-Archive/2024"])
