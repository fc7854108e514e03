"""How the mailbox list shows one mailbox: status mark, address, last sync, a running sync and its errors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from rich.table import Table
from rich.text import Text

from store.mailboxes import Mailbox
from tui.widgets.relative_time import ago, minutes_since

BAR_WIDTH = 28


@dataclass
class SyncState:
    """What the panel knows of one mailbox's sync in this session: running, or how the last one failed."""

    running: bool = True
    started: bool = False
    first_load: bool = False
    phase: str = ""
    folder: str = ""
    done: int = 0
    total: int = 0
    retry: str = ""
    error: str = ""


def describe_sync(last_sync_at: datetime | None, now: datetime) -> str:
    """When a mailbox last synced, in words relative to *now*."""
    if last_sync_at is None:
        return "never synced"
    minutes = minutes_since(last_sync_at, now)
    if minutes < 24 * 60:
        return f"synced {ago(last_sync_at, now)}"
    if minutes < 7 * 24 * 60:
        return f"synced {minutes // (24 * 60)} d ago"
    local = (last_sync_at if last_sync_at.tzinfo else last_sync_at.replace(tzinfo=UTC)).astimezone()
    return f"synced on {local:%Y-%m-%d}"


def progress_bar(done: int, total: int, colors: Mapping[str, str], width: int = BAR_WIDTH) -> Text:
    """A bar of *width* cells filled in proportion to done/total, then the percentage."""
    fraction = min(1.0, done / total) if total > 0 else 0.0
    filled = round(width * fraction)
    return Text.assemble(
        ("━" * filled, colors["accent"]),
        ("━" * (width - filled), colors["panel-lighten-2"]),
        f" {fraction:4.0%}",
    )


def _sync_lines(state: SyncState, colors: Mapping[str, str]) -> list[Text]:
    """The lines a running sync adds under the address."""
    if state.retry:
        return [Text(state.retry, style=colors["warning"])]
    if not state.started:
        return [Text("Waiting to sync…", style="dim")]
    if state.first_load and state.phase == "headers":  # folder sizes become known one folder at a time
        label = f"First load · {state.done:,} envelopes · {state.folder}"
        return [Text(label, overflow="ellipsis", no_wrap=True)]
    if state.first_load and state.total:
        label = f"First load · messages {state.done:,} / {state.total:,}"
        return [Text(label), progress_bar(state.done, state.total, colors)]
    if state.first_load:
        return [Text("First load · connecting…")]
    if state.total:
        return [Text(f"Syncing · {state.phase} {state.done:,} / {state.total:,}")]
    return [Text("Syncing…")]


def mailbox_prompt(
    mailbox: Mailbox, now: datetime, colors: Mapping[str, str], state: SyncState | None = None
) -> Table:
    """A mailbox as the list shows it: a status mark, its address, then status, sync progress or error."""
    when = describe_sync(mailbox.last_sync_at, now)
    grid = Table.grid(padding=(0, 1), expand=True)
    grid.add_column(width=1)
    grid.add_column(ratio=1)
    if state is not None and state.running:
        grid.add_row(Text("⟳", style=colors["accent"]), Text(mailbox.email, style="bold"))
        for line in _sync_lines(state, colors):
            grid.add_row("", line)
        grid.add_row("", Text(f"{mailbox.provider_name} · {when}", style="dim"))
    elif mailbox.status == "ok" and not (state and state.error):
        grid.add_row(Text("●", style=colors["success"]), Text(mailbox.email, style="bold"))
        grid.add_row("", Text(f"{mailbox.provider_name} · ok · {when}", style="dim"))
    elif mailbox.status == "ok":
        assert state is not None
        grid.add_row(Text("▲", style=colors["warning"]), Text(mailbox.email, style="bold"))
        grid.add_row("", Text.assemble(("Last sync failed: ", colors["warning"]), state.error))
        grid.add_row("", Text(f"{mailbox.provider_name} · {when}", style="dim"))
    else:
        reason = mailbox.status_reason or "no reason recorded"
        grid.add_row(Text("▲", style=colors["warning"]), Text(mailbox.email, style="bold"))
        grid.add_row("", Text.assemble(("Needs attention: ", colors["warning"]), reason))
        grid.add_row("", Text(f"{mailbox.provider_name} · {when}", style="dim"))
    return grid


def all_mailboxes_prompt(count: int) -> Table:
    """The first entry of the list, which shows the mail of every mailbox together."""
    grid = Table.grid(padding=(0, 1), expand=True)
    grid.add_column(width=1)
    grid.add_column(ratio=1)
    grid.add_row(Text("≡"), Text("All mailboxes", style="bold"))
    grid.add_row("", Text(f"{count} mailboxes, newest mail first", style="dim"))
    return grid
