"""Snapshots of every step of the new-account wizard and of each failure it explains.

The live logins are replaced by a stand-in that reports the same progress and raises the same errors as
store.net does against real servers (the Pilot tests in tests/integration/test_wizard.py do it for real),
so that no random port or temp path reaches a snapshot. Detection is real: the lookup, and MX records from a
DNS server on loopback.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable, Iterator

import pytest

from store import accounts as accounts_module
from store.accounts import app_password_hint, classify
from store.net import Endpoint, NetError, explain
from store.providers import ProviderDraft
from tests.dns_stub import mx_server
from tests.snapshots.conftest import SNAP_SIZE, add_mailbox, settle

ACME = dict(
    name="Acme Mail", imap_host="imap.acme.example", imap_port=993, imap_tls="ssl",
    smtp_host="smtp.acme.example", smtp_port=587, smtp_tls="starttls", mx_suffixes="mx.acme-hosting.example",
)  # fmt: skip
ACME_IMAP = Endpoint("imap.acme.example", 993, "ssl")


@pytest.fixture(autouse=True)
def wizard_environment(stable_environment, tmp_path, monkeypatch) -> Iterator[None]:
    """A keyring file under tmp_path and a DNS server on loopback that knows corp.example's MX hosts."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    zone = {"corp.example": ["in1.mx.acme-hosting.example", "in2.mx.acme-hosting.example"]}
    with mx_server(zone) as (dns, _):
        monkeypatch.setenv("MAILROOM_DNS_SERVER", dns)
        yield


@pytest.fixture
def acme(store, alice):
    """An admin-defined provider with fixed display values, mapped to acme.example in the lookup."""
    provider = store.providers.add(alice, ProviderDraft(**ACME))
    store.providers.add_domain(alice, "acme.example", provider.id)
    return provider


@pytest.fixture
def fake_logins(monkeypatch) -> Callable[..., threading.Event]:
    """Replace the live logins: report progress up to *until*, then raise *error* or wait for the event."""

    def install(
        until: str = "smtp", error: BaseException | None = None, block: bool = False
    ) -> threading.Event:  # noqa: E501
        release = threading.Event()

        def authorize(provider, login, secret, cancel=None, progress=None, timeout=None) -> None:
            for step in ("imap", "smtp"):
                progress(step)
                if step == until:
                    break
            if block:
                release.wait(30)
            if error is not None:
                raise error

        monkeypatch.setattr(accounts_module, "authorize", authorize)
        return release

    return install


async def open_wizard(pilot, email: str = "") -> None:
    await settle(pilot)
    await pilot.press("n")
    await pilot.pause()
    if email:
        await pilot.press(*email)


async def to_password(pilot, email: str, enters: int = 2) -> None:
    """Type the address, then Enter through detection and the provider step."""
    await open_wizard(pilot, email)
    await pilot.press("enter")
    await settle(pilot)
    if enters == 2:
        await pilot.press("enter")
        await pilot.pause()


async def to_authorize(pilot, email: str, password: str = "hunter22") -> None:
    await to_password(pilot, email)
    await pilot.press(*password, "enter")
    await settle(pilot)


# -- the steps ---------------------------------------------------------------------------------


def test_address_step(snap_compare, make_app) -> None:
    """You should see the "New account · Address" dialog over the panel ("Step 1 of 5" in its bottom border),
    the sentence "Type the e-mail address of the mailbox to connect. …", an Address field with the focus
    and the placeholder ann@example.com, Cancel and Next buttons, and "esc Close" in the footer."""

    async def run_before(pilot) -> None:
        await open_wizard(pilot)

    assert snap_compare(make_app(), terminal_size=SNAP_SIZE, run_before=run_before)


def test_address_invalid(snap_compare, make_app) -> None:
    """You should see "ann@" in the Address field and, under it in red, "There must be something after
    the @-sign."; the wizard stays on step 1."""

    async def run_before(pilot) -> None:
        await open_wizard(pilot, "ann@")
        await pilot.press("enter")
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=SNAP_SIZE, run_before=run_before)


def test_address_already_connected(snap_compare, make_app, store, alice) -> None:
    """You should see ann@gmail.com in the Address field and, in red, "Mailbox ann@gmail.com is already
    connected."; no provider step opened."""
    add_mailbox(store, alice, "ann@gmail.com")

    async def run_before(pilot) -> None:
        await open_wizard(pilot, "ann@gmail.com")
        await pilot.press("enter")
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=SNAP_SIZE, run_before=run_before)


