"""`mailroom contact|company|timeline` as a script would drive them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from store.service import open_store
from tests.unit.crm_mail import connect_mailbox, deliver, message
from tui.cli import main

SIGNED = "Hi,\n\nsee you.\n\nBest regards,\nAnn Lee\nHead of Sales\nAcme Ltd\nT: +44 20 7946 0958\n"


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A database file acted on as alice (the administrator), with private XDG folders."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("MAILROOM_USER", "alice")
    for var in ("MAILROOM_DB", "MAILROOM_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path / "crm.db"


def run(capsys, db: Path, *argv: str) -> tuple[int, str, str]:
    code = main(["--db", str(db), *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _mail(db: Path) -> dict[str, int]:
    """Alice's mailbox with mail from Ann (signed), to Ann, and from someone unknown."""
    store = open_store(db, clock=lambda: datetime(2026, 11, 27, tzinfo=UTC))
    try:
        box = connect_mailbox(store, "alice", "alice@ourco.example")
        return {
            "from_ann": deliver(
                store,
                box,
                message(
                    "Ann Lee <ann@acme.com>",
                    "alice@ourco.example",
                    "Offer",
                    datetime(2026, 11, 20, tzinfo=UTC),
                    body=SIGNED,
                    message_id="offer@acme.com",
                ),
            ),
            "to_ann": deliver(
                store,
                box,
                message(
                    "alice@ourco.example",
                    "ann@acme.com",
                    "Re: Offer",
                    datetime(2026, 11, 21, tzinfo=UTC),
                    in_reply_to="offer@acme.com",
                    references="offer@acme.com",
                ),
                folder="Sent",
            ),
            "raj": deliver(store, box, message("Raj Patel <raj@partner.example>", "alice@ourco.example")),
        }
    finally:
        store.close()


def test_company_and_contact_add_list_show(capsys, db: Path) -> None:
    code, out, _ = run(capsys, db, "company", "add", "--name", "Acme Ltd", "--domain", "acme.com", "--json")
    assert code == 0 and json.loads(out)["domains"] == ["acme.com"]
    code, out, _ = run(
        capsys,
        db,
        "contact",
        "add",
        "--name",
        "Ann Lee",
        "--email",
        "ann@acme.com",
        "--email",
        "ann@home.example",
        "--phone",
        "+44 7700 900123",
    )
    assert code == 0 and out.strip() == "Added contact 1: Ann Lee (Acme Ltd)"
    code, out, err = run(
        capsys, db, "contact", "add", "--name", "Bo", "--email", "bo@x.org", "--company", "Initech"
    )
    assert code == 0 and "New company: Initech" in err
    code, out, _ = run(capsys, db, "contact", "list")
    assert out.splitlines()[0].split() == ["ID", "NAME", "EMAIL", "COMPANY", "TITLE"]
    assert "ann@acme.com" in out and "Initech" in out
    code, out, _ = run(capsys, db, "contact", "show", "ann@acme.com", "--json")
    shown = json.loads(out)
    assert shown["emails"] == ["ann@acme.com", "ann@home.example"] and shown["company"] == "Acme Ltd"
    code, out, _ = run(capsys, db, "company", "show", "acme.com")
    assert "Contact:  Ann Lee <ann@acme.com>" in out
    code, out, _ = run(capsys, db, "company", "list", "--json")
    assert [c["name"] for c in json.loads(out)] == ["Acme Ltd", "Initech"]


def test_errors_are_one_line(capsys, db: Path) -> None:
    code, _, err = run(capsys, db, "company", "add", "--name", "Mail", "--domain", "gmail.com")
    assert code == 1 and "free-mail" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, db, "contact", "add", "--email", "a@b.example")
    assert code == 2 and "needs --name" in err
    code, _, err = run(capsys, db, "contact", "show", "nobody@x.example")
    assert code == 1 and "No contact" in err
    code, _, err = run(capsys, db, "timeline", "12")
    assert code == 1 and "contact:12" in err


