"""Hostile SMTP servers on a STARTTLS port (RFC 3207): each trick ends refused, no AUTH, nothing shown."""

from __future__ import annotations

import pytest

from store.accounts import AuthorizeError, authorize
from store.net import NetError, smtp_connect, smtp_login
from store.providers import Provider
from store.secrets import Secret
from tests.harness.hostile import Peer, close, expect, hold, send, tls
from tests.harness.hostile_imap import FakeMailbox, imap_session
from tests.harness.hostile_smtp import smtp_session, smtp_starttls_preface
from tests.security.conftest import EVIL, LOGIN, PASSWORD, endpoint

GREETING = f"220 hostile.test ESMTP {EVIL}"
EHLO_TLS = ("250-hostile.test", "250-PIPELINING", "250-AUTH PLAIN LOGIN", "250 STARTTLS")


def refused(ep) -> NetError:  # noqa: ANN001 - an Endpoint
    """Log in and return the NetError that must stop it."""
    with pytest.raises(NetError) as info:
        smtp_login(ep, LOGIN, Secret(PASSWORD), timeout=3)
    return info.value


def assert_clean(server, err: NetError, kind: str = "starttls") -> None:  # noqa: ANN001
    """Refused for *kind*, no AUTH or password crossed, and no word of the server shown."""
    assert err.kind == kind, str(err)
    assert err.protocol == "SMTP"
    assert server.leaks(PASSWORD, LOGIN) == []
    assert EVIL not in str(err)
    assert "\x1b" not in str(err)


def test_starttls_dropped_from_ehlo(hostile):
    """An attacker strips STARTTLS from the EHLO answer and offers AUTH in the clear."""
    server = hostile(
        "SMTP", [send(GREETING), expect("EHLO", "250-hostile.test", "250-AUTH PLAIN LOGIN", f"250 X-{EVIL}")]
    )
    err = refused(endpoint(server, "starttls"))
    assert_clean(server, err)
    assert "does not offer STARTTLS" in str(err)
    assert server.wait()[0].names() == ["EHLO"]


@pytest.mark.parametrize(
    "ehlo_answer",
    [pytest.param(f"502 5.5.1 {EVIL} no EHLO", id="502"), pytest.param(f"554 {EVIL}", id="554")],
)
def test_ehlo_refused(hostile, ehlo_answer):
    server = hostile("SMTP", [send(GREETING), expect("EHLO", ehlo_answer)])
    err = refused(endpoint(server, "starttls"))
    assert_clean(server, err)


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(f"454 4.7.0 {EVIL} TLS not available", id="454"),
        pytest.param(f"502 5.5.1 {EVIL} unknown command", id="502"),
        pytest.param(f"250 {EVIL} fine, carry on in the clear", id="250"),
        pytest.param(f"334 {EVIL}", id="continuation"),
        pytest.param(f"{EVIL} \x1b[31mgarbage", id="garbage"),
        pytest.param(f"220-{EVIL}", id="unfinished-multiline"),
        pytest.param(None, id="hang-up"),
    ],
)
def test_starttls_answer_other_than_220(hostile, answer):
    steps = [send(GREETING), expect("EHLO", *EHLO_TLS)]
    steps += [expect("STARTTLS"), close()] if answer is None else [expect("STARTTLS", answer)]
    kind = {None: "network", f"220-{EVIL}": "timeout"}.get(answer, "starttls")  # these two may be retried
    if kind == "timeout":
        steps.append(hold())  # the client must give up first, by its own timeout
    server = hostile("SMTP", steps)
    err = refused(endpoint(server, "starttls"))
    assert_clean(server, err, kind)
    names = server.wait()[0].names()
    assert names == ["EHLO", "STARTTLS"], f"nothing may follow a failed STARTTLS: {names}"


@pytest.mark.parametrize(
    ("greeting", "kind"),
    [
        (f"554 5.3.2 {EVIL} go away", "starttls"),
        (f"{EVIL}\x1b]0;title\x07", "starttls"),
        (f"421-{EVIL}", "timeout"),
    ],
)
def test_bad_greeting(hostile, greeting, kind):
    server = hostile("SMTP", [send(greeting), hold()] if kind == "timeout" else [send(greeting)])
    err = refused(endpoint(server, "starttls"))
    assert_clean(server, err, kind)


def _ehlo_then_early_220(peer: Peer) -> None:
    peer.expect("EHLO")
    peer.send(*EHLO_TLS, f"220 2.0.0 {EVIL} ready for TLS (sent early)")


def test_starttls_reply_before_the_command_refused(hostile, pki):
    """A 220 that arrives before STARTTLS was sent is forged."""
    server = hostile(
        "SMTP",
        [send(GREETING), _ehlo_then_early_220, expect("STARTTLS"), tls(pki.server), smtp_session(PASSWORD)],
    )
    err = refused(endpoint(server, "starttls", pki.ca_file))
    assert_clean(server, err)
    transcript = server.wait()[0]
    assert transcript.names() == ["EHLO"] and transcript.tls_version == ""


