"""Settings: CLI flags over MAILROOM_* environment variables over the TOML file over defaults.

The pydantic model (`Settings`, `SecretsSettings`, `UiSettings`, in tui/settings_model.py) is the
definition and does the validation. Importing pydantic-settings costs a command like `mailroom sync --once`
more than its work, so `load_settings` first tries a fast path without it: when every source holds only
plain, valid values (known keys, strings, booleans, a backend name), it merges them in the same ranking;
anything else (JSON in a variable, an unknown key, a wrong type, an empty value, an unreadable file) goes
through the model, so errors are exactly pydantic's. tests/unit/test_settings_fast.py checks that both
paths give the same settings.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from store.private import APP_FOLDER

if TYPE_CHECKING:
    from tui.settings_model import SecretsSettings, Settings, UiSettings  # noqa: F401

APP_NAME = APP_FOLDER  # the XDG folders store/private.py keeps private
BACKENDS = ("auto", "file", "system", "plaintext")
FIELDS = ("db", "user", "secrets", "ui", "log_file")
_MODEL_NAMES = ("Settings", "SecretsSettings", "UiSettings")


def __getattr__(name: str) -> Any:
    """The pydantic model classes, imported on first use."""
    if name in _MODEL_NAMES:
        import tui.settings_model

        return getattr(tui.settings_model, name)
    raise AttributeError(f"module 'tui.settings' has no attribute {name!r}")


def config_dir() -> Path:
    """The XDG config folder of Mailroom (resolved at call time)."""
    from platformdirs import user_config_path

    return user_config_path(APP_NAME)


def data_dir() -> Path:
    """The XDG data folder of Mailroom (resolved at call time)."""
    from platformdirs import user_data_path

    return user_data_path(APP_NAME)


def config_file() -> Path:
    """The TOML settings file: MAILROOM_CONFIG, else config.toml in the config folder."""
    return Path(os.environ.get("MAILROOM_CONFIG") or config_dir() / "config.toml")


class SettingsPaths:
    """What the model and the loaded settings derive alike from `db`, `log_file` and `user`."""

    db: Path | None
    log_file: Path | None
    user: str | None

    def db_path(self) -> Path:
        """The database file in effect."""
        return (self.db or data_dir() / "mailroom.db").expanduser()

    def log_path(self) -> Path:
        """The log file in effect."""
        return (self.log_file or data_dir() / "mailroom.log").expanduser()

    def user_name(self) -> str:
        """The acting user: the setting, else the OS login."""
        if self.user:
            return self.user
        import getpass

        return getpass.getuser()


@dataclass
class LoadedSecrets:
    """`secrets` of the loaded settings."""

    backend: str = "auto"
    allow_plaintext: bool = False


@dataclass
class LoadedUi:
    """`ui` of the loaded settings."""

    theme: str = "textual-dark"
    cursor_blink: bool = True
    keymap: dict[str, str] = field(default_factory=dict)


@dataclass
class LoadedSettings(SettingsPaths):
    """The settings in effect, as `load_settings` returns them (same fields as the model `Settings`)."""

    db: Path | None = None
    user: str | None = None
    secrets: LoadedSecrets = field(default_factory=LoadedSecrets)
    ui: LoadedUi = field(default_factory=LoadedUi)
    log_file: Path | None = None


def load_settings(**flags: Any) -> LoadedSettings:
    """Build the settings; flags that are None are left to the other sources."""
    flags = {k: v for k, v in flags.items() if v is not None}
    fast = fast_settings(flags)
    return fast if fast is not None else full_settings(flags)


def full_settings(flags: dict[str, Any]) -> LoadedSettings:
    """The settings as the pydantic model reads and validates them (raises its ValidationError)."""
    from tui.settings_model import Settings

    s = Settings(**flags)
    return LoadedSettings(
        db=s.db,
        user=s.user,
        secrets=LoadedSecrets(s.secrets.backend, s.secrets.allow_plaintext),
        ui=LoadedUi(s.ui.theme, s.ui.cursor_blink, dict(s.ui.keymap)),
        log_file=s.log_file,
    )


class _NotPlain(Exception):
    """A source holds something only the model may judge."""


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
# Environment variables the fast path reads: lower-case name → (section or None, key, kind).
_ENV = {
    "mailroom_db": (None, "db", "path"),
    "mailroom_user": (None, "user", "str"),
    "mailroom_log_file": (None, "log_file", "path"),
    "mailroom_secrets__backend": ("secrets", "backend", "backend"),
    "mailroom_secrets__allow_plaintext": ("secrets", "allow_plaintext", "bool"),
    "mailroom_ui__theme": ("ui", "theme", "str"),
    "mailroom_ui__cursor_blink": ("ui", "cursor_blink", "bool"),
}
_KINDS = {
    None: {"db": "path", "user": "str", "log_file": "path"},
    "secrets": {"backend": "backend", "allow_plaintext": "bool"},
    "ui": {"theme": "str", "cursor_blink": "bool", "keymap": "keymap"},
}


def fast_settings(flags: dict[str, Any]) -> LoadedSettings | None:
    """The settings without pydantic when every source is plain; None when the model must decide."""
    try:
        values: dict[str, Any] = {"secrets": {}, "ui": {}}
        _merge(values, _file_values())
        _merge(values, _env_values())
        _merge(values, {k: _plain(v, _KINDS[None].get(k), text=True) for k, v in flags.items()})
    except _NotPlain:
        return None
    secrets, ui = values.pop("secrets"), values.pop("ui")
    return LoadedSettings(**values, secrets=LoadedSecrets(**secrets), ui=LoadedUi(**ui))


def _merge(into: dict[str, Any], values: dict[str, Any]) -> None:
    for key, value in values.items():
        if isinstance(value, dict):
            into[key].update(value)
        else:
            into[key] = value


def _env_values() -> dict[str, Any]:
    out: dict[str, Any] = {"secrets": {}, "ui": {}}
    seen: set[str] = set()
    for name, value in os.environ.items():
        low = name.lower()
        if not any(low == f"mailroom_{f}" or low.startswith(f"mailroom_{f}__") for f in FIELDS):
            continue  # not a setting (MAILROOM_CONFIG, MAILROOM_SECRETS_KEY …): the model ignores it too
        if low not in _ENV or low in seen:
            raise _NotPlain(name)  # JSON, a nested key the fast path does not know, or a name given twice
        seen.add(low)
        section, key, kind = _ENV[low]
        (out[section] if section else out)[key] = _plain(value, kind, text=True)
    return out


def _file_values() -> dict[str, Any]:
    path = config_file()
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise _NotPlain(path) from exc
    import tomllib

    try:
        doc = tomllib.loads(data.decode())
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise _NotPlain(path) from exc
    out: dict[str, Any] = {}
    for key, value in doc.items():
        kind = _KINDS[None].get(key)
        if key in ("secrets", "ui") and isinstance(value, dict):
            out[key] = {k: _plain(v, _KINDS[key].get(k), text=False) for k, v in value.items()}
        elif kind is None:
            raise _NotPlain(key)
        else:
            out[key] = _plain(value, kind, text=False)
    return out


def _plain(value: Any, kind: str | None, text: bool) -> Any:
    """*value* converted as the model would, when it is beyond doubt; else _NotPlain."""
    if kind in ("str", "path", "backend"):
        if not isinstance(value, str) or not value:
            raise _NotPlain(value)
        if kind == "backend" and value not in BACKENDS:
            raise _NotPlain(value)
        return Path(value) if kind == "path" else value
    if kind == "bool":
        if isinstance(value, bool) and not text:
            return value
        if text and value in _TRUE + _FALSE:
            return value in _TRUE
        raise _NotPlain(value)
    if kind == "keymap" and not text and isinstance(value, dict):
        if all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            return dict(value)
    raise _NotPlain(value)
