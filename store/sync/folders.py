"""The header phase, folder by folder: which folders, what changed in them, and their new envelopes."""

from __future__ import annotations

import imaplib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from store.sync import writer
from store.sync.events import FolderChanged, FolderProgress
from store.sync.examine import Flight, read_examine, send_examine
from store.sync.imap import FolderStatus, RemoteFolder, Session, flag_text, uid_set

if TYPE_CHECKING:
    from store.sync.engine import Run

PERIOD_DAYS = {"day": 1, "week": 7, "month": 31, "3months": 92, "6months": 183, "year": 366}
FLAG_WINDOW = 5000  # UIDs per FETCH FLAGS when the server has no CONDSTORE
RENAME_SAMPLE = 20  # messages compared before a folder that appeared is taken for a renamed one


def since_date(period: str, today: date) -> date | None:
    """The first day the mailbox's load period covers (None: all mail)."""
    days = PERIOD_DAYS.get(period)
    return None if days is None else today - timedelta(days=days)


def in_scope(box_scope: str, selected: tuple[str, ...], folder: RemoteFolder) -> bool:
    """Whether the mailbox's folder scope takes this folder; a selected parent does not take its children.

    The Sent folder (SPECIAL-USE \\Sent) is always taken: outgoing mail, including the copies the app
    appends after sending, belongs in the threads and CRM timelines whatever folders the user loads."""
    if box_scope == "all" or "\\Sent" in folder.flags:
        return True
    if box_scope == "selected":
        return folder.name in selected or (
            folder.name.upper() == "INBOX" and "INBOX" in {s.upper() for s in selected}
        )
    return folder.name.upper() == "INBOX"


def covers(loaded: str | None, wanted: str) -> bool:
    """Whether mail loaded since *loaded* ('all' or an ISO date) includes mail since *wanted*."""
    if loaded is None:
        return False
    if loaded == "all":
        return True
    return wanted != "all" and loaded <= wanted


FlightPlan = tuple[int, int, str | None]  # UIDVALIDITY, modseq, the UID set of the first new messages


@dataclass
class Planned:
    """A folder to sync, with its stored row and (when LIST-STATUS gave it) its status."""

    remote: RemoteFolder
    row: writer.FolderRow
    status: FolderStatus | None


def plan(run: Run) -> list[Planned]:
    """Match the server's folders to the stored ones: follow renames, drop deleted and out-of-scope ones."""
    s, conn, box = run.session, run.conn, run.mailbox
    remote, statuses = s.folders_with_status()
    remote_names = {f.name for f in remote}
    wanted = [f for f in remote if in_scope(box.folder_scope, box.selected_folders, f)]
    wanted_names = {f.name for f in wanted}
    local = writer.folders(conn, box.id)
    missing = [r for name, r in local.items() if not r.gone and name not in remote_names]
    for name, row in local.items():
        if not row.gone and name in remote_names and name not in wanted_names:
            removed = writer.drop_folder_locations(conn, row.id, gone=True, reset=True)
            run.folder_changed(FolderChanged(box.id, name, "out_of_scope", removed=removed))
    fresh = [f for f in wanted if f.name not in local or local[f.name].gone]
    for row in missing:
        target = _renamed_to(run, row, fresh, statuses) if row.uidvalidity else None
        if target is not None:
            writer.rename_folder(conn, row.id, target.name)
            fresh.remove(target)
            run.folder_changed(FolderChanged(box.id, row.name, "renamed", new_name=target.name))
        else:
            removed = writer.drop_folder_locations(conn, row.id, gone=True, reset=True)
            run.folder_changed(FolderChanged(box.id, row.name, "deleted", removed=removed))
    local = writer.folders(conn, box.id)
    out = []
    for f in wanted:
        row = local.get(f.name)
        if row is None or row.gone:
            row = writer.add_folder(conn, box.id, f.name, f.delimiter)
        out.append(Planned(f, row, statuses.get(f.name)))
    return out


