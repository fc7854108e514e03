"""CRM over a real sync: mail loaded from Dovecot is flagged, linked and read for signatures."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from store.crm.drafts import CompanyDraft, ContactDraft
from tests.harness.fixtures import MailAccount
from tests.integration.sync_support import SyncEnv, append, fresh_env
from tests.unit.crm_mail import message

pytestmark = pytest.mark.integration

SIGNED = (
    "Hello,\n\nthe offer is attached.\n\nBest regards,\nAnn Lee\nHead of Sales\nAcme Ltd\n"
    "T: +44 20 7946 0958\n"
)


@pytest.fixture
def sync_env(mail_account: MailAccount, tmp_path: Path) -> Iterator[SyncEnv]:
    """A store with one mailbox (all folders, all mail) on a fresh, empty harness account."""
    yield from fresh_env(mail_account, tmp_path)


def test_synced_mail_is_linked_flagged_and_enriched(sync_env: SyncEnv) -> None:
    env = sync_env
    me = env.account.email
    when = datetime(2025, 5, 20, 9, 0, tzinfo=UTC)
    append(
        env.account,
        "INBOX",
        message("Ann Lee <ann@acme.com>", me, "Offer", when, body=SIGNED, message_id="offer@acme.com"),
    )
    append(
        env.account,
        "INBOX",
        message(
            "Acme News <news@acme.com>",
            me,
            "Newsletter",
            when,
            extra="List-Unsubscribe: <https://acme.com/u>",
        ),
    )
    append(
        env.account,
        "Sent",
        message(
            me,
            "ann@acme.com",
            "Re: Offer",
            when.replace(hour=10),
            in_reply_to="offer@acme.com",
            references="offer@acme.com",
        ),
    )
    crm, admin = env.store.crm, env.admin
    acme = crm.companies.add(admin, CompanyDraft.parse(name="Acme", domains=("acme.com",)))
    summary = env.run()
    assert summary.ok, summary.error
    flags = dict(env.sql("SELECT subject, is_automated FROM messages"))
    assert flags == {"Offer": 0, "Newsletter": 1, "Re: Offer": 0}

    assert [u.address for u in crm.unmatched.queue(admin)] == ["ann@acme.com"]
    ann = crm.unmatched.add(admin, "ann@acme.com")
    assert (ann.name, ann.company_id) == ("Ann Lee", acme.id)
    view = crm.timelines.open(admin, contact_id=ann.id)
    assert [[(i.subject, i.direction) for i in t.items] for t in view.threads] == [
        [("Re: Offer", "out"), ("Offer", "in")]
    ]
    company = crm.timelines.open(admin, company_id=acme.id)
    assert company.messages == 3  # the newsletter too: automated mail is linked, never proposed
    proposals = {p.field: p.value for p in crm.enrichment.refresh(admin, ann.id)}
    assert proposals == {"phone": "+44 20 7946 0958", "job_title": "Head of Sales"}
    assert crm.contacts.list(admin, "news") == []


def test_an_address_added_later_links_mail_already_synced(sync_env: SyncEnv) -> None:
    env = sync_env
    append(env.account, "INBOX", message("Bo <bo@private.example>", env.account.email, "Hi"))
    assert env.run().ok
    bo = env.store.crm.contacts.add(env.admin, ContactDraft.parse(name="Bo", emails=("bo@work.example",)))
    assert env.store.crm.timelines.open(env.admin, contact_id=bo.id).messages == 0
    env.store.crm.contacts.add_email(env.admin, bo.id, "bo@private.example")
    assert env.store.crm.timelines.open(env.admin, contact_id=bo.id).messages == 1
