"""Mailroom's own files: the database with its raw copies, the secrets and the settings.

On a shared installation every user runs the app as one service account (docs/architecture.md), so
whatever that account may read, the app may read for any of them. These paths must never leave through
the app, e.g. as an attachment (store/compose.py `AttachRules`): they hold every mailbox's password and
every user's mail.
"""

from __future__ import annotations

import os
from pathlib import Path

APP_FOLDER = "mailroom"  # the name of the XDG data and config folders (tui/settings.py uses the same)

_remembered: set[Path] = set()


def remember(*paths: str | Path) -> None:
    """Also keep *paths* (files or folders) private, e.g. the folders a secret store was opened in."""
    _remembered.update(Path(p).expanduser() for p in paths)


def paths(db: Path) -> tuple[Path, ...]:
    """Every private file or folder of the installation whose database is *db*."""
    from platformdirs import user_config_path, user_data_path

    db = Path(db).expanduser()
    own = [db, *(db.with_name(db.name + suffix) for suffix in ("-wal", "-shm", "-journal", ".raw"))]
    settings = [Path(os.environ["MAILROOM_CONFIG"])] if os.environ.get("MAILROOM_CONFIG") else []
    return (
        *own,
        user_data_path(APP_FOLDER),
        user_config_path(APP_FOLDER),
        *settings,
        *sorted(_remembered),
    )