def _renamed_to(
    run: Run, row: writer.FolderRow, fresh: list[RemoteFolder], statuses: dict[str, FolderStatus]
) -> RemoteFolder | None:
    """The new folder that is *row* under another name: same UIDVALIDITY and the same messages at its UIDs."""
    from store.sync.parse import parse_envelope  # only when a folder went missing: parsing costs imports

    sample = run.conn.execute(
        "SELECT l.uid, m.dedupe_key FROM message_locations l JOIN messages m ON m.id = l.message_id "
        "WHERE l.folder_id = ? ORDER BY l.uid DESC LIMIT ?",
        (row.id, RENAME_SAMPLE),
    ).fetchall()
    if not sample:
        return None
    for f in fresh:
        try:
            st = statuses.get(f.name) or run.session.status(f.name)
            if st.uidvalidity != row.uidvalidity:
                continue
            run.session.select(f.name)
            data = run.session.fetch_headers(uid_set(uid for uid, _ in sample))
        except imaplib.IMAP4.abort:
            raise  # a lost connection: the engine retries
        except imaplib.IMAP4.error:  # a NO or BAD for this folder: not proven the same; its own sync says why
            run.session.selected, run.selected_validity = None, None  # a failed SELECT deselects
            continue
        found = {
            uid: parse_envelope(d[b"BODY[HEADER]"], d[b"RFC822.SIZE"], None).dedupe_key
            for uid, d in data.items()
            if b"BODY[HEADER]" in d
        }
        if all(found.get(uid) == key for uid, key in sample):
            return f
    return None


def sync_folder(run: Run, p: Planned) -> None:
    """Bring one folder's envelopes, flags and expunges up to date (the body phase comes after)."""
    s, conn, box, opts = run.session, run.conn, run.mailbox, run.options
    row = p.row
    st = p.status or s.status(p.remote.name)
    if row.uidvalidity is not None and st.uidvalidity != row.uidvalidity:
        removed = writer.drop_folder_locations(conn, row.id, gone=False, reset=True)
        run.folder_changed(FolderChanged(box.id, row.name, "uidvalidity", removed=removed))
        row = writer.folder(conn, row.id)
    since_text = _since_text(run)
    first_done = row.lowest_uid_loaded is not None
    # A longer period than the one loaded: search the older UIDs once. Also when a first load stopped
    # half-way and resumes with a longer period: the UIDs it stored were searched with the shorter one.
    extend = (first_done or row.highest_uid > 0) and not covers(row.since_loaded, since_text)
    pending = row.id in run.pending_folders
    if _unchanged(run, row, st):
        run.summary.folders_skipped += 1
        return
    pre: tuple[dict, set[int]] | None = None
    ready: dict[str, dict] = {}  # new messages fetched together with the EXAMINE, by UID set
    closed = False  # the folder needs no more commands: the next folder's flight is on its way
    plan = _flight_plan(run, row, st)
    if plan is not None:
        flight = _take_flight(run, p.remote.name, plan) or send_examine(
            s, p.remote.name, *plan, opts.inline_prefix
        )
        sel, changed, vanished, new = read_examine(s, flight)
        if new is not None and flight.uids is not None:
            ready[flight.uids] = new
        pre = (changed, vanished)
        closed = _closed(run, row, sel, flight, new)
        if closed:
            _send_next(run)
    elif s.qresync and row.highestmodseq is not None and row.uidvalidity is not None and row.highest_uid > 0:
        sel, changed, vanished = s.select_qresync(p.remote.name, row.uidvalidity, row.highestmodseq, pending)
        pre = (changed, vanished)
    else:
        sel = s.select(p.remote.name, writable=pending)
    if row.uidvalidity is not None and sel.uidvalidity != row.uidvalidity:
        removed = writer.drop_folder_locations(conn, row.id, gone=False, reset=True)
        run.folder_changed(FolderChanged(box.id, row.name, "uidvalidity", removed=removed))
        row = writer.folder(conn, row.id)
        first_done = extend = False
    if pending:
        _push_flags(run, row)
    if row.highest_uid > 0:
        _known_changes(run, row, sel, pre)
    lo, hi = row.highest_uid + 1, sel.uidnext - 1
    if hi < lo and sel.messages and sel.uidnext == 0:  # a server without UIDNEXT: look for the last UID
        hi = max(s.search_uids(lo, 2**31 - 1) or [0])
    if hi >= lo:
        prefix = None
        if not first_done and run.since is not None:
            windows = _uid_windows(s.search_uids(lo, hi, run.since), opts.header_window)
        elif first_done and opts.bodies and hi - lo < opts.inline_count:
            prefix = opts.inline_prefix  # a few new messages: whole (when small) in the same round trip
            windows = ((f"{a}:{b}", b) for a, b in _ranges(lo, hi, opts.inline_window))
        else:
            windows = ((f"{a}:{b}", b) for a, b in _ranges(lo, hi, opts.header_window))
        # since_loaded moves to a longer period only at the end, after the older UIDs were searched
        first = {} if first_done or extend else {"since_loaded": since_text}
        _load_headers(run, row, p.remote.name, windows, sel, first, hi, prefix, ready)
    if first_done and hi >= lo and opts.bodies and not closed:  # closed: the new mail came whole
        from store.sync.bodies import load_folder_bodies

        load_folder_bodies(run, row, sel.uidvalidity)
    if extend:
        have = set(writer.stored_uids(conn, row.id))
        older = [u for u in s.search_uids(1, row.highest_uid, run.since) if u not in have]
        _load_headers(run, row, p.remote.name, _uid_windows(older, opts.header_window), sel, {}, None)
    writer.update_folder(
        conn,
        row.id,
        uidvalidity=sel.uidvalidity,
        uidnext=sel.uidnext,
        highestmodseq=sel.highestmodseq,
        highest_uid=max(row.highest_uid, hi),
        lowest_uid_loaded=row.lowest_uid_loaded or 1,
        since_loaded=since_text if not first_done or extend else row.since_loaded,
        last_sync_at=run.now_text(),
    )
    run.summary.folders += 1


