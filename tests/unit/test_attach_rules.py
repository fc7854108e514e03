"""Which files may be attached: never the installation's own files, only AttachmentFolders when set.

On a shared installation every user runs the app as one service account, so the store (not the file
picker) refuses the database, raw copies, secrets and settings, and system pseudo-files, whoever asks."""

from __future__ import annotations

import os

import pytest

from store import private
from store.compose import Attachment, AttachRules, Draft
from store.errors import Invalid
from store.secrets import Secret
from tests.unit.test_outbox import add_box, closed_port, provider, secrets  # noqa: F401 - fixtures


def refused(store, actor, box, path) -> str:  # noqa: ANN001
    """Queue a message with *path* attached; the store's reason for refusing it."""
    with pytest.raises(Invalid) as err:
        store.outbox.queue(actor, Draft(box.id, to=("x@acme.example",), attachments=(path,)))
    return err.value.errors["attachments"]


def test_the_installations_own_files_are_never_attached(store, admin, secrets, provider, tmp_path) -> None:  # noqa: F811
    box = add_box(store, admin, secrets, provider, "a@acme.example")
    secrets.set("probe", Secret("s3cret"))
    key_files = [p for p in (tmp_path / "sc").iterdir() if p.is_file()]
    assert key_files, "the file backend keeps its key in the config folder"
    link = tmp_path / "innocent.txt"
    link.symlink_to(store.path)
    for path in (
        store.path,
        store.path.with_name(store.path.name + "-wal"),
        link,
        *key_files,
        *(tmp_path / "sd").iterdir(),
    ):
        if path.exists():
            assert "cannot be attached" in refused(store, admin, box, path), path
    assert "cannot be attached" in refused(store, admin, box, "/proc/self/environ")
    assert store.outbox.list(admin) == []
    ordinary = tmp_path / "offer.txt"
    ordinary.write_text("fine")
    item = store.outbox.queue(admin, Draft(box.id, to=("x@acme.example",), attachments=(ordinary,)))
    assert item.state == "queued"


def test_xdg_folders_of_mailroom_are_private_even_before_secrets_open(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    key = tmp_path / "cfg" / private.APP_FOLDER / "secrets.key"
    key.parent.mkdir(parents=True)
    key.write_bytes(b"k" * 44)
    rules = AttachRules(private=private.paths(tmp_path / "elsewhere.db"))
    with pytest.raises(Invalid, match="cannot be attached"):
        Attachment.from_path(key, rules)


def test_attachment_folders_limit_where_files_come_from(store, admin, secrets, provider, tmp_path) -> None:  # noqa: F811
    box = add_box(store, admin, secrets, provider, "a@acme.example")
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    inside, outside = uploads / "in.txt", tmp_path / "out.txt"
    inside.write_text("in")
    outside.write_text("out")
    (uploads / "escape.txt").symlink_to(outside)
    store.system.set(admin, "AttachmentFolders", str(uploads))
    assert "only from" in refused(store, admin, box, outside)
    assert "only from" in refused(store, admin, box, uploads / "escape.txt")
    item = store.outbox.queue(admin, Draft(box.id, to=("x@acme.example",), attachments=(inside,)))
    assert item.state == "queued"
    store.system.set(admin, "AttachmentFolders", "")
    assert store.system.attachment_folders() == ()


def test_attachment_folders_setting_is_checked(store, admin, tmp_path) -> None:
    with pytest.raises(Invalid, match="absolute"):
        store.system.set(admin, "AttachmentFolders", "relative/dir")
    with pytest.raises(Invalid, match="no folder"):
        store.system.set(admin, "AttachmentFolders", str(tmp_path / "missing"))
    both = f"{tmp_path}{os.pathsep}{tmp_path / 'data'}"
    assert store.system.set(admin, "AttachmentFolders", both) == both
    assert store.system.attachment_folders() == (tmp_path, tmp_path / "data")


def test_only_regular_files_are_attached(tmp_path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for path, reason in (
        (fifo, "not a regular file"),
        (tmp_path, "not a regular file"),
        ("/dev/zero", "cannot be attached"),
        (tmp_path / "nope", "cannot read"),
    ):
        with pytest.raises(Invalid, match=reason):
            Attachment.from_path(path, AttachRules())
