"""Sending against the harness's real servers: Dovecot submission relaying to the SMTP sink, Dovecot IMAP."""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from sqlalchemy import select, update

from store.compose import Attachment, Draft
from store.delivery import BACKOFF
from store.schema import providers
from store.schema_outbox import outbox
from store.sync.engine import SyncOptions
from tests.integration.send_support import SendEnv, deliver_to_inbox, open_env, parse, sent_folder

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(tmp_path, mail_server, mail_account):  # noqa: ANN001, ANN201
    with open_env(tmp_path, mail_server, mail_account) as e:
        yield e


def raw_of(env: SendEnv, item_id: int) -> bytes:
    with env.store.engine.connect() as conn:
        return conn.execute(select(outbox.c.raw).where(outbox.c.id == item_id)).scalar_one()


def text_of(msg) -> str:  # noqa: ANN001
    return msg.get_body(("plain",)).get_content().replace("\r\n", "\n")


@pytest.mark.parametrize("tls", ["ssl", "starttls"])
def test_non_ascii_message_arrives_byte_correct_with_a_sent_copy(env: SendEnv, tls: str) -> None:
    box = env.box
    if tls != "ssl":
        env.store.mailboxes.remove(env.admin, env.box.id, env.secrets)
        box = env.connect(env.account, tls=tls)
    box = env.configure(box, alias="Анна Петрова «Продажи»")
    pdf = bytes(range(256)) * 40 + b"\r\n.\r\n..end"  # a dot line must survive SMTP's dot-stuffing
    draft = Draft(
        box.id,
        to=("Jörg Müller <jorg@acme.example>",),
        cc=("Zoë <zoe@acme.example>",),
        bcc=("hidden@acme.example",),
        subject="Счёт №42 — оплата ✓ 😀",
        body="Здравствуйте!\n.\nСчёт во вложении — €42.\n",
        attachments=(Attachment("отчёт «Q3» — итог.pdf", "application/pdf", pdf),),
    )
    item = env.store.outbox.queue(env.admin, draft)
    report = env.drain()
    assert [r.state for r in report.results] == ["sent"]
    (got,) = env.server.sink.wait_for(1)
    assert got.mail_from == env.account.email
    assert sorted(got.rcpt_tos) == ["hidden@acme.example", "jorg@acme.example", "zoe@acme.example"]
    sent = raw_of(env, item.id)
    assert got.data.endswith(sent)  # byte for byte behind the relay's Received line
    msg = parse(got.data)
    assert str(msg["Subject"]) == "Счёт №42 — оплата ✓ 😀"
    assert msg["From"].addresses[0].display_name == "Анна Петрова «Продажи»"
    assert msg["From"].addresses[0].addr_spec == env.account.email
    assert [a.display_name for a in (*msg["To"].addresses, *msg["Cc"].addresses)] == ["Jörg Müller", "Zoë"]
    assert "Bcc" not in msg and b"hidden@" not in got.data
    assert msg["Message-ID"] == item.message_id and msg["Message-ID"].endswith("@example.test>")
    assert abs(msg["Date"].datetime - item.created_at) < timedelta(seconds=1)
    assert text_of(msg) == "Здравствуйте!\n.\nСчёт во вложении — €42.\n"
    (part,) = list(msg.iter_attachments())
    assert part.get_filename() == "отчёт «Q3» — итог.pdf"
    assert part.get_payload(decode=True) == pdf
    # The copy in Sent: appended once, read, with the Bcc the sender should still see.
    (copy,) = sent_folder(env.account)
    assert copy[1].endswith(sent) and copy[1].startswith(b"Bcc: hidden@acme.example\r\n")
    assert b"\\Seen" in copy[2]
    done = env.store.outbox.get(env.admin, item.id)
    assert (done.state, done.copy_done, done.attempts) == ("sent", True, 1)
    (row,) = env.store.messages.list(env.admin, folder="Sent")
    assert (row.header_message_id, row.subject, row.from_name) == (
        item.message_id.strip("<>"),
        "Счёт №42 — оплата ✓ 😀",
        "Анна Петрова «Продажи»",
    )


