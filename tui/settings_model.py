"""The pydantic model of Mailroom's settings: the full validation, with pydantic-settings' sources.

`tui.settings.load_settings` gets the same values without importing this module when the sources hold
only plain values (see tui/settings.py); anything else is read and validated here."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from tui.settings import SettingsPaths, config_file


class SecretsSettings(BaseModel):
    """Where passwords and tokens are kept."""

    model_config = ConfigDict(extra="forbid")

    backend: Literal["auto", "file", "system", "plaintext"] = "auto"
    """auto: the desktop keyring if one works, else the encrypted file; file, system, plaintext force one."""
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


class Settings(SettingsPaths, BaseSettings):
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
