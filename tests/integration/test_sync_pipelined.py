"""New mail in a synced folder comes with the folder's EXAMINE (QRESYNC) in one flight, and the next folder's
flight goes out while this one is stored, against Dovecot."""

from __future__ import annotations

import imaplib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from store.net import Endpoint, imap_login
from store.secrets import Secret
from store.sync import folders
from store.sync.examine import read_examine, send_examine
from store.sync.imap import Session
from tests.harness.fixtures import MailAccount
from tests.integration.sync_support import SyncEnv, append, fresh_env, simple_message

pytestmark = pytest.mark.integration


@pytest.fixture
def sync_env(mail_account: MailAccount, tmp_path: Path) -> Iterator[SyncEnv]:
    yield from fresh_env(mail_account, tmp_path)


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Counter:
    """How often the sync called each of the Session's new-mail commands."""
    seen: Counter = Counter()
    watched = ((folders, "send_examine"), (Session, "fetch_new"), (Session, "select_qresync"))
    for owner, name in watched:
        original = getattr(owner, name)

        def counted(*args, _original=original, _name=name, **kw):  # noqa: ANN002, ANN003
            seen[_name] += 1
            return _original(*args, **kw)

        monkeypatch.setattr(owner, name, counted)
    return seen


def _flag(env: SyncEnv, folder: str) -> None:
    client = env.account.imap()
    client.select_folder(folder)
    client.add_flags(client.search(["ALL"])[:1], [b"\\Flagged"])
    client.logout()


def test_few_new_messages_arrive_with_the_examine(sync_env: SyncEnv, calls: Counter) -> None:
    env = sync_env
    for n in range(3):
        append(env.account, "INBOX", simple_message(n))
        append(env.account, "Archive", simple_message(10 + n))
    assert env.run().ok
    calls.clear()
    _flag(env, "INBOX")
    append(env.account, "INBOX", simple_message(20, subject="new one"))
    append(env.account, "Archive", simple_message(21, body="z" * 300_000))  # bigger than the prefix
    summary = env.run()
    assert summary.ok, summary.error
    assert summary.new == 2 and summary.bodies == 2 and summary.flags_changed == 1
    assert calls == Counter(send_examine=2)  # no second FETCH for the new mail, no plain EXAMINE
    assert env.stored() == env.server(["INBOX", "Archive"])
    assert env.sql("SELECT count(*) FROM messages WHERE body_loaded = 0") == [(0,)]


def test_more_new_mail_than_one_window_continues_after_the_first(sync_env: SyncEnv, calls: Counter) -> None:
    env = sync_env
    append(env.account, "INBOX", simple_message(1))
    assert env.run().ok
    for n in range(7):
        append(env.account, "INBOX", simple_message(100 + n))
    calls.clear()
    summary = env.run(inline_window=3)
    assert summary.ok and summary.new == 7 and summary.bodies == 7
    assert calls == Counter(send_examine=1, fetch_new=2)  # UIDs 2:4 came with the EXAMINE
    assert env.stored() == env.server(["INBOX"])


def both(session: Session, folder: str, uidvalidity: int, modseq: int, uids: str, prefix: int) -> tuple:
    """The EXAMINE and FETCH of one flight, sent and read."""
    return read_examine(session, send_examine(session, folder, uidvalidity, modseq, uids, prefix))


def _session(env: SyncEnv) -> Session:
    ep = Endpoint("localhost", env.account.imaps_port, "ssl", str(env.account.ca_file))
    return Session(imap_login(ep, env.account.email, Secret(env.account.password)))


def test_a_refused_examine_is_an_error_and_the_session_goes_on(sync_env: SyncEnv) -> None:
    env = sync_env
    append(env.account, "INBOX", simple_message(1))
    session = _session(env)
    try:
        inbox = session.select("INBOX")
        with pytest.raises(imaplib.IMAP4.error) as refused:
            both(session, "Nope", inbox.uidvalidity, 1, "1:5", 1024)
        assert not isinstance(refused.value, imaplib.IMAP4.abort) and session.selected is None
        status, _, _, new = both(session, "INBOX", inbox.uidvalidity, 1, "1:5", 1 << 17)
        assert status == inbox and list(new) == [1] and new[1][b"BODY[]<0>"] == simple_message(1)
        status, changed, vanished, new = both(session, "INBOX", 12345, 1, "1:5", 1024)
        assert new is None and changed == {} and vanished == set()  # another UIDVALIDITY: UIDs mean nothing
        assert list(session.fetch_headers("1")) == [1]
    finally:
        session.close()


