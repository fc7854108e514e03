"""`mailroom message list|show`: mail text is untrusted, so it never drives the user's terminal."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from store.service import open_store
from tests.unit.crm_mail import connect_mailbox, deliver, message
from tui.cli import main

BOX = "alice@ourco.example"
# OSC 52 (set the clipboard), OSC 0 (the window title), clear the screen, a C1 CSI, DEL and a backspace
BODY = "Hello\n\x1b]52;c;ZXZpbA==\x07\x1b]0;pwned\x07\x1b[2J\tTabbed\nend\x9b2J\x7f\x08.\n"
SUBJECT = "Invoice \x9b31mdue"  # header cleaning drops C0 controls, not C1 ones
FOLDER = "In\x1b[31mbox"  # a folder name is the server's
# What a terminal must not see: every C0 control but newline and tab, DEL and the C1 controls.
CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> tuple[str, int]:
    """alice with one mailbox holding a hostile message; returns the database and the message's id."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    for var in ("MAILROOM_DB", "MAILROOM_CONFIG", "MAILROOM_USER"):
        monkeypatch.delenv(var, raising=False)
    path = str(tmp_path / "m.db")
    assert main(["--db", path, "--user", "alice", "user", "list"]) == 0
    store = open_store(Path(path))
    try:
        box = connect_mailbox(store, "alice", BOX)
        raw = message("Ann \x9b1m <ann@acme.com>", BOX, SUBJECT, body=BODY)
        message_id = deliver(store, box, raw, folder=FOLDER)
    finally:
        store.close()
    capsys.readouterr()
    return path, message_id


def run(capsys, db: str, *argv: str) -> tuple[int, str, str]:
    code = main(["--db", db, "--user", "alice", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_message_show_neutralises_control_characters(capsys, db) -> None:
    path, message_id = db
    code, out, err = run(capsys, path, "message", "show", str(message_id))
    assert code == 0, err
    assert not CONTROLS.search(out), repr(out)
    # the text is otherwise as it was: lines, tabs, and each control shown as a visible symbol
    assert "Hello\n␛]52;c;ZXZpbA==␇␛]0;pwned␇␛[2J\tTabbed\nend\ufffd2J␡␈.\n" in out
    assert "Subject:    Invoice \ufffd31mdue" in out and "In␛[31mbox" in out


def test_message_list_neutralises_control_characters(capsys, db) -> None:
    path, _ = db
    code, out, err = run(capsys, path, "message", "list")
    assert code == 0, err
    assert not CONTROLS.search(out), repr(out)
    assert "In␛[31mbox" in out and "Invoice \ufffd31mdue" in out


@pytest.mark.parametrize("argv", [("message", "show", "{id}", "--json"), ("message", "list", "--json")])
def test_json_escapes_every_control_character_and_keeps_the_text(capsys, db, argv) -> None:
    path, message_id = db
    code, out, err = run(capsys, path, *(a.format(id=message_id) for a in argv))
    assert code == 0, err
    assert not CONTROLS.search(out), repr(out)  # json.dumps escapes C0 but leaves DEL and C1 as they are
    data = json.loads(out)
    if argv[1] == "show":
        assert data["body_text"] == BODY and data["subject"] == SUBJECT
        assert data["locations"][0]["folder"] == FOLDER
    else:
        assert data[0]["subject"] == SUBJECT and data[0]["folder"] == FOLDER