def _since_text(run: Run) -> str:
    """The run's load period as stored in `since_loaded`: 'all' or the first day's ISO date."""
    return run.since.isoformat() if run.since else "all"


def _settled(run: Run, row: writer.FolderRow) -> bool:
    """Whether the folder's first load is done for the run's whole period (no search for older mail)."""
    return row.lowest_uid_loaded is not None and covers(row.since_loaded, _since_text(run))


def _unchanged(run: Run, row: writer.FolderRow, st: FolderStatus | None) -> bool:
    """Whether LIST-STATUS shows the folder as it was at its last sync: nothing to send for it."""
    return (
        st is not None
        and _settled(run, row)
        and row.id not in run.pending_folders
        and run.session.condstore
        and st.highestmodseq is not None
        and row.uidvalidity == st.uidvalidity
        and row.uidnext == st.uidnext
        and row.highestmodseq == st.highestmodseq
    )


def _flight_plan(run: Run, row: writer.FolderRow, st: FolderStatus | None) -> FlightPlan | None:
    """(UIDVALIDITY, modseq, UID set of the first new messages or None) of the EXAMINE flight that
    `sync_folder` opens the folder with, or None when it opens it otherwise: a SELECT to push the user's
    flag changes, a plain SELECT without QRESYNC or before anything is stored, or a status not known yet."""
    s = run.session
    if (
        st is None
        or not s.qresync
        or row.highestmodseq is None
        or row.uidvalidity is None
        or row.uidvalidity != st.uidvalidity
        or row.highest_uid <= 0
        or row.id in run.pending_folders
    ):
        return None
    ahead = _first_new_window(run, row, st) if _settled(run, row) else None
    return row.uidvalidity, row.highestmodseq, ahead


def _take_flight(run: Run, folder: str, plan: FlightPlan) -> Flight | None:
    """The flight sent for *folder* while the previous folder was stored, if it asked what *plan* asks.
    Any other flight still in the air is read and dropped, so the session answers in order again."""
    flight, run.flight = run.flight, None
    if flight is None:
        return None
    if (flight.folder, flight.uidvalidity, flight.uids) == (folder, plan[0], plan[2]):
        return flight
    read_examine(run.session, flight)  # a plan that changed (should not happen): asked again below
    return None


def land(run: Run) -> None:
    """Read and drop a flight still in the air (before the body phase or anything else talks IMAP)."""
    flight, run.flight = run.flight, None
    if flight is not None:
        read_examine(run.session, flight)


def _send_next(run: Run) -> None:
    """Send the flight of the next folder that needs one (skipping those LIST-STATUS shows unchanged), so
    the server opens it while this process parses and stores the folder just read."""
    for q in run.upcoming:
        if _unchanged(run, q.row, q.status):
            continue
        plan = _flight_plan(run, q.row, q.status)
        if plan is not None:
            run.flight = send_examine(run.session, q.remote.name, *plan, run.options.inline_prefix)
        return


