"""`mailroom send`, `mailroom outbox …` and the outbox in `mailroom sync`, against the harness servers."""

from __future__ import annotations

import io
import json
import secrets as pysecrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dns_stub import mx_server
from tests.harness.fixtures import ServerInfo
from tests.integration.send_support import parse
from tui.cli import main

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Private XDG folders, the encrypted-file keyring, user alice, and a DNS that knows no domain."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("MAILROOM_USER", "alice")
    monkeypatch.setenv("MAILROOM_DB", str(tmp_path / "m.db"))
    monkeypatch.setenv("MAILROOM_SECRETS__BACKEND", "file")
    monkeypatch.delenv("MAILROOM_CONFIG", raising=False)
    with mx_server({}) as (dns, _zone):
        monkeypatch.setenv("MAILROOM_DNS_SERVER", dns)
        yield tmp_path


def run(capsys, monkeypatch, *argv: str, stdin: str = "") -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(stdin.encode("utf-8")), encoding="utf-8"))
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def sender(capsys, monkeypatch, mail_server: ServerInfo) -> Iterator[str]:
    """A harness user at acme.example connected as alice's mailbox through the CLI."""
    mail_server.ensure_running()
    mail_server.sink.clear()
    email = f"cli-{pysecrets.token_hex(4)}@acme.example"
    password = pysecrets.token_urlsafe(12)
    mail_server.add_user(email, password)
    s = mail_server
    steps = [
        (
            (
                "provider",
                "add",
                "Acme Mail",
                "--imap",
                f"{s.host}:{s.imaps_port}",
                "--smtp",
                f"{s.host}:{s.smtps_port}",
                "--ca-file",
                str(s.ca_file),
            ),
            "",
        ),
        (("domain", "add", "acme.example", "--provider", "Acme Mail"), ""),
        (("mailbox", "add", email, "--password-stdin"), password + "\n"),
    ]
    for argv, stdin in steps:
        code, _, err = run(capsys, monkeypatch, *argv, stdin=stdin)
        assert code == 0, err
    yield email
    mail_server.sink.clear_rejections()
    mail_server.ensure_running()
    (mail_server.imap_server.users_dir / email).unlink(missing_ok=True)
    shutil.rmtree(mail_server.imap_server.home(email), ignore_errors=True)


def outbox_rows(capsys, monkeypatch) -> list[dict]:
    code, out, _ = run(capsys, monkeypatch, "outbox", "list", "--json")
    assert code == 0
    return json.loads(out)


def test_send_body_from_stdin_with_an_attachment(capsys, monkeypatch, mail_server, sender, tmp_path) -> None:
    report = tmp_path / "Übersicht März.csv"
    report.write_bytes("Kunde;Betrag\r\nMüller;42\r\n".encode())
    code, out, err = run(
        capsys,
        monkeypatch,
        "send",
        "--from",
        sender,
        "--to",
        "Jörg <jorg@acme.example>, bob@acme.example",
        "--bcc",
        "boss@acme.example",
        "--subject",
        "Grüße aus München",
        "--attach",
        str(report),
        stdin="Hallo Jörg,\n\nanbei die Übersicht.\n",
    )
    assert code == 0, err
    assert out.startswith("Sent <") and f"from {sender} to 3 recipients" in out
    (got,) = mail_server.sink.wait_for(1)
    assert sorted(got.rcpt_tos) == ["bob@acme.example", "boss@acme.example", "jorg@acme.example"]
    msg = parse(got.data)
    assert str(msg["Subject"]) == "Grüße aus München"
    assert (
        msg.get_body(("plain",)).get_content().replace("\r\n", "\n")
        == "Hallo Jörg,\n\nanbei die Übersicht.\n"
    )
    (part,) = list(msg.iter_attachments())
    assert part.get_filename() == "Übersicht März.csv"
    assert part.get_payload(decode=True) == report.read_bytes()
    (row,) = outbox_rows(capsys, monkeypatch)
    assert (row["state"], row["copy_done"], row["subject"]) == ("sent", True, "Grüße aus München")
    assert row["message_id"] == msg["Message-ID"]
    code, out, _ = run(capsys, monkeypatch, "outbox", "list")
    assert "Grüße aus München" in out and "sent" in out


def test_refusal_is_shown_with_the_server_words_then_retry_and_drop(
    capsys, monkeypatch, mail_server, sender
) -> None:
    mail_server.sink.reject("rcpt", "550 5.1.1 Mailbox unavailable", recipient="gone@acme.example", times=1)
    code, _, err = run(
        capsys,
        monkeypatch,
        "send",
        "--from",
        sender,
        "--to",
        "gone@acme.example",
        "--subject",
        "Hi",
        stdin="x",
    )
    assert code == 1
    assert "Not sent (outbox item 1)" in err and "550" in err and "Mailbox unavailable" in err
    (row,) = outbox_rows(capsys, monkeypatch)
    assert row["state"] == "failed" and "Mailbox unavailable" in row["reason"]
    code, out, err = run(capsys, monkeypatch, "outbox", "retry", "1")
    assert code == 0 and out.startswith("Sent <"), err
    code, out, _ = run(capsys, monkeypatch, "outbox", "drop", "1")
    assert code == 0 and "Dropped outbox item 1 (Hi). It had already been sent." in out
    assert outbox_rows(capsys, monkeypatch) == []
    assert len(mail_server.sink.messages) == 1


