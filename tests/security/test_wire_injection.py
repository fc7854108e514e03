"""Hostile input on the IMAP and SMTP wire: CR, LF and NUL never end a command and start another.

Each check looks at the server's transcript: every line the client sent must be one command the client meant
to send, and no line may start with the injected tag.
"""

from __future__ import annotations

import pytest

from store.accounts import check_address, login_for
from store.errors import Invalid
from store.mailbox_settings import SettingsDraft
from store.net import imap_login, smtp_login, wire_safe
from store.providers import Provider
from store.secrets import Secret
from tests.harness.hostile import HostileServer, send, tls
from tests.harness.hostile_imap import FakeMailbox, FakeMessage, imap_session
from tests.harness.hostile_smtp import smtp_session
from tests.security.conftest import LOGIN, PASSWORD, endpoint

BREAKERS = {"CR": "\r", "LF": "\n", "CRLF": "\r\n", "NUL": "\x00"}
INJECTED = "A999 DELETE INBOX"
KNOWN = {
    "CAPABILITY",
    "LOGIN",
    "AUTHENTICATE",
    "LIST",
    "LSUB",
    "STATUS",
    "SELECT",
    "EXAMINE",
    "UID SEARCH",
    "UID FETCH",
    "UID STORE",
    "NOOP",
    "LOGOUT",
    "ENABLE",
    "ID",
    "CLOSE",
    "UNSELECT",
    "SEARCH",
}


def assert_no_injection(server: HostileServer) -> None:
    """Every command the server read is one the client meant; nothing starts with the injected tag."""
    for transcript in server.wait(len(server.transcripts)):
        for _, command in transcript.commands:
            assert command.name in KNOWN, f"unexpected command on the wire: {command.raw!r}"
            assert not command.raw.startswith(b"A999"), command.raw
        assert b"\r\nA999" not in transcript.all_received
        assert b"\x00" not in transcript.all_received


def imap_server(hostile, pki, box: FakeMailbox | None = None) -> HostileServer:  # noqa: ANN001
    box = box or FakeMailbox(LOGIN, PASSWORD)
    box.folder("INBOX").messages.append(
        FakeMessage(1, b"Subject: hello\r\nMessage-ID: <1@x>\r\n\r\nbody\r\n")
    )
    return hostile("IMAP", [tls(pki.server), send("* OK ready"), imap_session(box)])


# -- login names and passwords never reach a server --------------------------------------------------------


@pytest.mark.parametrize("ch", BREAKERS.values(), ids=BREAKERS.keys())
@pytest.mark.parametrize("field", ["login", "password"])
def test_credentials_with_line_breaks_never_connect(hostile, pki, ch, field):
    imap = hostile("IMAP", [tls(pki.server), send("* OK ready")])
    smtp = hostile("SMTP", [tls(pki.server), send("220 ready")])
    login = f"ann{ch}{INJECTED}@example.test" if field == "login" else LOGIN
    secret = Secret(f"pw{ch}{INJECTED}" if field == "password" else PASSWORD)
    for connect, server in ((imap_login, imap), (smtp_login, smtp)):
        with pytest.raises(Invalid) as info:
            connect(endpoint(server, "ssl", pki.ca_file), login, secret, timeout=3)
        assert field in info.value.errors
        assert secret.reveal() not in str(info.value)
    assert imap.transcripts == [] and smtp.transcripts == [], "nothing may be sent, not even a connection"


@pytest.mark.parametrize("ch", BREAKERS.values(), ids=BREAKERS.keys())
def test_address_and_typed_login_refuse_line_breaks(ch):
    provider = Provider(
        id=1,
        name="Ask",
        imap_host="127.0.0.1",
        imap_port=993,
        smtp_host="127.0.0.1",
        smtp_port=465,
        login_format="ask",
    )
    with pytest.raises(Invalid):
        login_for(provider, LOGIN, f"ann{ch}{INJECTED}")
    with pytest.raises(Invalid):
        check_address(f"ann{ch}x@example.test")
    with pytest.raises(Invalid):
        wire_safe(f"x{ch}y", "field")


# -- what imapclient would send raw: search criteria, flags; folder names are encoded ------------------------


