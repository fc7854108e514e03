"""`mailroom share` and `mailroom audit`, and what `--user` then sees in the panel and in timelines."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from store.crm.drafts import ContactDraft
from store.service import open_store
from tests.unit.crm_mail import connect_mailbox, deliver, message
from tui.cli import main

SHARED = "team@ourco.example"


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> str:
    """alice (admin); olga owns team@ourco.example with one message from Ann; rita, sam, zed are users.

    olga holds both sharing operations; role Staff (rita, sam, zed) holds the access operation.
    """
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    for var in ("MAILROOM_DB", "MAILROOM_CONFIG", "MAILROOM_USER"):
        monkeypatch.delenv(var, raising=False)
    path = str(tmp_path / "m.db")
    for argv in (
        ["user", "add", "olga"],
        ["user", "add", "rita"],
        ["user", "add", "sam"],
        ["user", "add", "zed"],
        ["role", "add", "Staff"],
        ["role", "member", "add", "Staff", "rita"],
        ["role", "member", "add", "Staff", "sam"],
        ["role", "member", "add", "Staff", "zed"],
        ["grant", "CanAccessSharedMailbox", "Staff"],
        ["grant", "CanAccessSharedMailbox", "olga"],
        ["grant", "CanConfigureSharedMailboxSync", "olga"],
    ):
        assert main(["--db", path, "--user", "alice", *argv]) == 0, argv
    store = open_store(Path(path))
    try:
        box = connect_mailbox(store, "olga", SHARED)
        when = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
        deliver(store, box, message("ann@acme.com", SHARED, "Quote request", when))
        store.crm.contacts.add(
            store.identity.actor("alice"), ContactDraft.parse(name="Ann", emails=("ann@acme.com",))
        )
    finally:
        store.close()
    capsys.readouterr()
    return path


def run(capsys, db: str, user: str, *argv: str) -> tuple[int, str, str]:
    code = main(["--db", db, "--user", user, *argv])
    out, err = capsys.readouterr()
    return code, out, err


def subjects_in_panel(capsys, db: str, user: str) -> list[str]:
    code, out, err = run(capsys, db, user, "message", "list", "--json")
    assert code == 0, err
    return [r["subject"] for r in json.loads(out)]


def subjects_in_timeline(capsys, db: str, user: str) -> list[str]:
    code, out, err = run(capsys, db, user, "timeline", "ann@acme.com", "--json")
    assert code == 0, err
    return [i["subject"] for t in json.loads(out)["threads"] for i in t["items"]]


def test_who_lacks_the_operations_is_refused_naming_them(capsys, db) -> None:
    code, out, err = run(capsys, db, "rita", "share", SHARED, "zed", "--read")
    assert code == 1 and out == ""
    assert "Configure synchronization with shared mailboxes" in err
    assert "mailroom grant CanConfigureSharedMailboxSync rita" in err
    code, _, err = run(capsys, db, "zed", "share", "list", SHARED)
    assert code == 1 and "lacks the system operation" in err


def test_share_list_change_and_remove(capsys, db) -> None:
    code, out, err = run(capsys, db, "olga", "share", "list", SHARED)
    assert code == 0, err
    assert "Access for other users is off" in out and "Not shared with any user or role." in out
    code, out, err = run(capsys, db, "olga", "share", SHARED, "Staff", "--read")
    assert code == 0, err
    assert "Staff (role) may now read on team@ourco.example." in out
    assert "mailroom share on team@ourco.example" in out  # the option is still off, and it says so
    assert run(capsys, db, "olga", "share", "on", SHARED)[0] == 0
    code, out, err = run(capsys, db, "olga", "share", SHARED, "sam", "--send")
    assert code == 0 and "sam (user) may now read, send on" in out and "Note" not in out
    code, out, _ = run(capsys, db, "olga", "share", "list", SHARED, "--json")
    listed = json.loads(out)
    assert listed["enabled"] is True and listed["owner"] == "olga"
    assert listed["rows"] == [
        {"principal": "sam", "kind": "user", "read": True, "send": True, "configure": False},
        {"principal": "Staff", "kind": "role", "read": True, "send": False, "configure": False},
    ]
    code, out, _ = run(capsys, db, "olga", "share", SHARED, "sam", "--none")
    assert code == 0 and "sam no longer holds any right" in out
    code, out, _ = run(capsys, db, "olga", "share", "list", SHARED, "--json")
    assert [r["principal"] for r in json.loads(out)["rows"]] == ["Staff"]


def test_usage_errors(capsys, db) -> None:
    assert run(capsys, db, "olga", "share", SHARED, "sam")[0] == 2
    assert run(capsys, db, "olga", "share", SHARED, "sam", "--read", "--none")[0] == 2
    assert run(capsys, db, "olga", "share", "list")[0] == 2
    code, _, err = run(capsys, db, "olga", "share", SHARED, "ghost", "--read")
    assert code == 1 and "no user or role named 'ghost'" in err
    code, _, err = run(capsys, db, "olga", "share", SHARED, "olga", "--read")
    assert code == 1 and "holds every right already" in err


def test_a_hidden_mailbox_answers_like_a_missing_one(capsys, db) -> None:
    assert run(capsys, db, "alice", "grant", "CanConfigureSharedMailboxSync", "zed")[0] == 0
    _, _, hidden = run(capsys, db, "zed", "share", "list", SHARED)
    _, _, missing = run(capsys, db, "zed", "share", "list", "nobody@ourco.example")
    assert hidden.replace(SHARED, "X") == missing.replace("nobody@ourco.example", "X")
    assert "No mailbox 'X'." in hidden.replace(SHARED, "X")
    _, _, hidden = run(capsys, db, "zed", "message", "list", "--mailbox", SHARED)
    _, _, missing = run(capsys, db, "zed", "message", "list", "--mailbox", "nobody@ourco.example")
    assert hidden.replace(SHARED, "X") == missing.replace("nobody@ourco.example", "X")


def test_send_right_shows_the_mail_in_panel_and_timeline(capsys, db) -> None:
    run(capsys, db, "olga", "share", "on", SHARED)
    assert subjects_in_panel(capsys, db, "sam") == [] and subjects_in_timeline(capsys, db, "sam") == []
    run(capsys, db, "olga", "share", SHARED, "sam", "--send")
    assert subjects_in_panel(capsys, db, "sam") == ["Quote request"]
    assert subjects_in_timeline(capsys, db, "sam") == ["Quote request"]
    run(capsys, db, "alice", "role", "member", "remove", "Staff", "sam")  # sam loses the access operation
    assert subjects_in_panel(capsys, db, "sam") == [] and subjects_in_timeline(capsys, db, "sam") == []


def test_read_right_shows_the_mail_in_timelines(capsys, db) -> None:
    run(capsys, db, "olga", "share", "on", SHARED)
    run(capsys, db, "olga", "share", SHARED, "Staff", "--read")
    assert subjects_in_timeline(capsys, db, "rita") == ["Quote request"]
    assert subjects_in_timeline(capsys, db, "olga") == ["Quote request"]
    run(capsys, db, "olga", "share", "off", SHARED)
    assert subjects_in_timeline(capsys, db, "rita") == []


def test_read_right_keeps_the_mail_out_of_the_panel(capsys, db) -> None:
    run(capsys, db, "olga", "share", "on", SHARED)
    run(capsys, db, "olga", "share", SHARED, "Staff", "--read")
    assert subjects_in_panel(capsys, db, "olga") == ["Quote request"]
    assert subjects_in_panel(capsys, db, "rita") == []


def test_audit_list(capsys, db) -> None:
    run(capsys, db, "olga", "share", "on", SHARED)
    run(capsys, db, "olga", "share", SHARED, "sam", "--send")
    code, out, err = run(capsys, db, "olga", "audit", "list", "--mailbox", SHARED, "--json")
    assert code == 0, err
    lines = json.loads(out)
    assert [(r["user"], r["action"]) for r in lines] == [("olga", "share.add"), ("olga", "sharing.on")]
    assert lines[0]["detail"]["after"] == {"read": True, "send": True, "configure": False}
    code, out, _ = run(capsys, db, "alice", "audit", "list")
    assert code == 0 and "share.add" in out and "sharing.on" in out
    code, out, _ = run(capsys, db, "sam", "audit", "list")
    assert code == 0 and out.strip() == "No audit entries you may see."
    code, _, err = run(capsys, db, "sam", "audit", "list", "--mailbox", SHARED)
    assert code == 1 and f"No mailbox '{SHARED}'." in err