def test_timeline_review_and_unmatched(capsys, db: Path) -> None:
    run(capsys, db, "company", "add", "--name", "Acme", "--domain", "acme.com")
    ids = _mail(db)
    code, out, _ = run(capsys, db, "contact", "add", "--from-message", str(ids["from_ann"]), "--json")
    assert code == 0 and json.loads(out)["name"] == "Ann Lee"
    code, out, _ = run(capsys, db, "timeline", "ann@acme.com", "--json", "--weeks", "2")
    view = json.loads(out)
    assert view["kind"] == "contact" and view["messages"] == 2
    assert [(i["message_id"], i["direction"]) for i in view["threads"][0]["items"]] == [
        (ids["to_ann"], "out"),
        (ids["from_ann"], "in"),
    ]
    assert len(view["weekly"]) == 2 and set(view["weekly"][0]) == {"week", "in", "out"}
    code, out, _ = run(capsys, db, "timeline", "Acme")
    assert code == 0 and out.startswith("Timeline of Acme (company): 2 messages\n")
    code, out, _ = run(capsys, db, "timeline", "Acme", "--limit", "1")
    assert out.startswith("Timeline of Acme (company): 2 messages, newest 1 shown")
    assert "→ out alice@ourco.example" in out and "Mail per week" in out
    code, out, _ = run(capsys, db, "timeline", "Acme", "--limit", "1", "--json")  # a page, and where next
    page = json.loads(out)
    assert sum(len(t["items"]) for t in page["threads"]) == 1 and page["next_before"] is not None
    code, out, _ = run(capsys, db, "timeline", "Acme", "--json")  # every message by default
    everything = json.loads(out)
    assert sum(len(t["items"]) for t in everything["threads"]) == 2 and everything["next_before"] is None
    code, _, err = run(capsys, db, "timeline", "Acme", "--limit", "-1")
    assert code == 2 and "--limit" in err
    code, out, _ = run(capsys, db, "contact", "review", "ann@acme.com", "--json")
    proposals = {p["field"]: p for p in json.loads(out)}
    assert set(proposals) == {"phone", "job_title"}  # "Acme Ltd" is the company Ann already has
    run(
        capsys,
        db,
        "contact",
        "review",
        "--accept",
        str(proposals["job_title"]["id"]),
        "--reject",
        str(proposals["phone"]["id"]),
    )
    code, out, _ = run(capsys, db, "contact", "show", "Ann Lee", "--json")
    assert json.loads(out)["job_title"] == "Head of Sales" and json.loads(out)["phones"] == []
    code, out, _ = run(capsys, db, "contact", "unmatched", "--json")
    assert [u["address"] for u in json.loads(out)] == ["raj@partner.example"]
    code, out, _ = run(capsys, db, "contact", "unmatched", "--add", "raj@partner.example")
    assert out.strip() == "Added contact 2: Raj Patel <raj@partner.example>"
    code, out, _ = run(capsys, db, "contact", "unmatched")
    assert out.strip() == "No unmatched addresses."


def test_edit_and_remove(capsys, db: Path) -> None:
    run(capsys, db, "contact", "add", "--name", "Ann", "--email", "ann@acme.com")
    code, out, _ = run(
        capsys,
        db,
        "contact",
        "edit",
        "ann@acme.com",
        "--title",
        "CTO",
        "--add-email",
        "ann@home.example",
        "--add-phone",
        "+49 30 1234567",
    )
    assert code == 0 and "Job title: CTO" in out and "ann@home.example" in out and "+49 30 1234567" in out
    run(capsys, db, "company", "add", "--name", "Acme")
    code, out, _ = run(capsys, db, "company", "edit", "Acme", "--add-domain", "acme.com")
    assert out.strip() == "Company 1: Acme (acme.com)"
    code, out, _ = run(capsys, db, "contact", "remove", "Ann")
    assert code == 0 and out.strip() == "Removed contact 1: Ann"
    code, out, _ = run(capsys, db, "company", "remove", "acme.com")
    assert code == 0 and run(capsys, db, "company", "list")[1].strip() == "No companies."