@pytest.mark.parametrize("ch", BREAKERS.values(), ids=BREAKERS.keys())
def test_search_terms_and_message_ids_never_split_a_command(hostile, pki, ch):
    """imapclient quotes search strings but keeps CR/LF inside the quotes: net.py's guard refuses them."""
    server = imap_server(hostile, pki)
    client = imap_login(endpoint(server, "ssl", pki.ca_file), LOGIN, Secret(PASSWORD), timeout=3)
    try:
        client.select_folder("INBOX")
        for criteria in (
            ["SUBJECT", f"x{ch}{INJECTED}"],
            ["HEADER", "Message-ID", f"<1@x>{ch}{INJECTED}"],
            f"TEXT x{ch}{INJECTED}",
            ["OR", ["SUBJECT", "a"], ["BODY", f"b{ch}{INJECTED}"]],
        ):
            with pytest.raises(Invalid):
                client.search(criteria)
        with pytest.raises(Invalid):
            client._imap._simple_command("EXAMINE", f'"INBOX"{ch}{INJECTED}')
        assert client.search(["SUBJECT", "hello"]) == [1], "the session stays usable after a refusal"
    finally:
        client.logout()
    assert_no_injection(server)


@pytest.mark.parametrize("ch", BREAKERS.values(), ids=BREAKERS.keys())
def test_flags_and_keywords_never_split_a_command(hostile, pki, ch):
    server = imap_server(hostile, pki)
    client = imap_login(endpoint(server, "ssl", pki.ca_file), LOGIN, Secret(PASSWORD), timeout=3)
    try:
        client.select_folder("INBOX")
        for call in (client.add_flags, client.remove_flags, client.set_flags):
            with pytest.raises(Invalid):
                call([1], [f"Work{ch}{INJECTED}"])
        client.add_flags([1], ["Work"])
    finally:
        client.logout()
    assert_no_injection(server)
    stores = [c for _, c in server.wait()[0].commands if c.name == "UID STORE"]
    assert [c.raw for c in stores] == [stores[0].raw] and b"(Work)" in stores[0].raw


@pytest.mark.parametrize("ch", BREAKERS.values(), ids=BREAKERS.keys())
def test_folder_names_go_out_encoded(hostile, pki, ch):
    """Folder names pass through modified UTF-7, which turns CR, LF and NUL into base64: no command breaks."""
    server = imap_server(hostile, pki)
    client = imap_login(endpoint(server, "ssl", pki.ca_file), LOGIN, Secret(PASSWORD), timeout=3)
    name = f"INBOX{ch}{INJECTED}"
    try:
        for call in (client.select_folder, client.folder_status, client.folder_exists):
            try:
                call(name)
            except Exception:  # noqa: BLE001 - the server says NO; only the wire matters here
                pass
    finally:
        client.logout()
    assert_no_injection(server)


# -- flags the user sets locally are pushed by the sync engine ---------------------------------------------


@pytest.mark.parametrize(
    "flag",
    [
        "Work\r\nA999 DELETE INBOX",
        "Work\nX",
        "Work\rX",
        "Work\x00X",
        "Wo\x1brk",
        "Work\x7f",
        "Wörk",
        "(Work)",
        'Wo"rk',
        "{5}",
        "\\Custom",
    ],
)
def test_store_refuses_keywords_that_are_not_atoms(hostile, pki, box_env_factory, flag):
    box = FakeMailbox(LOGIN, PASSWORD)
    box.add(
        "INBOX", b"Subject: one\r\nMessage-ID: <1@x>\r\nDate: Fri, 30 May 2025 10:00:00 +0000\r\n\r\nbody\r\n"
    )
    server = hostile("IMAP", [tls(pki.server), send("* OK ready"), imap_session(box)])
    env = box_env_factory(server.port, pki.ca_file)
    assert env.sync().ok
    location = env.store.messages.list(env.admin)[0].location_id
    with pytest.raises(Invalid):
        env.store.messages.set_flags(env.admin, location, add=(flag,))
    with pytest.raises(Invalid):
        env.store.messages.set_flags(env.admin, location, remove=(flag,))


