"""`mailroom provider|domain`: the Providers and Mail provider domains directories."""

from __future__ import annotations

import argparse

from tui.cli.common import Context, add_json_flag, command, emit, group


def register(sub: argparse._SubParsersAction) -> None:
    """Add the directory commands."""
    prov = group(sub, "provider", "mail providers and their server settings")
    add_json_flag(command(prov, "list", _provider_list, "list providers"))
    p = command(prov, "show", _provider_show, "show one provider")
    p.add_argument("name")
    add_json_flag(p)
    p = command(prov, "add", _provider_add, "add a provider (e.g. your company's IMAP/SMTP servers)")
    p.add_argument("name")
    p.add_argument("--imap", required=True, metavar="HOST:PORT")
    p.add_argument(
        "--imap-tls", choices=["ssl", "starttls"], default="ssl", help="default: ssl (implicit TLS)"
    )
    p.add_argument("--smtp", required=True, metavar="HOST:PORT")
    p.add_argument(
        "--smtp-tls", choices=["ssl", "starttls"], default="ssl", help="default: ssl (implicit TLS)"
    )
    p.add_argument(
        "--login",
        choices=["address", "local-part", "ask"],
        default="address",
        help="login name: the full address, the part before @, or typed by the user",
    )
    p.add_argument(
        "--ca-file", metavar="PEM", default="", help="trust this CA (an internal CA) for this provider"
    )
    p.add_argument("--app-password-required", action="store_true")
    p.add_argument("--help-url", metavar="URL", default="", help="the provider's app-password instructions")
    p.add_argument(
        "--mx", metavar="SUFFIX", action="append", default=[], help="MX host suffix that identifies it"
    )
    p = command(prov, "remove", _provider_remove, "remove a provider no mailbox uses")
    p.add_argument("name")

    dom = group(sub, "domain", "the Mail provider domains lookup")
    add_json_flag(command(dom, "list", _domain_list, "list domains and their providers"))
    p = command(dom, "add", _domain_add, "map a domain to a provider")
    p.add_argument("domain")
    p.add_argument("--provider", required=True, metavar="NAME")
    p = command(dom, "remove", _domain_remove, "remove a domain from the lookup")
    p.add_argument("domain")


def _provider_row(p) -> dict:  # noqa: ANN001 - store.providers.Provider, imported lazily
    return {
        "name": p.name,
        "imap": f"{p.imap_host}:{p.imap_port}",
        "imap_tls": p.imap_tls,
        "smtp": f"{p.smtp_host}:{p.smtp_port}",
        "smtp_tls": p.smtp_tls,
        "auth": p.auth_kind,
        "login": p.login_format,
        "app_password_required": p.app_password_required,
        "help_url": p.help_url,
        "ca_file": p.ca_file,
        "builtin": p.builtin,
    }


def _provider_list(ctx: Context) -> None:
    rows = [_provider_row(p) for p in ctx.store.providers.list()]
    emit(ctx, rows, ["name", "imap", "imap_tls", "smtp", "smtp_tls", "auth", "login"], "No providers.")


def _provider_show(ctx: Context) -> None:
    row = _provider_row(ctx.store.providers.get(ctx.args.name))
    if ctx.args.json:
        emit(ctx, [row], [], "")
        return
    for key, value in row.items():
        print(f"{key:>22}: {value}")


def _provider_add(ctx: Context) -> None:
    from store.errors import Invalid
    from store.providers import ProviderDraft, parse_hostport

    a = ctx.args
    errors: dict[str, str] = {}
    try:
        imap_host, imap_port = parse_hostport(a.imap, "imap")
        smtp_host, smtp_port = parse_hostport(a.smtp, "smtp")
    except Invalid as exc:
        errors.update(exc.errors)
    if errors:
        raise Invalid(errors)
    draft = ProviderDraft.parse(
        name=a.name,
        imap_host=imap_host,
        imap_port=imap_port,
        imap_tls=a.imap_tls,
        smtp_host=smtp_host,
        smtp_port=smtp_port,
        smtp_tls=a.smtp_tls,
        login_format=a.login.replace("-", "_"),
        app_password_required=a.app_password_required,
        auth_kind="app_password" if a.app_password_required else "password",
        help_url=a.help_url,
        ca_file=a.ca_file,
        mx_suffixes=" ".join(a.mx),
    )
    p = ctx.store.providers.add(ctx.actor, draft)
    print(
        f"Added provider {p.name}: IMAP {p.imap_host}:{p.imap_port} ({p.imap_tls}), "
        f"SMTP {p.smtp_host}:{p.smtp_port} ({p.smtp_tls})."
    )


def _provider_remove(ctx: Context) -> None:
    ctx.store.providers.remove(ctx.actor, ctx.args.name)
    print(f"Removed provider {ctx.args.name}.")


def _domain_list(ctx: Context) -> None:
    rows = [{"domain": d, "provider": p, "source": s} for d, p, s in ctx.store.providers.domains()]
    emit(ctx, rows, ["domain", "provider", "source"], "No domains in the lookup.")


def _domain_add(ctx: Context) -> None:
    domain = ctx.store.providers.add_domain(ctx.actor, ctx.args.domain, ctx.args.provider)
    print(f"{domain} → {ctx.args.provider}")


def _domain_remove(ctx: Context) -> None:
    ctx.store.providers.remove_domain(ctx.actor, ctx.args.domain)
    print(f"Removed {ctx.args.domain} from the lookup.")