def test_reply_joins_its_thread_with_the_signature_above_the_quote(env: SendEnv) -> None:
    env.box = env.configure(env.box, use_signature=True, signature="Anna\nAcme Sales", folder_scope="all")
    original = (
        f"From: Client <client@customer.example>\r\nTo: {env.account.email}\r\nSubject: AW: Offer\r\n"
        f"Date: {format_datetime(datetime.now(UTC))}\r\nMessage-ID: <orig-1@customer.example>\r\n"
        "References: <root-1@acme.example>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        "Can you do 10%?\r\n"
    ).encode()
    deliver_to_inbox(env.account, original)
    assert env.store.sync.run(env.box, env.secrets, options=SyncOptions(retry_delays=(0.1,), timeout=20)).ok
    (orig,) = env.store.messages.list(env.admin, folder="INBOX")
    draft = dataclasses.replace(env.store.outbox.reply(env.admin, orig.message_id), body="Yes, we can.")
    item = env.store.outbox.queue(env.admin, draft)
    env.drain()
    (got,) = env.server.sink.wait_for(1)
    msg = parse(got.data)
    assert msg["In-Reply-To"] == "<orig-1@customer.example>"
    assert msg["References"] == "<root-1@acme.example> <orig-1@customer.example>"
    assert str(msg["Subject"]) == "Re: Offer"
    assert got.rcpt_tos == ("client@customer.example",)
    text = text_of(msg)
    assert text.index("Yes, we can.") < text.index("-- \nAnna\nAcme Sales") < text.index("> Can you do 10%?")
    thread = env.store.messages.thread(env.admin, orig.message_id)
    assert [t.header_message_id for t in thread] == ["orig-1@customer.example", item.message_id.strip("<>")]
    assert [t.folder for t in thread] == ["INBOX", "Sent"]
    # The next sync of the Sent folder finds the stored copy already known: no duplicate.
    assert env.store.sync.run(env.box, env.secrets, options=SyncOptions(retry_delays=(0.1,), timeout=20)).ok
    assert len(env.store.messages.thread(env.admin, orig.message_id)) == 2


def test_server_down_queues_then_delivers_exactly_once_even_across_a_restart(env: SendEnv) -> None:
    env.server.submission_server.stop()
    item = env.store.outbox.queue(env.admin, Draft(env.box.id, to=("bob@acme.example",), subject="Down"))
    t0 = datetime.now(UTC)
    report = env.drain(now=t0)
    (result,) = report.results
    assert result.state == "queued" and "refused" in result.detail
    queued = env.store.outbox.get(env.admin, item.id)
    assert queued.state == "queued" and queued.attempts == 1 and "refused" in queued.status
    assert queued.next_attempt_at == t0 + timedelta(seconds=BACKOFF[0])
    assert env.drain(now=t0 + timedelta(seconds=5)).results == []  # not due yet: no attempt
    # Quitting the app: the queued message is in the database, not in memory.
    env.store.close()
    from store.service import open_store

    env.store = open_store(env.tmp / "m.db")
    env.server.submission_server.start()
    later = t0 + timedelta(seconds=BACKOFF[0])
    assert [r.state for r in env.drain(now=later).results] == ["sent"]
    env.server.sink.wait_for(1)
    assert env.drain(now=later + timedelta(hours=1)).results == []
    time.sleep(0.5)
    assert len(env.server.sink.messages) == 1
    assert len(sent_folder(env.account)) == 1
    assert env.store.outbox.get(env.admin, item.id).attempts == 2


def test_rejected_recipient_fails_with_the_server_words_and_can_be_edited(env: SendEnv) -> None:
    env.server.sink.reject("rcpt", "550 5.1.1 No such user here", recipient="nobody@acme.example")
    draft = Draft(
        env.box.id,
        to=("bob@acme.example", "nobody@acme.example"),
        subject="Hi",
        attachments=(Attachment("a.bin", "application/octet-stream", b"\x00\x01"),),
    )
    item = env.store.outbox.queue(env.admin, draft)
    (result,) = env.drain().results
    failed = env.store.outbox.get(env.admin, item.id)
    assert failed.state == "failed" and failed.error_kind == "permanent"
    assert "nobody@acme.example" in failed.last_error and "No such user here" in failed.last_error
    assert "550" in failed.last_error and result.detail == failed.last_error
    time.sleep(0.3)
    assert env.server.sink.messages == []  # no one got it, so resending duplicates nothing
    edit = env.store.outbox.draft_of(env.admin, item.id)
    assert edit.to == draft.to and edit.attachments == draft.attachments
    again = env.store.outbox.queue(
        env.admin, dataclasses.replace(edit, to=("bob@acme.example",)), replaces=item.id
    )
    assert [i.id for i in env.store.outbox.list(env.admin)] == [again.id]
    assert [r.state for r in env.drain().results] == ["sent"]
    (got,) = env.server.sink.wait_for(1)
    assert got.rcpt_tos == ("bob@acme.example",)


