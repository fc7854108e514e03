"""Errors the store raises; each message is fit to show a user as it is."""

from __future__ import annotations


class StoreError(Exception):
    """Base of every error the store reports to a caller."""


class NotFound(StoreError):
    """The record does not exist, or the current user may not see it (the two look alike)."""


class Conflict(StoreError):
    """The change clashes with what is stored (a duplicate name, a record in use)."""


class Forbidden(StoreError):
    """The current user lacks the operation or right the action needs."""


class Invalid(StoreError):
    """Input failed validation; `errors` maps each field to its message."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{field}: {msg}" if field else msg for field, msg in errors.items()))


class UnknownUser(StoreError):
    """The named user is not known to this installation."""


class RawCopyMissing(StoreError):
    """A stored message's raw copy points into a pack file that is missing or shorter than it should be."""


class DiskFull(StoreError):
    """The disk holding the database is full (or over quota): the change was not stored."""

    def __init__(self, path: object, free: int | None = None) -> None:
        self.path = str(path)
        room = f"; {free / 1e6:.1f} MB free there" if free is not None else ""
        super().__init__(
            f"Disk full: could not write {self.path}{room}. Nothing of the unfinished change was stored; "
            "free some space and try again."
        )


class DatabaseGone(StoreError):
    """The database file was deleted or replaced by another file while this process had it open."""

    def __init__(self, path: object, replaced: bool) -> None:
        self.path, self.replaced = str(path), replaced
        what = "replaced by another file" if replaced else "deleted"
        super().__init__(
            f"The database {self.path} was {what} while Mailroom was using it; stopped without writing "
            "anything more. Restart Mailroom: "
            + ("it then uses the new file." if replaced else "an empty database loads the mail again.")
            + " Nothing on a mail server was changed."
        )
