"""First loads against the real Dovecot: periods, folder scopes, what is stored, dedupe, rights, the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from store.sync.packs import pack_dir
from store.sync.parse import parse_body
from tests.harness.fixtures import MailAccount
from tests.integration.sync_support import (  # noqa: F401 - fixtures
    FAST,
    SyncEnv,
    add_mailbox,
    append,
    fresh_env,
    make_env,
    simple_message,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def sync_env(mail_account: MailAccount, tmp_path: Path) -> Iterator[SyncEnv]:
    """A store with one mailbox (all folders, all mail) on a fresh, empty harness account."""
    yield from fresh_env(mail_account, tmp_path)


ROOT = Path(__file__).resolve().parents[2]


def test_first_load_stores_exactly_the_servers_messages_with_bodies(sync_env: SyncEnv) -> None:
    env = sync_env
    env.account.fill(count=160, avg_size=6000, seed=21)
    summary = env.run()
    assert summary.ok, summary.error
    server = {k: v for k, v in env.server().items() if v}
    assert env.stored() == server
    assert summary.new == sum(len(v) for v in server.values())
    assert env.sql("SELECT count(*) FROM messages WHERE body_loaded = 0") == [(0,)]
    # the raw copy is the server's message, byte for byte
    row = env.store.messages.list(env.admin, folder="INBOX", limit=1)[0]
    client = env.account.imap()
    client.select_folder("INBOX", readonly=True)
    wire = client.fetch([row.uid], ["BODY.PEEK[]"])[row.uid][b"BODY[]"]
    client.logout()
    assert env.store.messages.raw(env.admin, row.message_id) == wire
    # the body phase writes raw bytes once, into pack files beside the database, not into the rows
    assert env.sql("SELECT count(*) FROM message_raw WHERE pack IS NULL OR length(data) > 0") == [(0,)]
    assert list(pack_dir(env.store.path).glob("*.pack"))
    detail = env.store.messages.get(env.admin, row.message_id)
    assert detail.body_text == parse_body(wire).text.strip() or detail.body_text == parse_body(wire).text
    # addresses for the CRM: lower-case, indexed, from/to/cc
    kinds = {k for (k,) in env.sql("SELECT DISTINCT kind FROM message_addresses")}
    assert kinds <= {"from", "to", "cc"} and "from" in kinds
    assert env.sql("SELECT count(*) FROM message_addresses WHERE address <> lower(address)") == [(0,)]
    # a second sync changes nothing and skips every folder (CONDSTORE)
    again = env.run()
    assert again.ok and again.new == 0 and again.bodies == 0
    assert again.folders_skipped == len(server) + (len(env.server()) - len(server))


@pytest.mark.parametrize(
    ("period", "expected"),
    [
        ("day", {"new"}),
        ("week", {"new", "5days"}),
        ("month", {"new", "5days", "20days"}),
        ("all", {"new", "5days", "20days", "old"}),
    ],
)
def test_first_load_covers_the_load_period(sync_env: SyncEnv, period: str, expected: set[str]) -> None:
    env = sync_env
    env.configure(load_period=period, folder_scope="inbox")
    for n, (name, when) in enumerate(
        [
            ("old", datetime(2024, 1, 5, tzinfo=UTC)),
            ("20days", datetime(2025, 5, 12, tzinfo=UTC)),
            ("5days", datetime(2025, 5, 27, tzinfo=UTC)),
            ("new", datetime(2025, 6, 1, 8, tzinfo=UTC)),
        ]
    ):
        append(env.account, "INBOX", simple_message(n, subject=name), when=when)
    assert env.run().ok
    subjects = {r.subject for r in env.store.messages.list(env.admin)}
    assert subjects == expected


def test_a_longer_period_loads_the_older_mail_without_duplicates(sync_env: SyncEnv) -> None:
    env = sync_env
    env.configure(load_period="week", folder_scope="inbox")
    append(env.account, "INBOX", simple_message(1, subject="old"), when=datetime(2025, 3, 1, tzinfo=UTC))
    append(env.account, "INBOX", simple_message(2, subject="recent"), when=datetime(2025, 5, 30, tzinfo=UTC))
    env.run()
    assert {r.subject for r in env.store.messages.list(env.admin)} == {"recent"}
    env.configure(load_period="6months")
    assert env.run().new == 1
    rows = env.store.messages.list(env.admin)
    assert sorted(r.subject for r in rows) == ["old", "recent"]


def test_a_first_load_resumed_with_a_longer_period_loads_the_older_mail(sync_env: SyncEnv) -> None:
    """A first load under "week" stops half-way; the user picks "6 months"; the resumed load must search
    the UIDs the interrupted one already passed with the longer period too."""
    env = sync_env
    env.configure(load_period="week", folder_scope="inbox")
    append(env.account, "INBOX", simple_message(1, subject="old"), when=datetime(2025, 3, 1, tzinfo=UTC))
    append(env.account, "INBOX", simple_message(2, subject="recent"), when=datetime(2025, 5, 30, tzinfo=UTC))
    append(env.account, "INBOX", simple_message(3, subject="later"), when=datetime(2025, 5, 31, tzinfo=UTC))
    env.run()
    # as a first load cut off after its first window leaves the folder: UID 2 stored, not finished
    with env.store.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM message_locations WHERE uid = 3")
        conn.exec_driver_sql(
            "UPDATE sync_folders SET highest_uid = 2, lowest_uid_loaded = NULL WHERE name = 'INBOX'"
        )
    env.configure(load_period="6months")
    summary = env.run()
    assert summary.ok, summary.error
    assert sorted(r.subject for r in env.store.messages.list(env.admin)) == ["later", "old", "recent"]
    assert env.sql("SELECT count(*) FROM message_locations") == [(3,)]
    assert env.run().new == 0  # and the folder now counts as loaded for six months


def test_folder_scopes_and_a_selected_parent_does_not_take_its_children(sync_env: SyncEnv) -> None:
    env = sync_env
    for n, folder in enumerate(["INBOX", "Projects", "Projects/Beta", "Projects/Beta/Specs", "Sent"]):
        append(env.account, folder, simple_message(n, subject=folder))
    env.configure(folder_scope="inbox")
    env.run()
    assert set(env.stored()) == {"INBOX", "Sent"}  # outgoing mail is always loaded
    env.configure(folder_scope="selected", selected_folders=["Projects/Beta"])
    summary = env.run()
    assert set(env.stored()) == {"Projects/Beta", "Sent"}
    assert any("INBOX: out_of_scope" in c for c in summary.folder_changes)
    env.configure(folder_scope="all")
    env.run()
    assert set(env.stored()) == {"INBOX", "Projects", "Projects/Beta", "Projects/Beta/Specs", "Sent"}


def test_same_message_in_two_folders_and_two_mailboxes_is_stored_once(
    sync_env: SyncEnv,
    mail_server,
    tmp_path: Path,  # noqa: ANN001
) -> None:
    from tests.harness.fixtures import _new_account, _remove_account

    env = sync_env
    raw = simple_message(1, subject="shared")
    append(env.account, "INBOX", b"Received: from a by b; Fri, 30 May 2025 10:00:01 +0000\r\n" + raw)
    append(env.account, "Archive", raw)
    other = _new_account(mail_server)
    try:
        append(other, "INBOX", b"Received: from x by y\r\nReceived: from z by w\r\n" + raw)
        box2 = add_mailbox(env, other)
        env.run()
        summary = env.store.sync.run(box2, env.secrets, options=FAST)
        assert summary.ok, summary.error
        assert env.sql("SELECT count(*) FROM messages") == [(1,)]
        assert env.sql("SELECT count(*) FROM message_locations") == [(3,)]
        assert env.sql("SELECT count(*), count(DISTINCT message_id) FROM message_raw") == [(1, 1)]
        rows = env.store.messages.list(env.admin)
        assert sorted((r.mailbox == other.email, r.folder) for r in rows) == [
            (False, "Archive"),
            (False, "INBOX"),
            (True, "INBOX"),
        ]
    finally:
        _remove_account(other)


def test_malformed_mail_is_stored_and_never_stops_the_sync(sync_env: SyncEnv) -> None:
    env = sync_env
    bad = [
        b"Subject: =?x-klingon?B?AAAA?=\r\nContent-Type: text/plain; charset=x-mac-klingon\r\n\r\n"
        b"\xff\xfe\xfd\r\n",
        b"From: \xd0\x9f\xd1\x91\xd1\x82\xd1\x80 <p@z.example>\r\nSubject: 8bit \xcf\xf0\xe8\r\n\r\nbody\r\n",
        b"Content-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\nContent-Type: text/plain\r\n\r\ncut",
        b"Subject: no date, no id, no from\r\n\r\n",
        b"Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!not base64!!!\r\n",
        b"Content-Type: multipart/mixed\r\n\r\nno boundary at all\r\n",
    ]
    for raw in bad:
        append(env.account, "INBOX", raw)
    append(env.account, "INBOX", simple_message(99, subject="fine"))
    summary = env.run()
    assert summary.ok, summary.error
    assert summary.new == len(bad) + 1 and summary.bodies == len(bad) + 1
    assert env.sql("SELECT count(*) FROM messages WHERE problems <> ''")[0][0] >= 3


def test_visibility_follows_mailbox_rights(sync_env: SyncEnv) -> None:
    from store.errors import NotFound

    env = sync_env
    append(env.account, "INBOX", simple_message(1))
    env.run()
    mid = env.store.messages.list(env.admin)[0].message_id
    env.store.identity.add(env.admin, "user", "bob")
    stranger = env.store.identity.actor("bob")
    assert env.store.messages.list(stranger) == []
    assert env.store.messages.count(stranger) == 0
    with pytest.raises(NotFound):
        env.store.messages.get(stranger, mid)
    assert env.store.messages.count(env.admin) == 1


def _cli(env: SyncEnv, *args: str) -> subprocess.CompletedProcess[str]:
    return _cli_python(env, "-m", "tui.cli", *args)


def _cli_python(env: SyncEnv, *args: str) -> subprocess.CompletedProcess[str]:
    cli_env = {
        **os.environ,
        "MAILROOM_DB": str(env.store.path),
        "MAILROOM_USER": "admin",
        "XDG_DATA_HOME": str(env.tmp / "xdg-data"),
        "XDG_CONFIG_HOME": str(env.tmp / "xdg-config"),
        "MAILROOM_CONFIG": str(env.tmp / "none.toml"),
        "MAILROOM_SECRETS__BACKEND": "file",
    }
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        env=cli_env,
        cwd=ROOT,
        timeout=120,
    )


def test_cli_sync_once_json_and_message_list_show(mail_account: MailAccount, tmp_path: Path) -> None:
    env = make_env(tmp_path / "data" / "mailroom.db", mail_account, tmp_path)
    env.configure(load_period="all")  # the CLI counts the period back from today, not the tests' day
    try:
        # the CLI opens its secrets from the XDG folders, so the mailbox's password must live there
        from store.secrets import Secret, open_secret_store

        secrets = open_secret_store(
            "file",
            data_dir=tmp_path / "xdg-data" / "mailroom",
            config_dir=tmp_path / "xdg-config" / "mailroom",
        )
        secrets.set(env.box.secret_ref, Secret(mail_account.password))
        append(mail_account, "INBOX", simple_message(1, subject="Hello CLI"))
        append(mail_account, "INBOX", simple_message(2, subject="Second"))
        done = _cli(env, "sync", "--once", "--json")
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
        assert report[0]["ok"] and report[0]["new"] == 2 and report[0]["email"] == mail_account.email
        table = _cli(env, "sync", "--once", "--mailbox", mail_account.email)
        assert table.returncode == 0 and mail_account.email in table.stdout
        # a sync that finds nothing new skips the MIME parser, the body phase and smtplib (startup time)
        probe = (
            "import sys; from tui.cli import main; main(['sync', '--once', '--json']); print(*sys.modules)"
        )
        quiet = _cli_python(env, "-c", probe)
        assert quiet.returncode == 0 and '"new": 0' in quiet.stdout, quiet.stderr
        loaded = set(quiet.stdout.split())
        assert "store.sync.engine" in loaded and "store.sync.folders" in loaded
        heavy = {"store.sync.parse", "store.sync.mime", "store.sync.bodies", "smtplib"}
        assert not loaded & heavy, loaded & heavy
        client = mail_account.imap()  # a flag changed on the server: still nothing to parse
        client.select_folder("INBOX")
        client.add_flags(client.search(["ALL"])[:1], [b"\\Flagged"])
        client.logout()
        flagged = _cli_python(env, "-c", probe)
        assert flagged.returncode == 0 and '"flags_changed": 1' in flagged.stdout, flagged.stderr
        assert not set(flagged.stdout.split()) & heavy
        listed = _cli(env, "message", "list", "--json")
        assert listed.returncode == 0, listed.stderr
        rows = json.loads(listed.stdout)
        assert {r["subject"] for r in rows} == {"Hello CLI", "Second"}
        assert set(rows[0]) >= {"id", "folder", "uid", "message_id", "date", "from", "subject", "flags"}
        assert _cli(env, "message", "list", "--folder", "INBOX").stdout.count("\n") == 3
        first = next(r for r in rows if r["subject"] == "Hello CLI")
        shown = _cli(env, "message", "show", str(first["id"]))
        assert shown.returncode == 0 and "Hello CLI" in shown.stdout and "Body of message 1." in shown.stdout
        raw = _cli(env, "message", "show", str(first["id"]), "--raw")
        assert "Message-ID: <m1@test.example>" in raw.stdout
        packs = pack_dir(env.store.path)
        packs.rename(packs.with_name("moved-away"))  # a database copied without its .raw folder
        lost = _cli(env, "message", "show", str(first["id"]), "--raw")
        assert lost.returncode == 1 and "raw copy missing" in lost.stderr and str(packs) in lost.stderr
        assert "Traceback" not in lost.stderr
        packs.with_name("moved-away").rename(packs)
        missing = _cli(env, "message", "show", "999999")
        assert missing.returncode == 1 and "No message" in missing.stderr
    finally:
        env.store.close()


def test_the_same_message_twice_in_one_folder_is_stored_once_with_its_body(sync_env: SyncEnv) -> None:
    """Two identical copies in one folder (a repeated APPEND or delivery) share one message row: the
    body window fetches both UIDs and stores the one body once, in the pipeline and in a helper."""
    env = sync_env
    raw = simple_message(1, body="The same text twice.\n")
    for _ in range(2):
        append(env.account, "INBOX", raw)
    append(env.account, "INBOX", simple_message(2))
    for workers in (0, 1):
        if workers:
            env.sql("UPDATE messages SET body_loaded = 0")  # a second load of the same bodies
        summary = env.run(workers=workers)
        assert summary.ok, summary.error
        assert env.sql("SELECT count(*) FROM message_locations") == [(3,)]
        assert env.sql("SELECT count(*), sum(body_loaded) FROM messages") == [(2, 2)]
        assert env.sql("SELECT count(*) FROM message_raw") == [(2,)]
        texts = {t.strip() for (t,) in env.sql("SELECT body_text FROM messages")}
        assert "The same text twice." in texts


def test_mail_expunged_on_the_server_frees_its_pack_space(sync_env: SyncEnv) -> None:
    """Raw copies live in append-only packs: when most of a pack's messages are gone, the sync that
    removed them moves the rest into a current pack and deletes the old file; what is left reads back."""
    env = sync_env
    env.account.fill(count=40, avg_size=20000, seed=5, folders=("INBOX",))
    assert env.run().ok
    folder = pack_dir(env.store.path)
    before = {p.name: p.stat().st_size for p in folder.glob("*.pack")}
    assert before and env.sql("SELECT count(DISTINCT pack) FROM message_raw") == [(len(before),)]
    client = env.account.imap()
    client.select_folder("INBOX")
    uids = sorted(client.search(["ALL"]))
    keep = set(uids[:5])
    client.set_flags([u for u in uids if u not in keep], [b"\\Deleted"])
    client.expunge()
    wanted = {u: d[b"BODY[]"] for u, d in client.fetch(sorted(keep), ["BODY.PEEK[]"]).items()}
    client.logout()
    summary = env.run()
    assert summary.ok and summary.expunged == len(uids) - 5
    after = {p.name: p.stat().st_size for p in folder.glob("*.pack")}
    assert not set(before) & set(after), "the mostly dead packs were not removed"
    assert sum(after.values()) < sum(before.values()) / 3
    rows = {r.uid: r.message_id for r in env.store.messages.list(env.admin, folder="INBOX", limit=50)}
    assert set(rows) == keep
    for uid, wire in wanted.items():
        assert env.store.messages.raw(env.admin, rows[uid]) == wire
