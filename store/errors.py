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
