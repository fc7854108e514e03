"""A seeded, realistic mail corpus written straight into a Dovecot Maildir (or returned as raw messages)."""

from __future__ import annotations

import base64
import datetime as dt
import os
import queue
import random
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.harness import corpus_text as ct

DEFAULT_FOLDERS = (
    "INBOX",
    "Sent",
    "Drafts",
    "Trash",
    "Junk",
    "Archive",
    "Archive/2023",
    "Archive/2024",
    "Projects/Alpha",
    "Projects/Beta",
    "Projects/Beta/Specs",
    "Clients/Ромашка",
    "Clients/北京贸易",
    "Newsletters",
)
FOLDER_WEIGHTS = {
    "INBOX": 30,
    "Sent": 10,
    "Drafts": 1,
    "Trash": 2,
    "Junk": 2,
    "Archive": 1,
    "Archive/2023": 8,
    "Archive/2024": 12,
    "Projects/Alpha": 8,
    "Projects/Beta": 6,
    "Projects/Beta/Specs": 3,
    "Clients/Ромашка": 5,
    "Clients/北京贸易": 4,
    "Newsletters": 8,
}
MALFORMED_KINDS = ("bad-charset", "broken-boundary", "8bit-headers", "missing-date")
OWNER_NAME = "Mailroom Tester"
IMAP_FLAGS = {"D": b"\\Draft", "F": b"\\Flagged", "R": b"\\Answered", "S": b"\\Seen", "T": b"\\Deleted"}


@dataclass(frozen=True)
class CorpusMessage:
    """One generated message: its folder, raw bytes (LF line ends, as stored in Maildir) and metadata."""

    index: int
    folder: str
    raw: bytes
    flags: str
    timestamp: int
    kind: str
    message_id: str | None
    in_reply_to: str | None = None
    new: bool = False  # delivered but never seen by a client: stored in new/ without flags

    @property
    def wire(self) -> bytes:
        """The message with CRLF line ends, as IMAP FETCH returns it and as APPEND expects it."""
        return self.raw.replace(b"\n", b"\r\n")

    @property
    def imap_flags(self) -> tuple[bytes, ...]:
        """The IMAP system flags matching the Maildir info letters."""
        return tuple(IMAP_FLAGS[c] for c in self.flags if c in IMAP_FLAGS)


@dataclass
class CorpusStats:
    """What `build` wrote: messages per folder, bytes, timing and the Maildir folder directory names."""

    folders: dict[str, int]
    total_messages: int
    total_bytes: int
    seconds: float
    kinds: dict[str, int] = field(default_factory=dict)
    directories: dict[str, str] = field(default_factory=dict)

    @property
    def average_size(self) -> float:
        """Mean raw message size in bytes."""
        return self.total_bytes / self.total_messages if self.total_messages else 0.0


def encode_mutf7(name: str) -> str:
    """Encode a folder name as IMAP modified UTF-7 (RFC 3501 5.1.3)."""
    out, run = [], []

    def flush() -> None:
        if run:
            b64 = base64.b64encode("".join(run).encode("utf-16-be")).decode().rstrip("=").replace("/", ",")
            out.append(f"&{b64}-")
            run.clear()

    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            run.append(ch)
    flush()
    return "".join(out)


def maildir_dir_name(folder: str) -> str:
    """Return a folder's Maildir++ directory, e.g. '.Clients.&BCAEPgQ8BDAESAQ6BDA-' ('' for INBOX)."""
    if folder.upper() == "INBOX":
        return ""
    parts = folder.split("/")
    if any(not p or "." in p for p in parts) or parts[0].upper() == "INBOX":
        raise ValueError(f"folder {folder!r} cannot be stored with this layout (no '.', no INBOX children)")
    return "." + ".".join(encode_mutf7(p) for p in parts)


