"""What each step of the new-account wizard hands back to the coordinator."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from store.accounts import Detection
from store.mailboxes import Mailbox
from store.providers import Provider
from store.secrets import Secret


@dataclass(frozen=True)
class Back:
    """The user asked for the previous step."""


BACK = Back()


@dataclass(frozen=True)
class AddressResult:
    """The address step: how the provider was detected, and every provider for the picker."""

    detection: Detection
    providers: tuple[Provider, ...]


@dataclass(frozen=True)
class Credentials:
    """The password step: the login name to use and the password, masked in every repr."""

    login: str
    secret: Secret


@dataclass(frozen=True)
class Connected:
    """The authorize step: the mailbox now stored."""

    mailbox: Mailbox


@dataclass(frozen=True)
class DoneChoice:
    """The last step: what the user wants next."""

    action: Literal["close", "load", "settings"]
