"""A server that hangs up during DATA (issue #9): before the end-of-data line nothing was accepted, so the
message is queued and sent again; after it the message may have been delivered, so it waits for the user
(`check`) instead of going out twice. A scripted SMTP server over implicit TLS plays both."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from store.compose import Attachment, Draft
from store.providers import ProviderDraft
from store.schema_outbox import outbox
from store.secrets import Secret, open_secret_store
from tests.harness.hostile import HOST, Peer, send, tls


def session(on_data: Callable[[Peer], None]) -> Callable[[Peer], None]:
    """EHLO with AUTH, any login accepted, MAIL and RCPT accepted; after 354, *on_data* plays the rest."""

    def step(peer: Peer) -> None:
        while True:
            command = peer.read_command()
            if command.name == "EHLO":
                peer.send("250-hostile.test", "250-AUTH PLAIN", "250 8BITMIME")
            elif command.name == "AUTH":
                peer.send("235 2.7.0 ok")
            elif command.name in ("MAIL", "RCPT"):
                peer.send("250 2.1.0 ok")
            elif command.name == "DATA":
                peer.send("354 go ahead")
                on_data(peer)
                return
            else:
                peer.send("502 5.5.1 not here")

    return step


def hang_up_after_some_data(peer: Peer) -> None:
    peer.read_exact(4096)
    peer.close()  # unread data waiting: the client's next write fails


def hang_up_after_the_end_of_data(peer: Peer) -> None:
    while peer.read_line() != b".\r\n":
        pass
    peer.close()  # the whole message arrived; the answer never comes


def queued_item(store: Any, admin: Any, tmp_path: Any, port: int, ca_file: Any, size: int) -> Any:
    secrets = open_secret_store("file", data_dir=tmp_path / "sd", config_dir=tmp_path / "sc")
    provider = store.providers.add(
        admin,
        ProviderDraft(
            name="Hostile",
            imap_host=HOST,
            imap_port=1,
            imap_tls="ssl",
            smtp_host=HOST,
            smtp_port=port,
            smtp_tls="ssl",
            ca_file=str(ca_file),
        ),
    )
    box = store.mailboxes.create(admin, "anna@acme.example", provider.id, "anna", Secret("pw"), secrets)
    files = (Attachment("big.bin", "application/octet-stream", os.urandom(size)),) if size else ()
    draft = Draft(box.id, to=("bob@acme.example",), subject="Hang-up", attachments=files)
    return store.outbox.queue(admin, draft), secrets


def data_ended(store: Any, item_id: int) -> Any:
    with store.engine.connect() as conn:
        return conn.execute(select(outbox.c.data_ended_at).where(outbox.c.id == item_id)).scalar()


@pytest.mark.parametrize(
    "on_data,state,kind,words",
    [
        (hang_up_after_some_data, "queued", "temporary", "the server keeps nothing"),
        (hang_up_after_the_end_of_data, "check", "uncertain", "may have been delivered"),
    ],
    ids=["before-the-end", "after-the-end"],
)
def test_a_hang_up_during_data(store, admin, tmp_path, hostile, pki, on_data, state, kind, words) -> None:
    server = hostile("SMTP", [tls(pki.server), send("220 hostile.test ESMTP"), session(on_data)])
    # 8 MB: far more than the socket buffers hold, so the hang-up reaches the client while it writes.
    size = 6 << 20 if state == "queued" else 0
    item, secrets = queued_item(store, admin, tmp_path, server.port, pki.ca_file, size)
    (result,) = store.outbox.drain(secrets, timeout=10).results
    after = store.outbox.get(admin, item.id)
    assert (result.state, after.state, after.error_kind) == (state, state, kind), after.last_error
    assert words in after.last_error
    assert (data_ended(store, item.id) is None) == (state == "queued")
    assert store.outbox.drain(secrets, timeout=10).results == []  # queued: after its backoff; check: never
