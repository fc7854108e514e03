"""Quota and NO responses: an IMAP server refusing SELECT/EXAMINE, UID FETCH or APPEND, an SMTP server
refusing a full mailbox.

Each case ends with a clear error in the summary or the outbox, the other folders synced, nothing lost, and
no retry loop: a NO is an answer, not a lost connection, so a sync does not retry it (the scheduler tries
again at its next round), and a permanent SMTP refusal fails the message for the user to decide.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from store.compose import Draft
from tests.harness.hostile import send, tls
from tests.harness.hostile_imap import FakeMailbox, imap_session
from tests.harness.hostile_smtp import smtp_session
from tests.security.conftest import EVIL, LOGIN, PASSWORD
from tests.security.faults import (
    assert_exactly,
    assert_nothing_partial,
    attachment_message,
    serve,
    server_messages,
)

RETRIES = {"retry_delays": (0.01, 0.01, 0.01)}  # a sync that would retry a network error three times


def three_folders() -> FakeMailbox:
    box = FakeMailbox(LOGIN, PASSWORD)
    for n in range(1, 10):
        box.add(("INBOX", "Archive", "Junk")[n % 3], attachment_message(n, 3000))
    return box


def folder_of(box: FakeMailbox, name: str) -> set[str]:
    """Message-IDs of one folder."""
    raws = {m.raw for m in box.folders[name].messages}
    return {mid for mid, raw in server_messages(box).items() if raw in raws}


def heal(box: FakeMailbox) -> None:
    for f in box.folders.values():
        f.select_reply = f.fetch_reply = f.fetch_refused = ""


REFUSALS = {
    "select-serverbug": dict(select_reply=f"{{tag}} NO [SERVERBUG] {EVIL} \x1b[31mbroken"),
    "select-unavailable": dict(select_reply="{tag} NO [UNAVAILABLE] backend down, try later"),
    "header-fetch-serverbug": dict(
        fetch_reply="{tag} NO [SERVERBUG] cannot read headers", fetch_refused="BODY.PEEK[HEADER]"
    ),
    "header-fetch-bad": dict(fetch_reply="{tag} BAD [CLIENTBUG] what?", fetch_refused="BODY.PEEK[HEADER]"),
}


@pytest.mark.parametrize("case", REFUSALS)
def test_a_folder_the_server_refuses_does_not_stop_the_others(hostile, pki, box_env_factory, case):
    box = three_folders()
    for key, value in REFUSALS[case].items():
        setattr(box.folders["Junk"], key, value)
    server = serve(hostile, pki, box)
    env = box_env_factory(server.port, pki.ca_file)
    summary = env.sync(**RETRIES)
    assert not summary.ok
    assert summary.error_kind == "server", (summary.error_kind, summary.error)
    assert "Junk" in summary.error and "other folders are synced" in summary.error, summary.error
    assert "\x1b" not in summary.error
    assert len(server.transcripts) == 1, "a NO was retried like a lost connection"
    originals = server_messages(box)
    assert_nothing_partial(env, originals)
    stored = {r[0] for r in env.sql("SELECT header_message_id FROM messages WHERE body_loaded = 1")}
    assert stored == set(originals) - folder_of(box, "Junk"), "the other folders were not synced"

    heal(box)
    again = env.sync()
    assert again.ok, again.error
    assert_exactly(env, originals)


def test_a_folder_refused_while_looking_for_a_rename_does_not_stop_the_others(hostile, pki, box_env_factory):
    """A stored folder vanished, and the new folder that might be it under another name refuses SELECT:
    the rename is not proven, so the old folder counts as deleted; the other folders still sync (here a
    new message in INBOX), the refused one is named, and once it answers its mail is back, once each."""
    box = three_folders()
    server = serve(hostile, pki, box)
    env = box_env_factory(server.port, pki.ca_file)
    assert env.sync().ok
    junk = box.folders.pop("Junk")
    junk.name, junk.select_reply = "Spam", "{tag} NO [SERVERBUG] cannot open it now"
    box.folders["Spam"] = junk
    box.add("INBOX", attachment_message(50, 3000))
    summary = env.sync(**RETRIES)
    assert not summary.ok and summary.error_kind == "server", (summary.error_kind, summary.error)
    assert "Spam" in summary.error, summary.error
    stored = {r[0] for r in env.sql("SELECT header_message_id FROM messages WHERE body_loaded = 1")}
    assert "f50@example.test" in stored, "INBOX was not synced"
    assert len(server.transcripts) == 2, "a NO was retried like a lost connection"
    heal(box)
    again = env.sync()
    assert again.ok, again.error
    assert_exactly(env, server_messages(box))


def test_a_refused_body_fetch_stops_only_the_body_phase(hostile, pki, box_env_factory):
    box = three_folders()
    junk = box.folders["Junk"]
    junk.fetch_reply, junk.fetch_refused = "{tag} NO [UNAVAILABLE] bodies later", "BODY.PEEK[]"
    server = serve(hostile, pki, box)
    env = box_env_factory(server.port, pki.ca_file)
    summary = env.sync(**RETRIES)
    assert not summary.ok and summary.error_kind == "server", (summary.error_kind, summary.error)
    assert "bodies later" in summary.error and "refused" in summary.error, summary.error
    assert len(server.transcripts) == 1, "a NO was retried like a lost connection"
    originals = server_messages(box)
    assert_nothing_partial(env, originals)
    headers = {r[0] for r in env.sql("SELECT header_message_id FROM messages")}
    assert headers == set(originals), "the envelopes of every folder are in"
    heal(box)
    assert env.sync().ok
    assert_exactly(env, originals)


def test_a_refused_folder_list_fails_clearly_and_stores_nothing(hostile, pki, box_env_factory):
    box = three_folders()
    server = hostile("IMAP", [tls(pki.server), send("* OK ready"), _refusing_list(box)])
    env = box_env_factory(server.port, pki.ca_file)
    summary = env.sync(**RETRIES)
    assert not summary.ok and summary.error_kind == "server", (summary.error_kind, summary.error)
    assert "[UNAVAILABLE]" in summary.error
    assert len(server.transcripts) == 1
    assert env.sql("SELECT count(*) FROM messages") == [(0,)]


def _refusing_list(box: FakeMailbox):  # noqa: ANN202
    """imap_session, but LIST is answered NO [UNAVAILABLE]."""
    inner = imap_session(box)

    def step(peer) -> None:  # noqa: ANN001
        original = peer.read_command

        def read_command():  # noqa: ANN202
            command = original()
            if command.name == "LIST":
                peer.send("{tag} NO [UNAVAILABLE] folder list not available")
                return read_command()
            return command

        peer.read_command = read_command
        inner(peer)

    return step


# -- sending into a full mailbox -----------------------------------------------------------------------


def send_env(hostile, pki, box_env_factory, replies=None, sent_reply=""):  # noqa: ANN001, ANN201
    """A mailbox whose IMAP and SMTP servers are scripted; the SMTP one answers with *replies*."""
    box = FakeMailbox(LOGIN, PASSWORD)
    box.folder("INBOX")
    box.folder("Sent").append_reply = sent_reply
    imap = serve(hostile, pki, box)
    session = smtp_session(PASSWORD, replies=replies)
    smtp = hostile("SMTP", [tls(pki.server), send("220 hostile.test ESMTP"), session])
    env = box_env_factory(imap.port, pki.ca_file, smtp_port=smtp.port)
    env.imap_server = imap
    return env, box, session


def drain(env, now):  # noqa: ANN001, ANN201
    return env.store.outbox.drain(env.secrets, now=now, timeout=5)


@pytest.mark.parametrize(
    "stage,reply",
    [("RCPT", "552 5.2.2 Mailbox full"), ("DOT", "552 5.3.4 Message too big for the mailbox")],
)
def test_smtp_552_mailbox_full_fails_the_message_once(hostile, pki, box_env_factory, stage, reply):
    env, _, session = send_env(hostile, pki, box_env_factory, {stage: reply})
    item = env.store.outbox.queue(env.admin, Draft(env.box.id, to=("bob@example.test",), subject="Full"))
    now = datetime.now(UTC)
    drain(env, now)
    failed = env.store.outbox.get(env.admin, item.id)
    assert failed.state == "failed" and failed.error_kind == "permanent", (failed.state, failed.error_kind)
    assert "552" in failed.last_error and reply[4:] in failed.last_error, failed.last_error
    assert drain(env, now + timedelta(days=1)).results == [], "a permanent refusal is tried again"
    assert session.received == []
    assert env.store.outbox.draft_of(env.admin, item.id).subject == "Full", "the message is lost"


def test_smtp_452_over_quota_is_retried_with_backoff_then_given_up(hostile, pki, box_env_factory):
    from store.delivery_policy import GIVE_UP_AFTER

    env, _, session = send_env(hostile, pki, box_env_factory, {"RCPT": "452 4.2.2 Over quota, try later"})
    item = env.store.outbox.queue(env.admin, Draft(env.box.id, to=("bob@example.test",), subject="Later"))
    t0 = datetime.now(UTC)
    drain(env, t0)
    queued = env.store.outbox.get(env.admin, item.id)
    assert queued.state == "queued" and queued.error_kind == "temporary", (queued.state, queued.error_kind)
    assert "452" in queued.last_error and "Over quota" in queued.last_error
    assert drain(env, t0 + timedelta(seconds=1)).results == [], "retried before the backoff"
    drain(env, t0 + GIVE_UP_AFTER + timedelta(minutes=1))
    given_up = env.store.outbox.get(env.admin, item.id)
    assert given_up.state == "failed" and "452" in given_up.last_error, (given_up.state, given_up.last_error)
    assert session.received == []


@pytest.mark.parametrize(
    "reply", ["{tag} NO [OVERQUOTA] Sent folder over quota", "{tag} NO [LIMIT] too many messages"]
)
def test_sent_copy_refused_by_quota_keeps_the_message_sent_and_says_why(hostile, pki, box_env_factory, reply):
    env, box, session = send_env(hostile, pki, box_env_factory, sent_reply=reply)
    item = env.store.outbox.queue(env.admin, Draft(env.box.id, to=("bob@example.test",), subject="Copy"))
    t0 = datetime.now(UTC)
    drain(env, t0)
    sent = env.store.outbox.get(env.admin, item.id)
    assert sent.state == "sent", "the message was delivered; a refused copy must not undo that"
    assert len(session.received) == 1, "delivered exactly once"
    row = env.sql("SELECT copy_done, copy_error FROM outbox WHERE id = ?", item.id)[0]
    assert row[0] == 0 and reply.split("] ")[1] in row[1], row
    assert box.folders["Sent"].messages == []
    drain(env, t0 + timedelta(hours=1))
    assert len(session.received) == 1, "a refused copy made the message go out again"
    box.folders["Sent"].append_reply = ""
    drain(env, t0 + timedelta(days=1))
    assert env.sql("SELECT copy_done FROM outbox WHERE id = ?", item.id) == [(1,)]
    assert len(box.folders["Sent"].messages) == 1 and len(session.received) == 1


def test_a_permanently_refused_sent_copy_is_not_tried_forever(hostile, pki, box_env_factory):
    env, _, _ = send_env(hostile, pki, box_env_factory, sent_reply="{tag} NO [LIMIT] message too large")
    env.store.outbox.queue(env.admin, Draft(env.box.id, to=("bob@example.test",), subject="Copy"))
    t0 = datetime.now(UTC)
    for hours in range(0, 24 * 7, 6):  # a week of drains, four a day
        drain(env, t0 + timedelta(hours=hours))
    server = env.imap_server
    appends = sum(t.names().count("APPEND") for t in server.wait(len(server.transcripts)))
    assert appends <= 3, f"the refused copy was APPENDed {appends} times in a week"
    item = env.store.outbox.list(env.admin)[0]
    assert item.state == "sent" and "no longer tried until you retry it" in item.copy_error, item.copy_error
    env.store.outbox.retry(env.admin, item.id)  # the user asks: one more APPEND, then it waits again
    drain(env, t0 + timedelta(days=8))
    again = sum(t.names().count("APPEND") for t in server.wait(len(server.transcripts)))
    assert again == appends + 1, (appends, again)


def _strict_smtp_session(refuse_data: int = 1):  # noqa: ANN202
    """smtp_session, but the first *refuse_data* DATA commands are refused with 554 and, as Postfix does,
    such a refusal leaves the transaction open: a MAIL before RSET is answered 503."""
    inner = smtp_session(PASSWORD)
    state = {"open": False, "refused": 0}

    def step(peer) -> None:  # noqa: ANN001
        original = peer.read_command

        def read_command():  # noqa: ANN202
            command = original()
            if command.name == "MAIL" and state["open"]:
                peer.send("503 5.5.1 Error: nested MAIL command")
                return read_command()
            if command.name == "MAIL":
                state["open"] = True
            elif command.name == "RSET":
                state["open"] = False
            elif command.name == "DATA" and state["refused"] < refuse_data:
                state["refused"] += 1
                peer.send("554 5.7.1 Message refused by policy")
                return read_command()
            elif command.name == "DATA":
                state["open"] = False  # the inner session takes the message: the transaction ends
            return command

        peer.read_command = read_command
        inner(peer)

    step.received = inner.received  # type: ignore[attr-defined]
    return step


def test_a_refused_data_command_does_not_fail_the_next_message(hostile, pki, box_env_factory):
    box = FakeMailbox(LOGIN, PASSWORD)
    box.folder("INBOX")
    box.folder("Sent")
    imap = serve(hostile, pki, box)
    session = _strict_smtp_session()
    smtp = hostile("SMTP", [tls(pki.server), send("220 hostile.test ESMTP"), session])
    env = box_env_factory(imap.port, pki.ca_file, smtp_port=smtp.port)
    refused = env.store.outbox.queue(env.admin, Draft(env.box.id, to=("bob@example.test",), subject="One"))
    sent = env.store.outbox.queue(env.admin, Draft(env.box.id, to=("bob@example.test",), subject="Two"))
    report = drain(env, datetime.now(UTC))
    assert [(r.item_id, r.state) for r in report.results] == [(refused.id, "failed"), (sent.id, "sent")], [
        r.detail for r in report.results
    ]
    assert "554" in env.store.outbox.get(env.admin, refused.id).last_error
    assert len(session.received) == 1 and b"Subject: Two" in session.received[0]
    assert len(smtp.wait(1)) == 1, "the second message needed a new connection"
