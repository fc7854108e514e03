"""Connecting mailboxes against the real Dovecot IMAP and submission servers of the harness."""

from __future__ import annotations

import base64
import logging
import secrets as pysecrets
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from store.accounts import Accounts, AuthorizeError, Cancelled, CancelToken, Detector, authorize
from store.errors import Conflict
from store.providers import Provider, ProviderDraft
from store.secrets import Secret, open_secret_store
from store.service import Store, open_store
from tests.dns_stub import mx_server
from tests.harness.fixtures import ServerInfo

pytestmark = pytest.mark.integration
DOMAIN = "acme.example"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(tmp_path / "m.db")
    yield s
    s.close()


@pytest.fixture
def admin(store: Store):
    return store.identity.actor("alice")


@pytest.fixture
def keyring(tmp_path: Path):
    return open_secret_store("file", data_dir=tmp_path / "sd", config_dir=tmp_path / "sc")


@pytest.fixture
def accounts(store: Store) -> Accounts:
    return Accounts(store, Detector(store, ["127.0.0.1"], 9, timeout=0.2), timeout=5)


class Users:
    """Creates mail users on the harness server at any domain, and removes them afterwards."""

    def __init__(self, server: ServerInfo) -> None:
        self.server = server
        self.made: list[str] = []

    def add(self, domain: str = DOMAIN, password: str | None = None, extra: str = "") -> tuple[str, str]:
        email = f"ann-{pysecrets.token_hex(4)}@{domain}"
        password = password or pysecrets.token_urlsafe(12)
        self.server.add_user(email, password)
        if extra:  # the harness keeps one passwd-file per user; extra fields restrict this user
            path = self.server.imap_server.users_dir / email
            path.write_text(f"{email}:{{PLAIN}}{password}::::::{extra}\n", encoding="utf-8")
            path.chmod(0o644)
        self.made.append(email)
        return email, password

    def add_raw(self, login: str, password: str) -> None:
        """A login without a domain, as servers that log users in by the part before @ know them."""
        path = self.server.imap_server.users_dir / login
        path.write_text(f"{login}:{{PLAIN}}{password}::::::\n", encoding="utf-8")
        path.chmod(0o644)
        self.made.append(login)

    def cleanup(self) -> None:
        import shutil

        for email in self.made:
            (self.server.imap_server.users_dir / email).unlink(missing_ok=True)
            shutil.rmtree(self.server.imap_server.home(email), ignore_errors=True)


@pytest.fixture
def users(mail_server: ServerInfo) -> Iterator[Users]:
    mail_server.ensure_running()
    made = Users(mail_server)
    yield made
    made.cleanup()


def harness_provider(
    store: Store,
    admin,
    server: ServerInfo,
    name: str = "Acme Mail",
    *,
    ca: bool = True,
    starttls: bool = False,
    **overrides,
) -> Provider:
    """An admin-defined provider for the harness servers, with the test CA as its custom CA file."""
    values = dict(
        name=name,
        imap_host=server.host,
        imap_port=server.imap_port if starttls else server.imaps_port,
        imap_tls="starttls" if starttls else "ssl",
        smtp_host=server.host,
        smtp_port=server.smtp_port if starttls else server.smtps_port,
        smtp_tls="starttls" if starttls else "ssl",
        ca_file=str(server.ca_file) if ca else "",
    )
    values.update(overrides)
    return store.providers.add(admin, ProviderDraft(**values))


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stored_bytes(store: Store) -> bytes:
    return b"".join(p.read_bytes() for p in store.path.parent.glob(store.path.name + "*"))


def assert_no_password_anywhere(password: str, store: Store, log_text: str) -> None:
    forms = {password.encode(), base64.b64encode(password.encode())}
    data = stored_bytes(store)
    assert not any(f in data for f in forms)
    assert password not in log_text and base64.b64encode(password.encode()).decode() not in log_text


def test_connect_over_implicit_tls_with_the_admins_ca(
    store, admin, keyring, accounts, users, mail_server, caplog
):
    caplog.set_level(logging.DEBUG)
    provider = harness_provider(store, admin, mail_server)
    store.providers.add_domain(admin, DOMAIN, provider.id)
    email, password = users.add()
    detection = accounts.detect(email)
    assert (detection.provider.name, detection.how) == ("Acme Mail", "lookup")
    steps: list[str] = []
    box = accounts.connect(admin, detection, email, Secret(password), keyring, progress=steps.append)
    assert steps == ["imap", "smtp", "save"]
    assert (box.email, box.login, box.provider_name, box.load_period, box.auto_load) == (
        email,
        email,
        "Acme Mail",
        "week",
        True,
    )
    assert box.folder_scope == "inbox" and box.send_enabled and box.is_default_sender
    assert box.alias == "" and not box.use_signature and box.signature == ""
    assert keyring.get(box.secret_ref) == Secret(password)
    assert_no_password_anywhere(password, store, caplog.text)
    assert "connected mailbox" in caplog.text


def test_connect_over_starttls(store, admin, keyring, accounts, users, mail_server):
    provider = harness_provider(store, admin, mail_server, starttls=True)
    email, password = users.add()
    box = accounts.connect(admin, accounts.detect(email).chosen(provider), email, Secret(password), keyring)
    assert box.provider_name == "Acme Mail"


