"""Tests for store.secrets and store.keyring_file."""

from __future__ import annotations

import base64
import copy
import dataclasses
import io
import multiprocessing
import os
import pickle
import stat
import subprocess
import sys
import time
from pathlib import Path

import keyring
import keyring.backend
import keyring.errors
import pytest
from keyring.backends import fail

import store.secrets as secrets_mod
from store.keyring_file import EncryptedFileKeyring
from store.secrets import (
    BackendChoice,
    Secret,
    SecretsError,
    SecretsLocked,
    SecretStore,
    open_secret_store,
    redact,
    run_password_command,
)

ROOT = Path(__file__).resolve().parents[2]
PW = "s3cr3t-Pa55word!"


class MemoryKeyring(keyring.backend.KeyringBackend):
    """A working in-memory backend standing in for an OS keyring."""

    priority = 1

    def __init__(self, data: dict) -> None:
        """Keep secrets in ``data``; the required argument keeps keyring's discovery away."""
        super().__init__()
        self.data = data

    def get_password(self, service, username):
        """Return a stored password."""
        return self.data.get((service, username))

    def set_password(self, service, username, password):
        """Store a password."""
        self.data[(service, username)] = password

    def delete_password(self, service, username):
        """Delete a password."""
        if self.data.pop((service, username), None) is None:
            raise keyring.errors.PasswordDeleteError("missing")


class PlaintextKeyring(MemoryKeyring):
    """Looks like keyrings.alt's plaintext backend."""


class LeakyKeyring(MemoryKeyring):
    """A backend whose errors echo the password, like some protocol libraries do."""

    def set_password(self, service, username, password):
        """Fail, echoing the password."""
        raise keyring.errors.PasswordSetError(f"server rejected LOGIN {username} {password!r}")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    monkeypatch.delenv("MAILROOM_SECRETS_KEY", raising=False)
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)


@pytest.fixture
def dirs(tmp_path):
    return tmp_path / "share" / "mailroom", tmp_path / "config" / "mailroom"


@pytest.fixture
def use_keyring():
    saved = keyring.get_keyring()
    yield keyring.set_keyring
    keyring.set_keyring(saved)


def _key_b64(byte: int = 7) -> str:
    return base64.b64encode(bytes([byte]) * 32).decode()


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- encrypted file backend -------------------------------------------------------------


def test_file_round_trip(dirs):
    data_dir, config_dir = dirs
    store = open_secret_store("file", data_dir, config_dir)
    assert store.kind is BackendChoice.FILE and store.is_encrypted
    assert "encrypted file" in store.backend_name and "secrets.json.enc" in store.backend_name
    assert "secrets.key" in store.backend_name
    assert store.get("mailbox:1") is None
    store.set("mailbox:1", Secret(PW))
    store.set("mailbox:2", Secret("other"))
    store.set("mailbox:2", Secret("other-2"))
    reopened = open_secret_store("file", data_dir, config_dir)
    assert reopened.get("mailbox:1") == Secret(PW)
    assert reopened.get("mailbox:1").reveal() == PW
    assert reopened.get("mailbox:2").reveal() == "other-2"
    reopened.delete("mailbox:1")
    reopened.delete("mailbox:1")  # idempotent
    reopened.delete("never-stored")
    assert store.get("mailbox:1") is None
    assert store.get("mailbox:2").reveal() == "other-2"
    store.check()


