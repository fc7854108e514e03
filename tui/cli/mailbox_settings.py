"""`mailroom mailbox show|set`: every setting of a mailbox's settings page, with the page's validation."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui.cli.common import CliError, Context, add_json_flag, command

if TYPE_CHECKING:
    from store.mailboxes import Mailbox

# The settings page's fields under the names `mailbox set` takes, in the page's order.
KEYS = {
    "load_period": "period",
    "auto_load": "auto_load",
    "folder_scope": "scope",
    "selected_folders": "folders",
    "send_enabled": "send",
    "alias": "alias",
    "is_default_sender": "default_sender",
    "use_signature": "use_signature",
    "signature": "signature",
}
SET_HELP = """\
keys (the settings page's fields):
  period=day|week|month|3months|6months|year|all   how far back the first load goes
  auto_load=on|off                                 load new messages automatically
  scope=inbox|all|selected                         Inbox only, all folders, or the selected folders
  folders=+Projects/Alpha,-Archive/2024            add (+ or no sign) and remove (-) selected folders;
                                                   a folder's subfolders are never included
  send=on|off                                      off: the mailbox is not offered as a sender anywhere
  alias=TEXT                                       the display name used in From
  default_sender=on|off                            on: your other mailboxes stop being the default
  use_signature=on|off
  signature=TEXT or signature=@FILE                the text kept exactly (UTF-8 file)
"""


def register(box: argparse._SubParsersAction) -> None:
    """Add `show` and `set` to the mailbox command group."""
    p = command(box, "show", _show, "show every setting of a mailbox")
    p.add_argument("email")
    add_json_flag(p)
    p = command(
        box, "set", _set, "change settings of a mailbox: KEY=VALUE ...",
        epilog=SET_HELP, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    p.add_argument("email")
    p.add_argument("assignments", nargs="+", metavar="KEY=VALUE")


def settings_of(box: Mailbox) -> dict[str, Any]:
    """The mailbox's settings under the keys `mailbox set` takes."""
    return {
        "period": box.load_period,
        "auto_load": box.auto_load,
        "scope": box.folder_scope,
        "folders": list(box.selected_folders),
        "send": box.send_enabled,
        "alias": box.alias,
        "default_sender": box.is_default_sender,
        "use_signature": box.use_signature,
        "signature": box.signature,
    }


def _text(key: str, value: Any) -> str:
    from store.mailbox_settings import PERIOD_LABELS, SCOPE_LABELS

    if isinstance(value, bool):
        return "on" if value else "off"
    if key == "period":
        return f"{value}  ({PERIOD_LABELS.get(value, value)})"
    if key == "scope":
        return f"{value}  ({SCOPE_LABELS.get(value, value)})"
    if key == "folders":
        return ", ".join(value) if value else "(none)"
    return str(value) if value != "" else "(none)"


def _show(ctx: Context) -> None:
    from store.net import Endpoint

    box = ctx.store.settings.open(ctx.actor, ctx.args.email)
    provider = ctx.store.providers.get(box.provider_id)
    facts = {
        "email": box.email,
        "provider": provider.name,
        "imap": str(Endpoint.imap_of(provider)),
        "smtp": str(Endpoint.smtp_of(provider)),
        "login": box.login,
        "status": box.status,
        "status_reason": box.status_reason,
    }
    settings = settings_of(box)
    if ctx.args.json:
        json.dump({**facts, **settings}, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return
    status = (
        box.status if box.status == "ok" else f"needs attention: {box.status_reason or 'no reason recorded'}"
    )
    print(f"Settings of {box.email}")
    print(f"  connection      {provider.name}, login {box.login}")
    print(f"                  IMAP {facts['imap']}, SMTP {facts['smtp']}")
    print(f"  status          {status}")
    for key, value in settings.items():
        if key == "signature" and value:
            lines = value.split("\n")
            print(f"  {key:<14}  | {lines[0]}")
            for line in lines[1:]:
                print(f"  {'':<14}  | {line}")
        else:
            print(f"  {key:<14}  {_text(key, value)}")


def _set(ctx: Context) -> None:
    from store.errors import Invalid
    from store.mailbox_settings import SettingsDraft, apply_assignments

    box = ctx.store.settings.open(ctx.actor, ctx.args.email)
    before = SettingsDraft.of(box)
    try:
        draft = apply_assignments(before, ctx.args.assignments, cwd=Path.cwd())
        saved = ctx.store.settings.save(ctx.actor, box.id, draft)
    except Invalid as exc:
        raise CliError(_messages(exc.errors)) from None
    old, new = settings_of(box), settings_of(saved)
    changed = [key for key in new if old[key] != new[key]]
    if not changed:
        print(f"Nothing changed for {saved.email}.")
        return
    print(f"Saved {saved.email}: " + ", ".join(f"{key}={_assigned(key, new[key])}" for key in changed))
    if "folders" in changed and saved.folder_scope != "selected":
        print("Note: selected folders are loaded only with scope=selected.")


def _assigned(key: str, value: Any) -> str:
    """A changed setting as `mailbox set` would take it back (the signature only by its length)."""
    if key == "signature":
        return f"({len(value)} characters)"
    if key == "folders":
        return ",".join(value) if value else "(none)"
    return _text(key, value).split("  (")[0]


def _messages(errors: dict[str, str]) -> str:
    """The store's validation messages, each under the key `mailbox set` uses for its field."""
    return "; ".join(
        f"{KEYS.get(field, field)}: {message}" if field else message for field, message in errors.items()
    )