def test_provider_found_in_lookup(snap_compare, make_app, acme) -> None:
    """You should see step 2 "Provider": Address ann@acme.example, Provider "Acme Mail · found in the Mail
    provider domains lookup", and Servers "IMAP imap.acme.example:993 (implicit TLS)", "SMTP
    smtp.acme.example:587 (STARTTLS)", "Login the full address"; buttons "Choose another provider (p)",
    Back and Next (focused); footer "esc Back" and "p Choose another provider"."""

    async def run_before(pilot) -> None:
        await to_password(pilot, "ann@acme.example", enters=1)

    assert snap_compare(make_app(), terminal_size=SNAP_SIZE, run_before=run_before)


def test_provider_recognised_from_mx(snap_compare, make_app, acme) -> None:
    """You should see Provider "Acme Mail · recognised from the domain's MX records
    (in1.mx.acme-hosting.example)" for ann@corp.example, a domain that is not in the lookup."""

    async def run_before(pilot) -> None:
        await to_password(pilot, "ann@corp.example", enters=1)

    assert snap_compare(make_app(), terminal_size=SNAP_SIZE, run_before=run_before)


def test_provider_picker_for_unknown_domain(snap_compare, make_app, acme) -> None:
    """You should see "Mailroom does not know the provider of newco.example (the domain newco.example does
    not exist in DNS). Choose it below with ↑ ↓ and Enter. Once this mailbox is connected, newco.example
    is remembered for the next account.", the Providers list (Acme Mail first and highlighted, then AOL …
    Zoho Mail, each with its IMAP host dimmed), Acme Mail's servers under the list, only a Back button,
    and "esc Back" in the footer."""

    async def run_before(pilot) -> None:
        await to_password(pilot, "ann@newco.example", enters=1)

    assert snap_compare(make_app(), terminal_size=SNAP_SIZE, run_before=run_before)


def test_provider_picker_on_request(snap_compare, make_app, acme) -> None:
    """You should see "Choose the provider of acme.example with ↑ ↓ and Enter:" above the Providers list,
    Gmail highlighted (four rows down) and Gmail's servers (imap.gmail.com:993, smtp.gmail.com:465, both
    implicit TLS) below."""

    async def run_before(pilot) -> None:
        await to_password(pilot, "ann@acme.example", enters=1)
        await pilot.press("p", "down", "down", "down")
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=SNAP_SIZE, run_before=run_before)


def test_password_step(snap_compare, make_app, acme) -> None:
    """You should see step 3 "Password": Address, Provider "Acme Mail · found in the Mail provider domains
    lookup", a Password field showing eight masking dots (never the text), Back and Connect buttons, and
    "esc Back" in the footer."""

    async def run_before(pilot) -> None:
        await to_password(pilot, "ann@acme.example")
        await pilot.press(*"hunter22")
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=SNAP_SIZE, run_before=run_before)


def test_password_step_app_password(snap_compare, make_app) -> None:
    """You should see, for ann@gmail.com, a note with a yellow bar: "Gmail needs an app password. Your usual
    password will be refused. Make one in your Gmail account settings, then paste it here. How:" and the link
    https://support.google.com/accounts/answer/185833; the field is labelled "App password"."""

    async def run_before(pilot) -> None:
        await to_password(pilot, "ann@gmail.com")

    assert snap_compare(make_app(), terminal_size=SNAP_SIZE, run_before=run_before)


def test_password_step_asks_for_login(snap_compare, make_app, store, alice, acme) -> None:
    """You should see a Login field above the Password for a provider whose login is typed by the user, with
    "Acme Mail needs a login name; type the one your admin gave you." in red under the empty Login field."""
    store.providers.update(alice, acme.id, ProviderDraft(**{**ACME, "login_format": "ask"}))

    async def run_before(pilot) -> None:
        await to_password(pilot, "ann@acme.example")
        await pilot.press("enter")
        await pilot.press(*"hunter22", "enter")
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=SNAP_SIZE, run_before=run_before)


def test_authorize_in_progress(snap_compare, make_app, acme, fake_logins) -> None:
    """You should see step 4 "Authorize": "Connecting ann@acme.example to Acme Mail as ann@acme.example",
    a green ✓ before "IMAP login imap.acme.example:993 (implicit TLS)", a ▸ before "SMTP login
    smtp.acme.example:587 (STARTTLS)", a dim · before "Save", "Working… press esc to cancel.", a "Cancel
    (esc)" button, and "esc Cancel" in the footer."""
    release = fake_logins(until="smtp", block=True)

    async def run_before(pilot) -> None:
        await to_password(pilot, "ann@acme.example")
        await pilot.press(*"hunter22", "enter")
        for _ in range(200):  # until the stand-in has reported the SMTP step
            await pilot.pause()
            if getattr(pilot.app.screen, "marks", {}).get("smtp") == "run":
                break

    try:
        assert snap_compare(make_app(), terminal_size=SNAP_SIZE, run_before=run_before)
    finally:
        release.set()


