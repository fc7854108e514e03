"""Hostile IMAP servers on a STARTTLS port: each trick ends refused, no credential sent, nothing shown."""

from __future__ import annotations

import re
import ssl

import pytest

from store.accounts import AuthorizeError, authorize
from store.net import NetError, imap_connect, imap_login
from store.providers import Provider
from store.secrets import Secret
from tests.harness.hostile import Peer, close, expect, send, tls
from tests.harness.hostile_imap import FakeMailbox, FakeMessage, imap_session, imap_starttls_preface
from tests.security.conftest import EVIL, LOGIN, PASSWORD, endpoint

GREETING = f"* OK {EVIL} hostile IMAP ready"
CAPS = "IMAP4rev1 STARTTLS LOGINDISABLED"


def refused(ep, login: str = LOGIN) -> NetError:  # noqa: ANN001 - an Endpoint
    """Log in and return the NetError that must stop it."""
    with pytest.raises(NetError) as info:
        imap_login(ep, login, Secret(PASSWORD), timeout=3)
    return info.value


def assert_clean(server, err: NetError, kind: str = "starttls") -> None:  # noqa: ANN001
    """Refused for *kind*, no credential crossed, and no word of the server shown."""
    assert err.kind == kind, str(err)
    assert err.protocol == "IMAP"
    assert server.leaks(PASSWORD, LOGIN) == []
    assert EVIL not in str(err)
    assert "\x1b" not in str(err)


def honest_session() -> list:
    """After TLS: a mailbox that accepts LOGIN/PASSWORD."""
    return [imap_session(FakeMailbox(LOGIN, PASSWORD))]


def test_starttls_not_offered(hostile):
    server = hostile(
        "IMAP", [send(GREETING), expect("CAPABILITY", "* CAPABILITY IMAP4rev1 AUTH=PLAIN", "{tag} OK done")]
    )
    err = refused(endpoint(server, "starttls"))
    assert_clean(server, err)
    assert "does not offer STARTTLS" in str(err)
    assert server.wait()[0].names() == ["CAPABILITY"]


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(f"{{tag}} NO {EVIL} not today", id="NO"),
        pytest.param(f"{{tag}} BAD {EVIL} what", id="BAD"),
        pytest.param(f"+ {EVIL} go ahead", id="continuation"),
        pytest.param(f"* OK [ALERT] {EVIL} untagged first", id="untagged-then-silence"),
        pytest.param(f"ZZZZ9 OK {EVIL} someone else's tag", id="wrong-tag"),
        pytest.param(f"{EVIL} \x1b[31mgarbage\x1b[0m", id="garbage"),
        pytest.param(b"\x16\x03\x01\x00\xff" + EVIL.encode(), id="binary"),
        pytest.param(None, id="hang-up"),
    ],
)
def test_starttls_answer_other_than_ok(hostile, answer):
    last = close() if answer is None else expect("STARTTLS", answer)
    steps = [send(GREETING), expect("CAPABILITY", f"* CAPABILITY {CAPS}", "{tag} OK done")]
    steps += [expect("STARTTLS")] if answer is None else []
    server = hostile("IMAP", [*steps, last])
    err = refused(endpoint(server, "starttls"))
    assert_clean(server, err, "network" if answer is None else "starttls")  # a hang-up may be retried
    assert server.wait()[0].names() == ["CAPABILITY", "STARTTLS"], "nothing may follow a failed STARTTLS"


@pytest.mark.parametrize("caps", ["IMAP4rev1 STARTTLS", "IMAP4rev1"])
def test_preauth_greeting_refused(hostile, caps):
    server = hostile(
        "IMAP",
        [
            send(f"* PREAUTH {EVIL} you are logged in already"),
            expect("CAPABILITY", f"* CAPABILITY {caps}", "{tag} OK done"),
        ],
    )
    err = refused(endpoint(server, "starttls"))
    assert_clean(server, err)
    assert "PREAUTH" in str(err)


