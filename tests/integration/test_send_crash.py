"""SIGKILL at every step of sending (issue #9): a real delivery process, killed by its own crash point, then
delivery restarted. Every message reaches the SMTP sink at most once, is never dropped silently, the Sent
folder ends with exactly one copy of what was delivered, and the store's Sent folder matches the server's.

The steps, in order (store/delivery_loop.py `CRASH_STEPS`, docs/sending.md):
queued → sending → data → ended → accepted → sent → appended → copied.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from store.compose import Draft
from store.delivery_loop import CRASH_STEPS
from store.outbox import OutboxItem
from store.sync.engine import SyncOptions
from tests.integration.send_support import SendEnv, delivery_process, open_env, parse, sent_folder

pytestmark = pytest.mark.integration


@pytest.fixture
def env(tmp_path, mail_server, mail_account):  # noqa: ANN001, ANN201
    with open_env(tmp_path, mail_server, mail_account) as e:
        yield e


def killed_at(env: SendEnv, step: str) -> OutboxItem:
    """Queue one message, run a delivery process that SIGKILLs itself at *step*, and return the item as
    the dead process left it."""
    assert step in CRASH_STEPS
    item = env.store.outbox.queue(
        env.admin, Draft(env.box.id, to=("bob@acme.example",), subject=f"Killed at {step}", body="x" * 5000)
    )
    assert delivery_process(env, kill_at=step) == -9, f"the process never reached {step}"
    return env.store.outbox.get(env.admin, item.id)


def delivered(env: SendEnv, item: OutboxItem) -> int:
    """How many copies of the item the SMTP sink received (the submission server relays before it answers
    250, so nothing is still on its way once a delivery has returned)."""
    return sum(1 for m in env.server.sink.messages if parse(m.data)["Message-ID"] == item.message_id)


def sent_ids(env: SendEnv) -> list[str]:
    """Message-IDs in the account's Sent folder on the server."""
    return [parse(raw)["Message-ID"] for _uid, raw, _flags in sent_folder(env.account)]


def assert_final(env: SendEnv, item: OutboxItem) -> None:
    """Delivered once, one Sent copy, the outbox says so, and the store holds what the server holds."""
    assert delivered(env, item) == 1
    assert sent_ids(env) == [item.message_id]
    done = env.store.outbox.get(env.admin, item.id)
    assert (done.state, done.copy_done, done.status) == ("sent", True, "sent")
    again = env.drain()  # a further run changes nothing
    assert (again.recovered, again.results, again.copies) == ([], [], [])
    assert delivered(env, item) == 1 and len(sent_folder(env.account)) == 1
    assert env.store.sync.run(env.box, env.secrets, options=SyncOptions(retry_delays=(0.1,), timeout=20)).ok
    stored = env.store.messages.list(env.admin, folder="Sent")
    assert [f"<{m.header_message_id}>" for m in stored] == sent_ids(env)


def test_killed_while_queued_sends_it_once_on_restart(env: SendEnv) -> None:
    item = killed_at(env, "queued")
    assert (item.state, item.attempts) == ("queued", 0)
    assert delivered(env, item) == 0
    report = env.drain()
    assert report.recovered == [] and [r.state for r in report.results] == ["sent"]
    assert_final(env, item)


def test_killed_after_login_before_mail_from_queues_it_again(env: SendEnv) -> None:
    item = killed_at(env, "sending")
    assert item.state == "sending" and delivered(env, item) == 0
    report = env.drain()
    assert [(r.item_id, r.state) for r in report.recovered] == [(item.id, "queued")]
    assert "it will be sent again" in report.recovered[0].detail
    assert [r.state for r in report.results] == ["sent"]
    assert env.store.outbox.get(env.admin, item.id).attempts == 2
    assert_final(env, item)


