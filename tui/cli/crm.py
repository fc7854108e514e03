"""`mailroom contact|company|timeline`: CRM records, their mail, proposals and the unmatched queue."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from tui.cli.common import CliError, Context, add_json_flag, command, emit, group

BARS = " ▁▂▃▄▅▆▇█"


def register(sub: argparse._SubParsersAction) -> None:
    """Add the contact, company and timeline commands."""
    con = group(sub, "contact", "contacts (people) of the CRM")
    p = command(con, "list", _contact_list, "list contacts by name")
    p.add_argument("--search", metavar="TEXT", default="", help="part of a name, address, phone or company")
    p.add_argument("--company", metavar="COMPANY", help="only the contacts of this company")
    p.add_argument("--limit", type=int, default=200, help="rows to show (default 200; 0 for all)")
    add_json_flag(p)
    p = command(con, "show", _contact_show, "show one contact (by id, address or name)")
    p.add_argument("contact")
    add_json_flag(p)
    p = command(
        con, "add", _contact_add, "add a contact, or with --from-message a correspondent of a stored message"
    )
    p.add_argument("--name", help="the contact's name (from the header with --from-message)")
    p.add_argument("--email", action="append", default=[], metavar="ADDR", help="an address (repeatable)")
    p.add_argument(
        "--phone", action="append", default=[], metavar="NUMBER", help="a phone number (repeatable)"
    )
    p.add_argument("--title", default="", metavar="TEXT", help="job title")
    p.add_argument("--company", default="", metavar="NAME", help="company name or domain (created if new)")
    p.add_argument(
        "--from-message",
        type=int,
        metavar="ID",
        help="take the sender (or --email) of this stored message, named as its header names them",
    )
    add_json_flag(p)
    p = command(con, "edit", _contact_edit, "change a contact")
    p.add_argument("contact")
    p.add_argument("--name")
    p.add_argument("--title", help="job title ('' to clear)")
    p.add_argument("--company", help="company name or domain ('' for none)")
    for flag, meta in (
        ("add-email", "ADDR"),
        ("remove-email", "ADDR"),
        ("add-phone", "NUMBER"),
        ("remove-phone", "NUMBER"),
    ):
        p.add_argument(f"--{flag}", action="append", default=[], metavar=meta, help="repeatable")
    p = command(con, "remove", _contact_remove, "delete a contact (its mail stays, unlinked)")
    p.add_argument("contact")
    p = command(
        con,
        "review",
        _contact_review,
        "proposals from signatures: list them, or accept / reject them by id "
        "(with CONTACT: read its recent mail first)",
    )
    p.add_argument("contact", nargs="?", help="scan this contact's recent mail for new proposals first")
    p.add_argument("--accept", type=int, action="append", default=[], metavar="ID")
    p.add_argument("--reject", type=int, action="append", default=[], metavar="ID")
    add_json_flag(p)
    p = command(
        con,
        "unmatched",
        _contact_unmatched,
        "people on your mail that match no contact, most frequent first; add, link or ignore one",
    )
    p.add_argument("--limit", type=int, default=50)
    p.add_argument(
        "--add", metavar="ADDR", help="make this address a contact (named as its mail names it, or --name)"
    )
    p.add_argument("--name", help="name for --add")
    p.add_argument("--link", metavar="ADDR", help="give this address to the contact named by --to")
    p.add_argument("--to", metavar="CONTACT")
    p.add_argument("--ignore", metavar="ADDR", help="leave this address out of the queue")
    add_json_flag(p)

    com = group(sub, "company", "companies (the CRM's account records)")
    p = command(com, "list", _company_list, "list companies by name")
    p.add_argument("--search", metavar="TEXT", default="", help="part of a name or a domain")
    p.add_argument("--limit", type=int, default=200, help="rows to show (default 200; 0 for all)")
    add_json_flag(p)
    p = command(com, "show", _company_show, "show one company (by id, domain or name) with its contacts")
    p.add_argument("company")
    add_json_flag(p)
    p = command(com, "add", _company_add, "add a company; mail from and to its domains links to it")
    p.add_argument("--name", required=True)
    p.add_argument("--domain", action="append", default=[], metavar="DOMAIN", help="repeatable")
    add_json_flag(p)
    p = command(com, "edit", _company_edit, "rename a company or change its domains")
    p.add_argument("company")
    p.add_argument("--name")
    p.add_argument("--add-domain", action="append", default=[], metavar="DOMAIN")
    p.add_argument("--remove-domain", action="append", default=[], metavar="DOMAIN")
    p = command(com, "remove", _company_remove, "delete a company (its contacts stay)")
    p.add_argument("company")

    p = command(
        sub,
        "timeline",
        _timeline,
        "mail with a contact or company, by thread, from the mailboxes you may read",
    )
    p.add_argument(
        "record",
        metavar="CONTACT_OR_COMPANY",
        help="an address, a domain, a name, or contact:ID / company:ID",
    )
    p.add_argument("--weeks", type=int, default=12, help="weeks of the volume chart (default 12)")
    p.add_argument(
        "--limit",
        type=int,
        default=None,
        help="newest messages to list (default: 200, with --json all of them; 0 = all)",
    )
    add_json_flag(p)


# -- output helpers --------------------------------------------------------------------------------


def _dump(value: Any) -> None:
    json.dump(value, sys.stdout, ensure_ascii=False, indent=2, default=str)
    sys.stdout.write("\n")


def _contact_dict(c) -> dict[str, Any]:  # noqa: ANN001 - store.crm.contacts.Contact, imported lazily
    return {
        "id": c.id,
        "name": c.name,
        "emails": list(c.emails),
        "phones": list(c.phones),
        "job_title": c.job_title,
        "company_id": c.company_id,
        "company": c.company,
    }


def _company_dict(c) -> dict[str, Any]:  # noqa: ANN001 - store.crm.companies.Company
    return {"id": c.id, "name": c.name, "domains": list(c.domains), "contacts": c.contacts}


def _contact_table(ctx: Context, contacts: list, empty: str) -> None:
    if ctx.args.json:
        _dump([_contact_dict(c) for c in contacts])
        return
    rows = [
        {
            "id": c.id,
            "name": c.name,
            "email": c.emails[0] if c.emails else "",
            "company": c.company,
            "title": c.job_title,
        }
        for c in contacts
    ]
    emit(ctx, rows, ["id", "name", "email", "company", "title"], empty)


def _print_contact(c) -> None:  # noqa: ANN001
    print(f"Contact {c.id}: {c.name}")
    for label, value in (
        ("Emails", ", ".join(c.emails)),
        ("Phones", ", ".join(c.phones)),
        ("Job title", c.job_title),
        ("Company", c.company),
    ):
        print(f"  {label + ':':<11}{value}")


def _company_of(ctx: Context, name: str) -> str:
    """Say so when a contact command is about to create a company."""
    from store.errors import NotFound

    if name:
        try:
            ctx.store.crm.companies.find(ctx.actor, name)
        except NotFound:
            print(f"New company: {name}", file=sys.stderr)
    return name


# -- contacts --------------------------------------------------------------------------------------


def _contact_list(ctx: Context) -> None:
    crm, a = ctx.store.crm, ctx.args
    company_id = crm.companies.find(ctx.actor, a.company).id if a.company else None
    limit = a.limit if a.limit > 0 else 10**9
    found = crm.contacts.list(ctx.actor, a.search, company_id=company_id, limit=limit)
    _contact_table(ctx, found, "No contacts.")


def _contact_show(ctx: Context) -> None:
    crm = ctx.store.crm
    c = crm.contacts.find(ctx.actor, ctx.args.contact)
    proposals = crm.enrichment.proposals(ctx.actor, c.id)
    if ctx.args.json:
        _dump({**_contact_dict(c), "proposals": [p.__dict__ for p in proposals]})
        return
    _print_contact(c)
    if proposals:
        print(f"  {len(proposals)} proposal(s) from signatures: mailroom contact review {c.id}")


def _contact_add(ctx: Context) -> None:
    from store.crm.drafts import ContactDraft

    crm, a = ctx.store.crm, ctx.args
    if a.from_message is not None:
        if len(a.email) > 1 or a.phone or a.title or a.company or a.name:
            raise CliError("--from-message takes at most one --email and nothing else.", 2)
        c = crm.contacts.add_from_message(ctx.actor, a.from_message, a.email[0] if a.email else None)
    else:
        if not a.name:
            raise CliError("contact add needs --name (or --from-message ID).", 2)
        draft = ContactDraft.parse(
            name=a.name,
            emails=tuple(a.email),
            phones=tuple(a.phone),
            job_title=a.title,
            company=_company_of(ctx, a.company),
        )
        c = crm.contacts.add(ctx.actor, draft)
    if a.json:
        _dump(_contact_dict(c))
    else:
        print(f"Added contact {c.id}: {c.name}" + (f" ({c.company})" if c.company else ""))


def _contact_edit(ctx: Context) -> None:
    from store.crm.drafts import ContactDraft

    crm, a = ctx.store.crm, ctx.args
    c = crm.contacts.find(ctx.actor, a.contact)
    if a.name is not None or a.title is not None or a.company is not None:
        company = c.company if a.company is None else _company_of(ctx, a.company)
        draft = ContactDraft.parse(
            name=c.name if a.name is None else a.name,
            emails=c.emails,
            phones=c.phones,
            job_title=c.job_title if a.title is None else a.title,
            company=company,
        )
        c = crm.contacts.update(ctx.actor, c.id, draft)
    for address in a.add_email:
        c = crm.contacts.add_email(ctx.actor, c.id, address)
    for address in a.remove_email:
        c = crm.contacts.remove_email(ctx.actor, c.id, address)
    for number in a.add_phone:
        c = crm.contacts.add_phone(ctx.actor, c.id, number)
    for number in a.remove_phone:
        c = crm.contacts.remove_phone(ctx.actor, c.id, number)
    _print_contact(c)


def _contact_remove(ctx: Context) -> None:
    crm = ctx.store.crm
    c = crm.contacts.remove(ctx.actor, crm.contacts.find(ctx.actor, ctx.args.contact).id)
    print(f"Removed contact {c.id}: {c.name}")


def _contact_review(ctx: Context) -> None:
    crm, a = ctx.store.crm, ctx.args
    for pid in a.accept:
        c = crm.enrichment.accept(ctx.actor, pid)
        print(f"Accepted proposal {pid}: {c.name} updated")
    for pid in a.reject:
        crm.enrichment.reject(ctx.actor, pid)
        print(f"Rejected proposal {pid}; it will not be proposed again")
    if a.accept or a.reject:
        return
    if a.contact:
        contact = crm.contacts.find(ctx.actor, a.contact)
        proposals = crm.enrichment.refresh(ctx.actor, contact.id)
    else:
        proposals = crm.enrichment.proposals(ctx.actor)
    if a.json:
        _dump([p.__dict__ for p in proposals])
        return
    rows = [
        {
            "id": p.id,
            "contact": p.contact,
            "field": p.field.replace("_", " "),
            "value": p.value,
            "message": p.message_id,
        }
        for p in proposals
    ]
    emit(ctx, rows, ["id", "contact", "field", "value", "message"], "No proposals.")


def _contact_unmatched(ctx: Context) -> None:
    crm, a = ctx.store.crm, ctx.args
    if a.add:
        c = crm.unmatched.add(ctx.actor, a.add, a.name)
        print(f"Added contact {c.id}: {c.name} <{c.emails[0]}>")
        return
    if a.link:
        if not a.to:
            raise CliError("--link needs --to CONTACT.", 2)
        c = crm.unmatched.link(ctx.actor, a.link, crm.contacts.find(ctx.actor, a.to).id)
        print(f"{a.link.lower()} now belongs to {c.name}")
        return
    if a.ignore:
        crm.unmatched.ignore(ctx.actor, a.ignore)
        print(f"Ignoring {a.ignore.lower()}")
        return
    rows = [
        {
            "address": u.address,
            "name": u.name,
            "messages": u.messages,
            "last": u.last_at.isoformat() if a.json else f"{u.last_at:%Y-%m-%d}",
        }
        for u in crm.unmatched.queue(ctx.actor, limit=a.limit if a.limit > 0 else 10**9)
    ]
    emit(ctx, rows, ["address", "name", "messages", "last"], "No unmatched addresses.")


# -- companies -------------------------------------------------------------------------------------


def _company_list(ctx: Context) -> None:
    a = ctx.args
    found = ctx.store.crm.companies.list(ctx.actor, a.search, limit=a.limit if a.limit > 0 else 10**9)
    if a.json:
        _dump([_company_dict(c) for c in found])
        return
    rows = [
        {"id": c.id, "name": c.name, "domains": " ".join(c.domains), "contacts": c.contacts} for c in found
    ]
    emit(ctx, rows, ["id", "name", "domains", "contacts"], "No companies.")


def _company_show(ctx: Context) -> None:
    crm = ctx.store.crm
    c = crm.companies.find(ctx.actor, ctx.args.company)
    people = crm.contacts.list(ctx.actor, company_id=c.id, limit=10**9)
    if ctx.args.json:
        _dump({**_company_dict(c), "people": [_contact_dict(p) for p in people]})
        return
    print(f"Company {c.id}: {c.name}")
    print(f"  Domains:  {' '.join(c.domains)}")
    for p in people:
        title = f", {p.job_title}" if p.job_title else ""
        print(f"  Contact:  {p.name} <{p.emails[0] if p.emails else ''}>{title}")


def _company_add(ctx: Context) -> None:
    from store.crm.drafts import CompanyDraft

    draft = CompanyDraft.parse(name=ctx.args.name, domains=tuple(ctx.args.domain))
    c = ctx.store.crm.companies.add(ctx.actor, draft)
    if ctx.args.json:
        _dump(_company_dict(c))
    else:
        print(f"Added company {c.id}: {c.name}" + (f" ({' '.join(c.domains)})" if c.domains else ""))


def _company_edit(ctx: Context) -> None:
    from store.crm.drafts import CompanyDraft

    crm, a = ctx.store.crm, ctx.args
    c = crm.companies.find(ctx.actor, a.company)
    if a.name is not None:
        c = crm.companies.update(ctx.actor, c.id, CompanyDraft.parse(name=a.name, domains=c.domains))
    for domain in a.add_domain:
        c = crm.companies.add_domain(ctx.actor, c.id, domain)
    for domain in a.remove_domain:
        c = crm.companies.remove_domain(ctx.actor, c.id, domain)
    print(f"Company {c.id}: {c.name} ({' '.join(c.domains) or 'no domains'})")


def _company_remove(ctx: Context) -> None:
    crm = ctx.store.crm
    c = crm.companies.remove(ctx.actor, crm.companies.find(ctx.actor, ctx.args.company).id)
    print(f"Removed company {c.id}: {c.name}")


# -- timeline --------------------------------------------------------------------------------------


def _timeline(ctx: Context) -> None:
    crm, a = ctx.store.crm, ctx.args
    record = crm.resolve(ctx.actor, a.record)
    key = "contact_id" if record.kind == "contact" else "company_id"
    limit = a.limit if a.limit is not None else (0 if a.json else 200)
    if limit < 0:
        raise CliError("--limit takes 0 (every message) or more.", 2)
    view = crm.timelines.open(ctx.actor, weeks=max(a.weeks, 1), limit=limit or None, **{key: record.id})
    threads = view.threads
    if a.json:
        _dump(
            {
                "kind": view.kind,
                "id": view.record_id,
                "name": view.title,
                "messages": view.messages,
                "threads": [
                    {
                        "subject": t.subject,
                        "last_at": t.last_at.isoformat(),
                        "items": [{**i.__dict__, "sent_at": i.sent_at.isoformat()} for i in t.items],
                    }
                    for t in threads
                ],
                "weekly": [{"week": str(w.week), "in": w.incoming, "out": w.outgoing} for w in view.weekly],
                "next_before": (
                    [view.next_before[0].isoformat(), view.next_before[1]] if view.next_before else None
                ),
            }
        )
        return
    shown = sum(len(t.items) for t in threads)
    print(
        f"Timeline of {view.title} ({view.kind}): {view.messages} messages"
        + (f", newest {shown} shown" if shown < view.messages else "")
    )
    for t in threads:
        print()
        print(f"{t.subject or '(no subject)'}")
        for i in t.items:
            arrow = "→" if i.direction == "out" else "←"
            print(
                f"  {i.sent_at:%Y-%m-%d %H:%M} {arrow} {i.direction:<3} {i.mailbox:<28} "
                f"{i.subject[:50]:<50} #{i.message_id}".rstrip()
            )
    counts = [w.incoming + w.outgoing for w in view.weekly]
    top = max(counts) or 1
    chart = "".join(BARS[min(len(BARS) - 1, -(-n * (len(BARS) - 1) // top))] for n in counts)
    print()
    print(f"Mail per week since {view.weekly[0].week}: {chart} (most: {max(counts)})")
