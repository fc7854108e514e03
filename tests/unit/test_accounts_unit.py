"""New-account service without mail servers: address check, login names, detection via stub DNS, cancel."""

from __future__ import annotations

import socket

import pytest

from store.accounts import (
    Accounts,
    AuthorizeError,
    Cancelled,
    CancelToken,
    Detector,
    app_password_hint,
    authorize,
    check_address,
    classify,
    login_for,
    parse_dns_server,
    server_lines,
)
from store.errors import Conflict, Invalid
from store.net import Endpoint, NetError, imap_login, smtp_login
from store.providers import ProviderDraft
from store.secrets import Secret, open_secret_store
from tests.dns_stub import mx_server


@pytest.fixture
def secrets(tmp_path):
    return open_secret_store("file", data_dir=tmp_path / "sd", config_dir=tmp_path / "sc")


def _draft(**kw) -> ProviderDraft:
    values = dict(
        name="Corp",
        imap_host="imap.corp.example",
        imap_port=993,
        smtp_host="smtp.corp.example",
        smtp_port=465,
    )
    values.update(kw)
    return ProviderDraft(**values)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "Type your e-mail address"),
        ("ann", "must have an @-sign"),
        ("ann@", "There must be something after the @-sign"),
        ("ann@@example.com", "@"),
        ("ann smith@example.com", "invalid characters"),
        ("ann@exa mple.com", "invalid characters"),
        ("ann@example", "not valid"),
    ],
)
def test_invalid_addresses_are_refused_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(Invalid) as info:
        check_address(text)
    assert reason in info.value.errors["email"]


def test_address_is_normalized() -> None:
    a = check_address("  Ann.Smith@Example.COM ")
    assert (a.email, a.local_part, a.domain) == ("Ann.Smith@example.com", "Ann.Smith", "example.com")
    assert check_address("ivan@пример.рф").domain == "xn--e1afmkfd.xn--p1ai"


def test_login_name_follows_the_provider_rule(store, admin) -> None:
    p = store.providers.add(admin, _draft(login_format="address"))
    assert login_for(p, "ann@corp.example") == "ann@corp.example"
    p = store.providers.update(admin, p.id, _draft(login_format="local_part"))
    assert login_for(p, "ann@corp.example", "ignored") == "ann"
    p = store.providers.update(admin, p.id, _draft(login_format="ask"))
    assert login_for(p, "ann@corp.example", "  CORP\\ann ") == "CORP\\ann"
    with pytest.raises(Invalid, match="needs a login name"):
        login_for(p, "ann@corp.example", "  ")
    for bad in ("ann\r\nA1 LOGOUT", "an\nn", "ann\x00x"):
        with pytest.raises(Invalid, match="line breaks"):
            login_for(p, "ann@corp.example", bad)


def test_server_lines_and_hint(store, admin) -> None:
    gmail = store.providers.get("Gmail")
    assert server_lines(gmail) == [
        "IMAP  imap.gmail.com:993 (implicit TLS)",
        "SMTP  smtp.gmail.com:465 (implicit TLS)",
        "Login the full address",
    ]
    assert "needs an app password" in app_password_hint(gmail)
    assert gmail.help_url in app_password_hint(gmail)
    assert app_password_hint(store.providers.get("GMX")) == ""


@pytest.mark.parametrize(
    ("value", "expected"),
    [("127.0.0.1:5353", ("127.0.0.1", 5353)), ("10.0.0.1", ("10.0.0.1", 53)), ("[::1]:5300", ("::1", 5300))],
)
def test_dns_server_setting(value: str, expected: tuple[str, int]) -> None:
    assert parse_dns_server(value) == expected


@pytest.mark.parametrize("value", ["host:port", ":53", "1.2.3.4:0", "1.2.3.4:70000"])
def test_bad_dns_server_setting(value: str) -> None:
    with pytest.raises(Invalid, match="HOST:PORT"):
        parse_dns_server(value)


def test_detect_by_lookup_needs_no_dns(store) -> None:
    detector = Detector(store, ["127.0.0.1"], port=9, timeout=0.2)  # nothing listens: DNS must not be asked
    d = detector.detect("ann@gmail.com")
    assert (d.provider.name, d.how, d.mx_hosts) == ("Gmail", "lookup", ())


def test_detect_corporate_domain_from_mx(store, monkeypatch) -> None:
    zone = {
        "acme.example": ["alt1.aspmx.l.google.com", "aspmx.l.google.com"],
        "shop.example": ["acme-test.mail.protection.outlook.com"],
        "yahoo-hosted.example": ["mta5.am0.yahoodns.net"],
        "zoho-hosted.example": ["mx.zoho.eu"],
        "self.example": ["mail.self.example"],
        "nomx.example": [],
    }
    with mx_server(zone) as (server, resolver):
        monkeypatch.setenv("MAILROOM_DNS_SERVER", server)
        detector = Detector.from_env(store)
        assert [detector.detect(f"a@{d}").provider.name for d in ("acme.example", "shop.example")] == [
            "Gmail",
            "Outlook.com / Microsoft 365",
        ]
        yahoo = detector.detect("a@yahoo-hosted.example")
        assert (yahoo.provider.name, yahoo.how, yahoo.mx_hosts) == ("Yahoo", "mx", ("mta5.am0.yahoodns.net",))
        assert detector.detect("a@zoho-hosted.example").provider.name == "Zoho Mail"
        own = detector.detect("a@self.example")
        assert (own.provider, own.how, own.mx_hosts) == (None, None, ("mail.self.example",))
        assert "match no known provider" in own.mx_note
        assert "no MX records" in detector.detect("a@nomx.example").mx_note
        assert "does not exist" in detector.detect("a@missing.example").mx_note
        assert "acme.example" in resolver.queries


