"""The lite store of `mailroom sync --once` (plain sqlite3) answers as the full store does."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert

from store import db
from store.lite import open_lite_store
from store.schema_outbox import outbox
from store.secrets import Secret, open_secret_store
from tests.unit.conftest import FIXED_NOW

ROOT = Path(__file__).resolve().parents[2]
SERVER_FIELDS = "id name imap_host imap_port imap_tls smtp_host smtp_port smtp_tls ca_file".split()


@pytest.fixture
def secrets(tmp_path):
    return open_secret_store("file", data_dir=tmp_path / "sd", config_dir=tmp_path / "sc")


def _mailboxes(store, admin, secrets) -> list:
    gmail, other = store.providers.get("Gmail"), store.providers.get("Fastmail")
    a = store.mailboxes.create(admin, "b@gmail.com", gmail.id, "b@gmail.com", Secret("pw-b"), secrets)
    b = store.mailboxes.create(admin, "a@fastmail.com", other.id, "a", Secret("pw-a"), secrets)
    with db.write(store.engine) as conn:
        conn.exec_driver_sql(
            "UPDATE mailboxes SET folder_scope = 'selected', load_period = 'all', auto_load = 0, "
            "alias = 'Ä', use_signature = 1, signature = 'sig' WHERE id = ?",
            (b.id,),
        )
        conn.exec_driver_sql(
            "INSERT INTO mailbox_selected_folders (mailbox_id, folder) VALUES (?, 'Z'), (?, 'Projects/Ä')",
            (b.id, b.id),
        )
    store.mailboxes.mark_synced(a.id)
    store.mailboxes.set_status(a.id, "needs_attention", "wrong password")
    return [a, b]


def test_mailboxes_providers_and_credentials_match_the_full_store(store, admin, secrets) -> None:
    _mailboxes(store, admin, secrets)
    lite = open_lite_store(store.path, clock=store.clock)
    assert lite is not None
    try:
        boxes = store.mailboxes.all_for_sync()
        assert lite.mailboxes.all_for_sync() == boxes
        assert [b.email for b in boxes] == ["a@fastmail.com", "b@gmail.com"]
        assert boxes[0].selected_folders == ("Projects/Ä", "Z") and boxes[1].last_sync_at is not None
        for box in boxes:
            full, mine = store.providers.get(box.provider_id), lite.providers.get(box.provider_id)
            for name in SERVER_FIELDS:
                assert getattr(mine, name) == getattr(full, name)
            assert lite.mailboxes.credentials(box, secrets) == store.mailboxes.credentials(box, secrets)
    finally:
        lite.close()


def test_status_and_sync_time_are_written_as_the_full_store_writes_them(store, admin, secrets) -> None:
    a, b = _mailboxes(store, admin, secrets)
    later = FIXED_NOW + timedelta(hours=1, microseconds=7)
    lite = open_lite_store(store.path, clock=lambda: later)
    try:
        lite.mailboxes.mark_synced(b.id)
        lite.mailboxes.set_status(a.id, "ok", "")
    finally:
        lite.close()
    boxes = {x.id: x for x in store.mailboxes.all_for_sync()}
    assert boxes[b.id].last_sync_at == later.replace(tzinfo=None)  # as SQLAlchemy reads back its own writes
    assert (boxes[a.id].status, boxes[a.id].status_reason) == ("ok", "")
    store.mailboxes.mark_synced(a.id)
    with sqlite3.connect(store.path) as conn:
        texts = dict(conn.execute("SELECT id, last_sync_at FROM mailboxes"))
    assert len(texts[a.id]) == len(texts[b.id]) == len("2026-11-27 10:30:00.000007")


def test_only_a_database_at_the_newest_schema_is_opened(tmp_path: Path, store) -> None:
    assert open_lite_store(tmp_path / "missing.db") is None
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    assert open_lite_store(empty) is None
    with sqlite3.connect(store.path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = 'older'")
    assert open_lite_store(store.path) is None


def _queue(store, admin, box, state: str, copy_done: bool = False, sent_at: datetime | None = None) -> None:
    with db.write(store.engine) as conn:
        conn.execute(
            insert(outbox).values(
                mailbox_id=box.id, user_id=admin.user.id, state=state, message_id="<m@x>",
                envelope_from="a@b", recipients="c@d", draft="{}", raw=b"x", created_at=FIXED_NOW,
                sent_at=sent_at,
                copy_done=copy_done, next_attempt_at=FIXED_NOW + timedelta(days=1),
            )
        )  # fmt: skip


@pytest.mark.parametrize(
    ("state", "copy_done", "age_days", "idle"),
    [
        ("failed", False, None, True),
        ("check", False, None, True),
        ("sent", True, 1, True),
        ("sent", True, 8, False),  # old enough to prune
        ("sent", False, 1, False),  # its Sent copy is pending
        ("queued", False, None, False),  # even when not due yet
        ("sending", False, None, False),  # left by a run that died
    ],
)
def test_outbox_idle_only_when_a_drain_would_do_nothing(
    store, admin, secrets, state: str, copy_done: bool, age_days: int | None, idle: bool
) -> None:
    box = _mailboxes(store, admin, secrets)[0]
    sent_at = FIXED_NOW - timedelta(days=age_days) if age_days is not None else None
    _queue(store, admin, box, state, copy_done, sent_at)
    lite = open_lite_store(store.path, clock=store.clock)
    try:
        assert lite.outbox_idle() is idle
    finally:
        lite.close()
    if idle:  # the full drain indeed changes nothing
        before = _rows(store)
        report = store.outbox.drain(secrets, now=FIXED_NOW)
        assert not report.results and not report.recovered and not report.copies
        assert _rows(store) == before


def _rows(store) -> list:
    with sqlite3.connect(store.path) as conn:
        return conn.execute("SELECT * FROM outbox ORDER BY id").fetchall()


def test_the_lite_store_imports_no_sqlalchemy(store) -> None:
    code = (
        "import sys\nfrom pathlib import Path\nfrom store.lite import open_lite_store\n"
        f"s = open_lite_store(Path({str(store.path)!r}))\nassert s is not None\ns.mailboxes.all_for_sync()\n"
        "s.outbox_idle()\nimport store.sync.engine, store.sync.folders, store.sync.bodies\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'pydantic', 'alembic')]\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
