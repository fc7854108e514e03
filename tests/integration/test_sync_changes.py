"""Incremental syncs against the real Dovecot: new mail, flags both ways, expunges, UIDVALIDITY, folders."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from store.sync.events import FolderChanged, Retrying
from tests.harness.fixtures import MailAccount
from tests.integration.sync_support import SyncEnv, append, fresh_env, simple_message
from tests.integration.test_sync_robust import CuttingProxy

pytestmark = pytest.mark.integration


@pytest.fixture
def sync_env(mail_account: MailAccount, tmp_path: Path) -> Iterator[SyncEnv]:
    """A store with one mailbox (all folders, all mail) on a fresh, empty harness account."""
    yield from fresh_env(mail_account, tmp_path)


EXTENSIONS = {
    "qresync": {},
    "condstore-only": {"use_qresync": False},
    "no-condstore": {"use_condstore": False},
}


def _seed(env: SyncEnv, folder: str = "INBOX", count: int = 5) -> None:
    for n in range(count):
        append(
            env.account,
            folder,
            simple_message(n + (100 if folder != "INBOX" else 0), subject=f"{folder} {n}"),
        )


def _server_flags(env: SyncEnv, folder: str = "INBOX") -> dict[int, set[str]]:
    client = env.account.imap()
    try:
        client.select_folder(folder, readonly=True)
        uids = client.search(["ALL"])
        return {
            uid: {f.decode() for f in d[b"FLAGS"]} - {"\\Recent"}
            for uid, d in client.fetch(uids, ["FLAGS"]).items()
        }
    finally:
        client.logout()


def _stored_flags(env: SyncEnv, folder: str = "INBOX") -> dict[int, set[str]]:
    return {
        uid: set(flags.split())
        for uid, flags in env.sql(
            "SELECT l.uid, l.flags FROM message_locations l JOIN sync_folders f ON f.id = l.folder_id "
            "WHERE f.name = ?",
            folder,
        )
    }


@pytest.mark.parametrize("ext", list(EXTENSIONS))
def test_new_mail_flag_changes_and_expunges_from_the_server(sync_env: SyncEnv, ext: str) -> None:
    env, opts = sync_env, EXTENSIONS[ext]
    _seed(env)
    assert env.run(**opts).new == 5
    client = env.account.imap()
    client.select_folder("INBOX")
    uids = sorted(client.search(["ALL"]))
    client.add_flags(uids[:2], [b"\\Flagged"])
    client.add_flags([uids[2]], [b"$Customer"])
    client.remove_flags([uids[0]], [b"\\Seen"])
    client.set_flags([uids[3]], [b"\\Deleted"])
    client.expunge()
    client.logout()
    append(env.account, "INBOX", simple_message(50, subject="later"))
    summary = env.run(**opts)
    assert summary.ok, summary.error
    assert summary.new == 1 and summary.bodies == 1 and summary.expunged == 1
    assert summary.flags_changed >= 3
    assert _stored_flags(env) == _server_flags(env)
    assert env.stored() == {"INBOX": env.server(["INBOX"])["INBOX"]}
    assert env.sql("SELECT count(*) FROM messages") == [(5,)]  # the expunged one is gone from the store too


@pytest.mark.parametrize("ext", ["qresync", "no-condstore"])
def test_local_flag_changes_reach_the_server(sync_env: SyncEnv, ext: str) -> None:
    env, opts = sync_env, EXTENSIONS[ext]
    _seed(env, count=3)
    env.run(**opts)
    rows = env.store.messages.list(env.admin, folder="INBOX")
    env.store.messages.set_flags(env.admin, rows[0].location_id, add=("\\Seen", "\\Flagged"))
    env.store.messages.set_flags(env.admin, rows[1].location_id, remove=("\\Seen",), add=("$Todo",))
    summary = env.run(**opts)
    assert summary.ok and summary.flags_pushed == 2
    server = _server_flags(env)
    assert {"\\Seen", "\\Flagged"} <= server[rows[0].uid]
    assert "$Todo" in server[rows[1].uid] and "\\Seen" not in server[rows[1].uid]
    assert _stored_flags(env) == server
    assert env.sql("SELECT count(*) FROM message_locations WHERE flags_add <> '' OR flags_remove <> ''") == [
        (0,)
    ]


def test_uidvalidity_reset_reloads_the_folder_without_duplicates(sync_env: SyncEnv) -> None:
    env = sync_env
    _seed(env, "Work", 4)
    env.run()
    before = env.sql("SELECT uidvalidity FROM sync_folders WHERE name = 'Work'")[0][0]
    client = env.account.imap()
    client.delete_folder("Work")
    time.sleep(1.1)  # Dovecot derives a new UIDVALIDITY from the clock
    client.create_folder("Work")
    client.logout()
    append(env.account, "Work", simple_message(101, subject="Work 1"))  # one of the old ones again
    append(env.account, "Work", simple_message(200, subject="brand new"))
    summary = env.run()
    assert summary.ok, summary.error
    assert env.sql("SELECT uidvalidity FROM sync_folders WHERE name = 'Work'")[0][0] != before
    assert any(isinstance(e, FolderChanged) and e.change == "uidvalidity" for e in env.events)
    assert env.stored()["Work"] == env.server(["Work"])["Work"]
    assert env.sql("SELECT count(*) FROM messages") == [(2,)]  # the three that went are removed, none twice


def test_renamed_folder_keeps_its_messages_and_deleted_folder_drops_them(sync_env: SyncEnv) -> None:
    env = sync_env
    _seed(env, "Work", 3)
    _seed(env, "Old", 2)
    env.run()
    locations = sorted(
        env.sql(
            "SELECT l.id, l.uid FROM message_locations l JOIN sync_folders f "
            "ON f.id = l.folder_id WHERE f.name = 'Work'"
        )
    )
    client = env.account.imap()
    client.rename_folder("Work", "Clients/Work")
    client.delete_folder("Old")
    client.logout()
    summary = env.run()
    assert summary.ok, summary.error
    assert summary.new == 0 and summary.bodies == 0  # nothing was downloaded again
    changes = {
        (e.folder, e.change, e.new_name, e.removed) for e in env.events if isinstance(e, FolderChanged)
    }
    assert ("Work", "renamed", "Clients/Work", 0) in changes
    assert ("Old", "deleted", "", 2) in changes
    assert (
        sorted(
            env.sql(
                "SELECT l.id, l.uid FROM message_locations l JOIN sync_folders f "
                "ON f.id = l.folder_id WHERE f.name = 'Clients/Work'"
            )
        )
        == locations
    )
    assert "Old" not in env.stored()
    assert env.sql("SELECT count(*) FROM messages") == [(3,)]
    assert env.stored() == {k: v for k, v in env.server().items() if v}


def test_empty_local_database_means_a_full_download_and_no_server_change(sync_env: SyncEnv) -> None:
    env = sync_env
    _seed(env, count=4)
    env.run()
    with env.store.engine.begin() as conn:  # the local data is lost
        conn.exec_driver_sql("DELETE FROM message_locations")
        conn.exec_driver_sql("DELETE FROM messages")
        conn.exec_driver_sql("DELETE FROM sync_folders")
    flags_before = _server_flags(env)
    summary = env.run()
    assert summary.ok and summary.new == 4 and summary.expunged == 0
    assert _server_flags(env) == flags_before
    assert env.stored() == {"INBOX": env.server(["INBOX"])["INBOX"]}


def test_new_mail_arrives_whole_and_keeps_the_dedupe_key_of_the_header_path(sync_env: SyncEnv) -> None:
    from store.sync.parse import header_block

    env = sync_env
    raw = simple_message(7, subject="seen twice", body="x" * 5000)
    append(env.account, "INBOX", raw)
    env.run()  # first load: envelopes through BODY.PEEK[HEADER]
    append(env.account, "Archive", raw)  # incremental: the first bytes of the message, header cut out here
    big = simple_message(8, subject="bigger than the prefix", body="y" * 300_000)
    append(env.account, "Archive", big)
    summary = env.run()
    assert summary.ok and summary.new == 1 and summary.bodies == 1
    assert env.sql("SELECT count(*) FROM messages") == [(2,)]
    assert env.sql("SELECT count(*) FROM messages WHERE body_loaded = 0") == [(0,)]
    client = env.account.imap()
    client.select_folder("Archive", readonly=True)
    for d in client.fetch(client.search(["ALL"]), ["BODY.PEEK[HEADER]", "BODY.PEEK[]"]).values():
        assert header_block(d[b"BODY[]"]) == d[b"BODY[HEADER]"]
    client.logout()


def test_mail_of_a_deleted_folder_is_removed_when_the_connection_drops_after_the_deletion(
    sync_env: SyncEnv,
) -> None:
    """The attempt that saw the folder go loses its connection afterwards; the retry must still remove the
    mail no folder holds any more (the cleanup belongs to the run, not to the attempt)."""
    env = sync_env
    _seed(env, "Work", 2)
    _seed(env, "Old", 2)
    env.run()
    client = env.account.imap()
    client.delete_folder("Old")
    client.logout()
    for n in range(3):  # new mail in Work: the connection is cut while it is fetched
        append(env.account, "Work", simple_message(300 + n, body="x" * 60_000 + "\n"))
    proxy = CuttingProxy(env.account.imaps_port, cut_after=60_000)
    try:
        with env.store.engine.begin() as conn:
            conn.exec_driver_sql(
                "UPDATE providers SET imap_port = ? WHERE id = ?", (proxy.port, env.provider.id)
            )
        summary = env.run()
    finally:
        proxy.close()
    assert summary.ok, summary.error
    assert proxy.cuts == 1 and any(isinstance(e, Retrying) for e in env.events)
    assert "Old" not in env.stored() and env.stored()["Work"] == env.server(["Work"])["Work"]
    orphans = "SELECT count(*) FROM messages m WHERE NOT EXISTS "
    orphans += "(SELECT 1 FROM message_locations l WHERE l.message_id = m.id)"
    assert env.sql(orphans) == [(0,)]
    assert env.sql("SELECT count(*) FROM messages") == [(5,)]
