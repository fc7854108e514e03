"""A virtual list of stored messages, newest first, that reads only the pages of rows it shows."""

from __future__ import annotations

import textwrap
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import ClassVar, NamedTuple

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events, on
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.worker import Worker, WorkerState, get_current_worker

from store.clock import Clock
from store.identity import Actor
from store.service import Store
from store.sync.messages import MessageRow

PAGE_SIZE = 200
"""Rows read per query."""

CACHED_PAGES = 20
"""Pages kept in memory (the window around what was looked at last)."""

PREFETCH_PAGES = 2
"""Pages read ahead of the view in the direction of travel."""

DATE_WIDTH = 10
STRIP_CACHE = 512


def describe_date(sent_at: datetime, now: datetime) -> str:
    """A short date: the time for today's mail, month and day for this year's, else the full date."""
    local, today = sent_at.astimezone(), now.astimezone()
    if local.date() == today.date():
        return f"{local:%H:%M}"
    if local.year == today.year:
        return f"{local:%b %d}"
    return f"{local:%Y-%m-%d}"


class Line(NamedTuple):
    """A row with its text prepared off the UI thread, so drawing only fits it to the width."""

    row: MessageRow
    unread: bool
    flagged: bool
    sender: str
    subject: str
    date: str


def make_lines(rows: list[MessageRow], now: datetime) -> list[Line]:
    """Prepare rows for drawing."""
    return [
        Line(
            r,
            "\\Seen" not in r.flags,
            "\\Flagged" in r.flags,
            r.from_name or r.from_address or "(no sender)",
            " ".join((r.subject or "(no subject)").split()),
            describe_date(r.sent_at, now),
        )
        for r in rows
    ]


def fit(text: str, width: int) -> str:
    """*text* padded or cut to exactly *width* cells, with an ellipsis where it was cut."""
    if text.isascii() and len(text) <= width:
        return text.ljust(width)
    if cell_len(text) <= width:
        return set_cell_size(text, width)
    return set_cell_size(text, width - 1) + "…"


def _key(line: Line) -> tuple[datetime, int]:
    """Where the next page starts after *line* (keyset pagination)."""
    return line.row.sent_at, line.row.location_id


