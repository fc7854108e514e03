"""System settings, each with a default and a validator."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from store import db
from store.errors import Invalid, NotFound
from store.identity import Actor, Operation
from store.schema import system_settings


def _interval(value: str) -> str:
    if not value.strip().isdigit() or not 1 <= int(value) <= 1440:
        raise Invalid({"MailboxSyncInterval": "a whole number of minutes from 1 to 1440"})
    return str(int(value))


def _folders(value: str) -> str:
    """AttachmentFolders: absolute folders separated by ':' (empty: any folder)."""
    folders = [Path(part.strip()).expanduser() for part in value.split(os.pathsep) if part.strip()]
    for folder in folders:
        if not folder.is_absolute():
            raise Invalid({"AttachmentFolders": f"'{folder}' is not an absolute folder path"})
        if not folder.is_dir():
            raise Invalid({"AttachmentFolders": f"there is no folder '{folder}'"})
    return os.pathsep.join(str(f) for f in folders)


@dataclass(frozen=True)
class SettingSpec:
    """What a system setting means, its default and its check."""

    key: str
    default: str
    description: str
    validate: Callable[[str], str]


SPECS = {
    s.key: s
    for s in [
        SettingSpec("MailboxSyncInterval", "5", "Minutes between automatic mail loads", _interval),
        SettingSpec(
            "AttachmentFolders",
            "",
            "Folders files may be attached from, separated by ':' (empty: any folder). Set it when "
            "users share one installation over SSH",
            _folders,
        ),
    ]
}


class SystemSettings:
    """Service for system settings."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def get(self, key: str) -> str:
        """The value of *key*, or its default."""
        if key not in SPECS:
            raise NotFound(f"No system setting named '{key}'.")
        with db.read(self._engine) as conn:
            row = conn.execute(select(system_settings.c.value).where(system_settings.c.key == key)).first()
        return row[0] if row else SPECS[key].default

    def sync_interval_minutes(self) -> int:
        """MailboxSyncInterval as a number."""
        return int(self.get("MailboxSyncInterval"))

    def attachment_folders(self) -> tuple[Path, ...]:
        """AttachmentFolders as paths; empty when files may come from any folder."""
        return tuple(Path(p) for p in self.get("AttachmentFolders").split(os.pathsep) if p)

    def all(self) -> dict[str, str]:
        """Every setting with its effective value."""
        return {k: self.get(k) for k in SPECS}

    def set(self, actor: Actor, key: str, value: str) -> str:
        """Validate and store a setting."""
        actor.require(Operation.MANAGE_DIRECTORIES)
        if key not in SPECS:
            raise NotFound(f"No system setting named '{key}'. Known: {', '.join(SPECS)}")
        value = SPECS[key].validate(value)
        with db.write(self._engine) as conn:
            stmt = sqlite_insert(system_settings).values(key=key, value=value)
            conn.execute(stmt.on_conflict_do_update(index_elements=["key"], set_={"value": value}))
        return value
