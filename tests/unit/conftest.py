"""Fixtures for store unit tests: a fresh database with a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from store.service import Store, open_store

FIXED_NOW = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    """A migrated store in a temp folder."""
    s = open_store(tmp_path / "data" / "mailroom.db", clock=lambda: FIXED_NOW)
    yield s
    s.close()


@pytest.fixture
def admin(store: Store):
    """The first user, who becomes the administrator."""
    return store.identity.actor("alice")
