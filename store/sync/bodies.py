"""The body phase: whole messages fetched in byte-bounded UID windows, parsed (in worker processes when
there is much to do) and stored; large messages are streamed in chunks so memory does not grow with them."""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator, Sequence
from itertools import groupby
from typing import TYPE_CHECKING, Any

from store.sync import writer
from store.sync.events import FolderProgress
from store.sync.imap import uid_set
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


class _Inline:
    """Parses in this process; same interface as a pool's AsyncResult."""

    def __init__(self, items: list[tuple[int, bytes]]) -> None:
        self._items = items

    def get(self) -> list[Parsed]:
        return process_batch(self._items)


def _pool(workers: int) -> Any:
    """A pool of parsing processes started from a clean fork server (safe with the scheduler's threads)."""
    import multiprocessing

    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["store.sync.parse", "zstandard", "html2text"])
    return ctx.Pool(workers)


def _windows(jobs: Sequence[writer.BodyJob], max_bytes: int, max_count: int) -> Iterator[list[writer.BodyJob]]:
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


def load_bodies(run: Run) -> None:
    """Fetch and store the bodies of every message of the mailbox that has only its envelope so far."""
    conn, opts = run.conn, run.options
    jobs = writer.body_jobs(conn, run.mailbox.id)
    if not jobs:
        return
    total_bytes = sum(j.size for j in jobs if j.size <= opts.large_message)
    workers = opts.workers if opts.workers is not None else (min(2, os.cpu_count() or 1)
                                                            if total_bytes >= opts.pool_threshold else 0)
    pool = _pool(workers) if workers > 0 else None
    inflight: deque[Any] = deque()
    try:
        for folder_id, group in groupby(jobs, key=lambda j: j.folder_id):
            group_jobs = list(group)
            row = writer.folder(conn, folder_id)
            if row.gone or row.uidvalidity is None:
                continue
            sel = run.session.select(row.name)
            if sel.uidvalidity != row.uidvalidity:
                continue  # the next header phase resets this folder
            small = [j for j in group_jobs if j.size <= opts.large_message]
            done = 0
            for window in _windows(small, opts.body_window_bytes, opts.body_window_count):
                raws = run.session.fetch_bodies(uid_set(j.uid for j in window))
                items = [(j.message_id, raws[j.uid]) for j in window if j.uid in raws]
                run.summary.bytes += sum(len(r) for _, r in items)
                inflight.append(pool.apply_async(process_batch, (items,)) if pool else _Inline(items))
                while len(inflight) > (workers + 1 if pool else 0):
                    _store(run, inflight.popleft().get())
                done += len(window)
                run.emit(FolderProgress(run.mailbox.id, row.name, "bodies", done, len(group_jobs)))
            for job in group_jobs:
                if job.size > opts.large_message:
                    _stream_large(run, job)
                    done += 1
                    run.emit(FolderProgress(run.mailbox.id, row.name, "bodies", done, len(group_jobs)))
        while inflight:
            _store(run, inflight.popleft().get())
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()


def _store(run: Run, parsed: list[Parsed]) -> None:
    writer.store_bodies(run.conn, parsed)
    run.summary.bodies += len(parsed)


# -- large messages --------------------------------------------------------------------------------


def _stream_large(run: Run, job: writer.BodyJob) -> None:
    """Store a large message chunk by chunk, and its text and attachments from the server's BODYSTRUCTURE."""
    s, chunk_size = run.session, run.options.raw_chunk
    structure = s.bodystructure(job.uid)
    if structure is None:
        return  # expunged meanwhile; the next sync drops its location
    offset = seq = 0
    while True:
        data = s.fetch_partial(job.uid, offset, chunk_size)
        if data is None:
            return
        if data or seq == 0:
            writer.store_raw_chunk(run.conn, job.message_id, seq, compress(data))
            seq += 1
        offset += len(data)
        run.summary.bytes += len(data)
        if len(data) < chunk_size:
            break
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
                size = size * 3 // 4
            attachments.append(Attachment(section, filename, ctype, size, cid,
                                          disposition == "inline" or (not filename and bool(cid))))
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
