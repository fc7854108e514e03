"""The body phase: whole messages fetched in byte-bounded UID windows, parsed (in worker processes when
there is much to do) and stored; large messages are streamed in chunks so memory does not grow with them."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from store.sync import writer
from store.sync.events import FolderProgress
from store.sync.imap import uid_set
from store.sync.packs import PackWriter
from store.sync.parse import (
    TEXT_LIMIT,
    Attachment,
    Parsed,
    _transfer_decode,
    compress,
    decode_charset,
    decode_words,
    html_to_text,
    process_batch,
)

if TYPE_CHECKING:
    from store.sync.engine import Run

TEXT_SECTION_LIMIT = 2 << 20  # text parts of a large message above this stay only in the raw copy


def _windows(
    jobs: Sequence[writer.BodyJob], max_bytes: int, max_count: int
) -> Iterator[list[writer.BodyJob]]:
    window: list[writer.BodyJob] = []
    size = 0
    for job in jobs:
        if window and (size + job.size > max_bytes or len(window) >= max_count):
            yield window
            window, size = [], 0
        window.append(job)
        size += job.size
    if window:
        yield window


def lane_config(run: Run) -> dict[str, Any]:
    """What a helper process needs to fetch and store on its own (the password travels over the pipe)."""
    store = run.store
    provider = store.providers.get(run.mailbox.provider_id)
    return {
        "db": str(store.path),
        "endpoint": {
            "host": provider.imap_host,
            "port": provider.imap_port,
            "tls": provider.imap_tls,
            "ca_file": provider.ca_file,
        },
        "login": run.mailbox.login,
        "password": run.secret.reveal(),
        "timeout": run.options.timeout,
        "condstore": run.options.use_condstore,
        "qresync": run.options.use_qresync,
    }


PAGE = 2000  # pending messages read from the store at a time, so memory does not grow with the mailbox


def load_bodies(run: Run, pending: dict[int, tuple[int, int]]) -> None:
    """Fetch and store the bodies of every message of the mailbox that has only its envelope so far.

    Windows go alternately to this process and, for big loads, to helper processes with their own IMAP
    and database connections, so parsing and writing use both cores. *pending* is the mailbox's
    `writer.pending_bodies`, which the engine read to decide whether there is work.
    """
    from store.sync.worker import WorkerLane

    conn, opts = run.conn, run.options
    run.selected_validity = None
    rows = {fid: writer.folder(conn, fid) for fid in pending}
    rows = {fid: r for fid, r in rows.items() if not r.gone and r.uidvalidity is not None}
    if not rows:
        return
    total = sum(pending[fid][0] for fid in rows)
    total_bytes = sum(pending[fid][1] for fid in rows)
    big = total_bytes >= opts.pool_threshold and not opts.main_lane
    helpers = opts.workers if opts.workers is not None else (1 if big else 0)
    large: list[writer.BodyJob] = []
    done = {"n": 0}

    def windows() -> Iterator[list[writer.BodyJob]]:
        for fid in sorted(rows):
            after = 0
            while page := writer.body_jobs(conn, run.mailbox.id, fid, after, PAGE):
                after = page[-1].uid
                large.extend(j for j in page if j.size > opts.large_message)
                yield from _windows(
                    [j for j in page if j.size <= opts.large_message],
                    opts.body_window_bytes,
                    opts.body_window_count,
                )

    def progress(window: list[writer.BodyJob], stored: int) -> None:
        run.summary.bodies += stored
        done["n"] += len(window)
        name = rows[window[0].folder_id].name
        run.emit(FolderProgress(run.mailbox.id, name, "bodies", done["n"], max(total, done["n"])))

    if not helpers:
        from store.sync.pipeline import load_windows

        load_windows(run, rows, windows(), progress, _select)
        _load_large(run, rows, large, progress)
        return
    lanes = [WorkerLane(lane_config(run)) for _ in range(helpers)]
    packs = PackWriter(run.store.path)
    try:
        queue = windows()
        upcoming = next(queue, None)
        sent: dict[int, list[list[writer.BodyJob]]] = {i: [] for i in range(len(lanes))}
        while upcoming is not None or any(lane.pending for lane in lanes):
            for i, lane in enumerate(lanes):
                while lane.pending and lane.ready():
                    stored, nbytes = lane.result()
                    run.summary.bytes += nbytes
                    progress(sent[i].pop(0), stored)
                while upcoming is not None and lane.pending < 2:
                    row = rows[upcoming[0].folder_id]
                    lane.submit(
                        (
                            "bodies",
                            row.name,
                            row.uidvalidity,
                            [(j.message_id, j.uid, j.size) for j in upcoming],
                        )
                    )
                    sent[i].append(upcoming)
                    upcoming = next(queue, None)
            if upcoming is not None and (opts.main_lane or not lanes):
                window, upcoming = upcoming, next(queue, None)
                progress(window, _fetch_window(run, rows[window[0].folder_id], window, packs))
            elif any(lane.pending for lane in lanes):
                i = next(i for i, lane in enumerate(lanes) if lane.pending)
                stored, nbytes = lanes[i].result()
                run.summary.bytes += nbytes
                progress(sent[i].pop(0), stored)
        _load_large(run, rows, large, progress)
    finally:
        packs.close()
        for lane in lanes:
            lane.close()


def _load_large(
    run: Run,
    rows: dict[int, writer.FolderRow],
    large: list[writer.BodyJob],
    progress: Callable[[list[writer.BodyJob], int], None],
) -> None:
    for job in large:
        row = rows[job.folder_id]
        if _select(run, row):
            _stream_large(run, job)
        progress([job], 0)


def load_folder_bodies(run: Run, row: writer.FolderRow, uidvalidity: int) -> None:
    """Fetch the bodies of a few new messages of the folder just synced, while it is still selected."""
    opts = run.options
    jobs = [
        j
        for j in writer.body_jobs(run.conn, run.mailbox.id, row.id, few=True)
        if j.size <= opts.large_message
    ]
    if not jobs or sum(j.size for j in jobs) > opts.inline_bodies:
        return
    run.selected_validity = uidvalidity
    row = dataclasses.replace(row, uidvalidity=uidvalidity)
    done = 0
    for window in _windows(jobs, opts.body_window_bytes, opts.body_window_count):
        run.summary.bodies += _fetch_window(run, row, window)
        done += len(window)
        run.emit(FolderProgress(run.mailbox.id, row.name, "bodies", done, len(jobs)))


def _select(run: Run, row: writer.FolderRow) -> bool:
    """Select the folder unless it is; False when its UIDVALIDITY changed (the next sync resets it)."""
    if run.session.selected == row.name and run.selected_validity == row.uidvalidity:
        return True
    sel = run.session.select(row.name)
    run.selected_validity = sel.uidvalidity
    return sel.uidvalidity == row.uidvalidity


class ShortFetch(ConnectionError):
    """The server sent less of a message than its RFC822.SIZE: a cut-off transfer, retried like one."""


def check_whole(
    raws: dict[int, bytes],
    sizes: dict[int, int],
    conn: sqlite3.Connection | None = None,
    ids: dict[int, int] | None = None,
) -> None:
    """Refuse a window in which a message is shorter than the size the server gave for it (a cut-off
    transfer), so it is fetched again. With the store's *conn* and the message *ids* by UID, the
    shortfall is noted on the message, and the very same shortfall seen again is taken as the message:
    a server that gives estimated sizes (as Exchange may) sends the same bytes every time, and refusing
    them would stop the body phase at that window in every sync."""
    short = {uid: len(raw) for uid, raw in raws.items() if len(raw) < sizes.get(uid, 0)}
    if short and conn is not None and ids is not None:
        seen = writer.note_short(
            conn, {ids[uid]: (got, sizes[uid]) for uid, got in short.items() if uid in ids}
        )
        short = {uid: got for uid, got in short.items() if ids.get(uid) not in seen}
    for uid, got in short.items():
        raise ShortFetch(f"UID {uid}: {got} of {sizes[uid]} bytes arrived")


def _fetch_window(
    run: Run, row: writer.FolderRow, window: list[writer.BodyJob], packs: PackWriter | None = None
) -> int:
    """Fetch, parse and store one window in this process (raw bytes in *packs* if given, else in the
    rows); returns the messages stored."""
    if not _select(run, row):
        return 0
    raws = run.session.fetch_bodies(uid_set(j.uid for j in window))
    by_uid = {j.uid: j.message_id for j in window}
    check_whole(raws, {j.uid: j.size for j in window}, run.conn, by_uid)
    items = [(by_uid[uid], raw) for uid, raw in raws.items() if uid in by_uid]
    run.summary.bytes += sum(len(r) for _, r in items)
    parsed = process_batch(items)
    return writer.store_bodies(run.conn, parsed, packs=packs)


# -- large messages --------------------------------------------------------------------------------


def _stream_large(run: Run, job: writer.BodyJob) -> None:
    """Store a large message chunk by chunk, and its text and attachments from the server's BODYSTRUCTURE."""
    s, chunk_size = run.session, run.options.raw_chunk
    structure = s.bodystructure(job.uid)
    if structure is None:
        return  # expunged meanwhile; the next sync drops its location
    offset = seq = 0
    while True:  # until the size the server gave is reached; a short chunk is not the end
        data = s.fetch_partial(job.uid, offset, chunk_size)
        if data is None:
            return
        if data or seq == 0:
            writer.store_raw_chunk(run.conn, job.message_id, seq, compress(data))
            seq += 1
        offset += len(data)
        run.summary.bytes += len(data)
        if not data or (offset >= job.size and len(data) < chunk_size):
            break
    if offset < job.size and job.message_id not in writer.note_short(
        run.conn, {job.message_id: (offset, job.size)}
    ):
        raise ShortFetch(f"UID {job.uid}: the message ended after {offset} of {job.size} bytes")
    problems: list[str] = []
    plain: list[str] = []
    html: list[str] = []
    attachments: list[Attachment] = []
    for leaf in _leaves(structure, ""):
        section, ctype, params, encoding, size, disposition, dparams, cid = leaf
        filename = decode_words(dparams.get("filename") or params.get("name") or "")
        if ctype in ("text/plain", "text/html") and disposition != "attachment" and not filename:
            if size > TEXT_SECTION_LIMIT:
                problems.append(f"text part {section} too large to index ({size} bytes)")
                continue
            raw = s.fetch_section(job.uid, section) or b""
            text = decode_charset(_transfer_decode(raw, encoding, problems), params.get("charset"))
            (plain if ctype == "text/plain" else html).append(text)
        else:
            if encoding == "base64":
                size = size * 57 // 78  # decoded size, assuming the usual 76-character lines
            attachments.append(
                Attachment(
                    section,
                    filename,
                    ctype,
                    size,
                    cid,
                    disposition == "inline" or (not filename and bool(cid)),
                )
            )
    text = "\n\n".join(plain) if plain else html_to_text("\n".join(html), problems) if html else ""
    text = text.replace("\r\n", "\n")[:TEXT_LIMIT]
    parsed = Parsed(job.message_id, text, tuple(attachments), "; ".join(problems), ())
    writer.store_bodies(run.conn, [parsed], keep_raw=True)
    run.summary.bodies += 1


