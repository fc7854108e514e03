"""Migrations: from an empty file, from every earlier revision, and matching the Core tables."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from store import migrate
from store.db import make_engine
from store.migrations import HEAD
from store.schema import metadata


def _revisions() -> list[str]:
    script = ScriptDirectory(str(migrate.MIGRATIONS_DIR))
    return [r.revision for r in reversed(list(script.walk_revisions()))]


def test_head_constant_matches_scripts() -> None:
    assert migrate.script_head() == HEAD


def test_empty_file_reaches_head_and_matches_schema(tmp_path: Path) -> None:
    engine = make_engine(tmp_path / "m.db")
    assert migrate.upgrade(engine) is True
    assert migrate.current_revision(engine) == HEAD
    assert migrate.upgrade(engine) is False  # a second start does nothing
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"render_as_batch": True}), metadata)
    assert diff == []


def test_every_revision_upgrades_to_head_keeping_data(tmp_path: Path) -> None:
    for rev in _revisions():
        engine = make_engine(tmp_path / f"from-{rev}.db")
        migrate.upgrade(engine, rev)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO principals (kind, name, display_name, created_at) "
                    "VALUES ('user','kept','', '2026-01-01')"
                )
            )
        migrate.upgrade(engine)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT name FROM principals")).scalar_one() == "kept"
        assert migrate.current_revision(engine) == HEAD


def test_downgrade_to_base_and_back(tmp_path: Path) -> None:
    engine = make_engine(tmp_path / "d.db")
    migrate.upgrade(engine)
    migrate.downgrade(engine, "base")
    with engine.connect() as conn:
        tables = {r[0] for r in conn.execute(text("SELECT name FROM sqlite_master WHERE type='table'"))}
    assert tables <= {"alembic_version"}
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == HEAD


def test_pragmas_and_private_files(tmp_path: Path) -> None:
    path = tmp_path / "private" / "m.db"
    engine = make_engine(path)
    migrate.upgrade(engine)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    for extra in (path.with_name("m.db-wal"), path.with_name("m.db-shm")):
        if extra.exists():
            assert stat.S_IMODE(os.stat(extra).st_mode) & 0o077 == 0
