"""The settings page's Save: settings and sharing table stored in one transaction, or neither."""

from __future__ import annotations

import pytest

from store.mailbox_settings import SettingsDraft
from store.secrets import Secret, open_secret_store
from store.sharing import ShareRow, SharingRefused, SharingState

BOX = "team@gmail.com"


@pytest.fixture
def box_id(store, admin, tmp_path) -> int:
    """The admin's mailbox team@gmail.com; the user boris exists."""
    store.identity.add(admin, "user", "boris")
    secrets = open_secret_store("file", data_dir=tmp_path / "sd", config_dir=tmp_path / "sc")
    gmail = store.providers.get("Gmail")
    return store.mailboxes.create(admin, BOX, gmail.id, BOX, Secret("pw"), secrets).id


def test_settings_and_sharing_are_stored_together(store, admin, box_id) -> None:
    state = SharingState(True, [ShareRow("boris", send=True)])
    draft = SettingsDraft.parse(alias="Team")
    box = store.sharing.save_with_settings(store.settings, admin, box_id, draft, state)
    assert box.alias == "Team"
    assert store.sharing.get(admin, box_id).rows == [ShareRow("boris", "user", read=True, send=True)]


def test_a_refused_table_saves_no_setting_either(store, admin, box_id) -> None:
    state = SharingState(True, [ShareRow("nobody", read=True)])
    draft = SettingsDraft.parse(alias="Team")
    with pytest.raises(SharingRefused) as refused:
        store.sharing.save_with_settings(store.settings, admin, box_id, draft, state)
    assert refused.value.errors == {"nobody": "no user or role named 'nobody'"}
    assert store.settings.open(admin, box_id).alias == ""
    assert store.sharing.get(admin, box_id) == SharingState(False, [], admin.user.name)
