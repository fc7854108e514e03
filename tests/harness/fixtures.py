"""Pytest fixtures: session-wide real Dovecot IMAP + submission + SMTP sink, and fresh accounts per test."""

from __future__ import annotations

import dataclasses
import os
import secrets
import shutil
import signal
import smtplib
import ssl
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from imapclient import IMAPClient

from tests.harness import corpus as mail_corpus
from tests.harness.ca import CertFiles, TestPKI, make_test_pki
from tests.harness.dovecot import DEBIAN_PACKAGES, HOST, DovecotServer, find_dovecot
from tests.harness.smtp_sink import SmtpSink

TEMP_PREFIX = "mailroom-harness-"
LIBEXEC_DIRS = ("/usr/lib/dovecot", "/usr/libexec/dovecot", "/usr/local/libexec/dovecot")


@dataclass(frozen=True)
class ServerInfo:
    """Where the session's mail servers listen, the CA to trust, and handles to stop/start them."""

    host: str
    imap_port: int
    imaps_port: int
    smtp_port: int
    smtps_port: int
    ca_file: Path
    sink: SmtpSink
    imap_server: DovecotServer = field(repr=False)
    submission_server: DovecotServer = field(repr=False)
    pki: TestPKI = field(repr=False)

    def ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts only the test CA (hostname checking on)."""
        return ssl.create_default_context(cafile=str(self.ca_file))

    def add_user(self, email: str, password: str) -> Path:
        """Create a login valid for IMAP and submission at once; return its (empty) Maildir."""
        return self.imap_server.add_user(email, password)

    def ensure_running(self) -> None:
        """Restart whatever a previous test stopped (sink, submission, IMAP) and drop canned SMTP errors."""
        self.sink.start()
        self.sink.clear_rejections()
        for server in (self.imap_server, self.submission_server):
            if not server.running:
                server.stop()
                server.start()


@dataclass(frozen=True)
class MailAccount:
    """A fresh user on the session server with connection helpers; `corpus` is set by corpus_account."""

    email: str
    password: str
    maildir: Path
    host: str
    imap_port: int
    imaps_port: int
    smtp_port: int
    smtps_port: int
    ca_file: Path
    server: ServerInfo = field(repr=False)
    corpus: mail_corpus.CorpusStats | None = field(default=None, repr=False)

    def provider_draft(self, name: str = "Harness Mail", host: str = "localhost") -> Any:
        """A ProviderDraft that reaches these servers over implicit TLS, trusting the test CA."""
        from store.providers import ProviderDraft

        return ProviderDraft.parse(
            name=name,
            imap_host=host,
            imap_port=self.imaps_port,
            imap_tls="ssl",
            smtp_host=host,
            smtp_port=self.smtps_port,
            smtp_tls="ssl",
            ca_file=str(self.ca_file),
        )

    def imap(self, starttls: bool = False, login: bool = True, timeout: float = 15) -> IMAPClient:
        """Connect over implicit TLS (or STARTTLS on the plain port), verifying the cert, and log in."""
        context = self.server.ssl_context()
        if starttls:
            client = IMAPClient(self.host, port=self.imap_port, ssl=False, timeout=timeout)
            client.starttls(context)
        else:
            client = IMAPClient(
                self.host, port=self.imaps_port, ssl=True, ssl_context=context, timeout=timeout
            )
        if login:
            client.login(self.email, self.password)
        return client

    def smtp(self, starttls: bool = True, login: bool = True, timeout: float = 15) -> smtplib.SMTP:
        """Connect to submission with STARTTLS (or implicit TLS when starttls=False) and log in."""
        context = self.server.ssl_context()
        if starttls:
            client = smtplib.SMTP(
                self.host, self.smtp_port, local_hostname="client.localhost", timeout=timeout
            )
            client.starttls(context=context)
        else:
            client = smtplib.SMTP_SSL(
                self.host,
                self.smtps_port,
                local_hostname="client.localhost",
                context=context,
                timeout=timeout,
            )
        if login:
            client.login(self.email, self.password)
        return client

    def fill(
        self, count: int = 200, avg_size: int = 8000, seed: int = 0, **kwargs: Any
    ) -> mail_corpus.CorpusStats:
        """Write a corpus into this account's Maildir; do it before the first IMAP access to the account."""
        imap = self.server.imap_server
        return mail_corpus.build(
            self.maildir, count, avg_size, seed, owner=(imap.uid, imap.gid), owner_email=self.email, **kwargs
        )