def test_sync_pushes_a_keyword_as_one_command(hostile, pki, box_env_factory):
    box = FakeMailbox(LOGIN, PASSWORD)
    box.add(
        "INBOX", b"Subject: one\r\nMessage-ID: <1@x>\r\nDate: Fri, 30 May 2025 10:00:00 +0000\r\n\r\nbody\r\n"
    )
    server = hostile("IMAP", [tls(pki.server), send("* OK ready"), imap_session(box)])
    env = box_env_factory(server.port, pki.ca_file)
    assert env.sync().ok
    location = env.store.messages.list(env.admin)[0].location_id
    env.store.messages.set_flags(env.admin, location, add=("Work", "\\Flagged"))
    summary = env.sync()
    assert summary.ok, summary.error
    assert sorted(box.folders["INBOX"].messages[0].flags) == ["Work", "\\Flagged"]
    assert_no_injection(server)


# -- hostile names and Message-IDs from the server never go back out raw -----------------------------------


HOSTILE_ID = "<a\x00b\x1b[31m@evil.example>"


def test_hostile_folder_names_and_message_ids_from_the_server(hostile, pki, box_env_factory):
    """The server lists folders whose names hold CR/LF/NUL and sends Message-IDs with NUL and ESC; the sync
    engine selects those folders and stores those ids, and still every command it sends is one line."""
    box = FakeMailbox(LOGIN, PASSWORD)
    raw = (
        f"Subject: x\r\nMessage-ID: {HOSTILE_ID}\r\nDate: Fri, 30 May 2025 10:00:00 +0000\r\n\r\nbody\r\n"
    ).encode()
    box.add("INBOX", raw)
    for name in ("Evil\r\nA999 DELETE INBOX", "Nul\x00A999 DELETE INBOX", "Lf\nA999 DELETE INBOX"):
        box.add(name, raw)
    server = hostile("IMAP", [tls(pki.server), send("* OK ready"), imap_session(box)])
    env = box_env_factory(server.port, pki.ca_file)
    env.sync()
    assert_no_injection(server)
    selected = [c.raw for _, c in server.wait()[0].commands if c.name in ("SELECT", "EXAMINE", "STATUS")]
    assert selected, "the engine never opened a folder"
    ids = [r[0] for r in env.sql("SELECT header_message_id FROM messages")]
    for mid in ids:  # were any code to search by a stored Message-ID, the guard would stop a broken one
        if any(c in mid for c in "\r\n\x00"):
            client = imap_login(endpoint(server, "ssl", pki.ca_file), LOGIN, Secret(PASSWORD), timeout=3)
            try:
                client.select_folder("INBOX")
                with pytest.raises(Invalid):
                    client.search(["HEADER", "Message-ID", mid])
            finally:
                client.logout()


@pytest.mark.parametrize("ch", BREAKERS.values(), ids=BREAKERS.keys())
def test_settings_folder_names_refuse_line_breaks(ch):
    with pytest.raises(Invalid):
        SettingsDraft.parse(folder_scope="selected", selected_folders=(f"Clients{ch}{INJECTED}",))


# -- SMTP ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("ch", BREAKERS.values(), ids=BREAKERS.keys())
def test_smtp_commands_never_split(hostile, pki, ch):
    server = hostile("SMTP", [tls(pki.server), send("220 hostile ESMTP"), smtp_session(PASSWORD)])
    smtp = smtp_login(endpoint(server, "ssl", pki.ca_file), LOGIN, Secret(PASSWORD), timeout=3)
    try:
        for cmd, arg in (
            ("MAIL", f"FROM:<ann{ch}x@example.test>"),
            ("RCPT", f"TO:<bob@x.test>{ch}RCPT TO:<evil@x>"),
            (f"NOOP{ch}RCPT TO:<evil@x>", ""),
        ):
            with pytest.raises((Invalid, ValueError)):
                smtp.docmd(cmd, arg)
        for call, arg in (
            (smtp.mail, f"ann{ch}x@example.test"),
            (smtp.rcpt, f"bob@x.test{ch}RCPT TO:<evil@x>"),
        ):
            try:  # smtplib's quoteaddr drops CR and LF from addresses; NUL reaches the guard
                call(arg)
            except (Invalid, ValueError):
                pass
        smtp.noop()
    finally:
        smtp.quit()
    transcript = server.wait()[0]
    assert set(transcript.names()) <= {"EHLO", "AUTH", "MAIL", "RCPT", "NOOP", "QUIT"}, transcript.names()
    for _, command in transcript.commands:
        assert not any(c in command.raw[:-2] for c in b"\r\n\x00"), command.raw
    assert b"evil@x" not in server.received()
