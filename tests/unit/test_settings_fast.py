"""The fast settings path (no pydantic) gives exactly what the pydantic model gives, or steps aside."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui.settings import fast_settings, full_settings, load_settings

ROOT = Path(__file__).resolve().parents[2]

ENV_NAMES = [
    "MAILROOM_DB", "MAILROOM_USER", "MAILROOM_LOG_FILE", "MAILROOM_SECRETS__BACKEND",
    "MAILROOM_SECRETS__ALLOW_PLAINTEXT", "MAILROOM_UI__THEME", "MAILROOM_UI__CURSOR_BLINK",
    "mailroom_user", "Mailroom_Db", "MAILROOM_SECRETS", "MAILROOM_UI", "MAILROOM_UI__KEYMAP",
    "MAILROOM_UI__KEYMAP__panel.sync", "MAILROOM_SECRETS__NOPE", "MAILROOM_DB__X", "MAILROOM_SECRETS_KEY",
    "MAILROOM_DNS_SERVER", "MAILROOM_USERS",
]  # fmt: skip
ENV_VALUES = [
    "", "x", "/tmp/m.db", "~/m.db", "alice", "file", "system", "auto", "plaintext", "File", "nope",
    "true", "false", "1", "0", "yes", "no", "on", "off", "TRUE", "True", "y", "n", "t", "2", " true",
    '{"backend": "file"}', '{"keymap": {"a": "b"}}', '{"theme": 3}', "null", "[]", "nord",
]  # fmt: skip
BOOLS = ["true", "false", "1", "0", "yes", "no", "on", "off", "TRUE", "y", "t", "2"]
PLAIN_ENV = {
    "MAILROOM_DB": ["/tmp/m.db", "~/m.db", "x"], "MAILROOM_USER": ["alice", "bob"],
    "MAILROOM_LOG_FILE": ["/tmp/l.log"], "MAILROOM_SECRETS__BACKEND": ["file", "system", "auto", "plaintext"],
    "MAILROOM_SECRETS__ALLOW_PLAINTEXT": BOOLS, "MAILROOM_UI__THEME": ["nord", "textual-light"],
    "MAILROOM_UI__CURSOR_BLINK": BOOLS, "MAILROOM_SECRETS_KEY": ["k"],
}  # fmt: skip
PLAIN_TOML = [
    'db = "/tmp/filed.db"', 'user = "filed"', 'log_file = "l.log"', '[secrets]\nbackend = "system"',
    "[secrets]\nallow_plaintext = true", '[secrets]\nbackend = "file"\nallow_plaintext = false',
    '[ui]\ntheme = "nord"', "[ui]\ncursor_blink = false", '[ui.keymap]\n"panel.sync" = "ctrl+s"',
]  # fmt: skip
TOML_LINES = [
    'db = "/tmp/filed.db"', 'db = ""', "db = 3", 'user = "filed"', "user = 7", 'log_file = "l.log"',
    'nope = "x"', "[secrets]", 'backend = "file"', 'backend = "system"', 'backend = "bad"',
    "allow_plaintext = true", "allow_plaintext = 1", 'allow_plaintext = "yes"', "[ui]", 'theme = "nord"',
    "theme = 5", "cursor_blink = false", 'cursor_blink = "no"', 'them = "typo"', "[ui.keymap]",
    '"panel.sync" = "ctrl+s"', "x = 1", "[other]", "= broken", 'secrets = "file"',
]  # fmt: skip


@contextmanager
def sources(env: dict[str, str], toml: str | None) -> Iterator[None]:
    """Exactly *env* as the MAILROOM_* variables, and *toml* as the settings file (None: no file)."""
    saved = dict(os.environ)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            for name in list(os.environ):
                if name.upper().startswith("MAILROOM_"):
                    del os.environ[name]
            os.environ.update(env)
            path = Path(tmp) / "config.toml"
            if toml is not None:
                path.write_text(toml)
            os.environ["MAILROOM_CONFIG"] = str(path)
            yield
        finally:
            os.environ.clear()
            os.environ.update(saved)


def both(flags: dict[str, str]) -> tuple[object, object]:
    """(fast result or None, full result or the error it raised as (type, text))."""
    fast = fast_settings(flags)
    try:
        full: object = full_settings(flags)
    except Exception as exc:  # noqa: BLE001 - compared, not hidden
        full = (type(exc).__name__, str(exc))
    return fast, full


def _one_doc(parts: list[str]) -> str:
    """Plain TOML fragments as one valid document (top-level keys first, one table per section)."""
    top = [p for p in parts if not p.startswith("[")]
    tables: dict[str, list[str]] = {}
    for p in parts:
        if p.startswith("["):
            head, *lines = p.split("\n")
            tables.setdefault(head, []).extend(lines)
    keys = {}
    for head, lines in tables.items():
        keys[head] = list({line.split(" = ")[0]: line for line in lines}.values())
    return "\n".join(top + [f"{h}\n" + "\n".join(lines) for h, lines in keys.items()])


TAKEN: list[bool] = []


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    env=st.dictionaries(st.sampled_from(ENV_NAMES), st.sampled_from(ENV_VALUES), max_size=5)
    | st.fixed_dictionaries({}, optional={k: st.sampled_from(v) for k, v in PLAIN_ENV.items()}),
    toml=st.none()
    | st.lists(st.sampled_from(TOML_LINES), max_size=6).map("\n".join)
    | st.lists(st.sampled_from(PLAIN_TOML), max_size=3, unique=True).map(_one_doc),
    flags=st.dictionaries(st.sampled_from(["db", "user"]), st.sampled_from(["", "flag", "/tmp/f.db"])),
)
def test_fast_path_agrees_with_the_model(env: dict[str, str], toml: str | None, flags: dict) -> None:
    with sources(env, toml):
        fast, full = both(flags)
        loaded = load_settings(**flags) if not isinstance(full, tuple) else None
    TAKEN.append(fast is not None)
    if fast is not None:
        assert full == fast  # when the fast path answers, the model answers the same
    if loaded is not None:
        assert loaded == full


def test_the_fast_path_is_taken_for_plain_sources() -> None:
    assert TAKEN and sum(TAKEN) > 20, "the property test never exercised the fast path"
    env = {"MAILROOM_DB": "/tmp/b.db", "MAILROOM_SECRETS__BACKEND": "file", "MAILROOM_SECRETS_KEY": "k"}
    toml = '[secrets]\nallow_plaintext = true\n[ui]\ntheme = "nord"\n[ui.keymap]\n"panel.sync" = "ctrl+s"\n'
    with sources(env, toml):
        fast, full = both({"user": "flag"})
    assert fast is not None and fast == full
    assert fast.secrets.backend == "file" and fast.secrets.allow_plaintext and fast.user == "flag"
    assert fast.ui.keymap == {"panel.sync": "ctrl+s"} and str(fast.db_path()) == "/tmp/b.db"


@pytest.mark.parametrize(
    ("env", "toml"),
    [
        ({"MAILROOM_SECRETS__BACKEND": "nope"}, None),
        ({}, "[ui]\nthem = 'typo'\n"),
        ({"MAILROOM_SECRETS": '{"backend": 3}'}, None),
    ],
)
def test_bad_settings_fail_as_the_model_fails(env: dict, toml: str | None) -> None:
    with sources(env, toml):
        fast, full = both({})
        assert fast is None and isinstance(full, tuple) and full[0] == "ValidationError"
        with pytest.raises(Exception) as raised:
            load_settings()
    assert (type(raised.value).__name__, str(raised.value)) == full


def test_loading_plain_settings_imports_no_pydantic(tmp_path: Path) -> None:
    code = (
        "import sys\nfrom tui.settings import load_settings\ns = load_settings(db='x.db')\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('pydantic', 'pydantic_settings')]\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    env = {**os.environ, "MAILROOM_CONFIG": str(tmp_path / "none.toml"), "MAILROOM_SECRETS__BACKEND": "file"}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
