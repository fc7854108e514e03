"""Pack files of raw copies (store/sync/packs.py): appends, locks, rotation, crash leftovers, damage."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from store.errors import DiskFull
from store.sync import packs
from store.sync.packs import PackWriter, RawCopyMissing, pack_dir, read_frame


def test_frames_read_back_where_append_said(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    with PackWriter(db) as w:
        first = w.append([b"alpha", b"", b"gamma!"])
        w.sync()
        second = w.append([b"delta"])
    assert [r[1:] for r in first] == [(0, 5), (5, 0), (5, 6)]
    assert second[0][1:] == (11, 5)
    for ref, data in zip(first + second, [b"alpha", b"", b"gamma!", b"delta"], strict=True):
        assert read_frame(db, *ref) == data
    folder = pack_dir(db)
    assert folder == tmp_path / "m.db.raw"
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    assert [p.name for p in folder.iterdir()] == ["000001.pack"]
    assert oct((folder / "000001.pack").stat().st_mode & 0o777) == "0o600"


def test_two_writers_never_share_a_pack(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    a, b = PackWriter(db), PackWriter(db)
    try:
        ra = a.append([b"from a"])
        rb = b.append([b"from b"])
        assert ra[0][0] != rb[0][0]  # b found a's pack locked and started its own
        assert read_frame(db, *ra[0]) == b"from a" and read_frame(db, *rb[0]) == b"from b"
    finally:
        a.close()
        b.close()
    with PackWriter(db) as c:  # both free again: the newest one with room is reused
        rc = c.append([b"later"])
    assert rc[0][0] == max(ra[0][0], rb[0][0])
    assert read_frame(db, *rc[0]) == b"later"


def test_a_full_pack_is_left_for_a_new_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(packs, "PACK_LIMIT", 10)
    db = tmp_path / "m.db"
    with PackWriter(db) as w:
        one = w.append([b"0123456789AB"])  # over the limit after this write
        two = w.append([b"next"])
    assert one[0][0] == 1 and two[0] == (2, 0, 4)
    with PackWriter(db) as w:  # pack 2 still has room
        assert w.append([b"x"])[0] == (2, 4, 1)


def test_bytes_left_by_a_crash_before_the_commit_are_skipped(tmp_path: Path) -> None:
    """A killed writer may have appended a window whose rows never committed: those bytes stay dead and a
    new writer appends after them, so committed references stay valid."""
    db = tmp_path / "m.db"
    with PackWriter(db) as w:
        kept = w.append([b"committed"])
        w.append([b"never committed"])  # the process 'dies' here
    with PackWriter(db) as w:
        new = w.append([b"again"])
    assert new[0][1] == len(b"committed") + len(b"never committed")
    assert read_frame(db, *kept[0]) == b"committed" and read_frame(db, *new[0]) == b"again"


def test_missing_or_cut_pack_is_a_clear_error(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    with PackWriter(db) as w:
        ref = w.append([b"some raw bytes"])[0]
    path = pack_dir(db) / "000001.pack"
    os.truncate(path, 4)
    with pytest.raises(RawCopyMissing, match="damaged"):
        read_frame(db, *ref)
    path.unlink()
    with pytest.raises(RawCopyMissing, match=r"missing: .*000001\.pack.*keep the \.raw folder"):
        read_frame(db, *ref)


def test_a_failed_write_reopens_at_the_true_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """After a partial write (a full disk) the writer must not trust its own idea of the pack's size."""
    db = tmp_path / "m.db"
    w = PackWriter(db)
    w.append([b"first"])
    real_write = os.write
    calls = {"n": 0}

    def short_then_fail(fd: int, data: bytes | memoryview) -> int:
        calls["n"] += 1
        if calls["n"] == 1:
            return real_write(fd, bytes(data[:3]))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(packs.os, "write", short_then_fail)
    with pytest.raises(DiskFull, match="Disk full: could not write"):
        w.append([b"second window"])
    monkeypatch.setattr(packs.os, "write", real_write)
    ref = w.append([b"third"])[0]
    w.close()
    assert ref[1] == len(b"first") + 3  # after the 3 stray bytes, not where the failed window began
    assert read_frame(db, *ref) == b"third"


def test_compaction_leaves_a_pack_alone_while_a_writer_holds_it(tmp_path: Path) -> None:
    import sqlite3

    from store.service import open_store
    from store.sync.packs import compact

    db = tmp_path / "m.db"
    open_store(db).close()
    held = PackWriter(db)
    held.append([b"dead bytes nobody points at"])
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        assert compact(conn, db) == 0  # held: another process may still commit rows into it
        held.close()
        assert compact(conn, db) == len(b"dead bytes nobody points at")  # free and all dead: deleted
        assert list(pack_dir(db).glob("*.pack")) == []
    finally:
        conn.close()
