#!/usr/bin/env python3
"""Timeline benchmark: CRM timelines over 100,000 stored messages and 10,000 contacts; linking's sync cost.

    .venv/bin/python benchmarks/timeline_bench.py                       # 100,000 messages, 10,000 contacts
    .venv/bin/python benchmarks/timeline_bench.py --messages 20000 --contacts 2000 --opens 100

Rows go straight into the store's tables (executemany, no IMAP): companies with domains, contacts (some on
free-mail addresses), strangers, four mailboxes of two users, threads, automated mail, and a tenth of the
messages also held by a second mailbox. Timelines are opened through the service API
(`store.crm.timelines.open`), as the Timeline tab does, for random contacts and companies and for the
busiest ones, and every page of the busiest company; the unmatched queue for a user reading three of
the four mailboxes (alice) and one (bob). Linking itself is a join, so a sync pays only for the
automated-mail test in the parser, the index on message_addresses.domain and the triggers that keep
address_counts (the unmatched queue's counts); these are measured on their own at the end.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
FREE = ("gmail.com", "yahoo.com", "outlook.com", "mail.ru", "qq.com", "gmx.de")
MAILBOX_SQL = (
    "INSERT INTO mailboxes (email, owner_id, provider_id, login, secret_ref, created_at) "
    "VALUES (?, ?, ?, ?, 'none', ?)"
)
OWN = (
    ("alice", "alice@ourco.example"),
    ("alice", "sales@ourco.example"),
    ("alice", "support@ourco.example"),
    ("bob", "bob@ourco.example"),
)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f} ms"


def _stats(name: str, samples: list[tuple[float, float]]) -> str:
    """Median, p95 and max of wall time, and median and p95 of this process's CPU time."""
    walls, cpus = sorted(w for w, _ in samples), sorted(c for _, c in samples)

    def p95(values: list[float]) -> float:
        return values[min(len(values) - 1, int(len(values) * 0.95))]

    return (
        f"{name:<40} n={len(samples):<4} wall median {_ms(statistics.median(walls))} "
        f"p95 {_ms(p95(walls))} max {_ms(walls[-1])} | cpu median {_ms(statistics.median(cpus))} "
        f"p95 {_ms(p95(cpus))}"
    )


def timed(call) -> tuple[float, float]:  # noqa: ANN001 - any callable
    """Wall and CPU seconds of one call (CPU shows what the call costs on a machine that is not busy)."""
    wall, cpu = time.perf_counter(), time.process_time()
    call()
    return time.perf_counter() - wall, time.process_time() - cpu


# -- data ------------------------------------------------------------------------------------------


