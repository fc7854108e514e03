"""The words for "how long ago" that the panel's mailbox list and the outbox screen share."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tui.widgets.mailbox_status import describe_sync
from tui.widgets.relative_time import ago

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("delta", "words"),
    [
        (timedelta(seconds=30), "just now"),
        (timedelta(minutes=5), "5 min ago"),
        (timedelta(hours=3, minutes=59), "3 h ago"),
        (timedelta(days=2), "on 25 Nov 2026 UTC"),
    ],
)
def test_ago(delta: timedelta, words: str) -> None:
    assert ago(NOW - delta, NOW) == words
    assert ago((NOW - delta).replace(tzinfo=None), NOW) == words  # SQLite gives naive UTC back


@pytest.mark.parametrize(
    ("delta", "words"),
    [
        (timedelta(seconds=30), "synced just now"),
        (timedelta(minutes=5), "synced 5 min ago"),
        (timedelta(hours=2), "synced 2 h ago"),
        (timedelta(days=3), "synced 3 d ago"),
    ],
)
def test_describe_sync(delta: timedelta, words: str) -> None:
    assert describe_sync((NOW - delta).replace(tzinfo=None), NOW) == words


def test_describe_sync_old_and_never() -> None:
    assert describe_sync(None, NOW) == "never synced"
    old = datetime(2026, 10, 1, 12, 0)
    assert describe_sync(old, NOW) == f"synced on {old.replace(tzinfo=UTC).astimezone():%Y-%m-%d}"
