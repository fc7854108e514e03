"""The Providers directory and the Mail provider domains lookup."""

from __future__ import annotations

import pytest
from sqlalchemy import insert

from store import db
from store.errors import Conflict, Forbidden, Invalid, NotFound
from store.presets import PRESETS
from store.providers import ProviderDraft
from store.schema import mailboxes

REQUIRED = {
    "AOL",
    "Gmail",
    "Yahoo",
    "Zoho Mail",
    "Outlook.com / Microsoft 365",
    "iCloud Mail",
    "Yandex Mail",
    "Mail.ru",
    "GMX",
    "Fastmail",
}


def _draft(**over):
    values = dict(
        name="Corp",
        imap_host="mail.corp.example",
        imap_port=993,
        smtp_host="mail.corp.example",
        smtp_port=465,
    )
    values.update(over)
    return ProviderDraft.parse(**values)


def test_presets_seeded_once_with_domains(store) -> None:
    names = {p.name for p in store.providers.list()}
    assert REQUIRED <= names
    store.providers.seed_presets()
    assert len(store.providers.list()) == len(PRESETS)
    assert store.providers.lookup("GMAIL.com").name == "Gmail"
    assert store.providers.lookup("icloud.com").login_format == "local_part"
    assert store.providers.lookup("unknown.example") is None


def test_mx_detection_prefers_the_longest_suffix(store) -> None:
    assert store.providers.by_mx(["alt1.aspmx.l.google.com."]).name == "Gmail"
    assert store.providers.by_mx(["mx-aol.mail.gm0.yahoodns.net"]).name == "AOL"
    assert store.providers.by_mx(["mta5.am0.yahoodns.net"]).name == "Yahoo"
    assert store.providers.by_mx(["corp-example.mail.protection.outlook.com"]).name.startswith("Outlook")
    assert store.providers.by_mx(["mx.unknown.example"]) is None


def test_add_update_remove_provider(store, admin) -> None:
    p = store.providers.add(admin, _draft(imap_tls="starttls", imap_port=143))
    assert store.providers.get("corp").imap_tls == "starttls"
    p2 = store.providers.update(admin, p.id, _draft(name="Corp Mail", smtp_port=587, smtp_tls="starttls"))
    assert (p2.name, p2.smtp_port) == ("Corp Mail", 587)
    store.providers.add_domain(admin, "Corp.Example", "Corp Mail")
    assert store.providers.lookup("corp.example").name == "Corp Mail"
    store.providers.remove(admin, "Corp Mail")
    with pytest.raises(NotFound):
        store.providers.get("Corp Mail")
    assert store.providers.lookup("corp.example") is None


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"imap_host": "bad host"}, "imap_host"),
        ({"imap_port": 0}, "imap_port"),
        ({"smtp_port": 70000}, "smtp_port"),
        ({"imap_tls": "plain"}, "imap_tls"),
        ({"help_url": "http://insecure.example"}, "help_url"),
        ({"ca_file": "/no/such/ca.pem"}, "ca_file"),
        ({"name": ""}, "name"),
    ],
)
def test_invalid_provider_fields_are_named(over, field) -> None:
    with pytest.raises(Invalid) as err:
        _draft(**over)
    assert field in err.value.errors


def test_duplicate_provider_name_is_refused(store, admin) -> None:
    with pytest.raises(Invalid, match="already exists"):
        store.providers.add(admin, _draft(name="gmail"))


def test_provider_in_use_cannot_be_deleted(store, admin) -> None:
    gmail = store.providers.get("Gmail")
    with db.write(store.engine) as conn:
        conn.execute(
            insert(mailboxes).values(
                email="a@gmail.com",
                owner_id=admin.user.id,
                provider_id=gmail.id,
                login="a@gmail.com",
                secret_ref="x",
                created_at=store.clock(),
            )
        )
    with pytest.raises(Conflict, match="used by 1 mailbox"):
        store.providers.remove(admin, "Gmail")


def test_domains_validated_and_unique(store, admin) -> None:
    with pytest.raises(Invalid):
        store.providers.add_domain(admin, "not a domain", "Gmail")
    with pytest.raises(Conflict, match="already mapped to 'Gmail'"):
        store.providers.add_domain(admin, "gmail.com", "Yahoo")
    assert store.providers.add_domain(admin, "почта.рф", "Mail.ru") == "xn--80a1acny.xn--p1ai"
    with pytest.raises(NotFound):
        store.providers.remove_domain(admin, "nothing.example")


def test_non_admin_cannot_change_directories(store, admin) -> None:
    store.identity.add(admin, "user", "bob")
    bob = store.identity.actor("bob")
    with pytest.raises(Forbidden):
        store.providers.add(bob, _draft())
    with pytest.raises(Forbidden):
        store.providers.add_domain(bob, "corp.example", "Gmail")


def test_sync_interval_setting(store, admin) -> None:
    assert store.system.sync_interval_minutes() == 5
    store.system.set(admin, "MailboxSyncInterval", "15")
    assert store.system.sync_interval_minutes() == 15
    for bad in ("0", "-1", "abc", "100000"):
        with pytest.raises(Invalid):
            store.system.set(admin, "MailboxSyncInterval", bad)