def require_dovecot() -> None:
    """Install Dovecot with apt-get once when root, else fail (not skip) naming the Debian packages."""

    def missing() -> bool:
        return find_dovecot() is None or not any(
            all(os.path.exists(f"{d}/{b}") for b in ("imap", "submission")) for d in LIBEXEC_DIRS
        )

    if not missing():
        return
    packages = " ".join(DEBIAN_PACKAGES)
    if os.geteuid() != 0:
        pytest.fail(
            f"Dovecot is not installed; the mail tests need real servers: sudo apt-get install -y {packages}",
            pytrace=False,
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", *DEBIAN_PACKAGES]
    result = subprocess.run(install, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        subprocess.run(["apt-get", "update"], capture_output=True, env=env)
        result = subprocess.run(install, capture_output=True, text=True, env=env)
    if result.returncode != 0 or missing():
        pytest.fail(f"apt-get install {packages} failed:\n{result.stderr[-2000:]}", pytrace=False)


def _reap_stale_roots() -> None:
    """Stop Dovecots and delete temp roots of harness runs whose pytest process is gone (e.g. kill -9)."""
    for root in Path(tempfile.gettempdir()).glob(TEMP_PREFIX + "*"):
        try:
            if time.time() - root.stat().st_mtime < 60 and not (root / "owner.pid").exists():
                continue  # just created by another run that has not written its pid yet
            os.kill(int((root / "owner.pid").read_text()), 0)
            continue  # its pytest is still running
        except (OSError, ValueError):
            pass
        for pid_file in root.glob("*/run/master.pid"):
            try:
                pid = int(pid_file.read_text())
                if str(root) in Path(f"/proc/{pid}/cmdline").read_text():
                    os.killpg(pid, signal.SIGTERM)  # Dovecot runs in its own process group
            except (OSError, ValueError):
                pass
        shutil.rmtree(root, ignore_errors=True)


def start_servers(root: Path, cert: CertFiles | None = None, pki: TestPKI | None = None) -> ServerInfo:
    """Start a sink, an IMAP Dovecot and a submission Dovecot sharing users and mail under `root`."""
    pki = pki or make_test_pki(root / "pki")
    cert = cert or pki.server
    sink = SmtpSink().start()
    users, mail = root / "users", root / "mail"
    imap = DovecotServer(root / "imap", cert, users, mail, protocols=("imap",))
    submission = DovecotServer(
        root / "submission", cert, users, mail, protocols=("submission",), relay_port=sink.port
    )
    try:
        imap.start()
        submission.start()
    except Exception:
        for part in (imap, submission, sink):
            part.stop()
        raise
    return ServerInfo(
        HOST,
        imap.imap_port,
        imap.imaps_port,
        submission.smtp_port,
        submission.smtps_port,
        pki.ca_file,
        sink,
        imap,
        submission,
        pki,
    )


def stop_servers(info: ServerInfo) -> None:
    """Stop everything `start_servers` started."""
    for part in (info.submission_server, info.imap_server, info.sink):
        part.stop()


@pytest.fixture(scope="session")
def mail_server() -> Iterator[ServerInfo]:
    """Session-wide Dovecot IMAP(S) + submission(s) + SMTP sink on 127.0.0.1, removed at the end."""
    require_dovecot()
    _reap_stale_roots()
    root = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX))
    root.chmod(0o711)  # Dovecot's auth and mail processes run as other users and must traverse it
    (root / "owner.pid").write_text(str(os.getpid()))
    info = start_servers(root)
    try:
        yield info
    finally:
        stop_servers(info)
        shutil.rmtree(root, ignore_errors=True)


def _new_account(server: ServerInfo) -> MailAccount:
    email = f"u-{secrets.token_hex(5)}@example.test"
    password = secrets.token_urlsafe(12)
    maildir = server.add_user(email, password)
    return MailAccount(
        email,
        password,
        maildir,
        server.host,
        server.imap_port,
        server.imaps_port,
        server.smtp_port,
        server.smtps_port,
        server.ca_file,
        server,
    )


def _remove_account(account: MailAccount) -> None:
    shutil.rmtree(account.maildir.parent, ignore_errors=True)
    (account.server.imap_server.users_dir / account.email).unlink(missing_ok=True)


@pytest.fixture
def mail_account(mail_server: ServerInfo) -> Iterator[MailAccount]:
    """A fresh user `u-<random>@example.test` with a random password, deleted after the test."""
    mail_server.ensure_running()
    account = _new_account(mail_server)
    yield account
    _remove_account(account)


@pytest.fixture
def corpus_account(mail_account: MailAccount) -> MailAccount:
    """A fresh user whose Maildir holds the default seeded corpus (200 messages, ~8 KB, 14 folders)."""
    return dataclasses.replace(mail_account, corpus=mail_account.fill())


@pytest.fixture
def smtp_sink(mail_server: ServerInfo) -> SmtpSink:
    """The session's SMTP sink, running, emptied and without canned errors."""
    mail_server.ensure_running()
    mail_server.sink.clear()
    return mail_server.sink


@pytest.fixture
def bad_tls_server(mail_server: ServerInfo) -> Iterator[Callable[[str], ServerInfo]]:
    """Factory: start extra IMAP + submission servers with a bad cert: expired, wrong_host or other_ca."""
    started: list[DovecotServer] = []
    root = Path(tempfile.mkdtemp(prefix="tls-", dir=mail_server.imap_server.root.parent))
    root.chmod(0o711)

    def start(kind: str) -> ServerInfo:
        pki = mail_server.pki
        cert = {"expired": pki.expired, "wrong_host": pki.wrong_host, "other_ca": pki.other_ca_server}[kind]
        base = mail_server.imap_server
        imap = DovecotServer(root / f"{kind}-imap", cert, base.users_dir, base.mail_root)
        sub = DovecotServer(
            root / f"{kind}-sub",
            cert,
            base.users_dir,
            base.mail_root,
            protocols=("submission",),
            relay_port=mail_server.sink.port,
        )
        for server in (imap, sub):
            started.append(server.start())
        return ServerInfo(
            HOST,
            imap.imap_port,
            imap.imaps_port,
            sub.smtp_port,
            sub.smtps_port,
            pki.ca_file,
            mail_server.sink,
            imap,
            sub,
            pki,
        )

    yield start
    for server in started:
        server.stop()
    shutil.rmtree(root, ignore_errors=True)
