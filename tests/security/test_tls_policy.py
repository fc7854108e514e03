"""No plaintext mode exists: store, CLI and connection layer refuse one, and retries never downgrade."""

from __future__ import annotations

import sqlite3

import pytest

from store.errors import Forbidden, Invalid
from store.net import Endpoint, NetError, imap_login, smtp_login
from store.providers import ProviderDraft
from store.secrets import Secret
from tests.harness.hostile import close, expect, send
from tests.security.conftest import LOGIN, PASSWORD, endpoint

PLAIN_VALUES = ["plain", "none", "", "PLAIN", "tls-optional", "starttls-optional", "clear"]
NO_STARTTLS_IMAP = [
    send("* OK ready"),
    expect("CAPABILITY", "* CAPABILITY IMAP4rev1 AUTH=PLAIN", "{tag} OK done"),
]
NO_STARTTLS_SMTP = [send("220 ready"), expect("EHLO", "250-hostile.test", "250 AUTH PLAIN LOGIN")]


def _draft(**over: object) -> dict:
    values = dict(
        name="Corp",
        imap_host="127.0.0.1",
        imap_port=143,
        imap_tls="starttls",
        smtp_host="127.0.0.1",
        smtp_port=587,
        smtp_tls="starttls",
    )
    return {**values, **over}


@pytest.mark.parametrize("value", PLAIN_VALUES)
@pytest.mark.parametrize("field", ["imap_tls", "smtp_tls"])
def test_store_refuses_a_plaintext_mode(store, admin, field, value):
    with pytest.raises(Invalid) as info:
        ProviderDraft.parse(**_draft(**{field: value}))
    assert field in info.value.errors
    assert store.providers.list() == [p for p in store.providers.list() if p.name != "Corp"]


@pytest.mark.parametrize("field", ["imap_tls", "smtp_tls"])
def test_database_check_refuses_a_plaintext_mode(store, admin, field):
    """Even SQL written by hand cannot store one: the CHECK constraint of migration 0001 refuses it."""
    provider = store.providers.add(admin, ProviderDraft.parse(**_draft()))
    conn = sqlite3.connect(store.path)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
            conn.execute(f"UPDATE providers SET {field} = 'plain' WHERE id = ?", (provider.id,))
        columns = "name, imap_host, imap_port, imap_tls, smtp_host, smtp_port, smtp_tls"
        row = ["Plain", "h", 143, "starttls", "h", 25, "starttls"]
        row[3 if field == "imap_tls" else 6] = "plain"
        with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
            conn.execute(f"INSERT INTO providers ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?)", row)
    finally:
        conn.close()
    assert getattr(store.providers.get(provider.id), field) == "starttls"


@pytest.mark.parametrize("flag", ["--imap-tls", "--smtp-tls"])
def test_cli_refuses_a_plaintext_mode(tmp_path, monkeypatch, capsys, flag):
    from tui.cli import main

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("MAILROOM_DB", str(tmp_path / "m.db"))
    monkeypatch.setenv("MAILROOM_USER", "alice")
    monkeypatch.delenv("MAILROOM_CONFIG", raising=False)
    with pytest.raises(SystemExit) as info:
        main(["provider", "add", "Corp", "--imap", "127.0.0.1:143", "--smtp", "127.0.0.1:25", flag, "plain"])
    assert info.value.code == 2
    assert "invalid choice: 'plain'" in capsys.readouterr().err
    assert main(["provider", "list", "--json"]) == 0
    assert "Corp" not in capsys.readouterr().out


def test_only_an_admin_changes_how_a_provider_encrypts(store, admin):
    """Both modes encrypt; still, which one a provider uses is an administrator's decision alone."""
    provider = store.providers.add(admin, ProviderDraft.parse(**_draft()))
    store.identity.add(admin, "user", "bob")
    bob = store.identity.actor("bob")
    with pytest.raises(Forbidden):
        store.providers.update(bob, provider.id, ProviderDraft.parse(**_draft(imap_tls="ssl", imap_port=993)))
    assert store.providers.get(provider.id).imap_tls == "starttls"


@pytest.mark.parametrize("mode", ["plain", "none", "", "starttls"])
def test_anything_but_ssl_means_starttls_required(hostile, mode):
    """A value that slipped past validation still never means plaintext at the connection layer."""
    imap = hostile("IMAP", NO_STARTTLS_IMAP)
    smtp = hostile("SMTP", NO_STARTTLS_SMTP)
    for login, server in ((imap_login, imap), (smtp_login, smtp)):
        with pytest.raises(NetError) as info:
            login(Endpoint("127.0.0.1", server.port, mode), LOGIN, Secret(PASSWORD), timeout=3)  # type: ignore[arg-type]
        assert info.value.kind == "starttls"
        assert server.leaks(PASSWORD, LOGIN) == []


def test_sync_retries_never_downgrade(hostile, pki, box_env_factory):
    """A flaky connection, then a server without STARTTLS: every attempt insists on TLS; none sends LOGIN."""
    server = hostile("IMAP", [close()], NO_STARTTLS_IMAP)
    env = box_env_factory(server.port, pki.ca_file, imap_tls="starttls")
    summary = env.sync(retry_delays=(0.01, 0.01, 0.01))
    assert not summary.ok
    assert "STARTTLS" in summary.error
    transcripts = server.wait(2)
    assert len(transcripts) == 2, "a refused STARTTLS is final, not retried"
    assert server.leaks(PASSWORD, LOGIN) == []
    assert env.sql("SELECT imap_tls FROM providers WHERE id = ?", env.provider.id) == [("starttls",)]


def test_implicit_tls_port_speaking_plaintext_is_refused(hostile, pki, box_env_factory):
    """A server that answers in the clear on the implicit-TLS port gets no login, on any retry."""
    server = hostile("IMAP", [send("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] plaintext here")])
    env = box_env_factory(server.port, pki.ca_file, imap_tls="ssl")
    summary = env.sync(retry_delays=(0.01, 0.01))
    assert not summary.ok
    assert server.leaks(PASSWORD, LOGIN) == []
    assert all(t.names() == [] for t in server.wait(len(server.transcripts)))
    assert env.sql("SELECT imap_tls FROM providers WHERE id = ?", env.provider.id) == [("ssl",)]


def test_endpoint_of_a_hostile_server_helper(hostile):
    """The helper builds the Endpoint the tests use (loopback only)."""
    server = hostile("IMAP", NO_STARTTLS_IMAP)
    assert endpoint(server, "starttls").host == "127.0.0.1"
