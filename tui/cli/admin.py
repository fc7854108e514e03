"""`mailroom user|role|grant|operation|setting`: people, roles and what they may do."""

from __future__ import annotations

import argparse

from tui.cli.common import Context, add_json_flag, command, emit, group


def register(sub: argparse._SubParsersAction) -> None:
    """Add the admin commands."""
    users = group(sub, "user", "Mailroom users")
    p = command(users, "add", _user_add, "add a user")
    p.add_argument("name")
    p.add_argument("--display-name", default="", help="the name people see")
    add_json_flag(command(users, "list", _user_list, "list users"))

    roles = group(sub, "role", "roles (roles may contain users and other roles)")
    p = command(roles, "add", _role_add, "add a role")
    p.add_argument("name")
    p.add_argument("--display-name", default="")
    add_json_flag(command(roles, "list", _role_list, "list roles with their direct members"))
    members = roles.add_parser("member", help="role membership", description="role membership")
    members.set_defaults(handler=lambda ctx: members.print_help() or 2)
    msub = members.add_subparsers(title="commands", metavar="COMMAND")
    for verb, fn in (("add", _member_add), ("remove", _member_remove)):
        p = command(msub, verb, fn, f"{verb} a user or role {'to' if verb == 'add' else 'from'} a role")
        p.add_argument("role")
        p.add_argument("member", metavar="USER_OR_ROLE")

    p = command(sub, "grant", _grant, "grant a system operation to a user or role")
    p.add_argument("operation", help="operation code, see `mailroom operation list`")
    p.add_argument("principal", metavar="USER_OR_ROLE")
    p.add_argument("--revoke", action="store_true", help="take the operation away instead")

    ops = group(sub, "operation", "system operations")
    add_json_flag(command(ops, "list", _operation_list, "list system operations and who holds them"))

    settings = group(sub, "setting", "system settings (e.g. MailboxSyncInterval)")
    add_json_flag(command(settings, "list", _setting_list, "list system settings"))
    p = command(settings, "set", _setting_set, "change a system setting")
    p.add_argument("key")
    p.add_argument("value")


def _user_add(ctx: Context) -> None:
    u = ctx.store.identity.add(ctx.actor, "user", ctx.args.name, ctx.args.display_name)
    print(f"Added user {u.name}.")


def _user_list(ctx: Context) -> None:
    rows = [{"name": p.name, "display_name": p.display_name} for p in ctx.store.identity.list("user")]
    emit(ctx, rows, ["name", "display_name"], "No users yet.")


def _role_add(ctx: Context) -> None:
    r = ctx.store.identity.add(ctx.actor, "role", ctx.args.name, ctx.args.display_name)
    print(f"Added role {r.name}.")


def _role_list(ctx: Context) -> None:
    ident = ctx.store.identity
    rows = [
        {"name": r.name, "display_name": r.display_name, "members": [m.name for m in ident.members(r.name)]}
        for r in ident.list("role")
    ]
    if not ctx.args.json:
        rows = [dict(r, members=", ".join(r["members"])) for r in rows]
    emit(ctx, rows, ["name", "members", "display_name"], "No roles yet.")


def _member_add(ctx: Context) -> None:
    ctx.store.identity.add_member(ctx.actor, ctx.args.role, ctx.args.member)
    print(f"{ctx.args.member} is now a member of {ctx.args.role}.")


def _member_remove(ctx: Context) -> None:
    ctx.store.identity.remove_member(ctx.actor, ctx.args.role, ctx.args.member)
    print(f"{ctx.args.member} is no longer a member of {ctx.args.role}.")


def _grant(ctx: Context) -> None:
    ctx.store.identity.grant(ctx.actor, ctx.args.operation, ctx.args.principal, revoke=ctx.args.revoke)
    verb = "Revoked" if ctx.args.revoke else "Granted"
    print(f"{verb} {ctx.args.operation} {'from' if ctx.args.revoke else 'to'} {ctx.args.principal}.")


def _operation_list(ctx: Context) -> None:
    from store.identity import Operation

    holders: dict[str, list[str]] = {}
    for op, name in ctx.store.identity.grants():
        holders.setdefault(op, []).append(name)
    rows = [{"code": o.value, "title": o.title, "granted_to": holders.get(o.value, [])} for o in Operation]
    if not ctx.args.json:
        rows = [dict(r, granted_to=", ".join(r["granted_to"])) for r in rows]
    emit(ctx, rows, ["code", "title", "granted_to"], "")


def _setting_list(ctx: Context) -> None:
    from store.system import SPECS

    values = ctx.store.system.all()
    rows = [{"key": k, "value": v, "description": SPECS[k].description} for k, v in values.items()]
    emit(ctx, rows, ["key", "value", "description"], "")


def _setting_set(ctx: Context) -> None:
    value = ctx.store.system.set(ctx.actor, ctx.args.key, ctx.args.value)
    print(f"{ctx.args.key} = {value}")