def test_dns_timeout_leaves_the_provider_unknown(store) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        detector = Detector(store, ["127.0.0.1"], silent.getsockname()[1], timeout=0.3)
        d = detector.detect("a@quiet.example")
    assert d.provider is None and "timed out" in d.mx_note


def test_learn_domain_once(store) -> None:
    accounts = Accounts(store, Detector(store, ["127.0.0.1"], 9, 0.1))
    gmx = store.providers.get("GMX")
    assert accounts.learn_domain("Example.ORG", gmx) is True
    assert accounts.learn_domain("example.org", gmx) is False
    assert ("example.org", "GMX", "user") in store.providers.domains()
    assert accounts.detect("x@example.org").how == "lookup"


def test_cancel_token() -> None:
    token = CancelToken()
    token.check()
    token.begin_saving()
    assert token.cancel() is False and not token.cancelled
    token = CancelToken()
    assert token.cancel() is True
    with pytest.raises(Cancelled, match="nothing was stored"):
        token.begin_saving()


def test_cancelled_before_start_connects_nowhere(store) -> None:
    token = CancelToken()
    token.cancel()
    steps = []
    with pytest.raises(Cancelled):
        authorize(store.providers.get("Gmail"), "a@gmail.com", Secret("pw"), token, steps.append)
    assert steps == []


def test_failure_titles() -> None:
    auth = classify(
        NetError("IMAP", "auth", "IMAP login for 'a' was refused: wrong password?"), imap_ok=False
    )
    assert auth.title == "Wrong password" and not auth.imap_ok
    smtp = classify(NetError("SMTP", "auth", "SMTP login for 'a' was refused (535)"), imap_ok=True)
    assert smtp.title == "IMAP ok, SMTP refused the login" and "may not be allowed to send" in smtp.detail
    assert (
        classify(NetError("SMTP", "refused", "x"), imap_ok=True).title
        == "IMAP ok, SMTP refused the connection"
    )
    assert (
        classify(NetError("SMTP", "tls", "x"), imap_ok=True).title
        == "IMAP ok, SMTP failed (tls connection failed)"
    )
    for kind, title in [
        ("dns", "Host not found"),
        ("timeout", "Connection timed out"),
        ("cert", "TLS certificate not trusted"),
        ("refused", "Connection refused"),
    ]:
        err = classify(NetError("IMAP", kind, "x"), imap_ok=False)
        assert isinstance(err, AuthorizeError) and err.title == title and str(err).startswith(f"{title}: x")
    assert "check the network connection" in classify(NetError("IMAP", "dns", "x"), imap_ok=False).detail


def test_closed_port_is_refused_and_nothing_stored(store, admin, secrets) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends
    p = store.providers.add(
        admin, _draft(imap_host="127.0.0.1", imap_port=port, smtp_host="127.0.0.1", smtp_port=port)
    )
    accounts = Accounts(store, Detector(store, ["127.0.0.1"], 9, 0.1), timeout=3)
    detection = accounts.detect("ann@corp.example")
    with pytest.raises(AuthorizeError) as info:
        accounts.connect(admin, detection.chosen(p), "ann@corp.example", Secret("pw-secret-1"), secrets)
    assert info.value.title == "Connection refused" and info.value.protocol == "IMAP"
    assert store.mailboxes.visible(admin) == [] and store.providers.lookup("corp.example") is None


def test_already_connected_is_refused_before_any_login(store, admin, secrets) -> None:
    gmail = store.providers.get("Gmail")
    store.mailboxes.create(admin, "ann@gmail.com", gmail.id, "ann@gmail.com", Secret("x"), secrets)
    accounts = Accounts(store, Detector(store, ["127.0.0.1"], 9, 0.1))
    with pytest.raises(Conflict, match="already connected"):
        accounts.connect(admin, accounts.detect("Ann@gmail.com"), "ann@gmail.com", Secret("pw"), secrets)


@pytest.mark.parametrize("password", ["pw\r\nA2 LOGOUT", "pw\n", "p\x00w"])
def test_password_with_line_breaks_never_reaches_the_wire(password: str) -> None:
    with socket.socket() as listener:  # a server that would record any connection attempt
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(0.2)
        ep = Endpoint("127.0.0.1", listener.getsockname()[1], "ssl")
        for login_fn in (imap_login, smtp_login):
            with pytest.raises(Invalid) as info:
                login_fn(ep, "ann", Secret(password), timeout=1)
            assert "line breaks" in str(info.value) and password not in str(info.value)
        with pytest.raises(TimeoutError):
            listener.accept()


def test_company_internal_domains_are_accepted() -> None:
    """Special-use domains (corp.local, mail.internal, …) are common for company servers."""
    a = check_address("Ann.Smith@Corp.LOCAL")
    assert (a.email, a.local_part, a.domain) == ("Ann.Smith@corp.local", "Ann.Smith", "corp.local")
    assert check_address("ops@mail.internal").domain == "mail.internal"
    with pytest.raises(Invalid, match="invalid characters"):
        check_address("ann smith@corp.local")
    with pytest.raises(Invalid, match="hyphen"):
        check_address("ann@-bad-.local")
    with pytest.raises(Invalid, match="invalid characters"):
        check_address("ann@bad_domain.local")
