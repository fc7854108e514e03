"""The new-account wizard, driven by keys through Pilot against the harness Dovecot IMAP and submission."""

from __future__ import annotations

import asyncio
import functools
import logging
import secrets as pysecrets
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual import events
from textual.widgets import Input, Static

from screens.panel import MailboxesChanged
from screens.wizard_address import AddressStep
from screens.wizard_authorize import AuthorizeStep
from screens.wizard_done import DoneStep
from screens.wizard_password import PasswordStep
from screens.wizard_provider import ProviderStep
from store.providers import ProviderDraft
from store.service import Store, open_store
from tests.dns_stub import mx_server
from tests.harness.fixtures import ServerInfo
from tui.app import MailroomApp, configure_logging, create_app
from tui.settings import SecretsSettings, Settings, UiSettings

pytestmark = pytest.mark.integration
SIZE = (120, 36)


def run_async(test):
    """Run an `async def` test in a fresh event loop (no async pytest plugin is installed)."""

    @functools.wraps(test)
    def wrapper(*args, **kwargs):
        return asyncio.run(test(*args, **kwargs))

    return wrapper


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Private XDG folders (the keyring file lives there) and a DNS server that knows no domain."""
    for name in ("NO_COLOR", "TEXTUAL_THEME", "MAILROOM_DNS_SERVER", "MAILROOM_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    with mx_server({}) as (dns, _zone):
        monkeypatch.setenv("MAILROOM_DNS_SERVER", dns)
        yield


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(tmp_path / "m.db")
    yield s
    s.close()


@pytest.fixture
def admin(store: Store):
    return store.identity.actor("alice")


@pytest.fixture
def make_app(store: Store, admin, tmp_path: Path):
    def build() -> MailroomApp:
        settings = Settings(
            db=store.path,
            user="alice",
            log_file=tmp_path / "mailroom.log",
            secrets=SecretsSettings(backend="file"),
            ui=UiSettings(theme="textual-dark", cursor_blink=False),
        )
        return create_app(settings, store, admin)

    return build


@pytest.fixture
def users(mail_server: ServerInfo) -> Iterator[list[str]]:
    """Addresses made on the harness server during the test, deleted afterwards."""
    mail_server.ensure_running()
    made: list[str] = []
    yield made
    for email in made:
        (mail_server.imap_server.users_dir / email).unlink(missing_ok=True)
        shutil.rmtree(mail_server.imap_server.home(email), ignore_errors=True)


def new_user(
    server: ServerInfo, made: list[str], domain: str = "acme.example", extra: str = ""
) -> tuple[str, str]:  # noqa: E501
    email, password = f"ann-{pysecrets.token_hex(4)}@{domain}", pysecrets.token_urlsafe(12)
    server.add_user(email, password)
    if extra:
        path = server.imap_server.users_dir / email
        path.write_text(f"{email}:{{PLAIN}}{password}::::::{extra}\n")
    made.append(email)
    return email, password


def add_provider(store: Store, admin, server: ServerInfo, *, domain: str | None = "acme.example", **kw):
    values = dict(
        name="Acme Mail",
        imap_host=server.host,
        imap_port=server.imaps_port,
        smtp_host=server.host,
        smtp_port=server.smtps_port,
        ca_file=str(server.ca_file),
    )
    values.update(kw)
    provider = store.providers.add(admin, ProviderDraft(**values))
    if domain:
        store.providers.add_domain(admin, domain, provider.id)
    return provider


def text_of(app: MailroomApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


async def settle(pilot) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def type_in(pilot, text: str) -> None:
    await pilot.press(*text)


async def paste(pilot, text: str) -> None:
    """Paste into the focused input, as a terminal's bracketed paste does (faster than typing each key)."""
    pilot.app.screen.focused.post_message(events.Paste(text))
    await pilot.pause()


async def address_to_password(pilot, email: str, typed: bool = False) -> None:
    """n, the address, Enter (detection), Enter (the detected provider)."""
    await pilot.pause()
    await pilot.press("n")
    await pilot.pause()
    assert isinstance(pilot.app.screen, AddressStep)
    await (type_in if typed else paste)(pilot, email)
    await pilot.press("enter")
    await settle(pilot)
    assert isinstance(pilot.app.screen, ProviderStep)
    await pilot.press("enter")
    await pilot.pause()
    assert isinstance(pilot.app.screen, PasswordStep)


async def submit_password(pilot, password: str, typed: bool = False) -> None:
    await (type_in if typed else paste)(pilot, password)
    await pilot.press("enter")
    await pilot.pause()
    await settle(pilot)


