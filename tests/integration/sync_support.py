"""Shared pieces of the sync tests: a store with a mailbox connected to a harness account, and helpers."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from store.secrets import Secret, open_secret_store
from store.service import Store, open_store
from store.sync.engine import SyncOptions
from store.sync.events import SyncSummary
from tests.harness.fixtures import MailAccount

TODAY = date(2025, 6, 1)  # the corpus spans 2024-01-01 .. mid 2025
FAST = SyncOptions(retry_delays=(0.05, 0.1), today=TODAY, timeout=20)


@dataclass
class SyncEnv:
    """A store whose one mailbox is a harness account."""

    store: Store
    account: MailAccount
    secrets: Any
    admin: Any
    tmp: Path
    provider: Any = None
    box: Any = None
    events: list[Any] = field(default_factory=list)

    def run(self, **options: Any) -> SyncSummary:
        """Sync the mailbox once (fast retries, fixed day) and return the summary."""
        box = self.store.mailboxes.get(self.admin, self.box.id)
        opts = dataclasses.replace(FAST, **options)
        return self.store.sync.run(box, self.secrets, self.events.append, opts)

    def configure(self, **values: Any) -> None:
        """Change mailbox settings directly (the settings screens are another issue)."""
        selected = values.pop("selected_folders", None)
        with self.store.engine.begin() as conn:
            if values:
                conn.exec_driver_sql(
                    "UPDATE mailboxes SET " + ", ".join(f"{k} = ?" for k in values) + " WHERE id = ?",
                    (*values.values(), self.box.id),
                )
            if selected is not None:
                conn.exec_driver_sql(
                    "DELETE FROM mailbox_selected_folders WHERE mailbox_id = ?", (self.box.id,)
                )
                for name in selected:
                    conn.exec_driver_sql(
                        "INSERT INTO mailbox_selected_folders VALUES (?, ?)", (self.box.id, name)
                    )
        self.box = self.store.mailboxes.get(self.admin, self.box.id)

    def sql(self, query: str, *args: Any) -> list[tuple]:
        """Run a read query on the store's file."""
        conn = sqlite3.connect(self.store.path)
        try:
            return conn.execute(query, args).fetchall()
        finally:
            conn.close()

    def stored(self) -> dict[str, set[tuple[int, str]]]:
        """folder → {(uid, Message-ID)} of stored locations."""
        out: dict[str, set[tuple[int, str]]] = {}
        for name, uid, mid in self.sql(
            "SELECT f.name, l.uid, m.header_message_id FROM message_locations l "
            "JOIN sync_folders f ON f.id = l.folder_id JOIN messages m ON m.id = l.message_id "
            "WHERE l.mailbox_id = ?",
            self.box.id,
        ):
            out.setdefault(name, set()).add((uid, mid))
        return out

    def server(self, folders: list[str] | None = None) -> dict[str, set[tuple[int, str]]]:
        """folder → {(uid, Message-ID)} as the server has them."""
        from store.sync.parse import header_fields, normalize_id, to_text

        client = self.account.imap()
        try:
            names = folders or [n for fl, _, n in client.list_folders() if b"\\Noselect" not in fl]
            out: dict[str, set[tuple[int, str]]] = {}
            for name in names:
                info = client.select_folder(name, readonly=True)
                out[name] = set()
                if not info[b"EXISTS"]:
                    continue
                uids = client.search(["ALL"])
                data = client.fetch(uids, ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
                for uid, d in data.items():
                    raw = next(v for k, v in d.items() if k.startswith(b"BODY"))
                    mid = normalize_id(to_text(header_fields(raw).get(b"message-id", b"")))
                    out[name].add((uid, mid))
            return out
        finally:
            client.logout()


def make_env(store_path: Path, account: MailAccount, tmp: Path) -> SyncEnv:
    """Open a store at *store_path* and connect *account* as the admin's mailbox."""
    store = open_store(store_path, clock=lambda: datetime(2025, 6, 1, 12, 0, tzinfo=UTC))
    secrets = open_secret_store("file", data_dir=tmp / "secrets-data", config_dir=tmp / "secrets-config")
    admin = store.identity.actor("admin")
    env = SyncEnv(store, account, secrets, admin, tmp)
    env.provider = store.providers.add(admin, account.provider_draft("Harness"))
    env.box = store.mailboxes.create(
        admin, account.email, env.provider.id, account.email, Secret(account.password), secrets
    )
    return env


def add_mailbox(env: SyncEnv, account: MailAccount) -> Any:
    """Connect a second harness account to the same store (same provider)."""
    return env.store.mailboxes.create(
        env.admin, account.email, env.provider.id, account.email, Secret(account.password), env.secrets
    )


def fresh_env(mail_account: MailAccount, tmp_path: Path) -> Iterator[SyncEnv]:
    """A store with one mailbox (scope: all folders, period: all) on a fresh, empty harness account."""
    env = make_env(tmp_path / "data" / "mailroom.db", mail_account, tmp_path)
    env.configure(folder_scope="all", load_period="all")
    yield env
    env.store.close()


def append(
    account: MailAccount, folder: str, raw: bytes, flags: tuple = (), when: datetime | None = None
) -> None:
    """APPEND one message to a folder of the account (creating the folder when needed)."""
    client = account.imap()
    try:
        if not client.folder_exists(folder):
            client.create_folder(folder)
        client.append(folder, raw, flags, when or datetime(2025, 5, 30, 10, 0, tzinfo=UTC))
    finally:
        client.logout()


def simple_message(
    n: int, subject: str = "", message_id: str | None = None, body: str = "", extra: str = ""
) -> bytes:
    """A small plain-text message."""
    mid = message_id if message_id is not None else f"<m{n}@test.example>"
    head = [
        f"From: Sender {n} <sender{n}@test.example>",
        "To: me@example.test",
        f"Subject: {subject or f'Message {n}'}",
        "Date: Fri, 30 May 2025 10:00:00 +0000",
    ]
    if mid:
        head.append(f"Message-ID: {mid}")
    if extra:
        head.append(extra)
    text = body or f"Body of message {n}.\n"
    return ("\r\n".join(head) + "\r\n\r\n" + text.replace("\n", "\r\n")).encode()
