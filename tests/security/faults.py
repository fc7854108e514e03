"""Helpers of the fault tests: a small real filesystem, incompressible messages, and what the store holds."""

from __future__ import annotations

import base64
import hashlib
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.harness.hostile import send, tls
from tests.harness.hostile_imap import FakeMailbox, imap_session
from tests.security.conftest import LOGIN, PASSWORD


@contextmanager
def small_filesystem(where: Path, megabytes: int) -> Iterator[Path]:
    """A tmpfs of *megabytes* mounted at *where* (needs root and mount(2)); unmounted afterwards.

    A real filesystem, so a full disk is a real ENOSPC from the kernel. Fails, never skips, when the machine
    cannot mount one: the disk-full cases would otherwise silently not run."""
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={megabytes}m,mode=0700", "tmpfs", str(where)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.fail(
            "the disk-full tests need a small real filesystem: `mount -t tmpfs` as root (CAP_SYS_ADMIN); "
            f"it failed here: {done.stderr.strip() or done.returncode}"
        )
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(directory: Path, leave: int) -> Path:
    """A file that takes all the room of *directory*'s filesystem but *leave* bytes; returns its path."""
    filler = directory / "filler"
    free = os.statvfs(directory).f_bavail * os.statvfs(directory).f_frsize
    with filler.open("wb") as f:
        left = free - leave
        while left > 0:
            f.write(b"\0" * min(left, 1 << 20))
            left -= 1 << 20
    return filler


def attachment_message(n: int, size: int) -> bytes:
    """A message with a random (incompressible) attachment of about *size* bytes, built from *n*."""
    seed = hashlib.sha256(f"fault-{n}".encode()).digest()
    data = b"".join(hashlib.sha256(seed + i.to_bytes(4, "big")).digest() for i in range(size // 32 + 1))
    b64 = base64.encodebytes(data[:size]).replace(b"\n", b"\r\n")
    head = (
        f"From: Sender {n} <s{n}@example.test>\r\nTo: {LOGIN}\r\nSubject: Fault {n}\r\n"
        f"Date: Fri, 30 May 2025 10:00:{n % 60:02d} +0000\r\nMessage-ID: <f{n}@example.test>\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
        f"--b\r\nContent-Type: text/plain\r\n\r\nMessage {n}\r\n--b\r\n"
        f'Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="f{n}.bin"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n"
    )
    return head.encode() + b64 + b"--b--\r\n"


def fault_mailbox(count: int, size: int, folders: tuple[str, ...] = ("INBOX",)) -> FakeMailbox:
    """*count* attachment messages of about *size* bytes, spread over *folders*."""
    box = FakeMailbox(LOGIN, PASSWORD)
    for n in range(1, count + 1):
        box.add(folders[n % len(folders)], attachment_message(n, size))
    return box


def serve(hostile, pki, box: FakeMailbox):  # noqa: ANN001, ANN201
    """An honest implicit-TLS IMAP server for *box* (every connection)."""
    return hostile("IMAP", [tls(pki.server), send("* OK ready"), imap_session(box)])


def server_messages(box: FakeMailbox) -> dict[str, bytes]:
    """Message-ID (without <>) → raw bytes of every message the server holds."""
    out = {}
    for folder in box.folders.values():
        for m in folder.messages:
            mid = m.raw.split(b"Message-ID: <", 1)[1].split(b">", 1)[0].decode()
            out[mid] = m.raw
    return out


def integrity(db: Path) -> str:
    """SQLite's integrity_check of the file (its WAL included)."""
    conn = sqlite3.connect(db)
    try:
        return "; ".join(row[0] for row in conn.execute("PRAGMA integrity_check"))
    finally:
        conn.close()


def assert_nothing_partial(env, originals: dict[str, bytes]) -> int:  # noqa: ANN001
    """Every stored message is one of *originals*, whole when its body is loaded and serving no bytes when
    not; returns how many bodies are loaded."""
    loaded_count = 0
    for mid, loaded, message_id in env.sql("SELECT id, body_loaded, header_message_id FROM messages"):
        assert message_id in originals, f"a message that does not exist was stored: {message_id!r}"
        raw = env.store.messages.raw(env.admin, mid)
        if loaded:
            loaded_count += 1
            assert raw == originals[message_id], f"{message_id}: stored as loaded but not whole"
        else:
            assert raw == b"", f"{message_id}: {len(raw)} bytes served of a message without its body"
    return loaded_count


def assert_exactly(env, originals: dict[str, bytes]) -> None:  # noqa: ANN001
    """The store holds exactly the server's messages, once each, whole."""
    rows = env.sql("SELECT id, body_loaded, header_message_id FROM messages")
    assert sorted(r[2] for r in rows) == sorted(originals), "the store does not hold the server's messages"
    for mid, loaded, message_id in rows:
        assert loaded, f"{message_id}: body not loaded"
        assert env.store.messages.raw(env.admin, mid) == originals[message_id], f"{message_id}: not whole"
