"""The store's front door: one object that the CLI, the TUI and tests open alike."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine

import store.crm.tables  # noqa: F401 - the CRM's tables join the metadata before anything reads it
import store.schema_outbox  # noqa: F401 - the outbox table joins the metadata
import store.schema_sharing  # noqa: F401 - the sharing and audit tables join the metadata
from store import migrate
from store.audit import Audit
from store.clock import Clock, utc_now
from store.db import make_engine
from store.identity import Identity
from store.mailbox_settings import MailboxSettings
from store.mailboxes import Mailboxes
from store.providers import Providers
from store.sharing import Sharing
from store.system import SystemSettings

if TYPE_CHECKING:
    from store.compose import AttachRules
    from store.crm.service import Crm
    from store.outbox import Outbox
    from store.sync.engine import SyncService
    from store.sync.messages import Messages


@dataclass
class Store:
    """Services over one database; secrets are opened separately by whoever needs them."""

    path: Path
    engine: Engine
    clock: Clock
    identity: Identity = field(init=False)
    providers: Providers = field(init=False)
    system: SystemSettings = field(init=False)
    mailboxes: Mailboxes = field(init=False)
    settings: MailboxSettings = field(init=False)
    sharing: Sharing = field(init=False)
    audit: Audit = field(init=False)

    def __post_init__(self) -> None:
        self.identity = Identity(self.engine, self.clock)
        self.providers = Providers(self.engine, self.clock)
        self.system = SystemSettings(self.engine)
        self.mailboxes = Mailboxes(self.engine, self.clock)
        self.settings = MailboxSettings(self.engine, self.mailboxes)
        self.sharing = Sharing(self.engine, self.clock)
        self.audit = Audit(self.engine)

    @cached_property
    def sync(self) -> SyncService:
        """The sync engine (store/sync/), imported on first use."""
        from store.sync.engine import SyncService

        return SyncService(self)

    @cached_property
    def messages(self) -> Messages:
        """Stored mail, as the user may see it."""
        from store.sync.messages import Messages

        return Messages(self.engine)

    @cached_property
    def crm(self) -> Crm:
        """Contacts, companies, mail linked to them, timelines, enrichment and the unmatched queue."""
        from store.crm.service import Crm

        return Crm(self.engine, self.clock, self.mailboxes)

    @cached_property
    def outbox(self) -> Outbox:
        """Messages to send: queued, delivered, failed (store/outbox.py)."""
        from store.outbox import Outbox

        return Outbox(self)

    def attach_rules(self) -> AttachRules:
        """Which files a user may attach: from AttachmentFolders, never the installation's own files."""
        from store import private
        from store.compose import AttachRules

        return AttachRules(self.system.attachment_folders(), private.paths(self.path))

    def raw_connection(self):  # noqa: ANN201 - SQLAlchemy's PoolProxiedConnection
        """A pooled sqlite3 connection (`.driver_connection`) for the sync engine; `.close()` returns it."""
        return self.engine.raw_connection()

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()


def open_store(path: Path, clock: Clock = utc_now) -> Store:
    """Open (creating and migrating as needed) the database at *path*."""
    engine = make_engine(path)
    migrate.upgrade(engine)
    store = Store(path=path, engine=engine, clock=clock)
    store.providers.seed_presets()
    return store