def build(store, n_messages: int, n_contacts: int, seed: int) -> dict:  # noqa: ANN001 - a Store
    """Fill the store; returns the ids the timings need."""
    rnd = random.Random(seed)
    conn = store.engine.raw_connection().driver_connection
    alice = store.identity.actor("alice")  # the first user: the administrator
    store.identity.add(alice, "user", "bob")
    now = NOW.isoformat(" ")
    owners = {name: store.identity.find(name).id for name in ("alice", "bob")}
    gmail = store.providers.get("Gmail").id
    conn.execute("BEGIN IMMEDIATE")
    boxes, folders = [], {}
    for owner, email in OWN:
        cur = conn.execute(MAILBOX_SQL, (email, owners[owner], gmail, email, now))
        boxes.append((cur.lastrowid, email))
        for name in ("INBOX", "Sent"):
            cur = conn.execute(
                "INSERT INTO sync_folders (mailbox_id, name) VALUES (?, ?)", (boxes[-1][0], name)
            )
            folders[(boxes[-1][0], name)] = cur.lastrowid

    n_companies = max(1, n_contacts // 5)
    conn.executemany(
        "INSERT INTO companies (id, name, name_key, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
        [(c, f"Company {c} Ltd", f"company {c} ltd", now, now) for c in range(1, n_companies + 1)],
    )
    conn.executemany(
        "INSERT INTO company_domains (domain, company_id) VALUES (?, ?)",
        [(f"c{c}.example", c) for c in range(1, n_companies + 1)]
        + [(f"c{c}-group.example", c) for c in range(1, n_companies + 1, 7)],
    )
    contacts, emails, people = [], [], []
    for k in range(1, n_contacts + 1):
        company = rnd.randint(1, n_companies)
        free = rnd.random() < 0.3
        address = f"p{k}@{rnd.choice(FREE)}" if free else f"p{k}@c{company}.example"
        contacts.append((k, f"Person {k}", "", None if free and rnd.random() < 0.5 else company, now, now))
        emails.append((address, k, 0))
        if rnd.random() < 0.2:
            emails.append((f"p{k}.alt@c{company}-mail.example", k, 1))
        people.append((address, f"Person {k}"))
    conn.executemany(
        "INSERT INTO contacts (id, name, job_title, company_id, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        contacts,
    )
    conn.executemany("INSERT INTO contact_emails (address, contact_id, position) VALUES (?, ?, ?)", emails)
    strangers = []  # two in five on a company's domain, linked to it though no contact has the address
    for k in range(n_contacts * 3):
        domain = f"c{rnd.randint(1, n_companies)}.example" if rnd.random() < 0.4 else f"x{k}.example"
        strangers.append((f"s{k}@{domain}", f"Stranger {k}"))
    # Busy correspondents first: weights fall off with rank, so a few contacts have thousands of messages.
    pool = people + strangers
    rnd.shuffle(pool)
    cum_weights = list(itertools.accumulate(1 / (rank + 1) ** 0.9 for rank in range(len(pool))))

    messages, addresses, locations = [], [], []
    uid: dict[int, int] = {}
    last_in_thread: dict[str, tuple[str, str]] = {}
    span = 730 * 86400
    picks = rnd.choices(pool, cum_weights=cum_weights, k=n_messages)
    for mid, (other, other_name) in enumerate(picks, 1):
        box_id, own = rnd.choice(boxes)
        out = rnd.random() < 0.45
        automated = not out and rnd.random() < 0.05
        sender = (
            (own, "Us")
            if out
            else ((f"noreply@{other.split('@')[1]}", "News") if automated else (other, other_name))
        )
        hid = f"m{mid}@bench.example"
        irt, refs, subject = "", "", f"Subject {mid % 977}"
        prev = last_in_thread.get(other)
        if prev and rnd.random() < 0.5:
            irt, refs = prev[0], (prev[1] + " " + prev[0]).strip()
            refs = " ".join(refs.split()[-5:])
            subject = "Re: " + subject
        last_in_thread[other] = (hid, refs)
        sent = int(NOW.timestamp()) - rnd.randint(0, span)
        messages.append(
            (
                mid,
                f"{rnd.getrandbits(160):040x}",
                hid,
                irt,
                refs,
                subject,
                sender[0],
                sender[1],
                sent,
                rnd.randint(2_000, 80_000),
                automated,
            )
        )
        rows = {("from", sender[0]): sender[1], ("to", other if out else own): other_name if out else ""}
        for _ in range(rnd.choice((0, 0, 1, 2))):
            extra, name = rnd.choices(pool, cum_weights=cum_weights, k=1)[0]
            rows.setdefault(("cc", extra), name)
        addresses += [(mid, kind, addr, name) for (kind, addr), name in rows.items()]
        holders = [box_id] + ([rnd.choice(boxes)[0]] if rnd.random() < 0.1 else [])
        for holder in dict.fromkeys(holders):
            folder = folders[(holder, "Sent" if out and holder == box_id else "INBOX")]
            uid[folder] = uid.get(folder, 0) + 1
            locations.append((holder, folder, uid[folder], mid, sent))
    conn.executemany(
        "INSERT INTO messages (id, dedupe_key, header_message_id, in_reply_to, reference_ids, subject, "
        "from_address, from_name, sent_at, size, is_automated) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        messages,
    )
    conn.executemany(
        "INSERT INTO message_addresses (message_id, kind, address, name) VALUES (?,?,?,?)", addresses
    )
    conn.executemany(
        "INSERT INTO message_locations (mailbox_id, folder_id, uid, message_id, sent_at) VALUES (?,?,?,?,?)",
        locations,
    )
    conn.execute("COMMIT")
    counts = {}
    for kind, sql in (
        (
            "contact",
            "SELECT e.contact_id, COUNT(DISTINCT a.message_id) FROM contact_emails e "
            "JOIN message_addresses a ON a.address = e.address GROUP BY e.contact_id",
        ),
        (
            "company",
            "SELECT d.company_id, COUNT(DISTINCT a.message_id) FROM company_domains d "
            "JOIN message_addresses a ON a.domain = d.domain GROUP BY d.company_id",
        ),
    ):
        counts[kind] = sorted(conn.execute(sql).fetchall(), key=lambda r: -r[1])
    return {
        "counts": counts,
        "contacts": n_contacts,
        "companies": n_companies,
        "addresses": len(addresses),
        "locations": len(locations),
    }


# -- timings ---------------------------------------------------------------------------------------


def time_opens(store, actor, kind: str, ids: list[int]) -> list[tuple[float, float]]:  # noqa: ANN001
    return [timed(lambda i=i: store.crm.timelines.open(actor, **{f"{kind}_id": i})) for i in ids]


def linking_cost(n: int, seed: int) -> list[str]:
    """What linking adds to a sync: the parser's automated-mail test and the domain index on insert."""
    from store.crm.automated import AUTOMATION_HEADERS, is_automated
    from store.service import open_store
    from store.sync import writer
    from store.sync.parse import ENVELOPE_HEADERS, header_fields, parse_envelope

    rnd = random.Random(seed)
    headers = []
    for k in range(n):
        lines = [
            f"From: Person {k} <p{k}@c{k % 500}.example>",
            f"To: alice@ourco.example, x{k}@y.example",
            f"Cc: s{k}@c{k % 300}.example",
            f"Subject: Subject {k}",
            "Date: Tue, 24 Nov 2026 10:00:00 +0000",
            f"Message-ID: <m{k}@bench.example>",
            "MIME-Version: 1.0",
            "Content-Type: text/plain",
            "Received: from mx.example by mx.ourco.example; Tue, 24 Nov 2026 10:00:01 +0000",
            "DKIM-Signature: v=1; a=rsa-sha256; d=example; s=s1; b=" + "x" * 300,
        ]
        if rnd.random() < 0.1:
            lines.append("List-Unsubscribe: <https://c.example/u>")
        headers.append(("\r\n".join(lines) + "\r\n\r\n").encode())

    def best_cpu(call) -> float:  # noqa: ANN001 - the least CPU time of three runs
        runs = []
        for _ in range(3):
            t = time.process_time()
            call()
            runs.append(time.process_time() - t)
        return min(runs)

    base = best_cpu(lambda: [header_fields(h, ENVELOPE_HEADERS) for h in headers])
    with_test = best_cpu(
        lambda: [is_automated(header_fields(h, ENVELOPE_HEADERS + AUTOMATION_HEADERS)) for h in headers]
    )
    parse_all = best_cpu(lambda: [parse_envelope(h, len(h) + 5000, None) for h in headers])
    envelopes = [parse_envelope(h, len(h) + 5000, None) for h in headers]

    from store.migrations.versions.crm5_address_counts_fast import TRIGGERS

    results: dict[str, float] = {}
    variants = ("without the domain index", "with the domain index", "with address_counts")
    for variant in variants * 3:  # the best of three each
        with tempfile.TemporaryDirectory() as tmp:
            store = open_store(Path(tmp) / "w.db", clock=lambda: NOW)
            store.identity.actor("alice")
            conn = store.engine.raw_connection().driver_connection
            if variant != "with address_counts":  # the triggers that keep the unmatched queue's counts
                for name in TRIGGERS:
                    conn.execute(f"DROP TRIGGER {name}")
            if variant.startswith("without"):
                conn.execute("DROP INDEX ix_message_addresses_domain_message")
            box = conn.execute(MAILBOX_SQL, ("a@o.example", 1, 1, "a", "2026-01-01")).lastrowid
            folder = writer.add_folder(conn, box, "INBOX", "/").id
            rows = [writer.HeaderRow(k + 1, "", None, 5000, e) for k, e in enumerate(envelopes)]
            t = time.process_time()  # CPU time: SQLite works in this process, and the machine may be busy
            for i in range(0, len(rows), 2000):  # the engine's header window
                writer.store_headers(conn, box, folder, rows[i : i + 2000], {})
            results[variant] = min(results.get(variant, 1e9), time.process_time() - t)
            store.close()
    index = results["with the domain index"] - results["without the domain index"]
    counts = results["with address_counts"] - results["with the domain index"]
    return [
        f"parser CPU, {n:,} headers: envelope fields {base:.3f} s; with the automated-mail test "
        f"{with_test:.3f} s (+{with_test - base:.3f} s); whole parse_envelope {parse_all:.3f} s",
        f"store_headers CPU, {n:,} envelopes: {results['without the domain index']:.3f} s without the "
        f"domain index, {results['with the domain index']:.3f} s with it ({index:+.3f} s), "
        f"{results['with address_counts']:.3f} s with the address_counts triggers too ({counts:+.3f} s)",
        f"linking's share of a sync: {(with_test - base + index + counts) * 1000 / n * 10_000:+.0f} ms CPU "
        f"per 10,000 messages (compare the first load of benchmarks/sync_bench.py)",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--opens", type=int, default=500, help="random contacts (and companies) to open")
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--keep", action="store_true", help="keep the database and print its path")
    args = parser.parse_args()

    from store.service import open_store

    tmp = Path(tempfile.mkdtemp(prefix="mailroom-timeline-"))
    store = open_store(tmp / "bench.db", clock=lambda: NOW)
    t = time.perf_counter()
    info = build(store, args.messages, args.contacts, args.seed)
    size = (tmp / "bench.db").stat().st_size + sum(p.stat().st_size for p in tmp.glob("bench.db-*"))
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (wall times grow with it)")
    print(
        f"built {args.messages:,} messages ({info['addresses']:,} addresses, {info['locations']:,} "
        f"locations), {info['contacts']:,} contacts, {info['companies']:,} companies in "
        f"{time.perf_counter() - t:.1f} s; database {size / 1e6:.0f} MB",
        flush=True,
    )
    store.close()
    store = open_store(tmp / "bench.db", clock=lambda: NOW)  # a fresh start: nothing cached in the pool
    alice, bob = store.identity.actor("alice"), store.identity.actor("bob")
    rnd = random.Random(args.seed)
    contact_counts, company_counts = info["counts"]["contact"], info["counts"]["company"]
    linked = [c for c, _ in contact_counts]
    print(
        f"messages per contact: median {statistics.median(n for _, n in contact_counts):.0f}, "
        f"busiest {contact_counts[0][1]:,}; per company: median "
        f"{statistics.median(n for _, n in company_counts):.0f}, busiest {company_counts[0][1]:,}"
    )

    first = timed(lambda: store.crm.timelines.open(alice, contact_id=rnd.choice(linked)))
    print(f"{'first timeline after start':<40} wall {_ms(first[0])} | cpu {_ms(first[1])}")
    contacts = range(1, args.contacts + 1)
    busiest_contacts = [c for c, _ in contact_counts[:20]]
    busiest_companies = [c for c, _ in company_counts[:20]]
    companies = rnd.sample(range(1, info["companies"] + 1), min(args.opens, info["companies"]))
    for name, actor, kind, ids in (
        ("contact timeline, random (alice)", alice, "contact", rnd.sample(contacts, args.opens)),
        ("contact timeline, random (bob)", bob, "contact", rnd.sample(contacts, args.opens)),
        ("contact timeline, 20 busiest", alice, "contact", busiest_contacts),
        ("company timeline, random", alice, "company", companies),
        ("company timeline, 20 busiest", alice, "company", busiest_companies),
    ):
        print(_stats(name, time_opens(store, actor, kind, ids)))

    def every_page() -> None:
        view = store.crm.timelines.open(alice, company_id=busiest_companies[0])
        while view.next_before is not None:
            view = store.crm.timelines.open(alice, company_id=busiest_companies[0], before=view.next_before)

    print(_stats("busiest company, every page of 200", [timed(every_page)]))
    print(
        _stats(
            "contact search (part of a name, 50 rows)",
            [
                timed(
                    lambda: store.crm.contacts.list(
                        alice, f"person {rnd.randint(1, args.contacts)}", limit=50
                    )
                )
                for _ in range(20)
            ],
        )
    )
    print(
        _stats(
            "unmatched queue, first 50 (alice)",
            [timed(lambda: store.crm.unmatched.queue(alice, limit=50)) for _ in range(20)],
        )
    )
    print(
        _stats(
            "unmatched queue, first 50 (bob)",
            [timed(lambda: store.crm.unmatched.queue(bob, limit=50)) for _ in range(20)],
        )
    )
    print(
        _stats(
            "unmatched queue, 50 from the 1,000th",
            [timed(lambda: store.crm.unmatched.queue(alice, limit=50, offset=1000)) for _ in range(5)],
        )
    )

    def links(message_id: int) -> None:
        try:
            store.crm.linking.for_message(alice, message_id)
        except Exception:  # noqa: BLE001 - a message only Bob's mailbox holds
            pass

    print(
        _stats(
            "links of one message (message view)",
            [timed(lambda m=m: links(m)) for m in rnd.sample(range(1, args.messages + 1), 200)],
        )
    )
    store.close()
    print()
    for line in linking_cost(10_000, args.seed):
        print(line)
    if args.keep:
        print(f"kept {tmp}")
    else:
        import shutil

        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