def test_authorize_cancelled(snap_compare, make_app, acme, fake_logins) -> None:
    """You should see IMAP ✓, a red ✗ before SMTP login, and a yellow-barred "Cancelled / Nothing was
    stored. Press r to try again or esc to go back."; buttons "Back (esc)" and "Try again (r)"."""
    release = fake_logins(until="smtp", block=True)

    async def run_before(pilot) -> None:
        await to_password(pilot, "ann@acme.example")
        await pilot.press(*"hunter22", "enter")
        for _ in range(200):
            await pilot.pause()
            if getattr(pilot.app.screen, "marks", {}).get("smtp") == "run":
                break
        await pilot.press("escape")
        await pilot.pause()

    try:
        assert snap_compare(make_app(), terminal_size=SNAP_SIZE, run_before=run_before)
    finally:
        release.set()


def test_done_step(snap_compare, make_app, acme, fake_logins) -> None:
    """You should see step 5 "Done": "✓ ann@acme.example is connected (Acme Mail). It uses these settings:"
    then Load period one week, Load new mail automatically on, Folders Inbox only, Sending on, Default sender
    this address, Alias none, Signature none; buttons Close, "Additional settings (s)" and "Load mail now
    (l)" (focused); footer l / s / esc."""
    fake_logins(until="smtp")

    async def run_before(pilot) -> None:
        await to_authorize(pilot, "ann@acme.example")

    assert snap_compare(make_app(), terminal_size=SNAP_SIZE, run_before=run_before)


# -- failures ----------------------------------------------------------------------------------


def _untrusted() -> NetError:
    error = ssl.SSLCertVerificationError(1, "certificate verify failed")
    error.verify_message = "unable to get local issuer certificate"
    return explain("IMAP", ACME_IMAP, error)


def _wrong_gmail_password(store) -> NetError:
    hint = app_password_hint(store.providers.get("Gmail"))
    return NetError("IMAP", "auth", f"IMAP login for 'ann@gmail.com' was refused: wrong password?{hint}")


# case → (address, the step that fails, the error store.net raises there)
FAILURES: dict[str, tuple[str, str, Callable[..., NetError]]] = {
    "wrong_password": ("ann@gmail.com", "imap", _wrong_gmail_password),
    "host_not_found": (
        "ann@acme.example",
        "imap",
        lambda _: explain("IMAP", ACME_IMAP, socket.gaierror(-2, "?")),
    ),
    "connection_refused": (
        "ann@acme.example",
        "imap",
        lambda _: explain("IMAP", ACME_IMAP, ConnectionRefusedError()),
    ),
    "timed_out": ("ann@acme.example", "imap", lambda _: explain("IMAP", ACME_IMAP, TimeoutError())),
    "certificate_not_trusted": ("ann@acme.example", "imap", lambda _: _untrusted()),
    "smtp_refused": (
        "ann@acme.example",
        "smtp",
        lambda _: NetError(
            "SMTP", "auth", "SMTP login for 'ann@acme.example' was refused (535): wrong password?"
        ),
    ),
}


@pytest.mark.parametrize("case", list(FAILURES))
def test_authorize_failure(case, snap_compare, make_app, store, acme, fake_logins) -> None:
    """You should see the step marks (✗ on the step that failed: IMAP, or SMTP after a ✓ IMAP) and a
    red-barred box whose bold first line says what failed: "Wrong password" (with Gmail's app-password advice
    and link), "Host not found", "Connection refused", "Connection timed out", "TLS certificate not trusted"
    (an admin can set the provider's CA file) or "IMAP ok, SMTP refused the login" (the account may not be
    allowed to send); then "Back (esc)" (focused after a refused password, since the same one would fail
    again) and "Try again (r)" (focused otherwise), and footer "esc Back", "r Try again"."""
    email, step, make_error = FAILURES[case]
    fake_logins(until=step, error=classify(make_error(store), imap_ok=step == "smtp"))

    async def run_before(pilot) -> None:
        await to_authorize(pilot, email)

    assert snap_compare(make_app(), terminal_size=SNAP_SIZE, run_before=run_before)


def test_authorize_already_connected(snap_compare, make_app, store, alice, acme, fake_logins) -> None:
    """You should see no step marked failed and a red-barred "Already connected / Mailbox ann@acme.example is
    already connected. Edit it from the account menu instead." — someone connected it while the password
    was being typed."""
    fake_logins(until="smtp")

    async def run_before(pilot) -> None:
        await to_password(pilot, "ann@acme.example")
        add_mailbox(store, alice, "ann@acme.example", provider="Acme Mail")
        await pilot.press(*"hunter22", "enter")
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=SNAP_SIZE, run_before=run_before)
