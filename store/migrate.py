"""Bring a database to the newest schema; Alembic is imported only when something must change."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, text

from store.migrations import HEAD

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for an empty file."""
    with engine.connect() as conn:
        has_table = conn.execute(
            text("SELECT 1 FROM sqlite_master WHERE type='table' AND name='alembic_version'")
        ).first()
        if not has_table:
            return None
        row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
        return row[0] if row else None


def _alembic_config(conn):  # noqa: ANN001, ANN202 - alembic types are imported lazily
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = conn
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> bool:
    """Apply migrations up to *revision*; returns True when anything ran."""
    if revision == "head" and current_revision(engine) == HEAD:
        return False
    from alembic import command

    with engine.connect() as conn:
        conn.info["begin"] = "IMMEDIATE"
        command.upgrade(_alembic_config(conn), revision)
        conn.commit()
    return True


def downgrade(engine: Engine, revision: str) -> None:
    """Step the schema back to *revision* (used by migration tests)."""
    from alembic import command

    with engine.connect() as conn:
        conn.info["begin"] = "IMMEDIATE"
        command.downgrade(_alembic_config(conn), revision)
        conn.commit()


def script_head() -> str:
    """The head revision as Alembic computes it from the scripts (checked against HEAD in tests)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head() or ""