class MessageList(ScrollView, can_focus=True):
    """Loaded messages newest first with sender, subject, date and unread / flagged marks.

    Only the total is counted up front; pages of PAGE_SIZE rows are read in a thread worker as they come
    into view (the next page by keyset after a cached one, else by offset) and the last CACHED_PAGES kept.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "message-list--cursor",
        "message-list--unread",
        "message-list--flagged",
        "message-list--muted",
    }

    DEFAULT_CSS = """
    MessageList {
        overflow-x: hidden;
        & > .message-list--cursor { background: $block-cursor-blurred-background; }
        &:focus > .message-list--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
        }
        & > .message-list--unread { text-style: bold; color: $text; }
        & > .message-list--flagged { color: $warning; }
        & > .message-list--muted { color: $text-muted; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open", "Open", id="messages.open"),
        Binding("up", "cursor_up", "Up", show=False, id="messages.up"),
        Binding("down", "cursor_down", "Down", show=False, id="messages.down"),
        Binding("pageup", "cursor_page_up", "Page up", show=False, id="messages.page_up"),
        Binding("pagedown", "cursor_page_down", "Page down", show=False, id="messages.page_down"),
        Binding("home", "cursor_first", "Newest", show=False, id="messages.first"),
        Binding("end", "cursor_last", "Oldest", show=False, id="messages.last"),
    ]

    @dataclass
    class Opened(Message):
        """The user asked to read the message under the cursor."""

        message_id: int
        location_id: int

    @dataclass
    class Loaded(Message):
        """The list (re)counted its rows; *total* is how many messages the filter matches."""

        total: int

    @dataclass
    class _Window(Message):
        """A fresh count with the pages around the view, replacing everything cached."""

        generation: int
        total: int
        pages: dict[int, list[Line]]

    @dataclass
    class _Page(Message):
        """One page of rows read for the current generation."""

        generation: int
        page: int
        lines: list[Line]

    def __init__(self, store: Store, actor: Actor, clock: Clock, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.store, self.actor, self.clock = store, actor, clock
        self.mailbox_id: int | None = None
        self.label = ""
        self.empty_text = "No messages."
        self.total = 0
        self.cursor = 0
        self.loaded = False
        self.failure = ""
        self._pages: OrderedDict[int, list[Line]] = OrderedDict()
        self._generation = 0
        self._stale = False
        self._inflight: set[int] = set()
        self._forward = True
        self._strips: dict[tuple[int, int, int], Strip] = {}

    # -- what to show ---------------------------------------------------------------------------
    def show_mailbox(self, mailbox_id: int | None, label: str, empty_text: str) -> None:
        """Show the mail of one mailbox (None: every mailbox of the user), from the newest."""
        if self.loaded and mailbox_id == self.mailbox_id and label == self.label:
            return
        self.mailbox_id, self.label, self.empty_text = mailbox_id, label, empty_text
        self.cursor, self.total, self.loaded, self.failure = 0, 0, False, ""
        self._set_pages({})
        self.virtual_size = Size(0, 0)
        self.scroll_to(y=0, animate=False)
        self._update_title()
        self.reload()

    def reload(self) -> None:
        """Count again and re-read the rows in view, keeping the cursor on its message when it moved."""
        self._generation += 1
        self._stale = True
        self._inflight.clear()
        height = max(1, self.scrollable_content_region.height)
        self.run_worker(
            partial(self._read_window, self._generation, self.mailbox_id, int(self.scroll_y), height),
            thread=True,
            exclusive=True,
            group="message-list.window",
            exit_on_error=False,
            description="Load messages",
        )

    def row_at(self, index: int) -> MessageRow | None:
        """The row at *index* when its page is in memory."""
        line = self._line_at(index)
        return line.row if line is not None else None

    @property
    def highlighted(self) -> MessageRow | None:
        """The row under the cursor, if read."""
        return self.row_at(self.cursor) if self.total else None

    def _line_at(self, index: int) -> Line | None:
        page = self._pages.get(index // PAGE_SIZE)
        if page is None or index % PAGE_SIZE >= len(page):
            return None
        return page[index % PAGE_SIZE]

    def _set_pages(self, pages: dict[int, list[Line]]) -> None:
        self._pages = OrderedDict(sorted(pages.items()))
        self._strips.clear()

    # -- reading, in thread workers ---------------------------------------------------------------
    def _read_window(self, generation: int, mailbox_id: int | None, top: int, height: int) -> None:
        total = self.store.messages.count(self.actor, mailbox_id)
        wanted = range(top // PAGE_SIZE, (top + height) // PAGE_SIZE + 1)
        pages: dict[int, list[Line]] = {}
        for page in [p for p in wanted if p * PAGE_SIZE < total] or [0]:
            before = pages.get(page - 1)
            pages[page] = self._read_page(mailbox_id, page, _key(before[-1]) if before else None)
        self.post_message(self._Window(generation, total, pages))

    def _read_some(
        self,
        generation: int,
        mailbox_id: int | None,
        wanted: list[int],
        keys: dict[int, tuple[datetime, int]],
    ) -> None:
        worker = get_current_worker()
        for page in wanted:
            if worker.is_cancelled:
                return
            lines = self._read_page(mailbox_id, page, keys.get(page))
            self.post_message(self._Page(generation, page, lines))
            if lines:
                keys[page + 1] = _key(lines[-1])

    def _read_page(self, mailbox_id: int | None, page: int, after: tuple[datetime, int] | None) -> list[Line]:
        """One page: by keyset when the row before it is known (fast at any depth), else by offset."""
        messages = self.store.messages
        if after is not None:
            rows = messages.list(self.actor, mailbox_id, limit=PAGE_SIZE, before=after)
        else:
            rows = messages.list(self.actor, mailbox_id, limit=PAGE_SIZE, offset=page * PAGE_SIZE)
        return make_lines(rows, self.clock())

    # -- results, on the UI thread ------------------------------------------------------------------
    @on(_Window)
    def _window_read(self, event: _Window) -> None:
        event.stop()
        if event.generation != self._generation:
            return
        kept = self.highlighted
        self._stale = False
        self.loaded = True
        self.failure = ""
        self.total = event.total
        self._set_pages(event.pages)
        self.virtual_size = Size(self.scrollable_content_region.width, self.total)
        if kept is not None and not (self.cursor == 0 and self.scroll_y == 0):
            self._follow(kept.location_id)
        self.cursor = min(self.cursor, max(0, self.total - 1))
        self._update_title()
        self.refresh()
        self._request_visible()
        self.post_message(self.Loaded(self.total))

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        """A failed read is handed to the app, which reports it; the list stays usable and reads again later:
        a failed count on the next sync or selection (its message shows meanwhile), a failed page when it is
        next in view."""
        if event.state != WorkerState.ERROR:
            return
        self.app.post_message(event)
        if event.worker.group == "message-list.window":
            self._stale = False
            if not self.loaded:
                self.loaded = True  # so that the next sync reads again
                self.failure = f"Could not read the messages: {event.worker.error}"
            self.refresh()
        else:
            self._inflight.clear()

    def _follow(self, location_id: int) -> None:
        """Put the cursor back on *location_id* when rows above it came or went, scrolling along."""
        for page, lines in self._pages.items():
            for offset, line in enumerate(lines):
                if line.row.location_id == location_id:
                    moved = page * PAGE_SIZE + offset - self.cursor
                    self.cursor += moved
                    self.scroll_to(y=self.scroll_y + moved, animate=False)
                    return

    @on(_Page)
    def _page_read(self, event: _Page) -> None:
        event.stop()
        self._inflight.discard(event.page)
        if event.generation != self._generation or self._stale:
            return
        self._pages[event.page] = event.lines
        self._pages.move_to_end(event.page)
        while len(self._pages) > CACHED_PAGES:
            self._pages.popitem(last=False)
        top = int(self.scroll_y)
        start = event.page * PAGE_SIZE
        if start < top + self.scrollable_content_region.height and start + PAGE_SIZE > top:
            self.refresh()

    def _request_visible(self) -> None:
        """Read the pages in view and PREFETCH_PAGES beyond them, unless cached or already on their way."""
        if self._stale or not self.loaded or not self.total:
            return
        top, height = int(self.scroll_y), max(1, self.scrollable_content_region.height)
        first, last = top // PAGE_SIZE, (top + height - 1) // PAGE_SIZE
        if self._forward:
            ahead = range(last + 1, last + 1 + PREFETCH_PAGES)
        else:
            ahead = range(first - 1, first - 1 - PREFETCH_PAGES, -1)
        order = [*range(first, last + 1), *ahead]
        wanted = [p for p in order if 0 <= p and p * PAGE_SIZE < self.total and p not in self._pages]
        for page in range(first, last + 1):
            if page in self._pages:
                self._pages.move_to_end(page)
        if not wanted or set(wanted) <= self._inflight:
            return
        keys = {p: _key(self._pages[p - 1][-1]) for p in wanted if self._pages.get(p - 1)}
        self._inflight = set(wanted)
        self.run_worker(
            partial(self._read_some, self._generation, self.mailbox_id, wanted, keys),
            thread=True,
            exclusive=True,
            group="message-list.pages",
            exit_on_error=False,
            description="Load messages",
        )

    # -- drawing --------------------------------------------------------------------------------------
    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._forward = new_value >= old_value
        self._request_visible()

    def on_resize(self, _event: events.Resize) -> None:
        self.virtual_size = Size(self.scrollable_content_region.width, self.total)
        self._strips.clear()
        self._request_visible()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()

    def _update_title(self) -> None:
        self.border_title = f"Messages · {self.label}" if self.label else "Messages"
        self.border_subtitle = f"{self.total:,}" if self.loaded and self.total else ""

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        index = int(self.scroll_y) + y
        if not self.total:
            text = self.failure or (self.empty_text if self.loaded else "Loading messages…")
            lines = textwrap.wrap(text, max(10, width - 3))
            text = lines[y - 1] if 0 < y <= len(lines) else ""
            muted = self.get_component_rich_style("message-list--muted")
            return Strip([Segment(fit(f"  {text}", width), muted)], width)
        if index >= self.total:
            return Strip.blank(width, self.rich_style)
        key = (index, index == self.cursor and (2 if self.has_focus else 1), width)
        cached = self._strips.get(key)
        if cached is not None:
            return cached
        style = self.rich_style
        if index == self.cursor:  # the visual style blends the cursor's translucent background
            style = self.get_visual_style("message-list--cursor").rich_style
        line = self._line_at(index)
        if line is None:
            muted = self.get_component_rich_style("message-list--muted", partial=True)
            return Strip([Segment(fit("   …", width), muted)], width).apply_style(style)
        strip = Strip(self._segments(line, width), width).apply_style(style)
        if len(self._strips) > STRIP_CACHE:
            self._strips.clear()
        self._strips[key] = strip
        return strip

    def _segments(self, line: Line, width: int) -> list[Segment]:
        """Marks, sender, subject and date of one row, exactly *width* cells wide."""
        strong: Style | None = None
        if line.unread:
            strong = self.get_component_rich_style("message-list--unread", partial=True)
        flag_style = self.get_component_rich_style("message-list--flagged", partial=True)
        muted = self.get_component_rich_style("message-list--muted", partial=True)
        sender_width = max(12, min(26, width // 4))
        subject_width = max(1, width - sender_width - DATE_WIDTH - 6)
        return [
            Segment("●" if line.unread else " ", strong),
            Segment("⚑ " if line.flagged else "  ", flag_style),
            Segment(fit(line.sender, sender_width), strong),
            Segment(" "),
            Segment(fit(line.subject, subject_width), strong),
            Segment(" "),
            Segment(line.date.rjust(DATE_WIDTH), muted),
            Segment(" "),
        ]

    # -- keys and mouse ---------------------------------------------------------------------------------
    def _move_cursor(self, index: int) -> None:
        if not self.total:
            return
        self.cursor = max(0, min(self.total - 1, index))
        height = max(1, self.scrollable_content_region.height)
        if self.cursor < self.scroll_y:
            self.scroll_to(y=self.cursor, animate=False)
        elif self.cursor >= self.scroll_y + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False)
        self.refresh()

    def action_cursor_up(self) -> None:
        """Move to the newer message."""
        self._move_cursor(self.cursor - 1)

    def action_cursor_down(self) -> None:
        """Move to the older message."""
        self._move_cursor(self.cursor + 1)

    def action_cursor_page_down(self) -> None:
        """Show the next screenful of older messages, the cursor keeping its place on screen."""
        height = max(1, self.scrollable_content_region.height)
        self.scroll_to(y=min(self.max_scroll_y, self.scroll_y + height), animate=False)
        self._move_cursor(self.cursor + height)

    def action_cursor_page_up(self) -> None:
        """Show the previous screenful of newer messages."""
        height = max(1, self.scrollable_content_region.height)
        self.scroll_to(y=max(0, self.scroll_y - height), animate=False)
        self._move_cursor(self.cursor - height)

    def action_cursor_first(self) -> None:
        """Jump to the newest message."""
        self._move_cursor(0)

    def action_cursor_last(self) -> None:
        """Jump to the oldest message."""
        self._move_cursor(self.total - 1)

    def action_open(self) -> None:
        """Open the message under the cursor."""
        row = self.highlighted
        if row is not None:
            self.post_message(self.Opened(row.message_id, row.location_id))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or not self.total:
            return
        index = int(self.scroll_y) + offset.y
        if index < self.total:
            self._move_cursor(index)
            if event.chain >= 2:
                self.action_open()
