"""`mailroom config show`: the effective settings, where each file lives, and the secrets backend."""

from __future__ import annotations

import argparse
import json

from tui.cli.common import Context, add_json_flag, command, group


def register(sub: argparse._SubParsersAction) -> None:
    """Add the config commands."""
    cfg = group(sub, "config", "Mailroom's own settings")
    show = command(cfg, "show", _show, "show the effective settings (secrets masked)")
    show.set_defaults(needs_user=False)
    add_json_flag(show)


def _show(ctx: Context) -> None:
    from tui.settings import config_dir, config_file, data_dir

    s = ctx.settings
    try:
        backend = ctx.secrets.backend_name
    except Exception as exc:  # a locked or missing backend is a fact to show, not a crash
        backend = f"unavailable: {exc}"
    info = {
        "user": s.user_name(),
        "db": str(s.db_path()),
        "config_file": str(config_file()),
        "config_dir": str(config_dir()),
        "data_dir": str(data_dir()),
        "log_file": str(s.log_path()),
        "secrets.backend": s.secrets.backend,
        "secrets.active": backend,
        "secrets.allow_plaintext": s.secrets.allow_plaintext,
        "ui.theme": s.ui.theme,
        "ui.cursor_blink": s.ui.cursor_blink,
        "ui.keymap": s.ui.keymap,
    }
    if ctx.args.json:
        print(json.dumps(info, indent=2, ensure_ascii=False))
        return
    for key, value in info.items():
        print(f"{key:>24}: {value}")
