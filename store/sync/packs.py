"""Raw copies of messages in append-only pack files beside the database.

A first load writes some 450 MB of compressed raw mail for 10,000 messages. Stored as SQLite blobs, every
byte is written twice (into the WAL, then by the checkpoint into the database) in 4 KB pages, one call per
page; the body writer spent most of its time there. Here a window's compressed frames are appended to a
pack file in one write, made durable with one fdatasync, and only then do the `message_raw` rows that point
at them (`pack`, `pack_offset`, `pack_length`) commit. So:

- a crash (or power loss) before the commit leaves unreferenced bytes at the end of a pack, never a row
  that points at bytes that are not on disk; the window is fetched again and appended anew;
- bytes are never overwritten, so a reader never sees a frame change under it;
- a message removed from the store leaves dead bytes in its pack; `compact` (run after a sync that removed
  messages) moves the live frames of a pack that is mostly dead into a current pack and deletes the old
  file, once the rows point at the new place.

The folder is `<database>.raw/`, files `NNNNNN.pack`. A writer holds an exclusive `flock` on the pack it
appends to for as long as it lives, so two writers (two syncs of different mailboxes, or a sync and its
helper process) never append to one file; a pack is left for a new one at PACK_LIMIT bytes.
"""

from __future__ import annotations

import errno
import fcntl
import os
import sqlite3
from pathlib import Path

from store.errors import RawCopyMissing

__all__ = ["PACK_LIMIT", "PackWriter", "RawCopyMissing", "compact", "pack_dir", "read_frame"]

PACK_LIMIT = 256 << 20  # bytes after which a writer starts a new pack
_TRIES = 4  # newest packs a writer tries to lock before it starts a new one


def pack_dir(db_path: Path | str) -> Path:
    """The folder of pack files of the database at *db_path*."""
    path = Path(db_path)
    return path.with_name(path.name + ".raw")


def _pack_path(folder: Path, number: int) -> Path:
    return folder / f"{number:06d}.pack"


def _numbers(folder: Path) -> list[int]:
    found = []
    for entry in os.scandir(folder):
        stem, dot, ext = entry.name.partition(".")
        if dot and ext == "pack" and stem.isdigit():
            found.append(int(stem))
    return sorted(found)


