"""`mailroom share`: who else may read, send from or configure a mailbox."""

from __future__ import annotations

import argparse
import json
import sys

from tui.cli.common import CliError, Context, command

USAGE = """\
mailroom share EMAIL USER_OR_ROLE (--read | --send | --configure)... | --none
       mailroom share list EMAIL [--json]
       mailroom share on|off EMAIL"""

HELP = (
    "Share a mailbox with a user or role: --read shows its mail in their CRM timelines, --send also puts it "
    "in their communication panel and From field, --configure lets them change its settings and sharing. "
    "The flags given replace the rights held before; --none removes the row. `share off` suspends every "
    "share of the mailbox (the table is kept) until `share on`. Needs the system operations "
    "CanAccessSharedMailbox and CanConfigureSharedMailboxSync, and ownership or the Configure right."
)
VERBS = ("list", "on", "off")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the share command."""
    p = command(sub, "share", _share, "share a mailbox with users and roles", usage=USAGE, epilog=HELP)
    p.add_argument("target", metavar="EMAIL | list | on | off", help="the mailbox, or a verb followed by it")
    p.add_argument("principal", metavar="USER_OR_ROLE | EMAIL", nargs="?", help="who gets the rights")
    p.add_argument("--read", action="store_true", help="Read emails: its mail shows in CRM timelines")
    p.add_argument("--send", action="store_true", help="Send emails: From field and panel (implies --read)")
    p.add_argument("--configure", action="store_true", help="Configure mailbox: settings and sharing")
    p.add_argument("--none", action="store_true", help="remove every right of USER_OR_ROLE")
    p.add_argument("--json", action="store_true", help="print JSON for scripts (with list)")


def _share(ctx: Context) -> None:
    args = ctx.args
    if args.target in VERBS:
        if not args.principal:
            raise CliError(f"usage: mailroom share {args.target} EMAIL", code=2)
        if args.read or args.send or args.configure or args.none:
            raise CliError(f"`share {args.target}` takes no rights flags", code=2)
        if args.target == "list":
            return _list(ctx, args.principal)
        state = ctx.store.sharing.set_enabled(ctx.actor, args.principal, args.target == "on")
        print(f"Access for other users is {'on' if state.enabled else 'off'} for {args.principal.lower()}.")
        return None
    if not args.principal:
        raise CliError(
            "usage: mailroom share EMAIL USER_OR_ROLE (--read | --send | --configure | --none)", code=2
        )
    if args.none == (args.read or args.send or args.configure):
        raise CliError(
            "give the rights to hold (--read, --send, --configure) or --none to remove them", code=2
        )
    state = ctx.store.sharing.set_rights(
        ctx.actor, args.target, args.principal, args.read, args.send, args.configure
    )
    row = next((r for r in state.rows if r.principal_name == args.principal.strip()), None)
    email = args.target.strip().lower()
    if row is None:
        print(f"{args.principal} no longer holds any right on {email}.")
    else:
        held = [
            name for name, on in (("read", row.read), ("send", row.send), ("configure", row.configure)) if on
        ]
        print(f"{row.principal_name} ({row.kind}) may now {', '.join(held)} on {email}.")
    if not state.enabled:
        print(
            f"Note: Access for other users is off for {email}; no share takes effect until "
            f"`mailroom share on {email}`."
        )
    return None


def _list(ctx: Context, email: str) -> None:
    state = ctx.store.sharing.get(ctx.actor, email)
    rows = [
        {
            "principal": r.principal_name,
            "kind": r.kind,
            "read": r.read,
            "send": r.send,
            "configure": r.configure,
        }
        for r in state.rows
    ]
    if ctx.args.json:
        out = {
            "mailbox": email.strip().lower(),
            "owner": state.owner_name,
            "enabled": state.enabled,
            "rows": rows,
        }
        json.dump(out, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return
    from tui.cli.common import emit

    print(
        f"{email.strip().lower()}: owner {state.owner_name}; "
        f"Access for other users is {'on' if state.enabled else 'off'}."
    )
    emit(ctx, rows, ["principal", "kind", "read", "send", "configure"], "Not shared with any user or role.")
