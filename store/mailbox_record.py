"""The mailbox record and its password lookup, without the database layer (the headless sync imports it
without SQLAlchemy; store/mailboxes.py holds the service)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from store.errors import NotFound

if TYPE_CHECKING:
    from store.secrets import Secret, SecretStore


@dataclass(frozen=True)
class Mailbox:
    """A connected mail account with its settings; holds no secret, only a reference to it."""

    id: int
    email: str
    owner_id: int
    provider_id: int
    provider_name: str
    login: str
    secret_ref: str
    password_command: str
    load_period: str
    auto_load: bool
    folder_scope: str
    send_enabled: bool
    alias: str
    is_default_sender: bool
    use_signature: bool
    signature: str
    status: str
    status_reason: str
    created_at: datetime
    last_sync_at: datetime | None
    selected_folders: tuple[str, ...] = ()


def credentials(box: Mailbox, secrets: SecretStore) -> Secret:
    """The mailbox's password: from its password command when set, else from the keyring."""
    from store.secrets import run_password_command

    if box.password_command:
        return run_password_command(box.password_command)
    secret = secrets.get(box.secret_ref)
    if secret is None:
        raise NotFound(f"No password stored for {box.email}; set it again in the mailbox settings.")
    return secret
