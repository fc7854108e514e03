"""Replies and forwards started from stored mail (store/drafts.py): whom they go to, subject, quote, files."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from store.compose import Attachment
from store.drafts import NOT_LOADED, forward_draft, forward_subject, own_addresses, reply_draft
from tests.unit.test_compose import mailbox, original


def own_message(**values):
    """A message the user (anna@acme.example) sent to two people, copying a third and herself."""
    base = dict(
        from_address="Anna@Acme.example",
        from_name="Anna",
        to=(("client@customer.example", "Client"), ("dana@customer.example", "Dana")),
        cc=(("anna@acme.example", "Anna"), ("boss@customer.example", "Boss")),
    )
    return original(**{**base, **values})


def test_reply_to_your_own_message_goes_to_its_recipients() -> None:
    draft = reply_draft(own_message(), mailbox())
    assert draft.to == ("Client <client@customer.example>", "Dana <dana@customer.example>")
    assert draft.cc == ()
    assert draft.subject == "Re: Offer" and draft.in_reply_to == "orig@acme.example"


def test_reply_all_to_your_own_message_copies_its_cc_but_never_you() -> None:
    draft = reply_draft(own_message(), mailbox(), reply_all=True)
    assert draft.to == ("Client <client@customer.example>", "Dana <dana@customer.example>")
    assert draft.cc == ("Boss <boss@customer.example>",)


def test_reply_to_your_own_message_ignores_its_reply_to() -> None:
    draft = reply_draft(own_message(), mailbox(), reply_to="Desk <desk@acme.example>")
    assert draft.to == ("Client <client@customer.example>", "Dana <dana@customer.example>")


def test_a_note_to_self_is_answered_to_self() -> None:
    note = own_message(to=(("anna@acme.example", "Anna"),), cc=())
    assert reply_draft(note, mailbox(), reply_all=True).to == ("Anna <anna@acme.example>",)
    assert reply_draft(own_message(to=(), cc=()), mailbox()).to == ("Anna <Anna@Acme.example>",)


def test_a_message_sent_from_another_of_your_mailboxes_counts_as_yours() -> None:
    other = mailbox(id=2, email="sales@acme.example", login="anna.sales@login.example")
    own = own_addresses([mailbox(), other])
    assert own == {"anna@acme.example", "sales@acme.example", "anna.sales@login.example"}
    sent = own_message(from_address="sales@acme.example")
    assert reply_draft(sent, mailbox(), own=own).to[0] == "Client <client@customer.example>"
    # Without knowing the other mailbox, the message reads as one received from it.
    assert reply_draft(sent, mailbox()).to == ("Anna <sales@acme.example>",)


def test_reply_all_excludes_every_own_address_and_login() -> None:
    box = mailbox(email="sales@acme.example", login="anna.sales@login.example")
    received = original(
        to=(
            ("SALES@acme.example", "Sales"),
            ("anna@acme.example", "Anna"),
            ("anna.sales@login.example", ""),
            ("colleague@acme.example", "Col"),
        ),
        cc=(("boss@customer.example", "Boss"), ("client@customer.example", "again")),
    )
    draft = reply_draft(received, box, reply_all=True, own=own_addresses([mailbox()]))
    assert draft.to == ('"Client, Big" <client@customer.example>',)
    assert draft.cc == ("Col <colleague@acme.example>", "Boss <boss@customer.example>")


@pytest.mark.parametrize(
    "subject,expected",
    [
        ("Offer", "Fwd: Offer"),
        ("Fwd: Offer", "Fwd: Offer"),
        ("FW: fwd: Offer", "Fwd: Offer"),
        ("WG: Angebot", "Fwd: Angebot"),
        ("Re: Offer", "Fwd: Re: Offer"),
        ("", "Fwd:"),
        ("Line\r\nBcc: x@evil.example", "Fwd: Line Bcc: x@evil.example"),
    ],
)
def test_fwd_is_not_repeated(subject: str, expected: str) -> None:
    assert forward_subject(subject) == expected


def test_forward_has_no_recipients_a_header_block_the_text_and_the_files() -> None:
    pdf = Attachment("offer.pdf", "application/pdf", b"%PDF-1.4\n")
    draft = forward_draft(original(body_text="Line 1\r\nLine 2"), mailbox(id=7), [pdf])
    assert (draft.from_mailbox_id, draft.to, draft.cc, draft.bcc) == (7, (), (), ())
    assert draft.subject == "Fwd: Re: AW: Offer" and draft.in_reply_to == "" and draft.attachments == (pdf,)
    assert draft.quoted == (
        "---------- Forwarded message ----------\n"
        'From: "Client, Big" <client@customer.example>\n'
        "Date: 26 Nov 2026 14:05 UTC\n"
        "Subject: Re: AW: Offer\n"
        "To: Anna <anna@acme.example>, Col <colleague@acme.example>\n"
        "Cc: Boss <boss@customer.example>\n"
        "\n"
        "Line 1\nLine 2"
    )
    unloaded = forward_draft(original(to=(), cc=()), mailbox(), body_loaded=False)
    assert "To:" not in unloaded.quoted and unloaded.quoted.endswith("\n\n" + NOT_LOADED)


def test_own_addresses_skip_logins_that_are_not_addresses() -> None:
    assert own_addresses([mailbox(login="anna")]) == {"anna@acme.example"}
    assert own_addresses([SimpleNamespace(email=" Bea@Acme.example ")]) == {"bea@acme.example"}


# -- from the store --------------------------------------------------------------------------------


def test_store_replies_and_forwards_from_the_mailbox_the_message_is_in(store, admin, tmp_path) -> None:
    from store.providers import ProviderDraft
    from store.secrets import Secret, open_secret_store
    from tests.tui.compose_support import store_message

    secrets = open_secret_store("file", data_dir=tmp_path / "sd", config_dir=tmp_path / "sc")
    provider = store.providers.add(
        admin,
        ProviderDraft(
            name="Nowhere",
            imap_host="127.0.0.1",
            imap_port=1,
            imap_tls="ssl",
            smtp_host="127.0.0.1",
            smtp_port=1,
            smtp_tls="ssl",
        ),
    )
    personal = store.mailboxes.create(
        admin, "anna@acme.example", provider.id, "anna@acme.example", Secret("pw"), secrets
    )
    sales = store.mailboxes.create(
        admin, "sales@acme.example", provider.id, "sales@acme.example", Secret("pw"), secrets
    )
    sent = store_message(
        store,
        sales.id,
        "Offer",
        "sales@acme.example",
        "Acme Sales",
        "Our offer.",
        to=(("client@customer.example", "Client"), ("anna@acme.example", "Anna")),
        sent_at=datetime(2026, 11, 26, 14, 5, tzinfo=UTC),
        header_message_id="offer-1@acme.example",
    )
    reply = store.outbox.reply(admin, sent, reply_all=True)
    assert reply.from_mailbox_id == sales.id
    assert (reply.to, reply.cc) == (("Client <client@customer.example>",), ())  # anna is the user too
    assert reply.references == ("offer-1@acme.example",)
    forward = store.outbox.forward(admin, sent)
    assert forward.from_mailbox_id == sales.id and forward.subject == "Fwd: Offer" and forward.to == ()
    assert forward.quoted.endswith("\n\nOur offer.")
    assert store.outbox.forward(admin, sent, from_mailbox_id=personal.id).from_mailbox_id == personal.id