@run_async
async def test_keyboard_only_success(store, admin, make_app, mail_server, users, tmp_path, caplog):
    """n → address → Enter → Enter → password → Enter → Done; l loads mail of the new mailbox."""
    caplog.set_level(logging.DEBUG)
    configure_logging(tmp_path / "mailroom.log")
    add_provider(store, admin, mail_server)
    email, password = new_user(mail_server, users)
    app = make_app()
    loads, changes = [], []
    app.sync_now = lambda *args: loads.append(args)  # type: ignore[method-assign]
    try:
        async with app.run_test(size=SIZE, message_hook=lambda m: changes.append(m)) as pilot:
            await address_to_password(pilot, email, typed=True)
            assert pilot.app.screen.query_one("#password", Input).password  # masked
            await submit_password(pilot, password, typed=True)
            assert isinstance(pilot.app.screen, DoneStep)
            assert "is connected (Acme Mail)" in text_of(app, "DoneStep Static")
            settings = text_of(app, "#settings")
            for line in (
                "Load period                  one week",
                "Load new mail automatically  on",
                "Folders                      Inbox only",
                "Sending                      on",
                "Default sender               this address",
                "Alias                        none",
                "Signature                    none",
            ):
                assert line in settings
            assert any(isinstance(m, MailboxesChanged) for m in changes)
            await pilot.press("l")
            await pilot.pause()
            assert not isinstance(pilot.app.screen, DoneStep)
    finally:
        logging.getLogger("mailroom").handlers.clear()
    (box,) = store.mailboxes.visible(admin)
    assert loads == [(box.id,)]
    assert (box.email, box.load_period, box.auto_load, box.folder_scope, box.send_enabled) == (
        email,
        "week",
        True,
        "inbox",
        True,
    )
    assert box.is_default_sender and box.alias == "" and not box.use_signature
    log_text = (tmp_path / "mailroom.log").read_text() + caplog.text
    assert f"connected mailbox {email}" in log_text
    db = b"".join(p.read_bytes() for p in store.path.parent.glob(store.path.name + "*"))
    assert password.encode() not in db and password not in log_text


@run_async
async def test_additional_settings_from_the_done_step(store, admin, make_app, mail_server, users):
    add_provider(store, admin, mail_server)
    email, password = new_user(mail_server, users)
    app = make_app()
    opened = []
    app.open_mailbox_settings = lambda mailbox_id: opened.append(mailbox_id)  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        await address_to_password(pilot, email)
        await submit_password(pilot, password)
        await pilot.press("s")
        await pilot.pause()
    assert opened == [store.mailboxes.get(admin, email).id]


