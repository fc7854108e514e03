"""Fixed senders, stored mail and outbox items for the compose and outbox tests and snapshots."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, update

from store import db
from store.compose import Draft
from store.identity import Actor
from store.schema import mailboxes, message_addresses, message_locations, messages, sync_folders
from store.schema_outbox import outbox
from store.service import Store
from tests.snapshots.conftest import FIXED_NOW, add_mailbox

SIGNATURE = "Alice Moreau\nAccount manager · Acme Sales\n+49 30 1234 5678"
SALES_SIGNATURE = "Acme Sales team\nsales@acme.example · Mon–Fri 9–17"


def add_sender(
    store: Store,
    owner: Actor,
    email: str,
    alias: str = "",
    signature: str = "",
    default: bool = False,
    send: bool = True,
) -> int:
    """A mailbox row with its sending settings (alias, signature, default sender, sending on or off)."""
    box_id = add_mailbox(store, owner, email, synced_ago=timedelta(minutes=5))
    with db.write(store.engine) as conn:
        conn.execute(
            update(mailboxes)
            .where(mailboxes.c.id == box_id)
            .values(
                alias=alias,
                signature=signature,
                use_signature=bool(signature),
                is_default_sender=default,
                send_enabled=send,
            )
        )
    return box_id


def store_message(
    store: Store,
    mailbox_id: int,
    subject: str,
    from_address: str,
    from_name: str,
    body: str,
    to: tuple[tuple[str, str], ...] = (),
    sent_at: datetime = FIXED_NOW - timedelta(hours=2),
    header_message_id: str = "offer-42@customer.example",
) -> int:
    """One received message in the mailbox's INBOX, its text loaded; returns its id."""
    stamp = int(sent_at.timestamp())
    with db.write(store.engine) as conn:
        folder_id = conn.execute(
            insert(sync_folders).values(mailbox_id=mailbox_id, name="INBOX", uidvalidity=1)
        ).inserted_primary_key[0]
        message_id = conn.execute(
            insert(messages).values(
                dedupe_key=f"test-{header_message_id}",
                header_message_id=header_message_id,
                subject=subject,
                from_address=from_address,
                from_name=from_name,
                sent_at=stamp,
                size=len(body) + 600,
                body_loaded=True,
                body_text=body,
            )
        ).inserted_primary_key[0]
        conn.execute(
            insert(message_locations).values(
                mailbox_id=mailbox_id, folder_id=folder_id, uid=1, message_id=message_id, sent_at=stamp
            )
        )
        people = [("from", from_address, from_name), *(("to", a, n) for a, n in to)]
        conn.execute(
            insert(message_addresses),
            [{"message_id": message_id, "kind": k, "address": a, "name": n} for k, a, n in people],
        )
    return int(message_id)


def outbox_item(store: Store, actor: Actor, draft: Draft, **state: Any) -> int:
    """Queue *draft*, then set its stored state (state, last_error, attempts, next_attempt_at, …)."""
    item = store.outbox.queue(actor, draft)
    if state:
        with db.write(store.engine) as conn:
            conn.execute(update(outbox).where(outbox.c.id == item.id).values(**state))
    return item.id


def fill_outbox(store: Store, actor: Actor, box_id: int) -> None:
    """A sent, a failed and a queued item with fixed texts (the queued one is due later, so the app's
    delivery loop leaves all three alone)."""
    outbox_item(
        store,
        actor,
        Draft(box_id, to=("Bruno Keller <bruno@acme.example>",), subject="Quarterly figures"),
        state="sent",
        attempts=1,
        sent_at=FIXED_NOW - timedelta(minutes=20),
        copy_done=True,
    )
    outbox_item(
        store,
        actor,
        Draft(box_id, to=("nobody@acme.example", "dana@acme.example"), subject="Lunch on Thursday"),
        state="failed",
        attempts=1,
        error_kind="permanent",
        last_error="Recipient refused: nobody@acme.example: 550 5.1.1 <nobody@acme.example>: "
        "Recipient address rejected: User unknown in virtual mailbox table",
    )
    outbox_item(
        store,
        actor,
        Draft(box_id, to=("Chen Wei <chen.wei@printhaus.example>",), subject="Printer delivery dates"),
        state="queued",
        attempts=2,
        error_kind="temporary",
        next_attempt_at=FIXED_NOW + timedelta(minutes=2),
        last_error="Connection to smtp.gmail.com:465 refused. Check the host and port.",
    )


def connect_harness(
    store: Store,
    owner: Actor,
    account: Any,
    secrets: Any,
    alias: str = "",
    signature: str = "",
    default: bool = False,
) -> Any:
    """The harness account as *owner*'s mailbox (implicit TLS, trusting the test CA), with its sending
    settings; loading every folder so a reply's original is there after one sync."""
    from store.mailbox_settings import SettingsDraft
    from store.secrets import Secret

    provider = store.providers.add(owner, account.provider_draft("Harness", account.host))
    box = store.mailboxes.create(
        owner, account.email, provider.id, account.email, Secret(account.password), secrets
    )
    draft = SettingsDraft.of(box).model_copy(
        update={
            "alias": alias,
            "signature": signature,
            "use_signature": bool(signature),
            "is_default_sender": default,
            "load_period": "all",
            "folder_scope": "all",
        }
    )
    return store.settings.save(owner, box.id, SettingsDraft.parse(**draft.model_dump()))