def test_refused_data_fails_and_retry_sends_it(env: SendEnv) -> None:
    env.server.sink.reject("data", "554 5.7.1 Message looks like spam", times=1)
    item = env.store.outbox.queue(env.admin, Draft(env.box.id, to=("bob@acme.example",), subject="Offer"))
    env.drain()
    failed = env.store.outbox.get(env.admin, item.id)
    assert failed.state == "failed" and "554" in failed.last_error and "looks like spam" in failed.last_error
    assert env.drain().results == []  # failed items wait for the user
    env.store.outbox.retry(env.admin, item.id)
    assert [r.state for r in env.drain().results] == ["sent"]
    assert len(env.server.sink.wait_for(1)) == 1


def test_temporary_refusal_is_retried_after_the_backoff(env: SendEnv) -> None:
    env.server.sink.reject("rcpt", "451 4.7.1 Greylisted, come back later", times=1)
    item = env.store.outbox.queue(env.admin, Draft(env.box.id, to=("bob@acme.example",), subject="Grey"))
    t0 = datetime.now(UTC)
    env.drain(now=t0)
    queued = env.store.outbox.get(env.admin, item.id)
    assert queued.state == "queued" and "Greylisted" in queued.last_error and queued.error_kind == "temporary"
    env.drain(now=t0 + timedelta(seconds=BACKOFF[0]))
    assert env.store.outbox.get(env.admin, item.id).state == "sent"
    assert len(env.server.sink.wait_for(1)) == 1


def test_refused_login_fails_and_marks_the_mailbox(env: SendEnv) -> None:
    env.store.mailboxes.remove(env.admin, env.box.id, env.secrets)
    box = env.connect(env.account, password="wrong-password")
    item = env.store.outbox.queue(env.admin, Draft(box.id, to=("bob@acme.example",), subject="x"))
    (result,) = env.drain().results
    assert result.state == "failed" and "refused" in result.detail
    assert env.store.outbox.get(env.admin, item.id).error_kind == "auth"
    assert env.store.mailboxes.get(env.admin, box.id).status == "needs_attention"


def test_interrupted_sends_are_resent_only_when_nothing_was_handed_over(env: SendEnv) -> None:
    before = env.store.outbox.queue(
        env.admin, Draft(env.box.id, to=("bob@acme.example",), subject="before the end of data")
    )
    after = env.store.outbox.queue(
        env.admin, Draft(env.box.id, to=("bob@acme.example",), subject="after the end of data")
    )
    with env.store.engine.begin() as conn:  # as a process killed at those two moments leaves them
        conn.execute(update(outbox).where(outbox.c.id == before.id).values(state="sending", attempts=1))
        conn.execute(
            update(outbox)
            .where(outbox.c.id == after.id)
            .values(
                state="sending",
                attempts=1,
                data_started_at=datetime.now(UTC),
                data_ended_at=datetime.now(UTC),
            )
        )
    report = env.drain()
    assert {r.item_id: r.state for r in report.recovered} == {before.id: "queued", after.id: "check"}
    assert [(r.item_id, r.state) for r in report.results] == [(before.id, "sent")]
    unsure = env.store.outbox.get(env.admin, after.id)
    assert unsure.state == "check" and "may have been delivered" in unsure.last_error
    # Real processes killed at each step: tests/integration/test_send_crash.py.
    (got,) = env.server.sink.wait_for(1)
    assert parse(got.data)["Subject"] == "before the end of data"
    env.store.outbox.retry(env.admin, after.id)  # the user checked: it did not arrive
    assert [r.state for r in env.drain().results] == ["sent"]
    assert len(env.server.sink.wait_for(2)) == 2