def test_killed_during_data_sends_it_again_once(env: SendEnv) -> None:
    """Half the message was on the wire, without the end-of-data line: the server keeps nothing, so the
    message is not uncertain and is simply sent again."""
    item = killed_at(env, "data")
    assert item.state == "sending" and delivered(env, item) == 0
    report = env.drain()
    assert [r.state for r in report.recovered] == ["queued"]
    assert [r.state for r in report.results] == ["sent"]
    assert_final(env, item)


def test_killed_just_before_the_end_of_data_line_asks_the_user(env: SendEnv) -> None:
    """`data_ended_at` is committed before the end-of-data line is written, so a kill between the two is
    taken as uncertain (here it was not delivered): at most once wins over sending it blindly."""
    item = killed_at(env, "ended")
    assert delivered(env, item) == 0
    report = env.drain()
    assert [r.state for r in report.recovered] == ["check"] and report.results == []
    unsure = env.store.outbox.get(env.admin, item.id)
    assert unsure.status.startswith("check: may have been sent: ") and "Ask a recipient" in unsure.status
    assert env.drain().results == [] and delivered(env, item) == 0 and sent_ids(env) == []
    env.store.outbox.retry(env.admin, item.id)  # the recipient says it never came
    assert [r.state for r in env.drain().results] == ["sent"]
    assert_final(env, item)


def test_killed_after_the_250_before_recording_it_is_never_resent_blindly(env: SendEnv) -> None:
    """The at-most-once case: the server accepted the message but the outbox never learnt it. The item
    becomes `check` ("may have been sent"), nothing is sent again until the user says so; when a recipient
    has it, "mark as sent" saves the Sent copy without sending."""
    item = killed_at(env, "accepted")
    assert item.state == "sending" and delivered(env, item) == 1
    report = env.drain()
    assert [(r.item_id, r.state) for r in report.recovered] == [(item.id, "check")]
    assert report.results == [] and report.copies == []
    unsure = env.store.outbox.get(env.admin, item.id)
    assert (unsure.state, unsure.error_kind) == ("check", "uncertain")
    assert "may have been delivered" in unsure.status
    assert env.drain().results == []  # waits for the user, however often delivery runs
    assert delivered(env, item) == 1 and sent_ids(env) == []
    marked = env.store.outbox.mark_sent(env.admin, item.id)
    assert (marked.state, marked.copy_done) == ("sent", False)
    report = env.drain()
    assert report.results == [] and [c.copy_done for c in report.copies] == [True]
    assert_final(env, item)


def test_killed_after_recording_the_250_saves_the_copy_on_restart(env: SendEnv) -> None:
    item = killed_at(env, "sent")
    assert (item.state, item.copy_done) == ("sent", False)
    assert delivered(env, item) == 1 and sent_ids(env) == []
    report = env.drain()
    assert report.recovered == [] and report.results == []
    assert [c.copy_done for c in report.copies] == [True]
    assert_final(env, item)


def test_killed_after_the_append_does_not_append_twice(env: SendEnv) -> None:
    item = killed_at(env, "appended")
    assert (item.state, item.copy_done) == ("sent", False)
    assert sent_ids(env) == [item.message_id]  # on the server, not yet recorded
    report = env.drain()
    assert [c.copy_done for c in report.copies] == [True]
    assert_final(env, item)


def test_killed_after_the_copy_was_recorded_changes_nothing(env: SendEnv) -> None:
    item = killed_at(env, "copied")
    assert (item.state, item.copy_done) == ("sent", True)
    assert_final(env, item)


def test_every_crash_step_is_in_the_code_and_has_its_test() -> None:
    root = Path(__file__).resolve().parents[2]
    in_code = {
        step
        for path in (root / "store").rglob("*.py")
        for step in re.findall(r'crash_point\("(\w+)"\)', path.read_text(encoding="utf-8"))
    }
    tested = re.findall(r'item = killed_at\(env, "(\w+)"\)', Path(__file__).read_text(encoding="utf-8"))
    assert sorted(in_code) == sorted(CRASH_STEPS) == sorted(tested)
