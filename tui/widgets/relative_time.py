"""A moment as words relative to now ("just now", "5 min ago", "3 h ago"), for status lines."""

from __future__ import annotations

from datetime import UTC, datetime


def minutes_since(when: datetime, now: datetime) -> int:
    """Whole minutes from *when* to *now*; a naive *when* is UTC, as SQLite gives stored datetimes back."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int((now - when).total_seconds() // 60)


def ago(when: datetime, now: datetime) -> str:
    """How long ago *when* was, in words: minutes, hours, else the UTC date."""
    minutes = minutes_since(when, now)
    if minutes < 1:
        return "just now"
    if minutes < 60:
        return f"{minutes} min ago"
    if minutes < 24 * 60:
        return f"{minutes // 60} h ago"
    return f"on {when:%d %b %Y} UTC"
