"""Contact and company records: validation, unique addresses and domains, free-mail, lookups."""

from __future__ import annotations

import pytest

from store.crm.drafts import CompanyDraft, ContactDraft
from store.errors import Conflict, Invalid, NotFound


def test_contact_add_normalises_and_takes_the_company_of_its_domain(store, admin) -> None:
    crm = store.crm
    acme = crm.companies.add(
        admin, CompanyDraft.parse(name="Acme Ltd", domains=("https://www.Acme.com/about",))
    )
    assert acme.domains == ("acme.com",)
    ann = crm.contacts.add(
        admin,
        ContactDraft.parse(
            name="  Ann   Lee ",
            emails=("Ann@ACME.com", "ann@acme.com", "ann.lee@gmail.com"),
            phones=("+44 20 7946 0958", "+44 (20) 7946-0958"),
        ),
    )
    assert (ann.name, ann.emails, ann.phones) == (
        "Ann Lee",
        ("ann@acme.com", "ann.lee@gmail.com"),
        ("+44 20 7946 0958",),
    )
    assert (ann.company_id, ann.company) == (acme.id, "Acme Ltd")
    assert crm.companies.get(admin, acme.id).contacts == 1


def test_contact_add_with_a_new_company_name_creates_it(store, admin) -> None:
    bo = store.crm.contacts.add(admin, ContactDraft.parse(name="Bo", emails=("bo@x.org",), company="Initech"))
    assert bo.company == "Initech"
    assert store.crm.companies.find(admin, "initech").id == bo.company_id


def test_invalid_fields_are_reported_per_field(store, admin) -> None:
    with pytest.raises(Invalid) as exc:
        ContactDraft.parse(name="", emails=("not-an-address",), phones=("call me",))
    assert set(exc.value.errors) == {"name", "emails", "phones"}


def test_free_mail_domains_never_make_a_company(store, admin) -> None:
    for domain in ("gmail.com", "yahoo.com", "mail.ru", "qq.com", "gmx.de"):
        with pytest.raises(Invalid, match="free-mail"):
            CompanyDraft.parse(name="X", domains=(domain,))
    acme = store.crm.companies.add(admin, CompanyDraft.parse(name="Acme", domains=("acme.com",)))
    with pytest.raises(Invalid, match="free-mail"):
        store.crm.companies.add_domain(admin, acme.id, "googlemail.com")
    ann = store.crm.contacts.add(admin, ContactDraft.parse(name="Ann", emails=("ann@gmail.com",)))
    assert ann.company_id is None


def test_an_address_and_a_domain_belong_to_one_record_only(store, admin) -> None:
    crm = store.crm
    crm.contacts.add(admin, ContactDraft.parse(name="Ann", emails=("ann@acme.com",)))
    with pytest.raises(Conflict, match="already belongs to the contact 'Ann'"):
        crm.contacts.add(admin, ContactDraft.parse(name="Other", emails=("ANN@acme.com",)))
    crm.companies.add(admin, CompanyDraft.parse(name="Acme", domains=("acme.com",)))
    with pytest.raises(Conflict, match="already belongs to the company 'Acme'"):
        crm.companies.add(admin, CompanyDraft.parse(name="Acme 2", domains=("acme.com",)))
    with pytest.raises(Conflict, match="already exists"):
        crm.companies.add(admin, CompanyDraft.parse(name="ACME"))


def test_find_by_id_address_domain_or_name(store, admin) -> None:
    crm = store.crm
    acme = crm.companies.add(admin, CompanyDraft.parse(name="Acme", domains=("acme.com", "acme.de")))
    ann = crm.contacts.add(admin, ContactDraft.parse(name="Ann Lee", emails=("ann@acme.com",)))
    assert crm.contacts.find(admin, "ann lee").id == ann.id
    assert crm.contacts.find(admin, "ANN@acme.com").id == ann.id
    assert crm.contacts.find(admin, str(ann.id)).id == ann.id
    assert crm.companies.find(admin, "acme.de").id == acme.id
    assert crm.companies.find(admin, "@acme.com").id == acme.id
    assert crm.resolve(admin, "ann@acme.com").kind == "contact"
    assert crm.resolve(admin, "acme.com").kind == "company"
    assert crm.resolve(admin, f"company:{acme.id}").name == "Acme"
    crm.contacts.add(admin, ContactDraft.parse(name="Ann Lee", emails=("ann2@x.org",)))
    with pytest.raises(Conflict, match="2 contacts are named"):
        crm.contacts.find(admin, "Ann Lee")
    with pytest.raises(NotFound):
        crm.resolve(admin, "nobody")


def test_search_lists_by_name_address_phone_and_company(store, admin) -> None:
    crm = store.crm
    crm.contacts.add(admin, ContactDraft.parse(name="Zoe", emails=("zoe@initech.com",), company="Initech"))
    crm.contacts.add(admin, ContactDraft.parse(name="adam", phones=("+1 555 0100 200",)))
    crm.contacts.add(admin, ContactDraft.parse(name="Ben_100%", emails=("ben@x.org",)))
    assert [c.name for c in crm.contacts.list(admin)] == ["adam", "Ben_100%", "Zoe"]
    assert [c.name for c in crm.contacts.list(admin, "initech")] == ["Zoe"]
    assert [c.name for c in crm.contacts.list(admin, "0100")] == ["adam"]
    assert [c.name for c in crm.contacts.list(admin, "_100%")] == ["Ben_100%"]
    assert [c.name for c in crm.companies.list(admin, "tech")] == ["Initech"]


def test_edit_and_remove(store, admin) -> None:
    crm = store.crm
    acme = crm.companies.add(admin, CompanyDraft.parse(name="Acme", domains=("acme.com",)))
    ann = crm.contacts.add(admin, ContactDraft.parse(name="Ann", emails=("ann@acme.com",)))
    ann = crm.contacts.add_phone(admin, ann.id, "+49 30 1234567")
    ann = crm.contacts.add_email(admin, ann.id, "ann@home.example")
    assert ann.emails == ("ann@acme.com", "ann@home.example")
    ann = crm.contacts.remove_phone(admin, ann.id, "+49 (30) 1234567")
    assert ann.phones == ()
    ann = crm.contacts.update(
        admin, ann.id, ContactDraft.parse(name="Ann B", emails=("ann@acme.com",), job_title="CTO")
    )
    assert (ann.name, ann.job_title, ann.emails) == ("Ann B", "CTO", ("ann@acme.com",))
    crm.companies.remove(admin, acme.id)
    assert crm.contacts.get(admin, ann.id).company_id is None
    crm.contacts.remove(admin, ann.id)
    with pytest.raises(NotFound):
        crm.contacts.get(admin, ann.id)