@pytest.fixture
def silent_server():
    """A TCP port that accepts connections and never says a word (a hung SMTP server)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(sock.accept()[0])
            except OSError:
                continue

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield sock.getsockname()[1]
    stop.set()
    t.join(2)
    for s in held:
        s.close()
    sock.close()


def test_killed_while_sending_loses_nothing_and_sends_once(env: SendEnv, silent_server: int) -> None:
    item = env.store.outbox.queue(env.admin, Draft(env.box.id, to=("bob@acme.example",), subject="Killed"))
    provider_id = env.box.provider_id
    with env.store.engine.begin() as conn:
        conn.execute(update(providers).where(providers.c.id == provider_id).values(smtp_port=silent_server))
    code = (
        "import sys\nfrom store.service import open_store\nfrom store.secrets import open_secret_store\n"
        "from pathlib import Path\nt = Path(sys.argv[1])\ns = open_store(t / 'm.db')\n"
        "k = open_secret_store('file', data_dir=t / 'sd', config_dir=t / 'sc')\n"
        "s.outbox.drain(k, timeout=60)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code, str(env.tmp)], cwd=ROOT, start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while env.store.outbox.get(env.admin, item.id).state != "sending":
            assert time.monotonic() < deadline and child.poll() is None
            time.sleep(0.05)
        os.killpg(child.pid, signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
    assert env.store.outbox.get(env.admin, item.id).state == "sending"
    with env.store.engine.begin() as conn:
        conn.execute(
            update(providers).where(providers.c.id == provider_id).values(smtp_port=env.server.smtps_port)
        )
    report = env.drain()
    assert [r.state for r in report.recovered] == ["queued"]
    assert [r.state for r in report.results] == ["sent"]
    env.server.sink.wait_for(1)
    time.sleep(0.3)
    assert len(env.server.sink.messages) == 1


def test_sent_copy_is_retried_when_imap_is_down(env: SendEnv) -> None:
    item = env.store.outbox.queue(
        env.admin, Draft(env.box.id, to=("bob@acme.example",), subject="Copy later")
    )
    env.server.imap_server.stop()
    t0 = datetime.now(UTC)
    report = env.drain(now=t0)
    assert [r.state for r in report.results] == ["sent"] and not report.copies[0].copy_done
    pending = env.store.outbox.get(env.admin, item.id)
    assert pending.state == "sent" and not pending.copy_done and "copy to Sent pending" in pending.status
    env.server.imap_server.start()
    report = env.drain(now=t0 + timedelta(minutes=5))
    assert report.results == [] and [c.copy_done for c in report.copies] == [True]
    assert len(sent_folder(env.account)) == 1
    assert len(env.server.sink.messages) == 1


def test_a_retried_sent_copy_is_not_appended_twice(env: SendEnv) -> None:
    item = env.store.outbox.queue(env.admin, Draft(env.box.id, to=("bob@acme.example",), subject="Once"))
    env.drain()
    with env.store.engine.begin() as conn:  # as if the run died between APPEND and recording it
        conn.execute(update(outbox).where(outbox.c.id == item.id).values(copy_done=False))
    report = env.drain()
    assert [c.copy_done for c in report.copies] == [True]
    assert len(sent_folder(env.account)) == 1
    assert len(env.store.messages.list(env.admin, folder="Sent")) == 1


def test_sent_copy_stays_in_the_store_after_an_inbox_only_sync(env: SendEnv) -> None:
    assert env.box.folder_scope == "inbox"
    env.store.outbox.queue(env.admin, Draft(env.box.id, to=("bob@acme.example",), subject="Stays"))
    env.drain()
    assert env.store.sync.run(env.box, env.secrets, options=SyncOptions(retry_delays=(0.1,), timeout=20)).ok
    assert [r.subject for r in env.store.messages.list(env.admin, folder="Sent")] == ["Stays"]


@pytest.mark.parametrize("change", ["drop", "replace"])
def test_an_item_dropped_or_replaced_while_a_drain_reads_it_is_not_sent(
    env: SendEnv, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    import store.delivery

    draft = Draft(env.box.id, to=("bob@acme.example",), subject="first version")
    item = env.store.outbox.queue(env.admin, draft)
    newer = []

    def meanwhile(step: str) -> None:  # the user acts between the drain's read and its claim
        if step == "queued" and not newer:
            if change == "drop":
                newer.append(env.store.outbox.drop(env.admin, item.id))
            else:
                edited = dataclasses.replace(draft, subject="second version")
                newer.append(env.store.outbox.queue(env.admin, edited, replaces=item.id))

    monkeypatch.setattr(store.delivery, "crash_point", meanwhile)
    assert env.drain().results == []  # the claim was lost: nothing sent, nothing reported
    time.sleep(0.5)
    assert env.server.sink.messages == []
    env.drain()
    if change == "drop":
        assert env.store.outbox.list(env.admin) == []
        time.sleep(0.5)
        assert env.server.sink.messages == []
    else:
        (got,) = env.server.sink.wait_for(1)
        assert str(parse(got.data)["Subject"]) == "second version"
        assert [i.state for i in env.store.outbox.list(env.admin)] == ["sent"]
        time.sleep(0.5)
        assert len(env.server.sink.messages) == 1
