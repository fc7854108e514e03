"""Shared pieces of the settings-page tests: harness mailboxes, a private file keyring, tree keys."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from screens.folder_tree import FolderTree
from screens.mailbox_settings import MailboxSettingsScreen
from store.identity import Actor
from store.mailboxes import Mailbox
from store.providers import Provider, ProviderDraft
from store.secrets import Secret, SecretStore, open_secret_store
from store.service import Store
from tests.harness.fixtures import MailAccount, ServerInfo
from tests.snapshots.conftest import fixed_clock, make_settings, settle
from tui.app import MailroomApp, create_app
from tui.settings import SecretsSettings, config_dir, data_dir

DISPLAY_PORTS = {"imap_port": 993, "smtp_port": 465}
"""The ports the snapshot provider shows; `route_to_harness` bridges them to the harness ports."""


def isolate_keyring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SecretStore:
    """Point the XDG folders at *tmp_path* and return the file keyring the app will open there."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    return open_secret_store("file", data_dir=data_dir(), config_dir=config_dir())


def app_with_file_keyring(tmp_path: Path, store: Store, actor: Actor) -> MailroomApp:
    """The app as the snapshot tests build it, with passwords in the private file keyring."""
    settings = make_settings(tmp_path).model_copy(update={"secrets": SecretsSettings(backend="file")})
    return create_app(settings, store, actor, clock=fixed_clock)


@contextmanager
def fixed_account(
    server: ServerInfo, email: str, password: str = "right-password-1"
) -> Iterator[MailAccount]:
    """A harness user with a chosen address (snapshots show it); removed afterwards. Unique per session."""
    server.ensure_running()
    maildir = server.add_user(email, password)
    account = MailAccount(
        email, password, maildir, server.host, server.imap_port, server.imaps_port, server.smtp_port,
        server.smtps_port, server.ca_file, server,
    )  # fmt: skip
    try:
        yield account
    finally:
        shutil.rmtree(maildir.parent, ignore_errors=True)
        (server.imap_server.users_dir / email).unlink(missing_ok=True)


def harness_provider(
    store: Store, admin: Actor, account: MailAccount, name: str = "Harness Mail"
) -> Provider:
    """A provider that reaches the harness servers over implicit TLS, trusting the test CA."""
    return store.providers.add(admin, account.provider_draft(name))


def display_provider(store: Store, admin: Actor, name: str = "Example Mail", **ports: int) -> Provider:
    """A provider whose servers read the same in every run (localhost, fixed ports)."""
    values = {**DISPLAY_PORTS, **ports}
    return store.providers.add(admin, ProviderDraft.parse(
        name=name, imap_host="localhost", imap_tls="ssl", smtp_host="localhost", smtp_tls="ssl", **values,
    ))  # fmt: skip


def route_to_harness(monkeypatch: pytest.MonkeyPatch, store: Store, server: ServerInfo) -> None:
    """Make the folder listing and the password check reach the harness; the provider shows fixed ports."""

    def real(provider: Provider) -> Provider:
        return provider.model_copy(update={
            "imap_port": server.imaps_port, "smtp_port": server.smtps_port, "ca_file": str(server.ca_file),
        })  # fmt: skip

    list_folders, change_password = store.settings.server_folders, store.settings.change_password
    monkeypatch.setattr(store.settings, "server_folders", lambda box, p, s: list_folders(box, real(p), s))
    monkeypatch.setattr(
        store.settings, "change_password",
        lambda actor, box_id, secret, p, secrets: change_password(actor, box_id, secret, real(p), secrets),
    )  # fmt: skip


def connect(
    store: Store,
    actor: Actor,
    account: MailAccount,
    provider: Provider,
    secrets: SecretStore,
    password: str = "",
) -> Mailbox:
    """Store the harness account as *actor*'s mailbox with *password* (the right one unless given)."""
    return store.mailboxes.create(
        actor, account.email, provider.id, account.email, Secret(password or account.password), secrets
    )


async def open_page(pilot: Any, mailbox_id: int) -> MailboxSettingsScreen:
    """Open the settings page the way the account menu does, and wait until it shows the mailbox."""
    await pilot.pause()
    await pilot.app.run_action(f"edit_settings({mailbox_id})")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, MailboxSettingsScreen), [n.message for n in pilot.app._notifications]
    return screen


async def cursor_to(pilot: Any, name: str, limit: int = 40) -> None:
    """Move the folder tree's cursor down (wrapping once to the top) until it is on folder *name*."""
    tree = pilot.app.screen.query_one(FolderTree)
    for _ in range(limit):
        node = tree.cursor_node
        if node is not None and node.data is not None and node.data.name == name:
            return
        await pilot.press("down" if tree.cursor_line < tree.last_line else "home")
    raise AssertionError(f"folder {name!r} not in the tree")


def tree_labels(pilot: Any) -> dict[str, str]:
    """Every folder's label text as the tree shows it, by full folder name."""
    tree = pilot.app.screen.query_one(FolderTree)
    return {name: str(tree.node(name).label) for name in tree.entries()}
