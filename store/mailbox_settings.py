"""A mailbox's settings page, headless: validation, one-transaction save, folders, password change."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy import Connection, Engine, delete, insert, update

from store import audit, db
from store.errors import Invalid
from store.identity import Actor
from store.mailboxes import LOAD_PERIODS, Mailbox, Mailboxes
from store.net import wire_safe
from store.schema import mailbox_selected_folders, mailboxes

if TYPE_CHECKING:
    from store.providers import Provider
    from store.secrets import Secret, SecretStore

PERIOD_LABELS = {
    "day": "One day",
    "week": "One week",
    "month": "One month",
    "3months": "Three months",
    "6months": "Six months",
    "year": "One year",
    "all": "All mail",
}
SCOPE_LABELS = {"inbox": "Inbox only", "all": "All folders", "selected": "Selected folders"}
MAX_SIGNATURE = 20_000


class SettingsDraft(BaseModel):
    """Everything the settings page changes; the authority on what is valid."""

    model_config = ConfigDict(frozen=True)

    load_period: Literal["day", "week", "month", "3months", "6months", "year", "all"] = "week"
    auto_load: bool = True
    folder_scope: Literal["inbox", "all", "selected"] = "inbox"
    selected_folders: tuple[str, ...] = ()
    send_enabled: bool = True
    alias: str = Field(default="", max_length=256)
    is_default_sender: bool = False
    use_signature: bool = False
    signature: str = Field(default="", max_length=MAX_SIGNATURE)

    @field_validator("alias")
    @classmethod
    def _alias(cls, v: str) -> str:
        if any(c in v for c in "\r\n\x00"):
            raise ValueError("the alias must be one line")
        return v.strip()

    @field_validator("signature")
    @classmethod
    def _signature(cls, v: str) -> str:
        if "\x00" in v:
            raise ValueError("the signature must not contain NUL characters")
        return v

    @field_validator("selected_folders")
    @classmethod
    def _folders(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for name in v:
            if not name or any(c in name for c in "\r\n\x00"):
                raise ValueError(f"invalid folder name {name!r}")
        return tuple(sorted(set(v)))

    @model_validator(mode="after")
    def _consistent(self) -> SettingsDraft:
        if self.folder_scope == "selected" and not self.selected_folders:
            raise ValueError("choose at least one folder, or load all folders / the Inbox only")
        if self.use_signature and not self.signature.strip():
            raise ValueError("write a signature, or turn the signature off")
        if self.is_default_sender and not self.send_enabled:
            raise ValueError("a mailbox that does not send cannot be the default sender")
        return self

    @classmethod
    def parse(cls, **values: object) -> SettingsDraft:
        """Validate *values*, raising Invalid with one message per field."""
        try:
            return cls(**values)
        except ValidationError as exc:
            errors: dict[str, str] = {}
            for err in exc.errors():
                field = str(err["loc"][0]) if err["loc"] else ""
                errors.setdefault(field, err["msg"].removeprefix("Value error, "))
            raise Invalid(errors) from None

    @classmethod
    def of(cls, box: Mailbox) -> SettingsDraft:
        """The draft a mailbox's stored settings make."""
        return cls.model_construct(
            load_period=box.load_period,
            auto_load=box.auto_load,
            folder_scope=box.folder_scope,
            selected_folders=box.selected_folders,
            send_enabled=box.send_enabled,
            alias=box.alias,
            is_default_sender=box.is_default_sender,
            use_signature=box.use_signature,
            signature=box.signature,
        )


@dataclass(frozen=True)
class ServerFolder:
    """A folder as the server lists it."""

    name: str
    delimiter: str
    selectable: bool
    special_use: str = ""

    @property
    def parts(self) -> list[str]:
        """The path split at the delimiter."""
        return self.name.split(self.delimiter) if self.delimiter else [self.name]


ON_OFF = {
    "on": True,
    "yes": True,
    "true": True,
    "1": True,
    "off": False,
    "no": False,
    "false": False,
    "0": False,
}
SET_KEYS = (
    "period",
    "auto_load",
    "scope",
    "folders",
    "send",
    "alias",
    "default_sender",
    "use_signature",
    "signature",
)


def _on_off(key: str, value: str) -> bool:
    try:
        return ON_OFF[value.strip().lower()]
    except KeyError:
        raise Invalid({key: f"expected on or off, got '{value}'"}) from None


