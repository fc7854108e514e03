"""Composing mail without a server: MIME and headers, header injection, signatures and reply rules."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser
from types import SimpleNamespace

import pytest

from store import compose
from store.compose import Attachment, Draft, build_message, full_text
from store.drafts import reply_draft, reply_subject
from store.errors import Invalid

NOW = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)


def mailbox(**values):
    base = dict(
        id=1,
        email="anna@acme.example",
        alias="",
        use_signature=False,
        signature="",
        owner_id=1,
        is_default_sender=True,
        send_enabled=True,
    )
    return SimpleNamespace(**{**base, **values})


def parse(raw: bytes):
    return BytesParser(policy=policy.default).parsebytes(raw)


def text_of(raw: bytes) -> str:
    """The plain-text body with its canonical CRLF line ends read back as newlines."""
    return parse(raw).get_body(("plain",)).get_content().replace("\r\n", "\n")


def header_names(raw: bytes) -> list[str]:
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    return [line.split(":", 1)[0].lower() for line in head.split("\r\n") if line and line[0] not in " \t"]


def test_non_ascii_message_is_correct_mime() -> None:
    box = mailbox(alias="Анна Петрова «Продажи»")
    att = Attachment("отчёт за «Q3» — итог.pdf", "application/pdf", bytes(range(256)) * 10)
    draft = Draft(
        1,
        to=("Jörg Müller <jorg@bücher.example>", "plain@acme.example"),
        cc=("Zoë <zoe@acme.example>",),
        subject="Счёт №42 — оплата ✓",
        body="Здравствуйте!\nСчёт во вложении.\n",
        attachments=(att,),
    )
    built = build_message(draft, box, NOW, "<abc.123@acme.example>")
    raw = built.raw
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert head.isascii()  # RFC 2047 in headers, RFC 2231 in parameters: nothing 8-bit on the wire
    assert b"=?utf-8?" in head
    assert re.search(rb"filename\*(0\*)?=utf-8''", raw)
    msg = parse(raw)
    assert str(msg["Subject"]) == "Счёт №42 — оплата ✓"
    assert msg["From"].addresses[0].display_name == "Анна Петрова «Продажи»"
    assert msg["From"].addresses[0].addr_spec == "anna@acme.example"
    assert [a.addr_spec for a in msg["To"].addresses] == ["jorg@xn--bcher-kva.example", "plain@acme.example"]
    assert msg["To"].addresses[0].display_name == "Jörg Müller"
    assert msg["Cc"].addresses[0].display_name == "Zoë"
    assert msg["Message-ID"] == "<abc.123@acme.example>"
    assert msg["Date"].datetime == NOW
    assert msg["MIME-Version"] == "1.0"
    body = msg.get_body(("plain",))
    assert body.get_content_charset() == "utf-8"
    assert text_of(raw) == "Здравствуйте!\nСчёт во вложении.\n"
    (part,) = list(msg.iter_attachments())
    assert part.get_filename() == "отчёт за «Q3» — итог.pdf"
    assert part.get_content_type() == "application/pdf"
    assert part.get_payload(decode=True) == att.data
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    assert b"\n" not in raw.replace(b"\r\n", b"")


def test_envelope_has_bcc_but_the_message_does_not() -> None:
    draft = Draft(
        1, to=("a@acme.example",), bcc=("Secret Sam <sam@acme.example>", "A@acme.example"), subject="x"
    )
    built = build_message(draft, mailbox(), NOW, "<m@acme.example>")
    assert built.envelope.mail_from == "anna@acme.example"
    assert built.envelope.recipients == ("a@acme.example", "sam@acme.example")  # duplicates once
    assert b"sam@acme.example" not in built.raw and "bcc" not in header_names(built.raw)
    assert built.bcc_header == b"Bcc: Secret Sam <sam@acme.example>, A@acme.example\r\n"


def test_only_bcc_gives_undisclosed_recipients() -> None:
    built = build_message(
        Draft(1, bcc=("sam@acme.example",), subject="x"), mailbox(), NOW, "<m@acme.example>"
    )
    assert parse(built.raw)["To"] == "undisclosed-recipients:;"


def test_message_id_is_in_the_senders_domain() -> None:
    mid = compose.new_message_id(mailbox(email="anna@bücher.example"))
    assert mid.startswith("<") and mid.endswith("@xn--bcher-kva.example>")
    assert mid != compose.new_message_id(mailbox(email="anna@bücher.example"))


def test_recipient_lists_and_validation() -> None:
    got = compose.parse_addresses(
        ['"Doe, Ann" <ann@acme.example>; bob@acme.example, ', "Čeněk <c@acme.example>"], "to"
    )
    assert [(a.display_name, a.addr_spec) for a in got] == [
        ("Doe, Ann", "ann@acme.example"),
        ("", "bob@acme.example"),
        ("Čeněk", "c@acme.example"),
    ]
    with pytest.raises(Invalid) as err:
        compose.check(Draft(1, to=("not an address",), cc=("x@",)))
    assert set(err.value.errors) == {"to", "cc"}
    with pytest.raises(Invalid, match="at least one recipient"):
        compose.check(Draft(1, subject="hi"))
    with pytest.raises(Invalid, match="to"):
        compose.check(Draft(1, to=("ü@acme.example",)))  # would need SMTPUTF8


@pytest.mark.parametrize(
    "field,value",
    [
        ("subject", "Hello\r\nBcc: victim@evil.example"),
        ("subject", "Hello\nX-Injected: 1"),
        ("subject", "Hello\u2028X-Injected: 1"),
        ("to", "a@acme.example\r\nBcc: victim@evil.example"),
        ("to", "Ann\r\nBcc: victim@evil.example <a@acme.example>"),
        ("cc", "a@acme.example\nX-Injected: 1"),
        ("bcc", "a@acme.example\rX-Injected: 1"),
    ],
)
def test_typed_line_breaks_are_refused(field: str, value: str) -> None:
    values = {"to": ("ok@acme.example",), field: value if field == "subject" else (value,)}
    with pytest.raises(Invalid) as err:
        build_message(Draft(1, **values), mailbox(), NOW, "<m@acme.example>")
    assert field in err.value.errors


def test_alias_and_file_name_line_breaks_are_neutralised() -> None:
    box = mailbox(alias="Anna\r\nBcc: victim@evil.example")
    att = Attachment("report\r\nX-Injected: 1\r\n\r\n<script>.txt", "text/plain", b"data")
    built = build_message(Draft(1, to=("ok@acme.example",), attachments=(att,)), box, NOW, "<m@acme.example>")
    assert header_names(built.raw) == [
        "from",
        "to",
        "subject",
        "date",
        "message-id",
        "mime-version",
        "content-type",
    ]
    msg = parse(built.raw)
    assert msg["From"].addresses[0].display_name == "Anna Bcc: victim@evil.example"
    assert b"victim@evil.example" not in built.envelope.recipients[0].encode()
    assert built.envelope.recipients == ("ok@acme.example",)
    (part,) = list(msg.iter_attachments())
    assert part.get_filename() == "report X-Injected: 1 <script>.txt"
    assert set(k.lower() for k in part.keys()) == {
        "content-type",
        "content-transfer-encoding",
        "content-disposition",
    }


def test_hostile_thread_ids_are_dropped() -> None:
    draft = Draft(
        1,
        to=("ok@acme.example",),
        in_reply_to="<a@b>\r\nBcc: x@evil.example",
        references=("<ok@acme.example>", "<bad\r\n@x>", "<x\x00y@z>"),
    )
    msg = parse(build_message(draft, mailbox(), NOW, "<m@acme.example>").raw)
    assert msg["In-Reply-To"] == "<a@b>"
    assert msg["References"] == "<ok@acme.example>"
    assert "bcc" not in header_names(build_message(draft, mailbox(), NOW, "<m@acme.example>").raw)


def test_verify_refuses_a_message_with_an_extra_header() -> None:
    built = build_message(Draft(1, to=("ok@acme.example",), subject="Hi"), mailbox(), NOW, "<m@acme.example>")
    with pytest.raises(ValueError, match="unexpected headers"):
        compose.verify(built.raw.replace(b"Subject:", b"Bcc: x@evil.example\r\nSubject:", 1))
    with pytest.raises(ValueError):
        compose.verify(built.raw.replace(b"Subject: ", b"Subject: a\nb", 1))


def test_signature_below_the_body_and_swapped_with_the_sender() -> None:
    anna = mailbox(use_signature=True, signature="Anna Petrova\nSales, Acme")
    bob = mailbox(id=2, email="bob@acme.example", use_signature=True, signature="--\nBob")
    quiet = mailbox(id=3, email="q@acme.example", use_signature=False, signature="Never shown")
    draft = Draft(1, to=("x@acme.example",), body="Hello,\r\nsee you.\r\n")
    assert full_text(draft, anna) == "Hello,\nsee you.\n\n-- \nAnna Petrova\nSales, Acme\n"
    assert full_text(draft, bob) == "Hello,\nsee you.\n\n-- \nBob\n"
    assert full_text(draft, quiet) == "Hello,\nsee you.\n"
    body = text_of(build_message(draft, anna, NOW, "<m@acme.example>").raw)
    assert body.endswith("-- \nAnna Petrova\nSales, Acme\n")


def original(**values):
    base = dict(
        header_message_id="orig@acme.example",
        references=("root@acme.example",),
        subject="Re: AW: Offer",
        sent_at=datetime(2026, 11, 26, 14, 5, tzinfo=UTC),
        from_address="client@customer.example",
        from_name="Client, Big",
        to=(("anna@acme.example", "Anna"), ("colleague@acme.example", "Col")),
        cc=(("boss@customer.example", "Boss"),),
        body_text="Can you do 10%?\n> earlier line\n\nThanks",
    )
    return SimpleNamespace(**{**base, **values})


@pytest.mark.parametrize(
    "subject,expected",
    [
        ("Offer", "Re: Offer"),
        ("Re: Offer", "Re: Offer"),
        ("RE: re: Offer", "Re: Offer"),
        ("AW: Offer", "Re: Offer"),
        ("Re[2]: Offer", "Re: Offer"),
        ("  re:Offer", "Re: Offer"),
        ("Fwd: Offer", "Re: Fwd: Offer"),
        ("", "Re:"),
    ],
)
def test_re_is_not_repeated(subject: str, expected: str) -> None:
    assert reply_subject(subject) == expected


def test_reply_keeps_the_thread_and_quotes_below_the_signature() -> None:
    box = mailbox(use_signature=True, signature="Anna")
    draft = reply_draft(original(), box)
    assert draft.to == ('"Client, Big" <client@customer.example>',) and draft.cc == ()
    assert draft.subject == "Re: Offer"
    assert draft.in_reply_to == "orig@acme.example"
    assert draft.references == ("root@acme.example", "orig@acme.example")
    draft = dataclasses.replace(draft, body="Yes, we can.")
    text = full_text(draft, box)
    assert text.index("Yes, we can.") < text.index("-- \nAnna") < text.index("wrote:\n> Can you do 10%?")
    assert "\n>> earlier line\n>\n> Thanks" in text
    msg = parse(build_message(draft, box, NOW, "<r@acme.example>").raw)
    assert msg["In-Reply-To"] == "<orig@acme.example>"
    assert msg["References"] == "<root@acme.example> <orig@acme.example>"
    assert str(msg["Subject"]) == "Re: Offer"
    assert msg["To"].addresses[0].display_name == "Client, Big"


def test_reply_all_copies_the_others_but_not_the_sender_itself() -> None:
    draft = reply_draft(original(), mailbox(), reply_all=True)
    assert draft.to == ('"Client, Big" <client@customer.example>',)
    assert draft.cc == ("Col <colleague@acme.example>", "Boss <boss@customer.example>")
    to_reply_to = reply_draft(original(), mailbox(), reply_to="Desk <desk@customer.example>")
    assert to_reply_to.to == ("Desk <desk@customer.example>",)


def test_default_sender_and_labels() -> None:
    boxes = [
        mailbox(id=1, is_default_sender=False, email="a@acme.example"),
        mailbox(id=2, is_default_sender=True, owner_id=1, email="b@acme.example", alias="Bea"),
        mailbox(id=3, is_default_sender=True, owner_id=9, email="shared@acme.example"),
    ]
    assert compose.default_sender(boxes, user_id=1).id == 2
    assert compose.default_sender(boxes[:1], user_id=1).id == 1
    assert compose.default_sender([], user_id=1) is None
    assert compose.sender_label(boxes[1]) == "Bea <b@acme.example>"


def test_attachments_are_read_at_queue_time_and_come_back_exactly(tmp_path) -> None:
    path = tmp_path / "Prix spécial.csv"
    path.write_bytes(b"a;b\r\n1;2\r\n")
    loaded = compose.load_attachments(Draft(1, to=("x@acme.example",), attachments=(path,)))
    path.write_bytes(b"changed")
    (att,) = loaded.attachments
    assert att == Attachment("Prix spécial.csv", "text/csv", b"a;b\r\n1;2\r\n")
    built = build_message(loaded, mailbox(), NOW, "<m@acme.example>")
    assert compose.attachments_of(built.raw) == (att,)
    with pytest.raises(Invalid, match="cannot read"):
        compose.load_attachments(Draft(1, attachments=(tmp_path / "missing.txt",)))


def test_body_lines_are_safe_for_smtp() -> None:
    body = ".leading dot\n" + "x" * 2000 + "\nend"
    built = build_message(Draft(1, to=("x@acme.example",), body=body), mailbox(), NOW, "<m@acme.example>")
    assert all(len(line) <= 78 for line in built.raw.split(b"\r\n"))
    assert text_of(built.raw) == body + "\n"