class _Generator:
    """Deterministic message factory; all randomness comes from one seeded `random.Random`."""

    def __init__(
        self,
        seed: int,
        avg_size: int,
        folders: tuple[str, ...],
        owner: str,
        start: dt.datetime,
        span_days: int,
        count: int,
    ) -> None:
        self.rng = random.Random(seed)
        self.seed, self.avg_size, self.folders, self.owner = seed, avg_size, folders, owner
        self.count = count
        self.weights = [FOLDER_WEIGHTS.get(f, 3) for f in folders]
        self.pools = ct.text_pools(random.Random(seed ^ 0x5EED))
        self.b64 = ct.Base64Pool(random.Random(seed ^ 0xB64), min(4 << 20, avg_size * 80 + (64 << 10)))
        self.step = max(1.0, span_days * 86400 / max(count, 1))
        self.next_ts = int(start.timestamp())
        self.threads: list[tuple[str, str, str, tuple[str, ...]]] = []  # folder, subject, id, references
        self.total = 0

    def message(self, i: int) -> CorpusMessage:
        rng = self.rng
        folder = self.folders[i] if i < len(self.folders) else rng.choices(self.folders, self.weights)[0]
        self.next_ts = max(self.next_ts + 1, int(self.next_ts + self.step * rng.uniform(0.2, 1.8)))
        ts = self.next_ts
        # Aim each message at a lognormal size (mean avg_size), nudged to keep the running mean on target.
        target = int(self.avg_size * rng.lognormvariate(-0.72, 1.2) + 0.5 * (self.avg_size * i - self.total))
        target = max(700, min(target, self.avg_size * 40))
        kind = self._kind(i, folder)
        headers, body, meta = self._compose(i, folder, kind, ts, target)
        raw = b"\n".join(headers) + b"\n\n" + body
        if not raw.endswith(b"\n"):
            raw += b"\n"
        self.total += len(raw)
        flags = self._flags(i, folder, kind)
        new = folder == "INBOX" and not flags and i >= self.count * 9 // 10
        return CorpusMessage(i, folder, raw, flags, ts, kind, meta.get("id"), meta.get("parent"), new)

    def _kind(self, i: int, folder: str) -> str:
        if i % 23 == 11:
            return MALFORMED_KINDS[(i // 23) % len(MALFORMED_KINDS)]
        if folder in ("Newsletters", "Junk") or i % 17 == 5:
            return "automated"
        if folder == "Drafts":
            return "draft"
        return self.rng.choices(("plain", "alternative", "html", "attachment"), (35, 35, 8, 22))[0]

    def _flags(self, i: int, folder: str, kind: str) -> str:
        rng, flags = self.rng, set()
        age = 1 - i / max(self.count, 1)  # 0 for the newest message, 1 for the oldest
        if folder in ("Sent", "Drafts", "Trash", "Archive") or rng.random() < 0.5 + 0.49 * min(1.0, age * 6):
            flags.add("S")
        if folder == "Drafts":
            flags.add("D")
        if kind != "automated" and rng.random() < 0.06:
            flags.add("F")
        if "S" in flags and folder not in ("Sent", "Drafts") and rng.random() < 0.15:
            flags.add("R")
        return "".join(sorted(flags))

    def _compose(
        self, i: int, folder: str, kind: str, ts: int, target: int
    ) -> tuple[list[bytes], bytes, dict[str, Any]]:
        rng = self.rng
        lang = rng.choices(("en", "ru", "zh"), (55, 30, 15))[0]
        sender = rng.choice(ct.PEOPLE[lang])
        outgoing = folder in ("Sent", "Drafts")
        frm = ct.address(OWNER_NAME, self.owner, "en", rng) if outgoing else ct.address(*sender, rng)
        rcpt = rng.choice(ct.PEOPLE[rng.choice(("en", "ru", "zh"))])
        to = ct.address(*rcpt, rng) if outgoing else ct.address(OWNER_NAME, self.owner, "en", rng)
        subject_text = ct.subject(lang, rng)
        meta: dict[str, Any] = {
            "id": f"<{i}.{self.seed}.{rng.getrandbits(40):010x}@{sender[1].split('@')[1]}>"
        }
        refs: tuple[str, ...] = ()
        if kind not in ("automated", "draft") and self.threads and rng.random() < 0.3:
            _, p_subject, p_id, p_refs = rng.choice(self.threads[-60:])
            subject_text, refs, meta["parent"] = (
                "Re: " + p_subject.removeprefix("Re: "),
                (*p_refs[-9:], p_id),
                p_id,
            )
        if kind not in ("automated", "draft"):
            self.threads.append((folder, subject_text, meta["id"], refs))
        headers = [
            f"Return-Path: <{self.owner if outgoing else sender[1]}>".encode(),
            ct.received(ts, rng),
            b"From: " + frm,
            b"To: " + to,
            b"Subject: " + ct.encode_header(subject_text, lang, rng),
            b"Date: " + ct.rfc2822_date(ts, lang).encode(),
            f"Message-ID: {meta['id']}".encode(),
        ]
        if refs:
            headers += [f"In-Reply-To: {refs[-1]}".encode(), b"References: " + "\n ".join(refs).encode()]
        if rng.random() < 0.2:
            headers.append(b"Cc: " + ct.address(*rng.choice(ct.PEOPLE["en"]), rng))
        if kind == "automated":
            headers += ct.automated_headers(folder, rng)
        headers.append(b"MIME-Version: 1.0")
        if kind in MALFORMED_KINDS:
            return ct.malformed(kind, headers, self.pools, target, rng, meta, self.b64)
        text_size = (
            min(target, rng.randint(600, 14000)) if kind in ("attachment",) or target > 20000 else target
        )
        body_headers, body = ct.body(kind, lang, self.pools, text_size, target, rng, self.b64)
        return headers + body_headers, body, meta


def generate(
    count: int = 200,
    avg_size: int = 8000,
    seed: int = 0,
    folders: Iterable[str] = DEFAULT_FOLDERS,
    owner_email: str = "me@example.test",
    start: dt.datetime = dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    span_days: int = 540,
) -> Iterator[CorpusMessage]:
    """Yield `count` deterministic messages spread over `folders` (every folder gets one if count allows)."""
    folders = tuple(folders)
    for f in folders:
        maildir_dir_name(f)
    gen = _Generator(seed, avg_size, folders, owner_email, start, span_days, count)
    for i in range(count):
        yield gen.message(i)


def _mkdir(path: Path, owner: tuple[int, int] | None) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if owner:
        os.chown(path, *owner)


def build(
    maildir: Path,
    count: int = 200,
    avg_size: int = 8000,
    seed: int = 0,
    folders: Iterable[str] = DEFAULT_FOLDERS,
    owner: tuple[int, int] | None = None,
    messages: Iterable[CorpusMessage] | None = None,
    **generate_args: Any,
) -> CorpusStats:
    """Write a corpus (or `messages`) into `maildir` before Dovecot indexes it, files owned by `owner`."""
    started = time.perf_counter()
    folders = tuple(folders)
    maildir = Path(maildir)
    directories = {f: maildir_dir_name(f) for f in folders}
    for name in directories.values():
        base = maildir / name if name else maildir
        for sub in ("", "cur", "new", "tmp"):
            _mkdir(base / sub, owner)
        if name:
            (base / "maildirfolder").touch()
            if owner:
                os.chown(base / "maildirfolder", *owner)
    counts: Counter[str] = Counter({f: 0 for f in folders})
    kinds: Counter[str] = Counter()
    total_bytes = 0
    source = messages if messages is not None else generate(count, avg_size, seed, folders, **generate_args)
    pid = 4000 + seed % 50000
    # Generation is CPU work and file creation is kernel work: a writer thread overlaps the two.
    pending: queue.Queue[tuple[Path, bytes, int] | None] = queue.Queue(maxsize=256)
    errors: list[BaseException] = []
    writer = threading.Thread(
        target=_writer, args=(pending, owner, errors), name="corpus-writer", daemon=True
    )
    writer.start()
    try:
        for msg in source:
            if errors:
                break
            name = directories.get(msg.folder)
            if name is None:
                name = directories[msg.folder] = maildir_dir_name(msg.folder)
                for sub in ("", "cur", "new", "tmp"):
                    _mkdir(maildir / name / sub, owner)
            raw = msg.raw
            vsize = len(raw) + raw.count(b"\n") - raw.count(b"\r\n")
            unique = f"{msg.timestamp}.M{msg.index % 1000000:06d}P{pid}Q{msg.index}.mailroom"
            base = f"{unique},S={len(raw)},W={vsize}"
            file = (
                maildir / name / "new" / base if msg.new else maildir / name / "cur" / f"{base}:2,{msg.flags}"
            )
            pending.put((file, raw, msg.timestamp))
            counts[msg.folder] += 1
            kinds[msg.kind] += 1
            total_bytes += len(raw)
    finally:
        pending.put(None)
        writer.join()
    if errors:
        raise errors[0]
    return CorpusStats(
        dict(counts),
        sum(counts.values()),
        total_bytes,
        time.perf_counter() - started,
        dict(kinds),
        directories,
    )


def _writer(
    pending: queue.Queue[tuple[Path, bytes, int] | None],
    owner: tuple[int, int] | None,
    errors: list[BaseException],
) -> None:
    while (item := pending.get()) is not None:
        if errors:
            continue
        path, raw, timestamp = item
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                view = memoryview(raw)
                while view:
                    view = view[os.write(fd, view) :]
                if owner:
                    os.fchown(fd, *owner)
                os.utime(fd, (timestamp, timestamp))
            finally:
                os.close(fd)
        except BaseException as exc:  # reported by build() in the caller's thread
            errors.append(exc)


def warm(imap: Any, fetch: bool = False, subscribe: bool = False) -> dict[str, dict[bytes, int]]:
    """Make Dovecot index every selectable folder (STATUS; with `fetch`, parse and cache every message)."""
    statuses: dict[str, dict[bytes, int]] = {}
    for flags, _, name in imap.list_folders():
        if b"\\Noselect" in flags or b"\\NonExistent" in flags:
            continue
        statuses[name] = imap.folder_status(name, [b"MESSAGES", b"UIDNEXT", b"UIDVALIDITY", b"UNSEEN"])
        if subscribe:
            imap.subscribe_folder(name)
        if fetch and statuses[name][b"MESSAGES"]:
            imap.select_folder(name, readonly=True)
            # Through imaplib underneath: imapclient would spend longer parsing the replies than Dovecot
            # spends producing them, and its fetch() cannot take a "1:*" range.
            typ, data = imap._imap.uid("FETCH", "1:*", "(FLAGS RFC822.SIZE ENVELOPE BODYSTRUCTURE)")
            if typ != "OK":
                raise RuntimeError(f"FETCH in {name!r} failed: {data!r}")
            imap.unselect_folder()
    return statuses
