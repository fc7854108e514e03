"""`mailroom mailbox add|list|remove`: connect a mailbox the way the wizard does, list and remove them."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from tui.cli.common import CliError, Context, add_json_flag, command, emit, group
from tui.cli.mailbox_settings import register as register_settings

if TYPE_CHECKING:
    from store.accounts import Detection
    from store.secrets import Secret


def register(sub: argparse._SubParsersAction) -> None:
    """Add the mailbox commands."""
    box = group(sub, "mailbox", "connected mail accounts")
    p = command(box, "add", _add, "connect a mailbox: detect its provider, log in to IMAP and SMTP, store it")
    p.add_argument("email")
    p.add_argument("--provider", metavar="NAME", help="use this provider (an unknown domain is then learned)")
    p.add_argument("--login", metavar="NAME", help="the login name, for providers that ask for one")
    p.add_argument(
        "--password-stdin", action="store_true", help="read the password from the first line of stdin"
    )
    add_json_flag(command(box, "list", _list, "list the mailboxes you see"))
    p = command(box, "remove", _remove, "remove a mailbox you own, with its password in the keyring")
    p.add_argument("email")
    register_settings(box)


def _say(text: str) -> None:
    print(text, flush=True)


def _detect(ctx: Context, accounts, email: str) -> Detection:  # noqa: ANN001 - store.accounts.Accounts
    detection = accounts.detect(email)
    name = ctx.args.provider
    if name:
        provider = ctx.store.providers.get(name)
        if detection.provider is None or detection.provider.id != provider.id:
            detection = detection.chosen(provider)
    elif detection.provider is None:
        domain = detection.address.domain
        why = f" ({detection.mx_note})" if detection.mx_note else ""
        names = ", ".join(f"'{p.name}'" for p in ctx.store.providers.list())
        raise CliError(
            f"no provider is known for {domain}{why}; name it with --provider NAME "
            f"(one of {names}; `mailroom provider list` shows their servers)",
            code=2,
        )
    return detection


def _read_password(ctx: Context, email: str, app_password: bool) -> Secret:
    from store.secrets import Secret

    word = "App password" if app_password else "Password"
    if ctx.args.password_stdin:
        line = sys.stdin.readline()
        value = line[:-1] if line.endswith("\n") else line
        value = value[:-1] if value.endswith("\r") else value
    else:
        import getpass

        value = getpass.getpass(f"{word} for {email}: ")
    if not value:
        raise CliError(f"no password given for {email}", code=2)
    return Secret(value)


def _add(ctx: Context) -> None:
    from store.accounts import Accounts, AuthorizeError, app_password_hint, login_for, server_lines
    from store.keyring_file import SecretsError

    accounts = Accounts(ctx.store)
    detection = _detect(ctx, accounts, ctx.args.email)
    provider = detection.provider
    assert provider is not None
    email = detection.address.email
    accounts.ensure_not_connected(email)
    _say(f"Provider: {provider.name} ({detection.how_label})")
    for line in server_lines(provider):
        _say(f"  {line}")
    if provider.login_format == "ask" and not ctx.args.login:
        raise CliError(f"{provider.name} needs a login name: pass --login NAME", code=2)
    login = login_for(provider, email, ctx.args.login or "")
    hint = app_password_hint(provider).strip()
    if hint and not ctx.args.password_stdin:
        print(hint, file=sys.stderr)
    secret = _read_password(ctx, email, provider.app_password_required)
    try:
        secrets = ctx.secrets
    except SecretsError as exc:
        raise CliError(f"cannot store the password: {exc}") from None

    def progress(step: str) -> None:
        labels = {"imap": "IMAP login", "smtp": "IMAP ok; SMTP login", "save": "SMTP ok; saving"}
        _say(f"{labels[step]}…")

    try:
        box = accounts.connect(ctx.actor, detection, login, secret, secrets, progress=progress)
    except AuthorizeError as exc:
        raise CliError(f"not connected: {exc}") from None
    except SecretsError as exc:
        raise CliError(f"not connected: the keyring refused the password: {exc}") from None
    where = secrets.backend_name
    _say(f"Connected {box.email} ({box.provider_name}) as {box.login}; password stored in {where}.")
    _say("Settings: load one week, load new mail automatically, Inbox only, sending on, default sender.")
    if detection.how == "choice" and ctx.store.providers.lookup(detection.address.domain) == provider:
        _say(f"Learned: {detection.address.domain} → {provider.name}")


def _list(ctx: Context) -> None:
    rows = [
        {
            "email": b.email,
            "provider": b.provider_name,
            "login": b.login,
            "status": b.status,
            "default_sender": b.is_default_sender,
            "load_period": b.load_period,
            "last_sync_at": b.last_sync_at,
        }
        for b in ctx.store.mailboxes.visible(ctx.actor)
    ]
    emit(ctx, rows, ["email", "provider", "login", "status", "default_sender"], "No mailboxes connected.")


def _remove(ctx: Context) -> None:
    from store.keyring_file import SecretsError

    try:
        secrets = ctx.secrets
        box = ctx.store.mailboxes.remove(ctx.actor, ctx.args.email, secrets)
    except SecretsError as exc:
        raise CliError(f"could not remove the password from the keyring: {exc}") from None
    _say(f"Removed mailbox {box.email} and its stored password.")
