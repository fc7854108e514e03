"""Build the app over a temporary store with a fixed clock, the same way for snapshots and Pilot tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert

from store import db
from store.identity import Actor
from store.schema import mailboxes
from store.service import Store, open_store
from tui.app import MailroomApp, create_app
from tui.settings import Settings, UiSettings

SNAP_SIZE = (120, 36)
"""The one terminal size of every snapshot and Pilot test."""

FIXED_NOW = datetime(2026, 5, 11, 9, 30, tzinfo=UTC)


def fixed_clock() -> datetime:
    """The time every test app sees."""
    return FIXED_NOW


def make_settings(tmp_path: Path) -> Settings:
    """Settings that keep snapshots stable: no cursor blink, an explicit theme, files under *tmp_path*."""
    return Settings(
        db=tmp_path / "m.db",
        user="alice",
        log_file=tmp_path / "mailroom.log",
        ui=UiSettings(theme="textual-dark", cursor_blink=False),
    )


def make_user(store: Store, admin: Actor, name: str, display_name: str = "") -> Actor:
    """Add a user without any role (so not an administrator) and return them as an Actor."""
    store.identity.add(admin, "user", name, display_name)
    return store.identity.actor(name)


def add_mailbox(
    store: Store,
    owner: Actor,
    email: str,
    provider: str = "Gmail",
    status: str = "ok",
    reason: str = "",
    synced_ago: timedelta | None = None,
) -> int:
    """Insert a mailbox row directly; test-only, until the store has an API that connects one."""
    provider_id = store.providers.get(provider).id
    with db.write(store.engine) as conn:
        return conn.execute(
            insert(mailboxes).values(
                email=email,
                owner_id=owner.user.id,
                provider_id=provider_id,
                login=email,
                secret_ref=f"test:{email}",
                status=status,
                status_reason=reason,
                created_at=FIXED_NOW - timedelta(days=30),
                last_sync_at=None if synced_ago is None else FIXED_NOW - synced_ago,
            )
        ).inserted_primary_key[0]


@pytest.fixture(autouse=True)
def stable_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, loopback_dns: str) -> None:
    """Remove what changes rendering or settings from outside: NO_COLOR, TEXTUAL_THEME, MAILROOM_*
    (DNS stays on the loopback stub of tests/conftest.py)."""
    import os

    for name in list(os.environ):
        if name in {"NO_COLOR", "TEXTUAL_THEME"} or name.startswith("MAILROOM_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("MAILROOM_CONFIG", str(tmp_path / "no-config.toml"))
    monkeypatch.setenv("MAILROOM_DNS_SERVER", loopback_dns)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A fresh, migrated store with the shipped providers, on the fixed clock."""
    opened = open_store(tmp_path / "m.db", clock=fixed_clock)
    yield opened
    opened.close()


@pytest.fixture
def alice(store: Store) -> Actor:
    """The first user, hence the administrator."""
    return store.identity.actor("alice")


@pytest.fixture
def make_app(store: Store, alice: Actor, tmp_path: Path) -> Callable[..., MailroomApp]:
    """Build the app through the same factory as the CLI, for alice unless another actor is given."""

    def build(actor: Actor | None = None) -> MailroomApp:
        return create_app(make_settings(tmp_path), store, actor or alice, clock=fixed_clock)

    return build


async def settle(pilot) -> None:  # noqa: ANN001 - textual.pilot.Pilot
    """Let every worker finish and the screen catch up with the messages they posted."""
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def add_two_mailboxes(store: Store, owner: Actor) -> None:
    """One mailbox that is fine and one that needs attention, as the panel snapshots show them."""
    add_mailbox(store, owner, "alice@gmail.com", synced_ago=timedelta(minutes=5))
    add_mailbox(
        store,
        owner,
        "sales@acme.example",
        provider="Outlook.com / Microsoft 365",
        status="needs_attention",
        reason="The server rejected the password; enter the new one in Edit settings.",
        synced_ago=timedelta(hours=3),
    )