def test_server_down_queues_and_retry_delivers(capsys, monkeypatch, mail_server, sender) -> None:
    mail_server.submission_server.stop()
    code, out, err = run(
        capsys, monkeypatch, "send", "--to", "bob@acme.example", "--subject", "Later", stdin="x"
    )
    assert code == 0, err
    assert out.startswith("Queued as outbox item 1:") and "refused" in out
    mail_server.submission_server.start()
    code, out, err = run(capsys, monkeypatch, "outbox", "retry", "1")
    assert code == 0 and out.startswith("Sent <"), err
    assert len(mail_server.sink.wait_for(1)) == 1


def test_sync_once_drains_the_outbox(capsys, monkeypatch, mail_server, sender) -> None:
    code, out, _ = run(
        capsys,
        monkeypatch,
        "send",
        "--to",
        "bob@acme.example",
        "--subject",
        "Via sync",
        "--queue-only",
        stdin="x",
    )
    assert code == 0 and out.startswith("Queued as outbox item 1")
    assert mail_server.sink.messages == []
    code, out, err = run(capsys, monkeypatch, "sync", "--once")
    assert code == 0, err
    assert "mailroom: outbox: 1 sent" in err
    assert len(mail_server.sink.wait_for(1)) == 1
    assert outbox_rows(capsys, monkeypatch)[0]["state"] == "sent"


def test_injection_and_foreign_senders_are_refused(capsys, monkeypatch, mail_server, sender) -> None:
    code, _, err = run(
        capsys,
        monkeypatch,
        "send",
        "--to",
        "bob@acme.example",
        "--subject",
        "Hi\r\nBcc: victim@evil.example",
        stdin="x",
    )
    assert code == 1 and "subject: must be one line" in err
    code, _, err = run(
        capsys,
        monkeypatch,
        "send",
        "--to",
        "bob@acme.example\nBcc: victim@evil.example",
        "--subject",
        "Hi",
        stdin="x",
    )
    assert code == 1 and "to: must be one line" in err
    code, _, err = run(
        capsys,
        monkeypatch,
        "send",
        "--from",
        "someone@acme.example",
        "--to",
        "bob@acme.example",
        "--subject",
        "Hi",
        stdin="x",
    )
    assert code == 1 and "No mailbox 'someone@acme.example'" in err
    assert outbox_rows(capsys, monkeypatch) == []
    assert mail_server.sink.messages == []


def test_sync_killed_after_the_250_then_the_user_marks_it_sent(
    capsys, monkeypatch, mail_server, sender
) -> None:
    """`mailroom sync --once` SIGKILLed right after the server accepted the message (the test-only crash point
    of store/delivery_loop.py): the next sync sends nothing and says so; `outbox sent` saves the Sent copy."""
    import os
    import subprocess
    import sys

    code, out, _ = run(
        capsys,
        monkeypatch,
        "send",
        "--to",
        "bob@acme.example",
        "--subject",
        "Maybe",
        "--queue-only",
        stdin="x",
    )
    assert code == 0 and out.startswith("Queued as outbox item 1")
    sync = [sys.executable, "-m", "tui.cli", "sync", "--once"]
    root = Path(__file__).resolve().parents[2]
    killed = subprocess.run(
        sync,
        env={**os.environ, "MAILROOM_TEST_KILL_AT": "accepted"},
        cwd=root,
        capture_output=True,
        timeout=120,
    )
    assert killed.returncode == -9 and len(mail_server.sink.messages) == 1
    again = subprocess.run(sync, cwd=root, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert "mailroom: outbox: 1 check (may have been sent; see mailroom outbox list)" in again.stderr
    code, out, _ = run(capsys, monkeypatch, "outbox", "list")
    assert "check: may have been sent" in out
    code, out, err = run(capsys, monkeypatch, "outbox", "sent", "1")
    assert code == 0 and out.startswith("Sent <") and "pending" not in out, err
    (row,) = outbox_rows(capsys, monkeypatch)
    assert (row["state"], row["copy_done"]) == ("sent", True)
    assert len(mail_server.sink.messages) == 1  # marked, not sent again
    code, _, err = run(capsys, monkeypatch, "outbox", "sent", "1")
    assert code == 1 and "only one to check can be marked sent" in err
