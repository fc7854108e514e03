"""Shared pieces of the sending tests: a store whose mailbox is a harness account, and mail helpers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from store.mailbox_settings import SettingsDraft
from store.providers import ProviderDraft
from store.secrets import Secret, open_secret_store
from store.service import Store, open_store
from tests.harness.fixtures import MailAccount, ServerInfo


@dataclass
class SendEnv:
    """A store with one mailbox on the harness server, its keyring, and the acting owner."""

    store: Store
    secrets: Any
    admin: Any
    account: MailAccount
    server: ServerInfo
    tmp: Path
    box: Any = None
    providers: dict[str, Any] = field(default_factory=dict)

    def provider(self, tls: str = "ssl") -> Any:
        """A provider for the harness servers over implicit TLS ("ssl") or STARTTLS, trusting the test CA."""
        if tls not in self.providers:
            s = self.server
            self.providers[tls] = self.store.providers.add(
                self.admin,
                ProviderDraft(
                    name=f"Harness {tls}",
                    imap_host=s.host,
                    imap_port=s.imaps_port,
                    imap_tls="ssl",
                    smtp_host=s.host,
                    smtp_port=s.smtps_port if tls == "ssl" else s.smtp_port,
                    smtp_tls=tls,
                    ca_file=str(s.ca_file),
                ),
            )
        return self.providers[tls]

    def connect(
        self, account: MailAccount, actor: Any = None, tls: str = "ssl", password: str | None = None
    ) -> Any:
        """A mailbox for *account*, owned by *actor* (the admin by default)."""
        actor = actor or self.admin
        return self.store.mailboxes.create(
            actor,
            account.email,
            self.provider(tls).id,
            account.email,
            Secret(password or account.password),
            self.secrets,
        )

    def configure(self, box: Any, actor: Any = None, **values: Any) -> Any:
        """Change a mailbox's sending settings through the settings service."""
        actor = actor or self.admin
        draft = SettingsDraft.of(box).model_copy(update=values)
        return self.store.settings.save(actor, box.id, SettingsDraft.parse(**draft.model_dump()))

    def drain(self, now: datetime | None = None, **kw: Any) -> Any:
        """Deliver what is due, with short timeouts."""
        return self.store.outbox.drain(self.secrets, now=now, timeout=kw.pop("timeout", 10), **kw)


@contextmanager
def open_env(tmp_path: Path, mail_server: ServerInfo, mail_account: MailAccount) -> Iterator[SendEnv]:
    """A fresh store (file keyring) whose admin owns a mailbox on a fresh harness account."""
    mail_server.ensure_running()
    mail_server.sink.clear()
    store = open_store(tmp_path / "m.db")
    secrets = open_secret_store("file", data_dir=tmp_path / "sd", config_dir=tmp_path / "sc")
    admin = store.identity.actor("alice")
    e = SendEnv(store, secrets, admin, mail_account, mail_server, tmp_path)
    e.box = e.connect(mail_account)
    try:
        yield e
    finally:
        mail_server.sink.clear_rejections()
        mail_server.ensure_running()
        store.close()


def parse(raw: bytes) -> EmailMessage:
    """A message parsed with the modern email policy."""
    return BytesParser(policy=policy.default).parsebytes(raw)  # type: ignore[return-value]


def sent_folder(account: MailAccount) -> list[tuple[int, bytes, tuple]]:
    """(uid, raw, flags) of every message in the account's Sent folder, read over IMAP."""
    client = account.imap()
    try:
        client.select_folder("Sent", readonly=True)
        uids = client.search(["ALL"])
        data = client.fetch(uids, ["BODY.PEEK[]", "FLAGS"]) if uids else {}
        return [(uid, d[b"BODY[]"], d[b"FLAGS"]) for uid, d in sorted(data.items())]
    finally:
        client.logout()


def deliver_to_inbox(account: MailAccount, raw: bytes) -> None:
    """Put a message into the account's INBOX over IMAP (as if it had arrived)."""
    client = account.imap()
    try:
        client.append("INBOX", raw)
    finally:
        client.logout()


_DELIVERY_PROCESS = """
import sys
from pathlib import Path
from store.secrets import open_secret_store
from store.service import open_store
tmp = Path(sys.argv[1])
store = open_store(tmp / "m.db")
secrets = open_secret_store("file", data_dir=tmp / "sd", config_dir=tmp / "sc")
report = store.outbox.drain(secrets, timeout=20)
print("busy" if report.busy else "done", flush=True)
"""


def delivery_process(env: SendEnv, kill_at: str | None = None, timeout: float = 60) -> int:
    """Run one delivery of the outbox in a separate Python process over *env*'s database and keyring; with
    *kill_at* the process SIGKILLs itself at that step (store/delivery_loop.py `crash_point`). Returns its
    exit status (-9 when it was killed)."""
    import os
    import subprocess
    import sys

    from store.delivery_loop import KILL_ENV

    child_env = {k: v for k, v in os.environ.items() if k != KILL_ENV}
    if kill_at is not None:
        child_env[KILL_ENV] = kill_at
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", _DELIVERY_PROCESS, str(env.tmp)],
        cwd=root,
        env=child_env,
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode not in (0, -9):
        raise AssertionError(f"delivery process failed ({done.returncode}): {done.stderr.decode()[-2000:]}")
    return done.returncode
