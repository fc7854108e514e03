"""Fixed CRM data for the CRM's Pilot and snapshot tests: one mailbox, four contacts, a few threads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from store.crm.drafts import CompanyDraft, ContactDraft
from store.identity import Actor
from store.service import Store
from tests.unit.crm_mail import connect_mailbox, deliver, message

ALICE = "Alice Moreau <alice@gmail.com>"
DANA = "Dana Scott <dana@acme.example>"
SIGNATURE = "Thanks,\n\n-- \nDana Scott\nSenior Purchasing Manager\nAcme Corp\nMobile: +1 555 0199\n"


def at(month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    """A fixed time in 2026, before the test clock's 11 May 2026."""
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


@dataclass(frozen=True)
class CrmData:
    """Ids of what `seed_crm` stored."""

    mailbox_id: int
    dana: int
    chen: int
    priya: int
    marta: int
    acme: int


def seed_crm(store: Store, alice: Actor) -> CrmData:
    """alice@gmail.com with three threads with Dana Scott (Acme Corp), mail from Chen Wei, and three
    unmatched senders: Olga Petrova (3 messages), Sam Lee (2) and Ruth Baker (1)."""
    box = connect_mailbox(store, alice.user.name, "alice@gmail.com")
    crm = store.crm
    acme = crm.companies.add(alice, CompanyDraft.parse(name="Acme Corp", domains=("acme.example",))).id
    crm.companies.add(alice, CompanyDraft.parse(name="Globex", domains=("globex.example",)))

    def contact(name: str, email: str, **more: object) -> int:
        return crm.contacts.add(alice, ContactDraft.parse(name=name, emails=(email,), **more)).id

    dana = contact("Dana Scott", "dana@acme.example", phones=("+1 555 0100",), job_title="Purchasing Manager")
    chen = contact("Chen Wei", "chen.wei@globex.example", job_title="CTO")
    priya = contact("Priya Nair", "priya@initech.example")
    marta = contact("Marta Kowalska", "marta@acme.example", job_title="Accountant")

    mails = [
        message(DANA, ALICE, "Pricing for 2026", at(3, 10), message_id="price1@acme"),
        message(
            ALICE,
            DANA,
            "Re: Pricing for 2026",
            at(3, 11),
            message_id="price2@gmail",
            in_reply_to="price1@acme",
        ),
        message(DANA, ALICE, "Quarterly order for Acme", at(4, 20, 9, 15), message_id="order1@acme"),
        message(
            ALICE,
            DANA,
            "Re: Quarterly order for Acme",
            at(4, 21, 16, 40),
            message_id="order2@gmail",
            in_reply_to="order1@acme",
            references="order1@acme",
        ),
        message(
            DANA,
            ALICE,
            "Re: Quarterly order for Acme",
            at(4, 27, 8, 5),
            message_id="order3@acme",
            in_reply_to="order2@gmail",
            references="order1@acme order2@gmail",
            body=SIGNATURE,
        ),
        message(ALICE, DANA, "Meeting next week", at(5, 6, 14, 0), message_id="meet1@gmail"),
        message("Chen Wei <chen.wei@globex.example>", ALICE, "Integration plan", at(5, 4)),
        message("Olga Petrova <olga@umbrella.example>", ALICE, "Partnership", at(4, 2)),
        message("Olga Petrova <olga@umbrella.example>", ALICE, "Re: Partnership", at(4, 9)),
        message("Olga Petrova <olga@umbrella.example>", ALICE, "Samples", at(5, 8)),
        message("Sam Lee <sam@hooli.example>", ALICE, "Hello from Hooli", at(4, 14)),
        message("Sam Lee <sam@hooli.example>", ALICE, "Follow-up", at(4, 29)),
        message("Ruth Baker <ruth@vandelay.example>", ALICE, "Import question", at(5, 1)),
    ]
    for raw in mails:
        deliver(store, box, raw)
    return CrmData(box, dana, chen, priya, marta, acme)