@pytest.mark.parametrize(
    "injected",
    [
        pytest.param([f'* LIST () "/" "{EVIL}"'], id="folders"),
        pytest.param(["* 42 EXISTS", "* 3 RECENT"], id="counts"),
        pytest.param(["* STATUS INBOX (MESSAGES 42 UIDNEXT 99 UIDVALIDITY 1)"], id="status"),
        pytest.param(
            ["* 1 FETCH (UID 1 FLAGS (\\Seen) BODY[HEADER] {21}", f"Subject: {EVIL}\r\n\r\n)"], id="fetch"
        ),
        pytest.param(["* SEARCH 1 2 3"], id="search"),
        pytest.param([f"* OK [REFERRAL imap://127.0.0.1:1/] {EVIL}"], id="referral-code"),
    ],
)
def test_mailbox_data_before_tls_refused(hostile, pki, injected):
    """Mailbox data is never sent before login; a server that does is tampered with (or lying)."""
    server = hostile(
        "IMAP",
        [
            send(GREETING),
            expect("CAPABILITY", *injected, f"* CAPABILITY {CAPS}", "{tag} OK done"),
            expect("STARTTLS", "{tag} OK begin TLS"),
            tls(pki.server),
            *honest_session(),
        ],
    )
    err = refused(endpoint(server, "starttls", pki.ca_file))
    assert_clean(server, err)
    assert server.wait()[0].names() == ["CAPABILITY"], "STARTTLS must not even be tried"


def test_injected_capabilities_do_not_survive(hostile, pki):
    """Capabilities before TLS may be forged (RFC 3501 6.2.1): only the ones read over TLS count."""
    server = hostile(
        "IMAP",
        [
            send(f"* OK [CAPABILITY IMAP4rev1 STARTTLS X-{EVIL}-GREETING] {EVIL}"),
            expect("CAPABILITY", f"* CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN X-{EVIL}", "{tag} OK done"),
            expect("STARTTLS", "{tag} OK begin TLS"),
            tls(pki.server),
            *honest_session(),
        ],
    )
    client = imap_connect(endpoint(server, "starttls", pki.ca_file), timeout=3)
    try:
        caps = {c.decode() for c in client.capabilities()}
        raw = client._imap
        assert not any(EVIL in c for c in caps), caps
        assert not any(EVIL in c for c in raw.capabilities)
        assert caps >= {"IMAP4REV1", "UIDPLUS"}
        assert "STARTTLS" not in caps
        assert not raw.untagged_responses, raw.untagged_responses
        assert EVIL.encode() not in (client.welcome or b"")
    finally:
        client.shutdown()
    transcript = server.wait()[0]
    assert transcript.names(tls=False) == ["CAPABILITY", "STARTTLS"]
    assert transcript.names(tls=True)[0] == "CAPABILITY", "capabilities are asked again over TLS"


def _alert_script(pki, login_ok: bool) -> list:  # noqa: ANN001
    box = FakeMailbox(LOGIN, PASSWORD if login_ok else "another password")
    return [
        send(f"* OK [ALERT] {EVIL} greeting alert: call +1 555 0100 now"),
        expect(
            "CAPABILITY", f"* OK [ALERT] {EVIL} capability alert", f"* CAPABILITY {CAPS}", "{tag} OK done"
        ),
        expect("STARTTLS", f"{{tag}} OK [ALERT] {EVIL} starttls alert"),
        tls(pki.server),
        imap_session(box),
    ]


def test_pre_tls_alert_is_dropped(hostile, pki):
    server = hostile("IMAP", _alert_script(pki, login_ok=True))
    client = imap_login(endpoint(server, "starttls", pki.ca_file), LOGIN, Secret(PASSWORD), timeout=3)
    try:
        raw = client._imap
        assert "ALERT" not in raw.untagged_responses
        assert EVIL not in repr(raw.untagged_responses)
        assert EVIL.encode() not in (client.welcome or b"")
    finally:
        client.logout()