def test_files_are_private(dirs):
    data_dir, config_dir = dirs
    store = open_secret_store("file", data_dir, config_dir)
    store.set("mailbox:1", Secret(PW))
    for directory in (data_dir, data_dir.parent, config_dir, config_dir.parent):
        assert _mode(directory) == 0o700, directory
    for path in (data_dir / "secrets.json.enc", config_dir / "secrets.key"):
        assert _mode(path) == 0o600, path
    assert _mode(data_dir / "secrets.json.enc.lock") == 0o600
    leftovers = [p.name for p in data_dir.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_existing_dirs_are_left_alone(tmp_path):
    tmp_path.chmod(0o755)
    open_secret_store("file", tmp_path, tmp_path).set("mailbox:1", Secret(PW))
    assert _mode(tmp_path) == 0o755


def test_secret_is_not_in_ciphertext_or_key_file(dirs):
    data_dir, config_dir = dirs
    open_secret_store("file", data_dir, config_dir).set("mailbox:1", Secret(PW))
    needles = [PW.encode(), base64.b64encode(PW.encode()), base64.b64encode(PW.encode())[:12]]
    for path in (data_dir / "secrets.json.enc", config_dir / "secrets.key"):
        blob = path.read_bytes()
        for needle in needles:
            assert needle not in blob, path
    key = base64.urlsafe_b64decode((config_dir / "secrets.key").read_text())
    assert len(key) == 32


def test_reads_never_create_a_key(dirs):
    data_dir, config_dir = dirs
    store = open_secret_store("file", data_dir, config_dir)
    assert store.get("mailbox:1") is None
    store.delete("mailbox:1")
    assert not (config_dir / "secrets.key").exists()


def test_env_key_is_used_instead_of_key_file(dirs, monkeypatch):
    data_dir, config_dir = dirs
    monkeypatch.setenv("MAILROOM_SECRETS_KEY", _key_b64())
    store = open_secret_store("file", data_dir, config_dir)
    assert "$MAILROOM_SECRETS_KEY" in store.backend_name
    store.set("mailbox:1", Secret(PW))
    assert not (config_dir / "secrets.key").exists()
    urlsafe = base64.urlsafe_b64encode(bytes([7]) * 32).decode()
    monkeypatch.setenv("MAILROOM_SECRETS_KEY", f"  {urlsafe}\n")
    assert open_secret_store("file", data_dir, config_dir).get("mailbox:1").reveal() == PW


def test_wrong_env_key_is_locked_with_helpful_message(dirs, monkeypatch):
    data_dir, config_dir = dirs
    monkeypatch.setenv("MAILROOM_SECRETS_KEY", _key_b64(1))
    open_secret_store("file", data_dir, config_dir).set("mailbox:1", Secret(PW))
    monkeypatch.setenv("MAILROOM_SECRETS_KEY", _key_b64(2))
    store = open_secret_store("file", data_dir, config_dir)
    with pytest.raises(SecretsLocked) as info:
        store.get("mailbox:1")
    message = str(info.value)
    assert "MAILROOM_SECRETS_KEY" in message and "secrets.json.enc" in message
    assert "different key" in message and PW not in message
    assert isinstance(info.value, keyring.errors.KeyringLocked)
    with pytest.raises(SecretsLocked):
        store.set("mailbox:2", Secret("x"))  # a wrong key never overwrites the file
    with pytest.raises(SecretsLocked):
        store.check()
    monkeypatch.setenv("MAILROOM_SECRETS_KEY", _key_b64(1))
    assert open_secret_store("file", data_dir, config_dir).get("mailbox:1").reveal() == PW


def test_malformed_env_key_names_the_variable_not_the_value(dirs, monkeypatch):
    monkeypatch.setenv("MAILROOM_SECRETS_KEY", "not-a-key-value")
    with pytest.raises(SecretsError) as info:
        open_secret_store("file", *dirs).set("mailbox:1", Secret(PW))
    assert "MAILROOM_SECRETS_KEY" in str(info.value) and "not-a-key-value" not in str(info.value)


def test_wrong_or_missing_key_file(dirs):
    data_dir, config_dir = dirs
    open_secret_store("file", data_dir, config_dir).set("mailbox:1", Secret(PW))
    key_file = config_dir / "secrets.key"
    original = key_file.read_bytes()
    key_file.write_text(_key_b64(9))
    with pytest.raises(SecretsLocked, match="secrets.key"):
        open_secret_store("file", data_dir, config_dir).get("mailbox:1")
    key_file.unlink()
    store = open_secret_store("file", data_dir, config_dir)
    with pytest.raises(SecretsLocked, match="key file .*secrets.key.* is missing"):
        store.get("mailbox:1")
    with pytest.raises(SecretsLocked):
        store.set("mailbox:1", Secret("new"))
    assert not key_file.exists()  # no fresh key silently replaced the lost one
    key_file.write_bytes(original)
    key_file.chmod(0o644)
    with pytest.raises(SecretsError, match="chmod 600"):
        store.get("mailbox:1")
    key_file.chmod(0o600)
    assert store.get("mailbox:1").reveal() == PW


def test_corrupted_file_is_a_clear_error(dirs):
    data_dir, config_dir = dirs
    store = open_secret_store("file", data_dir, config_dir)
    store.set("mailbox:1", Secret(PW))
    path = data_dir / "secrets.json.enc"
    path.write_text(path.read_text().replace('"payload": "gAAAAA', '"payload": "gAAAAB'))
    with pytest.raises(SecretsError, match="corrupted"):
        store.get("mailbox:1")
    path.write_text("garbage")
    with pytest.raises(SecretsError, match="not a Mailroom secrets file"):
        store.get("mailbox:1")


def _writer(data_dir: str, config_dir: str, prefix: str, count: int, barrier) -> None:
    store = open_secret_store("file", Path(data_dir), Path(config_dir))
    barrier.wait()
    for i in range(count):
        store.set(f"mailbox:{prefix}-{i}", Secret(f"pw-{prefix}-{i}"))


def test_concurrent_writers_do_not_lose_updates(dirs):
    data_dir, config_dir = dirs
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    procs = [
        ctx.Process(target=_writer, args=(str(data_dir), str(config_dir), name, 25, barrier))
        for name in ("tui", "sync")
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=120)
        assert proc.exitcode == 0
    store = open_secret_store("file", data_dir, config_dir)
    for name in ("tui", "sync"):
        for i in range(25):
            assert store.get(f"mailbox:{name}-{i}").reveal() == f"pw-{name}-{i}"


# --- choosing a backend -----------------------------------------------------------------


def test_auto_uses_file_when_keyring_has_no_backend(dirs, use_keyring):
    use_keyring(fail.Keyring())
    store = open_secret_store("auto", *dirs)
    assert store.kind is BackendChoice.FILE
    assert isinstance(store.backend, EncryptedFileKeyring)
    assert "fail" in store.note
    store.set("mailbox:1", Secret(PW))
    assert store.get("mailbox:1").reveal() == PW


def test_auto_in_a_process_without_keyring_backend(dirs):
    code = (
        "import sys; from pathlib import Path; from store.secrets import open_secret_store, Secret\n"
        "s = open_secret_store('auto', Path(sys.argv[1]), Path(sys.argv[2]))\n"
        "s.set('mailbox:1', Secret('x')); print(s.kind.value)\n"
    )
    env = dict(os.environ, PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring", PYTHONPATH=str(ROOT))
    env.pop("MAILROOM_SECRETS_KEY", None)
    result = subprocess.run(
        [sys.executable, "-c", code, *map(str, dirs)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "file"


def test_auto_and_system_use_a_working_os_keyring(dirs, use_keyring, monkeypatch):
    monkeypatch.setattr(secrets_mod, "_NATIVE_MODULES", (__name__,))
    data: dict = {}
    use_keyring(MemoryKeyring(data))
    for choice in ("auto", "system", " System "):
        store = open_secret_store(choice, *dirs)
        assert store.kind is BackendChoice.SYSTEM
        assert store.backend_name.startswith("system keyring")
    store.set("mailbox:1", Secret(PW))
    assert data == {("mailroom", "mailbox:1"): PW}
    assert store.get("mailbox:1").reveal() == PW
    store.delete("mailbox:1")
    store.delete("mailbox:1")
    assert not dirs[0].exists() and not dirs[1].exists()


def test_auto_sticks_to_an_existing_secrets_file(dirs, use_keyring, monkeypatch):
    open_secret_store("file", *dirs).set("mailbox:1", Secret(PW))
    monkeypatch.setattr(secrets_mod, "_NATIVE_MODULES", (__name__,))
    use_keyring(MemoryKeyring({}))
    store = open_secret_store("auto", *dirs)
    assert store.kind is BackendChoice.FILE and store.get("mailbox:1").reveal() == PW


def test_auto_refuses_plaintext_and_foreign_backends(dirs, use_keyring):
    use_keyring(PlaintextKeyring({}))
    assert open_secret_store("auto", *dirs).kind is BackendChoice.FILE
    use_keyring(MemoryKeyring({}))  # not a built-in OS keyring: only used when asked for
    assert open_secret_store("auto", *dirs).kind is BackendChoice.FILE
    assert open_secret_store("system", *dirs).kind is BackendChoice.SYSTEM


def test_system_without_working_keyring_is_a_clear_error(dirs, use_keyring):
    use_keyring(fail.Keyring())
    with pytest.raises(SecretsError, match="no usable system keyring.*'file'"):
        open_secret_store("system", *dirs)


def test_plaintext_requires_explicit_permission(dirs):
    with pytest.raises(SecretsError, match="UNENCRYPTED"):
        open_secret_store("plaintext", *dirs)
    store = open_secret_store("plaintext", *dirs, allow_plaintext=True)
    assert store.kind is BackendChoice.PLAINTEXT and not store.is_encrypted
    assert "UNENCRYPTED" in store.backend_name
    store.set("mailbox:1", Secret(PW))
    assert store.get("mailbox:1").reveal() == PW
    assert _mode(dirs[0] / "secrets.UNENCRYPTED.json") == 0o600
    assert not (dirs[1] / "secrets.key").exists()


def test_unknown_choice():
    with pytest.raises(SecretsError, match="auto, file, system, plaintext"):
        open_secret_store("keepass", Path("/nonexistent"), Path("/nonexistent"))


# --- never leaking the value ------------------------------------------------------------


@dataclasses.dataclass
class Account:
    user: str
    password: Secret


def test_secret_repr_never_shows_value():
    secret = Secret(PW)
    shown = [repr(secret), str(secret), f"{secret}", f"{secret!r}", f"{secret:>30}", "%s" % secret]  # noqa: UP031
    shown += [repr(Account("ann", secret)), repr([secret]), repr({"pw": secret})]
    shown.append(str(RuntimeError(f"login failed for {secret}")))
    for text in shown:
        assert PW not in text
        assert "********" in text
    assert secret == Secret(PW) and secret != Secret("other") and secret != PW
    assert len({secret, Secret(PW)}) == 1
    assert dataclasses.asdict(Account("ann", secret))["password"] is secret
    assert copy.deepcopy(secret) is secret
    with pytest.raises(TypeError):
        pickle.dumps(secret)
    with pytest.raises(TypeError):
        pickle.dumps(Account("ann", secret))
    with pytest.raises(AttributeError):
        secret._value = "changed"
    with pytest.raises(TypeError):
        Secret(b"bytes")


def _rendered_crash(exc: BaseException) -> str:
    console_mod = pytest.importorskip("rich.console")
    traceback_mod = pytest.importorskip("rich.traceback")
    console = console_mod.Console(file=io.StringIO(), width=300, record=True)
    console.print(traceback_mod.Traceback.from_exception(type(exc), exc, exc.__traceback__, show_locals=True))
    return console.export_text()


def test_backend_errors_are_wrapped_and_redacted():
    store = SecretStore(LeakyKeyring({}), kind=BackendChoice.SYSTEM, backend_name="leaky")
    with pytest.raises(SecretsError) as info:
        store.set("mailbox:1", Secret(PW))
    assert PW not in str(info.value) and "rejected" in str(info.value)
    assert info.value.__cause__ is None and info.value.__context__ is None
    assert PW not in _rendered_crash(info.value)
    with pytest.raises(TypeError):
        store.set("mailbox:1", PW)


def test_file_backend_failure_shows_no_plaintext_in_crash_locals(dirs):
    data_dir, config_dir = dirs
    store = open_secret_store("file", data_dir, config_dir)
    store.set("mailbox:1", Secret(PW))
    (data_dir / "secrets.json.enc").unlink()
    (data_dir / "secrets.json.enc").mkdir()  # reading and replacing now fail
    with pytest.raises(SecretsError) as info:
        store.set("mailbox:2", Secret(PW))
    assert PW not in str(info.value) and "secrets.json.enc" in str(info.value)
    assert PW not in _rendered_crash(info.value)


def test_redact():
    text = f'LOGIN ann "{PW}" failed; again: {PW}; bytes {PW.encode()!r}; other secret'
    cleaned = redact(text, Secret(PW), "other", None, "")
    assert PW not in cleaned and "other" not in cleaned
    assert cleaned.count("********") == 4
    quoted = 'pa"ss\\word'
    escaped = quoted.replace("\\", "\\\\").replace('"', '\\"')  # as imaplib quotes it
    assert redact(f'LOGIN ann "{escaped}"', quoted) == 'LOGIN ann "********"'
    assert redact("nothing to hide") == "nothing to hide"


def test_redact_catches_a_secret_in_text_made_fit_to_show():
    """store.net.server_text squeezes whitespace and cuts at 200 characters before some texts are redacted
    (NetError messages): neither may let the secret or its start through."""
    from store.net import server_text

    spaced = "s3cret  pass\tword"
    shown = server_text(f"NO [AUTHENTICATIONFAILED] {spaced} rejected")
    assert "s3cret" not in redact(shown, Secret(spaced)) and "********" in redact(shown, Secret(spaced))
    long = "longpassword-" * 3
    shown = server_text("x" * 190 + " " + long)
    assert shown.endswith("…") and "longpa" in shown
    masked = redact(shown, Secret(long))
    assert "longp" not in masked and masked.endswith("********…")
    assert redact(server_text("y" * 300), Secret(long)).endswith("y…")  # no part of the secret: kept


# --- password commands ------------------------------------------------------------------


def test_password_command_returns_first_line():
    secret = run_password_command(f"printf '%s\\r\\nsecond line\\n' '{PW}'")
    assert isinstance(secret, Secret) and secret.reveal() == PW


def test_password_command_failure_reports_status_and_stderr():
    with pytest.raises(SecretsError) as info:
        # the command text itself does not contain PW; only its output does
        run_password_command(
            "echo 's3cr3t-''Pa55word!'; echo 'gpg: decryption failed' >&2; echo more >&2; exit 3"
        )
    message = str(info.value)
    assert "exit status 3" in message and "gpg: decryption failed" in message
    assert "more" not in message and PW not in message
    assert PW not in _rendered_crash(info.value)


def test_password_command_empty_output():
    with pytest.raises(SecretsError, match="printed nothing"):
        run_password_command("true")
    with pytest.raises(SecretsError, match="empty"):
        run_password_command("   ")


def test_password_command_timeout_kills_the_whole_group():
    started = time.monotonic()
    with pytest.raises(SecretsError, match="timed out"):
        run_password_command("sleep 30; echo late", timeout=0.3)
    with pytest.raises(SecretsError, match="timed out"):
        run_password_command("(sleep 30) & wait", timeout=0.3)
    assert time.monotonic() - started < 10


def test_password_command_cannot_read_stdin_or_terminal():
    code = (
        "from store.secrets import run_password_command as r\n"
        "print(r('if read line; then echo \"read:$line\"; else echo no-stdin; fi').reveal())\n"
        "print(r('if (: </dev/tty) 2>/dev/null; then echo tty; else echo no-tty; fi').reveal())\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        input="typed-by-user\n",
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["no-stdin", "no-tty"]