@run_async
async def test_wrong_password_then_right_one(store, admin, make_app, mail_server, users, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    add_provider(
        store, admin, mail_server, app_password_required=True, help_url="https://help.acme.example/ap"
    )
    email, password = new_user(mail_server, users)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await address_to_password(pilot, email)
        assert "Acme Mail needs an app password." in text_of(app, "#app-password-note Static")
        await submit_password(pilot, "wrong-pw-123")
        assert isinstance(pilot.app.screen, AuthorizeStep)
        outcome = text_of(app, "#outcome")
        assert outcome.startswith("Wrong password\nIMAP login for")
        assert "Acme Mail needs an app password" in outcome and "https://help.acme.example/ap" in outcome
        assert store.mailboxes.visible(admin) == []
        await pilot.press("escape")  # back to the password
        await pilot.pause()
        assert isinstance(pilot.app.screen, PasswordStep)
        await submit_password(pilot, password)
        assert isinstance(pilot.app.screen, DoneStep)
    assert "wrong-pw-123" not in caplog.text
    db = b"".join(p.read_bytes() for p in store.path.parent.glob(store.path.name + "*"))
    assert b"wrong-pw-123" not in db and password.encode() not in db


@run_async
async def test_unknown_domain_picker_learns_the_domain(store, admin, make_app, mail_server, users):
    """Unknown domain → picker → first provider (Acme Mail) → connected; the next address is detected."""
    add_provider(store, admin, mail_server, domain=None)
    email, password = new_user(mail_server, users, domain="newco.example")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("n")
        await pilot.pause()
        await paste(pilot, email)
        await pilot.press("enter")
        await settle(pilot)
        screen = pilot.app.screen
        assert isinstance(screen, ProviderStep) and screen.picking
        assert "does not know the provider of newco.example" in text_of(app, "#unknown")
        await pilot.press("enter")  # the highlighted first provider: Acme Mail
        await pilot.pause()
        assert isinstance(pilot.app.screen, PasswordStep)
        assert "Acme Mail · chosen by you" in str(pilot.app.screen.query(Static)[3].render())
        await submit_password(pilot, password)
        assert isinstance(pilot.app.screen, DoneStep)
        await pilot.press("escape")
        await pilot.pause()
        assert ("newco.example", "Acme Mail", "user") in store.providers.domains()

        second, _ = new_user(mail_server, users, domain="newco.example")
        await pilot.press("n")
        await pilot.pause()
        await paste(pilot, second)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(pilot.app.screen, ProviderStep) and not pilot.app.screen.picking
        assert text_of(app, "#how") == "Acme Mail · found in the Mail provider domains lookup"


@run_async
async def test_corporate_domain_detected_from_mx(store, admin, make_app, mail_server, users, monkeypatch):
    add_provider(store, admin, mail_server, domain=None, mx_suffixes="mx.acme-hosting.example")
    email, password = new_user(mail_server, users, domain="corp.example")
    with mx_server({"corp.example": ["in1.mx.acme-hosting.example"]}) as (dns, _zone):
        monkeypatch.setenv("MAILROOM_DNS_SERVER", dns)
        app = make_app()
        async with app.run_test(size=SIZE) as pilot:
            await address_to_password(pilot, email)
            await pilot.press("escape")
            await pilot.pause()
            how = text_of(app, "#how")
            assert how == "Acme Mail · recognised from the domain's MX records (in1.mx.acme-hosting.example)"
            await pilot.press("enter")
            await pilot.pause()
            await submit_password(pilot, password)
            assert isinstance(pilot.app.screen, DoneStep)


@run_async
async def test_admin_provider_with_starttls_and_typed_login(store, admin, make_app, mail_server, users):
    """STARTTLS on both, the internal CA as the provider's CA file, and a login the user types."""
    add_provider(
        store,
        admin,
        mail_server,
        imap_port=mail_server.imap_port,
        imap_tls="starttls",
        smtp_port=mail_server.smtp_port,
        smtp_tls="starttls",
        login_format="ask",
    )
    email, password = new_user(mail_server, users)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await address_to_password(pilot, email)
        assert pilot.app.screen.focused is pilot.app.screen.query_one("#login")
        await pilot.press("enter")  # to the password, leaving the login empty
        await pilot.pause()
        await submit_password(pilot, password)
        assert isinstance(pilot.app.screen, PasswordStep)
        assert "needs a login name" in text_of(app, "#login-error")
        assert pilot.app.screen.focused is pilot.app.screen.query_one("#login")
        await paste(pilot, email)
        await pilot.press("enter")  # the login goes on to the password, which is still typed
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(pilot.app.screen, DoneStep)
    assert store.mailboxes.get(admin, email).login == email


@run_async
async def test_certificate_not_trusted(store, admin, make_app, mail_server, users):
    add_provider(store, admin, mail_server, ca_file="")
    email, password = new_user(mail_server, users)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await address_to_password(pilot, email)
        await submit_password(pilot, password)
        outcome = text_of(app, "#outcome")
    assert outcome.startswith("TLS certificate not trusted\nThe TLS certificate of IMAP server 127.0.0.1:")
    assert "an admin can set the provider's CA file" in outcome
    assert store.mailboxes.visible(admin) == []


@run_async
async def test_imap_ok_smtp_refused(store, admin, make_app, mail_server, users):
    """The user may log in only from 127.0.0.1; submission over STARTTLS sees the proxied 192.0.2.10."""
    add_provider(store, admin, mail_server, smtp_port=mail_server.smtp_port, smtp_tls="starttls")
    email, password = new_user(mail_server, users, extra="allow_nets=127.0.0.1/32")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await address_to_password(pilot, email)
        await submit_password(pilot, password)
        outcome = text_of(app, "#outcome")
        steps = [text_of(app, f"#step-{s}") for s in ("imap", "smtp", "save")]
    assert outcome.startswith("IMAP ok, SMTP refused the login\nSMTP login for")
    assert steps[0].startswith("✓ IMAP") and steps[1].startswith("✗ SMTP") and steps[2].startswith("· Save")
    assert store.mailboxes.visible(admin) == []


@run_async
async def test_cancel_while_the_server_is_silent(store, admin, make_app, mail_server, users):
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        add_provider(store, admin, mail_server, imap_port=silent.getsockname()[1])
        email, password = new_user(mail_server, users)
        app = make_app()
        async with app.run_test(size=SIZE) as pilot:
            await address_to_password(pilot, email)
            await paste(pilot, password)
            await pilot.press("enter")
            await pilot.pause()
            assert isinstance(pilot.app.screen, AuthorizeStep) and pilot.app.screen.state == "running"
            assert text_of(app, "#busy") == "Working… press esc to cancel."
            await pilot.press("escape")
            await pilot.pause()
            assert pilot.app.screen.state == "cancelled"
            assert text_of(app, "#outcome").startswith("Cancelled\nNothing was stored.")
            await pilot.press("escape")
            await pilot.pause()
            assert isinstance(pilot.app.screen, PasswordStep)
    assert store.mailboxes.visible(admin) == []


@run_async
async def test_already_connected_is_refused_at_the_address(store, admin, make_app, mail_server, users):
    add_provider(store, admin, mail_server)
    email, password = new_user(mail_server, users)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await address_to_password(pilot, email)
        await submit_password(pilot, password)
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("n")
        await pilot.pause()
        await paste(pilot, email.upper())
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(pilot.app.screen, AddressStep)
        assert str(pilot.app.screen.query_one("#error").render()) == f"Mailbox {email} is already connected."