def test_data_appended_to_220_refused(hostile, pki):
    """Lines after the 220 arrive before the handshake (the CVE-2011-0411 pattern)."""
    injected = f"250-hostile.test\r\n250 AUTH PLAIN X-{EVIL}\r\n"
    server = hostile(
        "SMTP",
        [
            send(GREETING),
            expect("EHLO", *EHLO_TLS),
            expect("STARTTLS", "220 2.0.0 go ahead\r\n" + injected),
            tls(pki.server),
            smtp_session(PASSWORD),
        ],
    )
    err = refused(endpoint(server, "starttls", pki.ca_file))
    assert_clean(server, err)
    assert server.wait()[0].tls_version == ""


def test_pre_tls_ehlo_does_not_survive(hostile, pki):
    """Before TLS the server offers AUTH; over TLS it does not: only what was said over TLS counts."""
    server = hostile(
        "SMTP",
        [
            send(GREETING),
            expect("EHLO", "250-hostile.test", f"250-X-{EVIL}", "250-AUTH PLAIN LOGIN", "250 STARTTLS"),
            expect("STARTTLS", "220 go ahead"),
            tls(pki.server),
            smtp_session(PASSWORD, auth=""),
        ],
    )
    ep = endpoint(server, "starttls", pki.ca_file)
    smtp = smtp_connect(ep, timeout=3)
    try:
        assert not any(EVIL.lower() in k for k in smtp.esmtp_features), smtp.esmtp_features
        assert "auth" not in smtp.esmtp_features
    finally:
        smtp.close()
    err = refused(ep)
    assert err.kind == "auth" and "offers no AUTH" in str(err)
    assert server.leaks(PASSWORD, LOGIN) == []


def test_honest_starttls_server_works(hostile, pki):
    """The same checks let an honest server through: AUTH goes out only over TLS."""
    server = hostile("SMTP", [*smtp_starttls_preface(pki.server), smtp_session(PASSWORD)])
    smtp = smtp_login(endpoint(server, "starttls", pki.ca_file), LOGIN, Secret(PASSWORD), timeout=3)
    smtp.quit()
    transcript = server.wait()[0]
    assert transcript.names(tls=False) == ["EHLO", "STARTTLS"]
    assert transcript.names(tls=True) == ["EHLO", "AUTH", "QUIT"]
    assert server.leaks(PASSWORD, LOGIN, after_tls_ok=True) == []


def test_authorize_shows_no_pre_tls_words(hostile, pki):
    """What the wizard and the CLI print after an SMTP STARTTLS failure has none of the server's words."""
    imap = hostile("IMAP", [tls(pki.server), send("* OK ready"), imap_session(FakeMailbox(LOGIN, PASSWORD))])
    smtp = hostile("SMTP", [send(GREETING), expect("EHLO", *EHLO_TLS), expect("STARTTLS", f"454 {EVIL}")])
    provider = Provider(
        id=1,
        name="Hostile",
        imap_host="127.0.0.1",
        imap_port=imap.port,
        imap_tls="ssl",
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_tls="starttls",
        ca_file=str(pki.ca_file),
    )
    with pytest.raises(AuthorizeError) as info:
        authorize(provider, LOGIN, Secret(PASSWORD), timeout=3)
    err = info.value
    assert (err.protocol, err.kind, err.imap_ok) == ("SMTP", "starttls", True)
    assert EVIL not in str(err)
    assert smtp.leaks(PASSWORD, LOGIN) == []


# -- words of an authenticated server are shown, but never terminal escapes ------------------------------


def test_implicit_tls_server_words_lose_their_escapes(hostile, pki):
    server = hostile("SMTP", [tls(pki.server), send(f"554 5.3.2 \x1b[2J\x1b]0;{EVIL}\x07 closed")])
    err = refused(endpoint(server, "ssl", pki.ca_file))
    assert "\x1b" not in str(err) and "\x07" not in str(err)


def test_delivery_failure_text_has_no_terminal_escapes():
    import smtplib

    from store.delivery import classify

    failure = classify(smtplib.SMTPResponseException(550, b"5.1.1 \x1b[2J\x1b]0;owned\x07 no such user"))
    assert "\x1b" not in str(failure) and "\x07" not in str(failure), repr(failure)


def test_implicit_tls_refusal_reads_as_an_answer(hostile, pki):
    """A 554 greeting over TLS is the server's answer (shown, cleaned), not a network error."""
    server = hostile("SMTP", [tls(pki.server), send("554 5.3.2 no service here")])
    err = refused(endpoint(server, "ssl", pki.ca_file))
    assert err.kind == "protocol", str(err)
    assert str(err).endswith("answered 554: 5.3.2 no service here"), str(err)