class PackWriter:
    """Appends compressed frames to one pack file that it holds locked; not shared between threads."""

    def __init__(self, db_path: Path | str) -> None:
        self.folder = pack_dir(db_path)
        self.fd: int | None = None
        self.number = 0
        self.size = 0

    def _take(self) -> None:
        """Lock one of the newest packs with room left, or create the next one."""
        self.folder.mkdir(mode=0o700, exist_ok=True)
        numbers = _numbers(self.folder)
        for number in reversed(numbers[-_TRIES:]):
            fd = _lock(_pack_path(self.folder, number), os.O_WRONLY | os.O_APPEND)
            if fd is None:
                continue
            size = os.fstat(fd).st_size
            if size < PACK_LIMIT:
                self.fd, self.number, self.size = fd, number, size
                return
            os.close(fd)
        number = (numbers[-1] if numbers else 0) + 1
        while True:
            try:
                fd = os.open(
                    _pack_path(self.folder, number),
                    os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC,
                    0o600,
                )
                break
            except FileExistsError:
                number += 1  # another writer created it first
        fcntl.flock(fd, fcntl.LOCK_EX)  # new and ours: nobody else can hold it yet
        self.fd, self.number, self.size = fd, number, 0
        _sync_folder(self.folder)  # the new file's name survives a power loss too

    def append(self, frames: list[bytes]) -> list[tuple[int, int, int]]:
        """Append *frames* in one write; (pack, offset, length) of each. Call sync() before committing rows
        that point at them."""
        if self.fd is None or self.size >= PACK_LIMIT:
            self.close()
            self._take()
        assert self.fd is not None
        data = b"".join(frames)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self.fd, view) :]
        except OSError as exc:
            self.close()  # a partial write (disk full): the next append re-reads the pack's end
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                from store.dbfile import disk_full

                raise disk_full(_pack_path(self.folder, self.number)) from exc
            raise
        refs = []
        offset = self.size
        for frame in frames:
            refs.append((self.number, offset, len(frame)))
            offset += len(frame)
        self.size = offset
        return refs

    def sync(self) -> None:
        """Make everything appended so far durable."""
        if self.fd is not None:
            os.fdatasync(self.fd)

    def close(self) -> None:
        if self.fd is not None:
            fd, self.fd = self.fd, None
            os.close(fd)  # also releases the lock

    def __enter__(self) -> PackWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _lock(path: Path, flags: int) -> int | None:
    """The pack at *path* opened and locked, or None when another writer holds it or compaction removed it
    (checked after locking: a file unlinked meanwhile must not receive appends nobody would find)."""
    try:
        fd = os.open(path, flags | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        now = os.stat(path)
    except (BlockingIOError, FileNotFoundError):
        os.close(fd)
        return None
    if now.st_ino != os.fstat(fd).st_ino:
        os.close(fd)
        return None
    return fd


def compact(conn: sqlite3.Connection, db_path: Path | str, keep: float = 0.5) -> int:
    """Move the live frames of every pack whose referenced bytes are below *keep* of its size into a
    current pack, point the rows at them (one transaction per pack) and delete the old file; returns the
    bytes freed. Packs a writer holds are left alone. A crash leaves either the old rows and file (the
    copies are dead bytes) or the new rows and an unreferenced file, which the next run deletes."""
    from store.sync.writer import tx

    folder = pack_dir(db_path)
    if not folder.is_dir():
        return 0
    live = dict(
        conn.execute(
            "SELECT pack, sum(pack_length) FROM message_raw WHERE pack IS NOT NULL GROUP BY pack"
        ).fetchall()
    )
    freed = 0
    with PackWriter(db_path) as out:
        for number in _numbers(folder):
            path = _pack_path(folder, number)
            fd = _lock(path, os.O_RDONLY)
            if fd is None or number == out.number:
                if fd is not None:
                    os.close(fd)
                continue
            try:
                size = os.fstat(fd).st_size
                if size == 0 or live.get(number, 0) >= size * keep:
                    continue
                rows = conn.execute(
                    "SELECT message_id, seq, pack_offset, pack_length FROM message_raw WHERE pack = ?",
                    (number,),
                ).fetchall()
                frames = [os.pread(fd, length, offset) for _, _, offset, length in rows]
                if any(len(f) != r[3] for f, r in zip(frames, rows, strict=True)):
                    continue  # a damaged pack is not ours to judge here; Messages.raw reports it
                refs = out.append(frames) if frames else []
                out.sync()
                with tx(conn):
                    conn.executemany(
                        "UPDATE message_raw SET pack = ?, pack_offset = ?, pack_length = ? "
                        "WHERE message_id = ? AND seq = ? AND pack = ?",
                        [(*ref, mid, seq, number) for ref, (mid, seq, _, _) in zip(refs, rows, strict=True)],
                    )
                    left = conn.execute(
                        "SELECT count(*) FROM message_raw WHERE pack = ?", (number,)
                    ).fetchone()
                if left[0] == 0:
                    path.unlink()
                    freed += size
            finally:
                os.close(fd)
    return freed


def _sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_frame(db_path: Path | str, pack: int, offset: int, length: int) -> bytes:
    """The frame stored at *offset* of pack *pack*; RawCopyMissing when the file is gone or cut short."""
    path = _pack_path(pack_dir(db_path), pack)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise RawCopyMissing(
            f"raw copy missing: {path} does not exist (keep the .raw folder with the database)"
        ) from None
    try:
        data = os.pread(fd, length, offset)
    finally:
        os.close(fd)
    if len(data) != length:
        raise RawCopyMissing(f"raw copy damaged: {path} ends before byte {offset + length}")
    return data