def test_pre_tls_alert_never_rendered(hostile, pki):
    """The words a refused login shows (wizard, CLI) carry nothing the server said before TLS."""
    imap = hostile("IMAP", _alert_script(pki, login_ok=False))
    provider = Provider(
        id=1,
        name="Hostile",
        imap_host="127.0.0.1",
        imap_port=imap.port,
        imap_tls="starttls",
        smtp_host="127.0.0.1",
        smtp_port=1,
        smtp_tls="ssl",
        ca_file=str(pki.ca_file),
    )
    with pytest.raises(AuthorizeError) as info:
        authorize(provider, LOGIN, Secret(PASSWORD), timeout=3)
    err = info.value
    assert err.kind == "auth", str(err)
    assert EVIL not in str(err) and EVIL not in err.title and EVIL not in err.detail


def test_data_appended_to_starttls_ok_refused(hostile, pki):
    """Lines after the STARTTLS OK arrive before the handshake: an injection (CVE-2011-0411 style)."""
    injected = f"* CAPABILITY IMAP4rev1 AUTH=PLAIN X-{EVIL}\r\n* OK [ALERT] {EVIL}\r\n* 5 EXISTS\r\n"
    server = hostile(
        "IMAP",
        [
            send(GREETING),
            expect("CAPABILITY", f"* CAPABILITY {CAPS}", "{tag} OK done"),
            expect("STARTTLS", "{tag} OK begin TLS\r\n" + injected),
            tls(pki.server),
            *honest_session(),
        ],
    )
    err = refused(endpoint(server, "starttls", pki.ca_file))
    assert_clean(server, err)
    assert server.wait()[0].tls_version == "", "no TLS session may start after an injection"


def _capability_then_early_ok(peer: Peer) -> None:
    command = peer.expect("CAPABILITY")
    next_tag = re.sub(r"\d+$", lambda m: str(int(m.group()) + 1), command.tag)
    peer.send(f"* CAPABILITY {CAPS}", "{tag} OK done", f"{next_tag} OK {EVIL} begin TLS (sent early)")


def test_tagged_ok_before_starttls_was_sent_refused(hostile, pki):
    """An answer that arrives before its command was sent can only be forged."""
    server = hostile(
        "IMAP",
        [send(GREETING), _capability_then_early_ok, expect("STARTTLS"), tls(pki.server), *honest_session()],
    )
    err = refused(endpoint(server, "starttls", pki.ca_file))
    assert_clean(server, err)
    transcript = server.wait()[0]
    assert transcript.names() == ["CAPABILITY"]
    assert transcript.tls_version == ""


# -- referrals (RFC 2221, RFC 2193) are never followed ------------------------------------------------


def test_login_referral_not_followed(hostile, pki):
    elsewhere = hostile("IMAP", [send(GREETING)])
    referral = f"{{tag}} NO [REFERRAL imap://{LOGIN}@127.0.0.1:{elsewhere.port}/] {EVIL} go there"
    server = hostile(
        "IMAP",
        [
            *imap_starttls_preface(pki.server, CAPS),
            expect("CAPABILITY", f"* CAPABILITY {CAPS}", "{tag} OK done"),
            expect("LOGIN", referral),
        ],
    )
    err = refused(endpoint(server, "starttls", pki.ca_file))
    assert err.kind == "auth"
    assert EVIL not in str(err) and str(elsewhere.port) not in str(err)
    server.wait()
    assert elsewhere.transcripts == [], "the referral was followed"


@pytest.mark.parametrize("login", [LOGIN, "jürgen@example.test"], ids=["LOGIN", "AUTHENTICATE"])
def test_connection_lost_during_login_is_a_network_error_not_a_wrong_password(hostile, pki, login):
    """A server that hangs up after the password was sent did not refuse it: the mailbox must not be
    marked as needing a new password (the sync retries a network error, never a refused login)."""
    capability = expect("CAPABILITY", "* CAPABILITY IMAP4rev1 AUTH=PLAIN", "{tag} OK done")
    if login.isascii():
        steps = [capability, expect("LOGIN"), close()]
    else:  # the client asks once more, to see AUTH=PLAIN
        steps = [capability, capability, expect("AUTHENTICATE"), close()]
    server = hostile("IMAP", [*imap_starttls_preface(pki.server, CAPS), *steps])
    err = refused(endpoint(server, "starttls", pki.ca_file), login)
    assert err.kind == "network", str(err)
    assert "lost" in str(err) and PASSWORD not in str(err)


