"""Mailbox records: creation with defaults, nothing half-created, removal with the secret."""

from __future__ import annotations

import pytest

from store.errors import Conflict, NotFound
from store.secrets import Secret, open_secret_store


@pytest.fixture
def secrets(tmp_path):
    return open_secret_store("file", data_dir=tmp_path / "sd", config_dir=tmp_path / "sc")


def test_create_with_defaults_and_secret_in_keyring(store, admin, secrets) -> None:
    gmail = store.providers.get("Gmail")
    box = store.mailboxes.create(admin, "Ann@Gmail.com", gmail.id, "ann@gmail.com", Secret("pw-1"), secrets)
    assert (box.email, box.load_period, box.auto_load, box.folder_scope) == (
        "ann@gmail.com",
        "week",
        True,
        "inbox",
    )
    assert box.send_enabled and box.is_default_sender and box.alias == "" and not box.use_signature
    assert secrets.get(box.secret_ref) == Secret("pw-1")
    assert store.mailboxes.credentials(box, secrets).reveal() == "pw-1"
    db_bytes = store.path.read_bytes() + store.path.with_name(store.path.name + "-wal").read_bytes()
    assert b"pw-1" not in db_bytes


def test_second_mailbox_takes_default_sender(store, admin, secrets) -> None:
    gmail = store.providers.get("Gmail")
    store.mailboxes.create(admin, "a@gmail.com", gmail.id, "a@gmail.com", Secret("x"), secrets)
    store.mailboxes.create(admin, "b@gmail.com", gmail.id, "b@gmail.com", Secret("y"), secrets)
    defaults = [b.email for b in store.mailboxes.visible(admin) if b.is_default_sender]
    assert defaults == ["b@gmail.com"]


def test_duplicate_is_refused_and_leaves_no_secret(store, admin, secrets) -> None:
    gmail = store.providers.get("Gmail")
    store.mailboxes.create(admin, "a@gmail.com", gmail.id, "a@gmail.com", Secret("x"), secrets)
    with pytest.raises(Conflict, match="already connected"):
        store.mailboxes.create(admin, "A@gmail.com", gmail.id, "a@gmail.com", Secret("z"), secrets)
    assert len(store.mailboxes.visible(admin)) == 1


def test_remove_deletes_secret_and_hides_from_others(store, admin, secrets) -> None:
    gmail = store.providers.get("Gmail")
    box = store.mailboxes.create(admin, "a@gmail.com", gmail.id, "a@gmail.com", Secret("x"), secrets)
    store.identity.add(admin, "user", "bob")
    bob = store.identity.actor("bob")
    with pytest.raises(NotFound, match="No mailbox 'a@gmail.com'"):
        store.mailboxes.get(bob, "a@gmail.com")
    store.mailboxes.remove(admin, "a@gmail.com", secrets)
    assert secrets.get(box.secret_ref) is None
    with pytest.raises(NotFound):
        store.mailboxes.get(admin, box.id)