def test_local_part_login(store, admin, keyring, accounts, users, mail_server):
    """A provider whose login is the part before @ (the harness user is created under that name)."""
    provider = harness_provider(store, admin, mail_server, login_format="local_part")
    login = f"bob{pysecrets.token_hex(3)}"
    password = pysecrets.token_urlsafe(10)
    users.add_raw(login, password)
    detection = accounts.detect(f"{login}@{DOMAIN}").chosen(provider)
    box = accounts.connect(admin, detection, login, Secret(password), keyring)
    assert box.login == login


def test_non_ascii_password_and_quoted_login_work(store, admin, keyring, accounts, users, mail_server):
    """UTF-8 passwords go through AUTHENTICATE PLAIN / AUTH PLAIN; quotes and backslashes survive LOGIN."""
    provider = harness_provider(store, admin, mail_server)
    email, password = users.add(password="Пароль-ünï-" + pysecrets.token_hex(3))
    accounts.connect(admin, accounts.detect(email).chosen(provider), email, Secret(password), keyring)
    email2, password2 = users.add(password='a"b\\c d ' + pysecrets.token_hex(3))
    accounts.connect(admin, accounts.detect(email2).chosen(provider), email2, Secret(password2), keyring)
    assert len(store.mailboxes.visible(admin)) == 2


def test_wrong_password_stores_nothing(store, admin, keyring, accounts, users, mail_server, caplog):
    caplog.set_level(logging.DEBUG)
    provider = harness_provider(store, admin, mail_server)
    email, _ = users.add()
    with pytest.raises(AuthorizeError) as info:
        accounts.connect(admin, accounts.detect(email).chosen(provider), email, Secret("not-it-42x"), keyring)
    assert info.value.title == "Wrong password" and info.value.protocol == "IMAP"
    assert f"IMAP login for '{email}' was refused" in info.value.detail
    assert "Check the password, and that this address has an account with this provider." in info.value.detail
    assert store.mailboxes.visible(admin) == [] and store.providers.lookup(DOMAIN) is None
    assert_no_password_anywhere("not-it-42x", store, caplog.text)


def test_wrong_password_names_the_app_password(store, admin, keyring, accounts, users, mail_server):
    provider = harness_provider(
        store,
        admin,
        mail_server,
        app_password_required=True,
        auth_kind="app_password",
        help_url="https://help.acme.example/app-passwords",
    )
    email, _ = users.add()
    with pytest.raises(AuthorizeError) as info:
        accounts.connect(admin, accounts.detect(email).chosen(provider), email, Secret("usual-pw"), keyring)
    assert "Acme Mail needs an app password" in info.value.detail
    assert "https://help.acme.example/app-passwords" in info.value.detail


def test_certificate_not_trusted_without_the_ca_file(store, admin, keyring, accounts, users, mail_server):
    provider = harness_provider(store, admin, mail_server, ca=False)
    email, password = users.add()
    with pytest.raises(AuthorizeError) as info:
        accounts.connect(admin, accounts.detect(email).chosen(provider), email, Secret(password), keyring)
    assert info.value.title == "TLS certificate not trusted" and info.value.protocol == "IMAP"
    assert "an admin can set the provider's CA file" in info.value.detail
    assert store.mailboxes.visible(admin) == []


@pytest.mark.parametrize("kind", ["other_ca", "expired", "wrong_host"])
def test_bad_server_certificates_are_refused(
    kind, store, admin, keyring, accounts, users, mail_server, bad_tls_server
):
    bad = bad_tls_server(kind)
    provider = harness_provider(store, admin, bad)
    email, password = users.add()
    with pytest.raises(AuthorizeError) as info:
        accounts.connect(admin, accounts.detect(email).chosen(provider), email, Secret(password), keyring)
    assert info.value.title == "TLS certificate not trusted"


def test_imap_ok_smtp_port_closed(store, admin, keyring, accounts, users, mail_server):
    provider = harness_provider(store, admin, mail_server, smtp_port=closed_port())
    email, password = users.add()
    with pytest.raises(AuthorizeError) as info:
        accounts.connect(admin, accounts.detect(email).chosen(provider), email, Secret(password), keyring)
    assert info.value.title == "IMAP ok, SMTP refused the connection" and info.value.imap_ok
    assert store.mailboxes.visible(admin) == []


def test_imap_ok_smtp_refuses_the_login(store, admin, keyring, accounts, users, mail_server):
    """The user may log in only from 127.0.0.1; submission over STARTTLS sees the proxied 192.0.2.10."""
    provider = harness_provider(
        store, admin, mail_server, smtp_port=mail_server.smtp_port, smtp_tls="starttls"
    )
    email, password = users.add(extra="allow_nets=127.0.0.1/32")
    with pytest.raises(AuthorizeError) as info:
        accounts.connect(admin, accounts.detect(email).chosen(provider), email, Secret(password), keyring)
    assert info.value.title == "IMAP ok, SMTP refused the login"
    assert "may not be allowed to send" in info.value.detail
    assert store.mailboxes.visible(admin) == []


