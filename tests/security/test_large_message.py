"""A very large message on the real Dovecot: stored (streamed), memory bounded, the other mail synced too.

The message is written to a file by a generator and APPENDed from that file in chunks, so neither the test
process nor the server connection ever holds it whole. The sync runs in a child process whose peak RSS
(its VmHWM) is compared with a child that synced only the small messages.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from store.sync.codec import decompress
from tests.harness.fixtures import MailAccount
from tests.integration.sync_support import append, make_env, simple_message

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
RATIO = 0.5  # the sync's extra peak RSS over the message's size stays below this (a whole copy is ≥ 1)…
BOUND = 24 << 20  # …and below this whatever the size (measured: +8 MB for 30 MB and for 200 MB alike)

CHILD = r"""
import json, sys
from pathlib import Path
from store.secrets import open_secret_store
from store.service import open_store
db, secrets_dir, email = sys.argv[1:4]
store = open_store(Path(db))
secrets = open_secret_store("file", data_dir=Path(secrets_dir) / "secrets-data",
                            config_dir=Path(secrets_dir) / "secrets-config")
box = next(b for b in store.mailboxes.all_for_sync() if b.email == email)
summary = store.sync.run(box, secrets)
hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"summary": summary.as_dict(), "peak_kb": hwm}))
"""


def write_big_message(path: Path, size: int) -> str:
    """A message of about *size* bytes (a short text and one random base64 attachment), written in 1 MB
    pieces; returns its sha256."""
    digest = hashlib.sha256()
    head = (
        b"From: Big Sender <big@example.test>\r\nTo: someone@example.test\r\nSubject: The big one\r\n"
        b"Date: Fri, 30 May 2025 09:00:00 +0000\r\nMessage-ID: <big@example.test>\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="BIG"\r\n\r\n--BIG\r\nContent-Type: text/plain\r\n\r\n'
        b"See the attachment.\r\n--BIG\r\nContent-Type: application/octet-stream\r\n"
        b'Content-Disposition: attachment; filename="big.bin"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
    )
    with path.open("wb") as f:
        f.write(head)
        digest.update(head)
        written = len(head)
        while written < size:
            raw = os.urandom(57 * 18_000)  # 18,000 lines of 76 base64 characters
            piece = base64.encodebytes(raw).replace(b"\n", b"\r\n")
            f.write(piece)
            digest.update(piece)
            written += len(piece)
        f.write(b"--BIG--\r\n")
        digest.update(b"--BIG--\r\n")
    return digest.hexdigest()


def append_file(account: MailAccount, folder: str, path: Path) -> None:
    """APPEND the file at *path* to *folder* as a literal sent in 1 MB pieces (never whole in memory)."""
    size = path.stat().st_size
    ctx = account.server.ssl_context()
    with socket.create_connection((account.host, account.imaps_port), timeout=60) as raw_sock:
        with ctx.wrap_socket(raw_sock, server_hostname=account.host) as sock:
            reader = sock.makefile("rb")

            def until(tag: bytes) -> bytes:
                while True:
                    line = reader.readline()
                    assert line, "the server hung up"
                    if line.startswith(tag + b" "):
                        assert line.split()[1] == b"OK", line
                        return line

            reader.readline()  # greeting
            sock.sendall(b'a1 LOGIN "%s" "%s"\r\n' % (account.email.encode(), account.password.encode()))
            until(b"a1")
            sock.sendall(b'a2 APPEND "%s" {%d}\r\n' % (folder.encode(), size))
            assert reader.readline().startswith(b"+"), "no continuation for the literal"
            with path.open("rb") as f:
                while piece := f.read(1 << 20):
                    sock.sendall(piece)
            sock.sendall(b"\r\n")
            until(b"a2")
            sock.sendall(b"a3 LOGOUT\r\n")


def sync_in_child(db: Path, tmp: Path, email: str) -> tuple[dict, int]:
    """Sync in a child process: (its summary, its peak RSS in bytes).

    The peak is the child's own VmHWM: wait4's ru_maxrss would also count the pages of this process it
    was forked from. Helper processes load only windows of small messages; the large one is streamed
    by the child itself."""
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(db), str(tmp), email],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    out, _ = proc.communicate()
    assert proc.returncode == 0, out
    result = json.loads(out.decode().strip().splitlines()[-1])
    return result["summary"], result["peak_kb"] * 1024


def stored_digest(db: Path, message_id: str) -> tuple[bool, str, int]:
    """(body loaded, sha256 of the stored raw message, its size), read chunk by chunk."""
    conn = sqlite3.connect(db)
    try:
        (mid, loaded) = conn.execute(
            "SELECT id, body_loaded FROM messages WHERE header_message_id = ?", (message_id,)
        ).fetchone()
        digest, size = hashlib.sha256(), 0
        for codec, data in conn.execute(
            "SELECT codec, data FROM message_raw WHERE message_id = ? ORDER BY seq", (mid,)
        ):
            piece = decompress(codec, data)
            digest.update(piece)
            size += len(piece)
        return bool(loaded), digest.hexdigest(), size
    finally:
        conn.close()


def big_message_case(mail_account: MailAccount, tmp_path: Path, size: int) -> None:
    for n in range(1, 4):
        append(mail_account, "INBOX", simple_message(n))
    small_db = tmp_path / "small" / "mailroom.db"
    env = make_env(small_db, mail_account, tmp_path)
    env.configure(folder_scope="all", load_period="all")
    env.store.close()
    baseline, small_rss = sync_in_child(small_db, tmp_path, mail_account.email)
    assert baseline["ok"], baseline

    message = tmp_path / "big.eml"
    digest = write_big_message(message, size)
    append_file(mail_account, "INBOX", message)
    append(mail_account, "INBOX", simple_message(4))

    big_db = tmp_path / "big" / "mailroom.db"
    env = make_env(big_db, mail_account, tmp_path)
    env.configure(folder_scope="all", load_period="all")
    env.store.close()
    summary, big_rss = sync_in_child(big_db, tmp_path, mail_account.email)
    assert summary["ok"], summary
    loaded, stored, stored_size = stored_digest(big_db, "big@example.test")
    assert loaded and stored_size == message.stat().st_size and stored == digest, "not stored whole"
    conn = sqlite3.connect(big_db)
    try:
        rows = conn.execute("SELECT count(*), sum(body_loaded) FROM messages").fetchone()
    finally:
        conn.close()
    assert rows == (5, 5), f"the other messages were not all synced: {rows}"
    growth = big_rss - small_rss
    said = (
        f"peak RSS {small_rss / 1e6:.1f} MB without, {big_rss / 1e6:.1f} MB with the {size / 1e6:.0f} MB "
        f"message (+{growth / 1e6:.1f} MB, {growth / size:.3f} of its size)"
    )
    print(said)
    assert growth < RATIO * size and growth < BOUND, said


def test_thirty_megabyte_message_is_streamed_in_bounded_memory(mail_account, tmp_path):
    big_message_case(mail_account, tmp_path, 30 << 20)


@pytest.mark.slow
def test_two_hundred_megabyte_message_is_streamed_in_bounded_memory(mail_account, tmp_path):
    big_message_case(mail_account, tmp_path, 200 << 20)
