"""Settings: CLI flags over MAILROOM_* environment variables over the TOML file over defaults."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

APP_NAME = "mailroom"


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


class SecretsSettings(BaseModel):
    """Where passwords and tokens are kept."""

    model_config = ConfigDict(extra="forbid")

    backend: Literal["auto", "file", "system", "plaintext"] = "auto"
    """auto: the desktop keyring when one works, else the encrypted file; file, system or plaintext to force."""
    allow_plaintext: bool = False
    """The plaintext backend is refused unless this is true: it only encodes, it does not encrypt."""


class UiSettings(BaseModel):
    """How the terminal interface looks and behaves."""

    model_config = ConfigDict(extra="forbid")

    theme: str = "textual-dark"
    """A Textual theme name."""
    cursor_blink: bool = True
    """Blinking cursors in inputs (tests turn it off so snapshots are stable)."""
    keymap: dict[str, str] = Field(default_factory=dict)
    """Binding id → keys, e.g. {"panel.sync" = "ctrl+s"}."""


class Settings(BaseSettings):
    """Every setting of Mailroom, with its source ranked: flags, env, file, default."""

    model_config = SettingsConfigDict(env_prefix="MAILROOM_", env_nested_delimiter="__", extra="forbid")

    db: Path | None = None
    """The SQLite file; default: mailroom.db in the XDG data folder."""
    user: str | None = None
    """The Mailroom user acting; default: the operating-system login."""
    secrets: SecretsSettings = Field(default_factory=SecretsSettings)
    ui: UiSettings = Field(default_factory=UiSettings)
    log_file: Path | None = None
    """Where to write the log; default: mailroom.log in the XDG data folder."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Flags (init) rank above the environment, which ranks above the TOML file."""
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=config_file()))

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


def load_settings(**flags: Any) -> Settings:
    """Build the settings; flags that are None are left to the other sources."""
    return Settings(**{k: v for k, v in flags.items() if v is not None})