def test_host_not_found(store, admin, keyring, accounts, users, mail_server):
    provider = harness_provider(store, admin, mail_server, imap_host="imap.nonexistent.invalid")
    email, password = users.add()
    with pytest.raises(AuthorizeError) as info:
        accounts.connect(admin, accounts.detect(email).chosen(provider), email, Secret(password), keyring)
    assert info.value.title == "Host not found" and "imap.nonexistent.invalid" in info.value.detail


def test_timeout_and_cancel_while_the_server_is_silent(store, admin, keyring, users, mail_server):
    """A server that accepts TCP but never answers: a short timeout fails; a cancel stores nothing."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        provider = harness_provider(store, admin, mail_server, imap_port=silent.getsockname()[1])
        email, password = users.add()
        quick = Accounts(store, Detector(store, ["127.0.0.1"], 9, 0.2), timeout=0.5)
        with pytest.raises(AuthorizeError) as info:
            quick.connect(admin, quick.detect(email).chosen(provider), email, Secret(password), keyring)
        assert info.value.title in ("Connection timed out", "TLS connection failed")
        assert "timed out" in info.value.detail

        slow = Accounts(store, Detector(store, ["127.0.0.1"], 9, 0.2), timeout=2)
        token, outcome = CancelToken(), []

        def run() -> None:
            try:
                slow.connect(
                    admin, slow.detect(email).chosen(provider), email, Secret(password), keyring, token
                )
            except BaseException as exc:  # noqa: BLE001 - the test inspects it
                outcome.append(exc)

        thread = threading.Thread(target=run)
        thread.start()
        assert token.cancel() is True
        thread.join(10)
    assert outcome and isinstance(outcome[0], Cancelled | AuthorizeError)
    assert store.mailboxes.visible(admin) == []


def test_starttls_not_offered_never_sends_the_password(store, admin, keyring, users, mail_server):
    """A plaintext IMAP server without STARTTLS: refused before LOGIN, nothing of the password on the wire."""
    received: list[bytes] = []
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()

        def serve() -> None:
            conn, _ = server.accept()
            with conn:
                conn.sendall(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n")
                conn.settimeout(2)
                try:
                    while data := conn.recv(4096):
                        received.append(data)
                        tag = data.split(b" ", 1)[0]
                        if b"CAPABILITY" in data:
                            conn.sendall(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n" + tag + b" OK done\r\n")
                        else:
                            conn.sendall(tag + b" OK done\r\n")
                except OSError:
                    pass

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        provider = harness_provider(
            store, admin, mail_server, imap_port=server.getsockname()[1], imap_tls="starttls"
        )
        email, password = users.add()
        with pytest.raises(AuthorizeError) as info:
            authorize(provider, email, Secret(password), timeout=3)
        thread.join(5)
    assert info.value.title == "Encryption (STARTTLS) not available"
    assert "never sends a password unencrypted" in info.value.detail
    wire = b"".join(received)
    assert password.encode() not in wire and b"LOGIN" not in wire and b"AUTHENTICATE" not in wire


def test_already_connected(store, admin, keyring, accounts, users, mail_server):
    provider = harness_provider(store, admin, mail_server)
    email, password = users.add()
    detection = accounts.detect(email).chosen(provider)
    accounts.connect(admin, detection, email, Secret(password), keyring)
    with pytest.raises(Conflict, match="already connected"):
        accounts.connect(admin, detection, email, Secret(password), keyring)


def test_a_picked_provider_is_learned_only_after_success(store, admin, keyring, accounts, users, mail_server):
    provider = harness_provider(store, admin, mail_server)
    email, password = users.add()
    first = accounts.detect(email)
    assert first.provider is None
    with pytest.raises(AuthorizeError):
        accounts.connect(admin, first.chosen(provider), email, Secret("wrong-pw"), keyring)
    assert store.providers.lookup(DOMAIN) is None
    accounts.connect(admin, first.chosen(provider), email, Secret(password), keyring)
    assert ("acme.example", "Acme Mail", "user") in store.providers.domains()
    second_email, _ = users.add()
    second = accounts.detect(second_email)
    assert (second.provider.name, second.how) == ("Acme Mail", "lookup")


def test_corporate_domain_detected_by_mx(store, admin, keyring, users, mail_server, monkeypatch):
    """The domain is not in the lookup; its MX points at the admin provider's mail hosts."""
    provider = harness_provider(store, admin, mail_server, mx_suffixes="mx.acme-hosting.example")
    with mx_server({"corp.example": ["in1.mx.acme-hosting.example"]}) as (dns_server, _zone):
        monkeypatch.setenv("MAILROOM_DNS_SERVER", dns_server)
        accounts = Accounts(store, timeout=5)
        email, password = users.add(domain="corp.example")
        detection = accounts.detect(email)
    assert (detection.provider.id, detection.how) == (provider.id, "mx")
    assert detection.mx_hosts == ("in1.mx.acme-hosting.example",)
    accounts.connect(admin, detection, email, Secret(password), keyring)
    assert store.providers.lookup("corp.example") is None  # MX detection is repeated, not learned
