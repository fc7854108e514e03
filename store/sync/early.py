"""The early body lane: on a first load, a helper process loads the bodies of the folders whose envelopes
are stored while this process goes on with the envelopes of the next folders.

The header phase is one thread of Python (it holds the GIL), so on two cores one of them sits mostly idle
for its 2-3 s (10,000 messages). A helper process (`worker.py` in its serial mode: one window fetched,
then parsed and stored, about 40 MB) uses that core. A feeder thread here keeps it one window ahead (it
only waits on the helper's pipe and writes small jobs to it, so it barely needs the GIL). When the
envelopes are all stored the helper finishes the window it is on and stops, before the body phase, which
takes what is left from the store (`body_loaded = 0`): no message is fetched twice, and the helper and
the body phase's own threads never run at the same time (memory stays that of one of them).

Anything that goes wrong in the helper stops only the helper: the body phase then loads what it left and
meets the same problem itself if it is real (a lost server, a full disk), with the engine's retries and
error reporting. Only sync runs that load bodies in this process (`SyncOptions.main_lane`, the CLI and
the scheduler) use it; the TUI leaves the whole body phase to a helper anyway.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections import deque
from typing import TYPE_CHECKING

from store.sync import writer

if TYPE_CHECKING:
    from store.sync.engine import Run
    from store.sync.folders import Planned
    from store.sync.worker import WorkerLane

log = logging.getLogger("mailroom.sync.early")

DEPTH = 2  # windows given to the helper at a time: the one it works on and the next
PAGE = 2000  # pending bodies read from a finished folder at most
QUEUED = 12  # windows waiting for the helper at most (about a second of its work): the rest of a big
# first load is the body phase's, and the queue's memory does not grow with the mailbox
WINDOW_BYTES = 2 << 20  # a smaller window than the body phase's: the helper and the header phase share
# the memory budget (3 MB windows took the sum of both to 115-118 MB, 2 MB to 112 MB; 10,000 messages)
FINISH_WAIT = 1.0  # seconds the body phase waits for the helper's last windows before it stops it


def later_fresh_messages(planned: list[Planned]) -> int:
    """Messages (as STATUS counted them) in the folders whose first load is not finished, but for the first
    of them that has any: the helper can start on a folder only once its envelopes are stored, so what it
    has time for is the envelopes of the folders after it (one big folder alone gives it nothing to do)."""
    counts = [
        p.status.messages
        for p in planned
        if p.status is not None and p.status.messages and p.row.lowest_uid_loaded is None
    ]
    return sum(counts[1:])


class EarlyLane:
    """The helper of one sync attempt's header phase and the thread that feeds it; see the module's text."""

    def __init__(self, run: Run, lane: WorkerLane) -> None:
        self.run = run
        self.lane = lane
        self.jobs: deque[tuple] = deque()  # windows to hand over, as the helper takes them
        self.taken: set[int] = set()  # messages queued already (a copy in another folder is not taken twice)
        self.wake = threading.Event()
        self.stopping = False
        self.stored = self.bytes = 0
        self.error = ""
        self.feeder = threading.Thread(target=self._feed, name="mailroom-early-feeder", daemon=True)
        self.feeder.start()

    @classmethod
    def start(cls, run: Run, planned: list[Planned]) -> EarlyLane | None:
        """A lane when this sync loads bodies in this process and its first load is big enough to pay for
        starting a process (`SyncOptions.early_lane_from` messages); else None."""
        opts = run.options
        if not (opts.bodies and opts.main_lane and opts.workers is None) or opts.early_lane_from <= 0:
            return None
        if later_fresh_messages(planned) < opts.early_lane_from:
            return None
        from store.sync.bodies import lane_config
        from store.sync.worker import WorkerLane

        try:
            return cls(run, WorkerLane({**lane_config(run), "serial": True}))
        except OSError:  # no process to be had: the body phase does it all, as without the lane
            return None

    def folder_done(self, folder_id: int) -> None:
        """Queue the pending bodies of a folder whose envelopes are stored (called by the sync thread)."""
        room = QUEUED - len(self.jobs)
        if self.stopping or room <= 0:
            return
        from store.sync.bodies import _windows

        run, opts = self.run, self.run.options
        row = writer.folder(run.conn, folder_id)
        if row.gone or row.uidvalidity is None:
            return
        size = min(WINDOW_BYTES, opts.body_window_bytes)
        jobs = [
            j
            for j in writer.body_jobs(run.conn, run.mailbox.id, folder_id, 0, PAGE)
            if j.size <= opts.large_message and j.message_id not in self.taken
        ]
        for window in itertools.islice(_windows(jobs, size, opts.body_window_count), room):
            self.taken.update(j.message_id for j in window)
            self.jobs.append(
                ("bodies", row.name, row.uidvalidity, [(j.message_id, j.uid, j.size) for j in window])
            )
        self.wake.set()

    def _feed(self) -> None:
        """The feeder thread: keep DEPTH windows with the helper, count what it stored; after `finish`,
        hand over nothing more and wait for what it has."""
        lane = self.lane
        try:
            while True:
                while self.jobs and lane.pending < DEPTH and not self.stopping:
                    lane.submit(self.jobs.popleft())
                if lane.pending:  # a blocking read: select() would miss a reply the pipe's buffer holds
                    stored, nbytes = lane.result()
                    self.stored += stored
                    self.bytes += nbytes
                    continue
                if self.stopping:
                    return
                self.wake.wait(0.5)
                self.wake.clear()
        except Exception as exc:  # noqa: BLE001 - the helper stops; the body phase loads what it left
            from store.net import server_text
            from store.secrets import redact

            self.error = server_text(redact(f"{type(exc).__name__}: {exc}", self.run.secret))
            self.stopping = True  # nothing more is queued for it
            log.info("%s: the early body helper stopped (%s)", self.run.mailbox.email, self.error)

    def finish(self) -> None:
        """Let the helper end the windows it has (for at most FINISH_WAIT seconds) and stop it: before the
        body phase, which then loads whatever is still without a body."""
        self.close()

    def close(self) -> None:
        """Stop the helper (after the windows it has, or at once when they take longer than FINISH_WAIT: a
        stalled connection; killed mid-window it leaves that window unstored, as a crash would) and count
        what it stored in the run's summary (also when the attempt failed: the summary spans retries)."""
        self.stopping = True
        self.jobs.clear()
        self.taken = set()
        self.wake.set()
        if not self.feeder.is_alive() and self.lane.proc.returncode is not None:
            return
        self.feeder.join(FINISH_WAIT)
        if self.feeder.is_alive():
            self.lane.proc.kill()
            self.feeder.join()
        self.lane.close()
        self.run.summary.bodies += self.stored
        self.run.summary.bytes += self.bytes
        self.stored = self.bytes = 0