def _closed(
    run: Run,
    row: writer.FolderRow,
    sel: FolderStatus,
    flight: Flight,
    new: dict[int, dict[bytes, Any]] | None,
) -> bool:
    """Whether the folder's flight answered all `sync_folder` needs to send for it: its load is settled, its
    UIDVALIDITY and modseq are known, and the new mail (if any) came whole in the flight's one window."""
    if (
        not _settled(run, row)
        or sel.uidvalidity != row.uidvalidity
        or sel.highestmodseq is None
        or sel.uidnext == 0
    ):
        return False
    lo, hi = row.highest_uid + 1, sel.uidnext - 1
    if hi < lo:
        return True
    if new is None or flight.uids is None or int(flight.uids.rpartition(":")[2]) < hi:
        return False
    from store.sync.parse import header_block  # here: a folder with only flag changes needs no parser

    for d in new.values():
        raw = d.get(b"BODY[]<0>") or b""
        if len(raw) < int(d.get(b"RFC822.SIZE", 0)) or header_block(raw) is None:
            return False
    return True


def _first_new_window(run: Run, row: writer.FolderRow, st: FolderStatus) -> str | None:
    """The UID set of the first window of new mail that LIST-STATUS announces for a folder whose first load
    is done, when those few new messages come with their first bytes (see `sync_folder`); else None."""
    opts = run.options
    lo, hi = row.highest_uid + 1, st.uidnext - 1
    if not opts.bodies or st.uidvalidity != row.uidvalidity or hi < lo or hi - lo >= opts.inline_count:
        return None
    return f"{lo}:{min(hi, lo + opts.inline_window - 1)}"


def _ranges(lo: int, hi: int, step: int) -> Iterator[tuple[int, int]]:
    for a in range(lo, hi + 1, step):
        yield a, min(hi, a + step - 1)


def _uid_windows(uids: list[int], size: int) -> Iterator[tuple[str, int]]:
    for i in range(0, len(uids), size):
        part = uids[i : i + size]
        yield uid_set(part), part[-1]


def _load_headers(
    run: Run,
    row: writer.FolderRow,
    name: str,
    windows: Iterator[tuple[str, int]],
    sel: FolderStatus,
    first: dict,
    hi: int | None,
    prefix: int | None = None,
    ready: dict[str, dict] | None = None,
) -> None:
    """Fetch envelopes window by window; each window commits with the folder's new highest UID.

    With *prefix*, each FETCH also brings the first *prefix* bytes of every message; those that arrive
    whole are parsed and stored with their bodies right away. *ready* holds the answers of such FETCHes
    sent already (with the EXAMINE), by UID set; a window whose UID set is there is not fetched again.
    """
    from store.sync.parse import header_block, internal_timestamp, parse_envelope, process_batch

    ready = ready or {}
    s, conn, box = run.session, run.conn, run.mailbox
    done = 0
    total = max(0, (hi or 0) - row.highest_uid)
    source = _ask_ahead(s, windows) if prefix is None else ((u, last, None) for u, last in windows)
    for uids, last, data in source:
        whole: dict[int, bytes] = {}
        if data is None:
            data = ready.pop(uids) if uids in ready else s.fetch_new(uids, prefix)
            missing = []
            for uid, d in data.items():
                raw = d.pop(b"BODY[]<0>", None) or b""
                header = header_block(raw)
                if header is None:
                    missing.append(uid)
                    continue
                d[b"BODY[HEADER]"] = header
                if len(raw) >= int(d.get(b"RFC822.SIZE", 0)):
                    whole[uid] = raw
            if missing:
                for uid, d in s.fetch_headers(uid_set(missing)).items():
                    data.setdefault(uid, {}).update(d)
        rows = []
        for uid, d in data.items():
            header = d.get(b"BODY[HEADER]")
            if header is None:
                continue
            date_value = d.get(b"INTERNALDATE")
            env = parse_envelope(
                header, int(d.get(b"RFC822.SIZE", 0)), lambda v=date_value: internal_timestamp(v)
            )
            rows.append(writer.HeaderRow(uid, _flags(d), _modseq(d), int(d.get(b"RFC822.SIZE", 0)), env))
        progress = {"uidvalidity": sel.uidvalidity, **first}
        if hi is not None:
            progress["highest_uid"] = last
        run.summary.new += writer.store_headers(conn, box.id, row.id, rows, progress)
        if whole:
            jobs = writer.body_jobs(conn, box.id, row.id, min(whole) - 1, len(whole) + 1)
            parsed = process_batch([(j.message_id, whole[j.uid]) for j in jobs if j.uid in whole])
            writer.store_bodies(conn, parsed)
            run.summary.bodies += len(parsed)
            run.summary.bytes += sum(len(r) for r in whole.values())
        first = {}
        done += len(rows)
        run.emit(FolderProgress(box.id, name, "headers", done, max(total, done)))