def _s(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return "" if value is None else str(value)


def _params(value: Any) -> dict[str, str]:
    if not isinstance(value, tuple | list):
        return {}
    return {_s(value[i]).lower(): _s(value[i + 1]) for i in range(0, len(value) - 1, 2)}


def _leaves(body: Any, path: str) -> Iterator[tuple[str, str, dict, str, int, str, dict, str]]:
    """(section, type, params, encoding, size, disposition, disposition params, content id) of each leaf."""
    if body.is_multipart if hasattr(body, "is_multipart") else isinstance(body[0], list):
        for n, part in enumerate(body[0], 1):
            yield from _leaves(part, f"{path}.{n}" if path else str(n))
        return
    ctype = f"{_s(body[0])}/{_s(body[1])}".lower()
    params = _params(body[2])
    cid = _s(body[3]).strip("<>")
    encoding = _s(body[5]).lower()
    size = int(body[6] or 0)
    if ctype.startswith("text/"):
        disp_index = 9
    elif ctype == "message/rfc822":
        disp_index = 11
    else:
        disp_index = 8
    disposition, dparams = "", {}
    if len(body) > disp_index and isinstance(body[disp_index], tuple | list) and body[disp_index]:
        disposition = _s(body[disp_index][0]).lower()
        dparams = _params(body[disp_index][1]) if len(body[disp_index]) > 1 else {}
    yield path or "1", ctype, params, encoding, size, disposition, dparams, cid