def apply_assignments(
    current: SettingsDraft, assignments: list[str], cwd: Path | None = None
) -> SettingsDraft:
    """Apply KEY=VALUE strings (as `mailroom mailbox set` takes them) to *current*, validated."""
    values = current.model_dump()
    for item in assignments:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or key not in SET_KEYS:
            raise Invalid({key or item: f"expected KEY=VALUE with KEY one of {', '.join(SET_KEYS)}"})
        if key == "period":
            if value not in LOAD_PERIODS:
                raise Invalid({"period": f"expected one of {'|'.join(LOAD_PERIODS)}, got '{value}'"})
            values["load_period"] = value
        elif key == "scope":
            if value not in SCOPE_LABELS:
                raise Invalid({"scope": f"expected inbox|all|selected, got '{value}'"})
            values["folder_scope"] = value
        elif key == "folders":
            chosen = set(values["selected_folders"])
            for part in filter(None, (p.strip() for p in value.split(","))):
                if part[0] == "-":
                    chosen.discard(part[1:])
                else:
                    chosen.add(part[1:] if part[0] == "+" else part)
            values["selected_folders"] = tuple(chosen)
        elif key == "signature":
            if value.startswith("@"):
                path = Path(value[1:]).expanduser()
                path = path if path.is_absolute() or cwd is None else cwd / path
                try:
                    value = path.read_text(encoding="utf-8")
                except (OSError, UnicodeDecodeError) as exc:
                    raise Invalid({"signature": f"cannot read {path}: {exc}"}) from None
            values["signature"] = value
        elif key == "alias":
            values["alias"] = value
        else:
            field = {
                "auto_load": "auto_load",
                "send": "send_enabled",
                "default_sender": "is_default_sender",
                "use_signature": "use_signature",
            }[key]
            values[field] = _on_off(key, value)
    return SettingsDraft.parse(**values)


class MailboxSettings:
    """Service behind the settings page and `mailroom mailbox show|set`."""

    def __init__(self, engine: Engine, mailboxes_service: Mailboxes) -> None:
        self._engine = engine
        self._mailboxes = mailboxes_service

    def open(self, actor: Actor, email_or_id: str | int) -> Mailbox:
        """The mailbox, if the user may configure it (else NotFound, like a missing one)."""
        return self._mailboxes.get(actor, email_or_id, right="configure")

    def save(
        self,
        actor: Actor,
        mailbox_id: int,
        draft: SettingsDraft,
        also: Callable[[Connection], None] | None = None,
    ) -> Mailbox:
        """Store *draft* in one transaction; the default sender moves off the owner's other mailboxes.

        *also* writes more in the same transaction (the sharing table), so both commit or neither does.
        """
        box = self.open(actor, mailbox_id)
        draft = SettingsDraft.parse(**draft.model_dump())
        before = SettingsDraft.of(box).model_dump()
        with db.write(self._engine) as conn:
            if draft.is_default_sender:
                conn.execute(
                    update(mailboxes)
                    .where(mailboxes.c.owner_id == box.owner_id, mailboxes.c.id != box.id)
                    .values(is_default_sender=False)
                )
            values = draft.model_dump(exclude={"selected_folders"})
            conn.execute(update(mailboxes).where(mailboxes.c.id == box.id).values(**values))
            conn.execute(
                delete(mailbox_selected_folders).where(mailbox_selected_folders.c.mailbox_id == box.id)
            )
            if draft.selected_folders:
                conn.execute(
                    insert(mailbox_selected_folders),
                    [{"mailbox_id": box.id, "folder": f} for f in draft.selected_folders],
                )
            changed = sorted(k for k, v in draft.model_dump().items() if before.get(k) != v)
            audit.record(conn, actor, box, "settings.change", {"changed": changed})
            if also is not None:
                also(conn)
        return self._mailboxes.get(actor, box.id, right="configure")

    def server_folders(self, box: Mailbox, provider: Provider, secret: Secret) -> list[ServerFolder]:
        """The folders on the server, listed live (call from a worker: this is network I/O)."""
        from store.net import Endpoint, imap_login

        client = imap_login(Endpoint.imap_of(provider), box.login, secret)
        try:
            listed = client.list_folders()
        finally:
            try:
                client.logout()
            except Exception:  # noqa: BLE001 - the listing is complete; a failed goodbye changes nothing
                pass
        folders = []
        for flags, delimiter, name in listed:
            names = {f.decode() if isinstance(f, bytes) else str(f) for f in flags}
            special = next((n for n in names if n in SPECIAL_USE), "")
            delim = delimiter.decode() if isinstance(delimiter, bytes) else (delimiter or "")
            selectable = not ({"\\Noselect", "\\NonExistent"} & names)
            folders.append(ServerFolder(str(name), delim, selectable, special))
        return sorted(folders, key=lambda f: (f.name.upper() != "INBOX", f.name.lower()))

    def change_password(
        self, actor: Actor, mailbox_id: int, secret: Secret, provider: Provider, secrets: SecretStore
    ) -> Mailbox:
        """Authorize *secret* live; only when IMAP and SMTP accept it does it replace the old one."""
        from store.accounts import authorize

        box = self.open(actor, mailbox_id)
        wire_safe(box.login, "login")
        authorize(provider, box.login, secret)
        secrets.set(box.secret_ref, secret)
        with db.write(self._engine) as conn:
            conn.execute(
                update(mailboxes).where(mailboxes.c.id == box.id).values(status="ok", status_reason="")
            )
            audit.record(conn, actor, box, "password.change", {})
        return self._mailboxes.get(actor, box.id, right="configure")


SPECIAL_USE = {"\\Sent", "\\Drafts", "\\Trash", "\\Junk", "\\Archive", "\\All", "\\Flagged"}