def _ask_ahead(
    session: Session, windows: Iterator[tuple[str, int]]
) -> Iterator[tuple[str, int, dict[int, dict[bytes, Any]]]]:
    """Envelope windows with their answers, each FETCH sent one window ahead: while the caller parses and
    stores window k, the server already reads window k+1. The caller must send nothing else on the session
    meanwhile (the envelope loop only parses and writes), and *windows* must not talk to the server (they
    are UID ranges or a list searched beforehand)."""
    windows = iter(windows)
    current = next(windows, None)
    tag = session.send_headers(current[0]) if current else ""
    while current is not None:
        answer = session.read_headers(tag)
        upcoming = next(windows, None)
        if upcoming is not None:
            tag = session.send_headers(upcoming[0])
        yield current[0], current[1], answer
        current = upcoming


def _flags(d: dict) -> str:
    return flag_text([f for f in d.get(b"FLAGS", ()) if f not in (b"\\Recent", "\\Recent")])


def _modseq(d: dict) -> int | None:
    value = d.get(b"MODSEQ")
    if isinstance(value, tuple | list):
        value = value[0] if value else None
    return int(value) if value is not None else None


def _known_changes(
    run: Run, row: writer.FolderRow, sel: FolderStatus, pre: tuple[dict, set[int]] | None = None
) -> None:
    """Flag changes and expunges of stored messages: CONDSTORE/QRESYNC when offered, else a full compare."""
    s, conn = run.session, run.conn
    flags: list[tuple[str, int | None, int]] = []
    expunged: list[int] = []
    if s.condstore and row.highestmodseq is not None and sel.highestmodseq is not None:
        if sel.highestmodseq == row.highestmodseq:
            return
        if pre is not None:  # SELECT … (QRESYNC …) already reported them
            changed, vanished = pre
        else:
            changed, vanished = s.changed_since(row.highest_uid, row.highestmodseq)
        flags = [(_flags(d), _modseq(d), uid) for uid, d in changed.items() if b"FLAGS" in d]
        if vanished is not None:
            expunged = sorted(vanished)  # UIDs never stored delete nothing
        else:
            expunged = _missing_uids(run, row)
    else:
        stored = writer.stored_uids(conn, row.id)
        if not stored:
            return
        present: set[int] = set()
        for a, b in _ranges(min(stored), row.highest_uid, FLAG_WINDOW):
            for uid, d in s.fetch_flags(f"{a}:{b}").items():
                present.add(uid)
                if uid in stored:
                    text = _flags(d)
                    if text != stored[uid][0]:
                        flags.append((text, _modseq(d), uid))
        expunged = [u for u in stored if u not in present]
    changed_n, removed_n = writer.apply_changes(conn, row.id, flags, expunged, {})
    run.summary.flags_changed += changed_n
    run.summary.expunged += removed_n


def _missing_uids(run: Run, row: writer.FolderRow) -> list[int]:
    """Stored UIDs the server no longer has (windowed UID SEARCH, for servers without QRESYNC)."""
    stored = writer.stored_uids(run.conn, row.id)
    if not stored:
        return []
    present = set(run.session.search_uids(min(stored), row.highest_uid))
    return [u for u in stored if u not in present]


def _push_flags(run: Run, row: writer.FolderRow) -> None:
    """Send the flags the user changed locally (as additions and removals, which commute with others')."""
    pending = writer.pending_flag_changes(run.conn, row.id)
    groups: dict[tuple[str, str], list[int]] = {}
    for uid, add, rem in pending:
        groups.setdefault((add, rem), []).append(uid)
    for (add, rem), uids in groups.items():
        run.session.store_flags(uids, add.split(), rem.split())
    writer.clear_pending(run.conn, row.id, pending)
    run.summary.flags_pushed += len(pending)