def test_every_imap_connection_has_imaplib_debug_off(sync_env: SyncEnv) -> None:
    """imapclient turns imaplib's debug level to 5, which formats every response (whole messages) for a
    log nobody reads; store/net.py turns it off for every connection (sync, IDLE, Sent copy), not only the
    sync's."""
    ep = Endpoint("localhost", sync_env.account.imaps_port, "ssl", str(sync_env.account.ca_file))
    client = imap_login(ep, sync_env.account.email, Secret(sync_env.account.password))
    try:
        assert client._imap.debug == 0
    finally:
        client.logout()


def test_envelope_windows_are_asked_for_one_ahead(sync_env: SyncEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    """On a first load the FETCH of envelope window k+1 goes out before window k is parsed and stored,
    so the server reads the next headers meanwhile; every envelope still arrives exactly once."""
    from store.sync import writer

    env = sync_env
    for n in range(12):
        append(env.account, "INBOX", simple_message(n))
    log: list[str] = []
    for owner, name in ((Session, "send_headers"), (Session, "read_headers"), (writer, "store_headers")):
        original = getattr(owner, name)

        def logged(*args, _original=original, _name=name, **kw):  # noqa: ANN002, ANN003
            log.append(_name)
            return _original(*args, **kw)

        monkeypatch.setattr(owner, name, logged)
    summary = env.run(header_window=5, bodies=False)
    assert summary.ok and summary.new == 12
    inbox = log[: len(log) - log[::-1].index("store_headers")]  # other folders are empty: no windows
    assert [x for x in inbox if x != "store_headers"] == ["send_headers", "read_headers"] * 3
    first_store = inbox.index("store_headers")
    assert inbox[:first_store] == ["send_headers", "read_headers", "send_headers"]  # window 2 asked first
    assert env.stored() == {"INBOX": env.server(["INBOX"])["INBOX"]}


def _log_calls(monkeypatch: pytest.MonkeyPatch, log: list[str], watched: tuple) -> None:
    """Record `name(folder)` for each call of the watched functions (the folder: their first str arg)."""
    for owner, name in watched:
        original = getattr(owner, name)

        def logged(*args, _original=original, _name=name, **kw):  # noqa: ANN002, ANN003
            folder = next((a for a in args if isinstance(a, str)), "")
            flight = next((a for a in args if hasattr(a, "examine")), None)
            log.append(f"{_name}({flight.folder if flight else folder})")
            return _original(*args, **kw)

        monkeypatch.setattr(owner, name, logged)


def test_the_next_folders_examine_goes_out_before_this_folder_is_stored(
    sync_env: SyncEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a few new messages and flag changes in several folders, the EXAMINE (and FETCH) of folder k+1
    is sent as soon as folder k's answers are read, before they are parsed and stored: one round trip per
    folder overlaps with this process's work on the previous one. The store ends up as the server is."""
    from store.sync import writer

    env = sync_env
    names = ["Alpha", "Beta", "Gamma"]
    for name in names:
        append(env.account, name, simple_message(hash(name) % 1000, subject=f"old in {name}"))
    assert env.run().ok
    for n, name in enumerate(names):
        _flag(env, name)
        append(env.account, name, simple_message(500 + n, subject=f"new in {name}"))
        append(env.account, name, simple_message(600 + n, subject=f"newer in {name}"))
    log: list[str] = []
    watched = ((folders, "send_examine"), (folders, "read_examine"), (writer, "store_headers"))
    _log_calls(monkeypatch, log, watched)
    summary = env.run()
    assert summary.ok, summary.error
    assert summary.new == 6 and summary.bodies == 6 and summary.flags_changed == 3
    sends = [e for e in log if e.startswith("send_examine")]
    assert sorted(sends) == [f"send_examine({n})" for n in names]  # each folder asked once
    order = [e[len("send_examine(") : -1] for e in sends]  # the server's LIST order
    for before, after in zip(order, order[1:], strict=False):
        stored = log.index("store_headers()", log.index(f"read_examine({before})"))
        assert log.index(f"send_examine({after})") < stored  # asked before this one's mail is stored
    assert env.stored() == env.server(names)
    assert env.sql("SELECT count(*) FROM messages WHERE body_loaded = 0") == [(0,)]


def test_a_folder_that_needs_more_commands_keeps_the_session_until_done(
    sync_env: SyncEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new message bigger than the flight's first bytes needs its own FETCH in its folder, so the next
    folder's flight waits until that folder is done; all ends up stored whole."""
    from store.sync import bodies

    env = sync_env
    for name in ("Alpha", "Beta"):
        append(env.account, name, simple_message(1, subject=f"old in {name}"))
    assert env.run().ok
    for n, name in enumerate(("Alpha", "Beta")):
        append(env.account, name, simple_message(2 + n, body="y" * 300_000))  # beyond the 256 KB prefix
    log: list[str] = []
    _log_calls(monkeypatch, log, ((folders, "send_examine"), (bodies, "_fetch_window")))
    summary = env.run()
    assert summary.ok, summary.error
    assert summary.new == 2 and summary.bodies == 2
    assert sorted(log[0::2]) == ["send_examine(Alpha)", "send_examine(Beta)"]
    assert log[1::2] == ["_fetch_window()"] * 2  # each folder's FETCH before the next folder's EXAMINE
    assert env.stored() == env.server(["Alpha", "Beta"])
    assert env.sql("SELECT count(*) FROM messages WHERE body_loaded = 0") == [(0,)]


def test_no_command_goes_out_while_a_flight_is_in_the_air(sync_env: SyncEnv) -> None:
    """The server runs commands in order, so a FETCH sent after the next folder's EXAMINE would read the
    next folder: the session refuses it loudly, and works again once the flight is read."""
    env = sync_env
    append(env.account, "INBOX", simple_message(1))
    append(env.account, "Alpha", simple_message(2))
    session = _session(env)
    try:
        inbox = session.select("INBOX")
        alpha = session.status("Alpha")
        flight = send_examine(session, "Alpha", alpha.uidvalidity, 1, "1:5", 1 << 17)
        with pytest.raises(RuntimeError, match="in flight"):
            session.fetch_headers("1")
        with pytest.raises(RuntimeError, match="in flight"):
            session.select("INBOX")
        status, _, _, new = read_examine(session, flight)
        assert status.uidvalidity == alpha.uidvalidity and session.selected == "Alpha"
        assert new[1][b"BODY[]<0>"] == simple_message(2)
        assert session.select("INBOX") == inbox and list(session.fetch_headers("1")) == [1]
    finally:
        session.close()


def test_body_windows_go_out_two_ahead_and_each_message_finds_its_window(
    sync_env: SyncEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The body phase keeps two FETCHes in flight within a folder. Dovecot may run them side by side, so
    the answer read up to one tag can carry messages of the next window: here the reads are reordered on
    purpose (the first read of each pair also takes the next answer off the wire) and every message must
    still be stored once, with its own bytes, and each folder's SELECT waits for the answers in flight."""
    env = sync_env
    for n in range(14):
        append(env.account, "INBOX", simple_message(n, body=f"inbox body {n}"))
    for n in range(4):
        append(env.account, "Archive", simple_message(100 + n, body=f"archive body {n}"))
    log: list[str] = []
    original_send, original_read = Session.send_bodies, Session.read_bodies
    sent: list[str] = []
    early: dict[str, dict[int, bytes]] = {}

    def send(self: Session, uids: str) -> str:
        tag = original_send(self, uids)
        log.append(f"send {self.selected}")
        sent.append(tag)
        return tag

    def read(self: Session, tag: str) -> dict[int, bytes]:
        log.append("read")
        if tag in early:
            return early.pop(tag)  # its messages came with the answer before
        got = original_read(self, tag)
        later = sent[sent.index(tag) + 1 :]
        if later:  # the next window's answer, read together with this one
            got.update(original_read(self, later[0]))
            early[later[0]] = {}
        return got

    monkeypatch.setattr(Session, "send_bodies", send)
    monkeypatch.setattr(Session, "read_bodies", read)
    summary = env.run(body_window_count=3)
    assert summary.ok, summary.error
    assert summary.bodies == 18
    first, second = ("INBOX", "Archive") if log[0] == "send INBOX" else ("Archive", "INBOX")
    assert log[:3] == [f"send {first}", f"send {first}", "read"]  # window 2 asked before window 1 is read
    switch = log.index(f"send {second}")
    assert log[switch - 2 : switch] == ["read", "read"]  # the answers in flight are read before the SELECT
    assert env.sql("SELECT count(*) FROM messages WHERE body_loaded = 0") == [(0,)]
    texts = {text.strip() for (text,) in env.sql("SELECT body_text FROM messages")}
    assert texts == {f"inbox body {n}" for n in range(14)} | {f"archive body {n}" for n in range(4)}
    assert env.stored() == env.server(["INBOX", "Archive"])
