"""Fixtures of the attack suite: a test PKI, self-signed certificates, hostile servers, a store using them."""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from store.net import Endpoint
from store.providers import ProviderDraft
from store.secrets import Secret, open_secret_store
from store.service import Store, open_store
from tests.harness.ca import CertFiles, TestPKI, make_test_pki
from tests.harness.hostile import HOST, HostileServer, Protocol, Step

LOGIN = "ann@example.test"
PASSWORD = "Pw-7Rq2-secret-never-on-the-wire"
EVIL = "EVILTEXT"  # every word a hostile server says carries this, so tests can look for it in messages
TODAY = dt.date(2025, 6, 1)


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPKI:
    """A trusted test CA, a good localhost/127.0.0.1 certificate and the bad variants."""
    return make_test_pki(tmp_path_factory.mktemp("pki"))


def make_self_signed(directory: Path, stem: str = "self-signed") -> CertFiles:
    """A certificate for localhost and 127.0.0.1 that signs itself (no CA at all)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=90))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(HOST))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    files = CertFiles(directory / f"{stem}.crt", directory / f"{stem}.key")
    files.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return files


@pytest.fixture(scope="session")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> CertFiles:
    """A self-signed server certificate."""
    return make_self_signed(tmp_path_factory.mktemp("self-signed"))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A migrated store in a temp folder."""
    s = open_store(tmp_path / "data" / "mailroom.db")
    yield s
    s.close()


@pytest.fixture
def admin(store: Store) -> Any:
    """The first user, who becomes the administrator."""
    return store.identity.actor("alice")


@pytest.fixture
def hostile() -> Iterator[Callable[..., HostileServer]]:
    """Factory: start a HostileServer(protocol, *scripts); every one is stopped after the test."""
    servers: list[HostileServer] = []

    def start(protocol: Protocol, *scripts: Sequence[Step]) -> HostileServer:
        server = HostileServer(protocol, *scripts).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def endpoint(server: HostileServer, tls: str, ca_file: Path | str = "") -> Endpoint:
    """The Endpoint of a hostile server on 127.0.0.1."""
    return Endpoint(HOST, server.port, tls, str(ca_file))  # type: ignore[arg-type]


@dataclass
class BoxEnv:
    """A store with one mailbox whose provider points at hostile servers."""

    store: Store
    secrets: Any
    admin: Any
    provider: Any
    box: Any

    def sync(self, **options: Any) -> Any:
        """Sync once: no retries unless asked, a fixed day, short timeouts, no helper processes."""
        from store.sync.engine import SyncOptions

        values = {"retry_delays": (), "today": TODAY, "timeout": 5.0, "workers": 0, **options}
        fields = {f.name for f in dataclasses.fields(SyncOptions)}
        opts = SyncOptions(**{k: v for k, v in values.items() if k in fields})
        box = self.store.mailboxes.get(self.admin, self.box.id)
        return self.store.sync.run(box, self.secrets, None, opts)

    def sql(self, query: str, *args: Any) -> list[tuple]:
        """A read query on the store's file."""
        conn = sqlite3.connect(self.store.path)
        try:
            return conn.execute(query, args).fetchall()
        finally:
            conn.close()


def make_box_env(
    tmp: Path,
    imap_port: int,
    ca_file: Path | str,
    imap_tls: str = "ssl",
    smtp_port: int = 1,
    smtp_tls: str = "ssl",
) -> BoxEnv:
    """A store in *tmp*: a provider on 127.0.0.1, the mailbox LOGIN/PASSWORD (all folders, all mail)."""
    store = open_store(tmp / "data" / "mailroom.db")
    secrets = open_secret_store("file", data_dir=tmp / "secrets-data", config_dir=tmp / "secrets-config")
    admin = store.identity.actor("admin")
    provider = store.providers.add(
        admin,
        ProviderDraft.parse(
            name="Hostile",
            imap_host=HOST,
            imap_port=imap_port,
            imap_tls=imap_tls,
            smtp_host=HOST,
            smtp_port=smtp_port,
            smtp_tls=smtp_tls,
            ca_file=str(ca_file),
        ),
    )
    box = store.mailboxes.create(admin, LOGIN, provider.id, LOGIN, Secret(PASSWORD), secrets)
    with store.engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE mailboxes SET folder_scope = 'all', load_period = 'all' WHERE id = ?", (box.id,)
        )
    return BoxEnv(store, secrets, admin, provider, store.mailboxes.get(admin, box.id))


@pytest.fixture
def box_env_factory(tmp_path: Path) -> Iterator[Callable[..., BoxEnv]]:
    """Factory of BoxEnv in this test's temp folder; stores are closed afterwards."""
    made: list[BoxEnv] = []

    def make(imap_port: int, ca_file: Path | str, **kw: Any) -> BoxEnv:
        env = make_box_env(tmp_path / f"env{len(made)}", imap_port, ca_file, **kw)
        made.append(env)
        return env

    yield make
    for env in made:
        env.store.close()