def test_greeting_referral_not_followed(hostile):
    elsewhere = hostile("IMAP", [send(GREETING)])
    server = hostile("IMAP", [send(f"* BYE [REFERRAL imap://127.0.0.1:{elsewhere.port}/] {EVIL} moved")])
    err = refused(endpoint(server, "starttls"))
    assert_clean(server, err)
    assert str(elsewhere.port) not in str(err)
    assert elsewhere.transcripts == []


def test_implicit_tls_greeting_referral_not_followed(hostile, pki):
    elsewhere = hostile("IMAP", [send(GREETING)])
    server = hostile(
        "IMAP", [tls(pki.server), send(f"* BYE [REFERRAL imap://127.0.0.1:{elsewhere.port}/] moved")]
    )
    with pytest.raises(NetError):
        imap_login(endpoint(server, "ssl", pki.ca_file), LOGIN, Secret(PASSWORD), timeout=3)
    assert server.leaks(PASSWORD, LOGIN) == []
    assert elsewhere.transcripts == []


def test_mailbox_referral_during_sync_not_followed(hostile, pki, box_env_factory):
    elsewhere = hostile("IMAP", [send(GREETING)])
    box = FakeMailbox(LOGIN, PASSWORD)
    box.folder("INBOX")
    box.folder("Moved").select_reply = f"{{tag}} NO [REFERRAL imap://127.0.0.1:{elsewhere.port}/Moved] {EVIL}"
    box.folder("Moved").messages.append(FakeMessage(1, b"Subject: x\r\n\r\nbody\r\n"))
    server = hostile("IMAP", [tls(pki.server), imap_session(box, greet=True)])
    env = box_env_factory(server.port, pki.ca_file)
    env.sync()
    server.wait()
    assert elsewhere.transcripts == [], "the mailbox referral was followed"


# -- why net.py does STARTTLS itself: what the libraries alone would do (facts of imapclient 4.1) ----------


def test_fact_imapclient_starttls_keeps_what_was_said_before_tls(hostile, pki):
    """IMAPClient.starttls keeps the plaintext greeting and pre-TLS ALERTs in the session."""
    from imapclient import IMAPClient

    server = hostile("IMAP", _alert_script(pki, login_ok=True))
    client = IMAPClient("127.0.0.1", server.port, ssl=False, timeout=3)
    try:
        client.starttls(ssl.create_default_context(cafile=str(pki.ca_file)))
        assert EVIL.encode() in client.welcome
        assert "ALERT" in client._imap.untagged_responses
    finally:
        client.shutdown()


def test_fact_imapclient_sends_search_strings_raw(hostile, pki):
    """Without net.py's guard, a CR LF inside a search term ends the command and starts another."""
    from imapclient import IMAPClient

    box = FakeMailbox(LOGIN, PASSWORD)
    box.folder("INBOX")
    server = hostile("IMAP", [tls(pki.server), send("* OK ready"), imap_session(box)])
    client = IMAPClient(
        "127.0.0.1",
        server.port,
        ssl=True,
        timeout=3,
        ssl_context=ssl.create_default_context(cafile=str(pki.ca_file)),
    )
    try:
        client.login(LOGIN, PASSWORD)
        client.select_folder("INBOX")
        try:
            client.search(["SUBJECT", "x\r\nA999 NOOP"])
        except Exception:  # noqa: BLE001 - the server answers the broken halves with BAD
            pass
    finally:
        client.shutdown()
    commands = [c.raw for _, c in server.wait()[0].commands]
    assert any(raw.startswith(b"A999 NOOP") for raw in commands), commands
