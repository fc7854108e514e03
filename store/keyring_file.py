"""Keyring backends that keep secrets in one locked, atomically rewritten file and never prompt."""

from __future__ import annotations

import abc
import base64
import binascii
import contextlib
import functools
import hashlib
import hmac
import json
import os
import secrets as _random
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import keyring.backend
import keyring.errors
from cryptography.fernet import Fernet, InvalidToken
from keyring.compat import properties

try:  # POSIX only; on Windows the native Credential Locker is the expected backend.
    import fcntl
except ImportError:  # pragma: no cover - exercised on Windows only
    fcntl = None  # type: ignore[assignment]

KEY_ENV = "MAILROOM_SECRETS_KEY"
ENCRYPTED_FILE_NAME = "secrets.json.enc"
PLAINTEXT_FILE_NAME = "secrets.UNENCRYPTED.json"
KEY_FILE_NAME = "secrets.key"
_FORMAT = "mailroom-secrets"
_VERSION = 1
_KEY_BYTES = 32


class SecretsError(keyring.errors.KeyringError):
    """A secret could not be read or written; the message never contains a secret value."""


class SecretsLocked(SecretsError, keyring.errors.KeyringLocked):
    """The secrets store cannot be unlocked with the key that is available."""


def display_path(path: Path) -> str:
    """Return the path with the home directory shortened to ``~`` for messages."""
    try:
        return "~/" + str(Path(path).relative_to(Path.home()))
    except (ValueError, RuntimeError):
        return str(path)


def ensure_private_dir(path: Path) -> None:
    """Create missing directories with mode 0700, leaving existing ones untouched."""
    missing, current = [], Path(path)
    while not current.exists():
        missing.append(current)
        current = current.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):
            directory.mkdir(mode=0o700)
            os.chmod(directory, 0o700)  # mkdir honours the umask; make it exact.


def _fsync_dir(directory: Path) -> None:
    """Flush a directory entry change to disk where the platform allows it."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` via a 0600 temp file, fsync and ``os.replace``."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def decode_key(text: str, source: str) -> bytes:
    """Decode a base64 (standard or URL-safe) 32-byte key, naming only its source on error."""
    cleaned = "".join(text.split()).translate(str.maketrans("+/", "-_"))
    cleaned += "=" * (-len(cleaned) % 4)
    try:
        raw = base64.b64decode(cleaned, altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != _KEY_BYTES:
        raise SecretsError(f"the key in {source} is not valid: expected base64 of {_KEY_BYTES} bytes")
    return raw


def key_id(key: bytes) -> str:
    """Return a short, non-secret fingerprint that tells keys apart in error messages."""
    return hmac.new(key, b"mailroom secrets key id", hashlib.sha256).hexdigest()[:12]


def _clean_errors(action: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Re-raise failures as fresh ``SecretsError``s whose traceback holds no plaintext locals."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return fn(self, *args, **kwargs)
            except (SecretsError, keyring.errors.PasswordDeleteError) as exc:
                error: Exception = type(exc)(str(exc))  # fresh object: the old traceback is dropped
            except OSError as exc:
                where = display_path(Path(exc.filename)) if exc.filename else "the secrets file"
                error = SecretsError(f"could not {action} {where}: {exc.strerror or type(exc).__name__}")
            except Exception as exc:  # noqa: BLE001 - anything else is reported by type only
                error = SecretsError(f"could not {action} the secrets file: {type(exc).__name__}")
            del args, kwargs  # the password argument must not show up in crash-screen locals
            raise error from None

        return wrapper

    return decorate


class _FileKeyring(keyring.backend.KeyringBackend):
    """Shared logic: a JSON envelope in one file, rewritten atomically under an fcntl lock."""

    cipher_name = ""

    def __init__(self, *, path: Path) -> None:
        """Store secrets in ``path``; keyword-only so keyring's auto-discovery never builds one."""
        super().__init__()
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")

    @abc.abstractmethod
    def _seal(self, plaintext: bytes, *, create_key: bool) -> dict[str, str]:
        """Return the envelope fields that carry ``plaintext``."""

    @abc.abstractmethod
    def _unseal(self, envelope: dict[str, Any]) -> bytes:
        """Return the plaintext carried by a parsed envelope."""

    @abc.abstractmethod
    def describe(self) -> str:
        """Return a human-readable description of where secrets live."""

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold an exclusive advisory lock so concurrent writers never lose updates."""
        ensure_private_dir(self.path.parent)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the flock

    def _read(self) -> dict[str, dict[str, str]]:
        """Load and decrypt the whole store; a missing file is an empty store."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        where = display_path(self.path)
        try:
            envelope = json.loads(raw)
            valid = isinstance(envelope, dict) and envelope.get("format") == _FORMAT
        except ValueError:
            valid = False
        if not valid:
            raise SecretsError(f"{where} is not a Mailroom secrets file")
        if not isinstance(envelope.get("version"), int) or envelope["version"] > _VERSION:
            raise SecretsError(f"{where} was written by a newer Mailroom (format {envelope.get('version')})")
        if envelope.get("cipher") != self.cipher_name:
            raise SecretsError(f"{where} uses cipher {envelope.get('cipher')!r}, not {self.cipher_name!r}")
        try:
            data = json.loads(self._unseal(envelope))
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise SecretsError(f"{where} is corrupted (its content is not a secrets table)")
        return data

    def _write(self, data: dict[str, dict[str, str]], *, create_key: bool) -> None:
        """Encrypt and atomically replace the store file."""
        plaintext = json.dumps(data, sort_keys=True).encode()
        envelope = {"format": _FORMAT, "version": _VERSION, "cipher": self.cipher_name}
        envelope.update(self._seal(plaintext, create_key=create_key))
        atomic_write(self.path, (json.dumps(envelope, indent=1) + "\n").encode())

    @_clean_errors("read")
    def check(self) -> None:
        """Raise ``SecretsError``/``SecretsLocked`` unless the store can be read."""
        self._read()

    @_clean_errors("read")
    def get_password(self, service: str, username: str) -> str | None:
        """Return the stored password or ``None``."""
        return self._read().get(service, {}).get(username)

    @_clean_errors("write")
    def set_password(self, service: str, username: str, password: str) -> None:
        """Store a password, merging with writes made by other processes."""
        with self._locked():
            data = self._read()
            data.setdefault(service, {})[username] = password
            self._write(data, create_key=True)

    @_clean_errors("update")
    def delete_password(self, service: str, username: str) -> None:
        """Delete a password, raising ``PasswordDeleteError`` when there is none."""
        with self._locked():
            data = self._read()
            entries = data.get(service, {})
            if username not in entries:
                raise keyring.errors.PasswordDeleteError("no such secret")
            del entries[username]
            if not entries:
                del data[service]
            self._write(data, create_key=False)


class EncryptedFileKeyring(_FileKeyring):
    """Fernet-encrypted file store whose key comes from a 0600 key file or ``$MAILROOM_SECRETS_KEY``."""

    cipher_name = "fernet"

    def __init__(self, *, path: Path, key_file: Path, key_env: str = KEY_ENV) -> None:
        """Use ``path`` for ciphertext and ``key_file`` for the key unless ``key_env`` is set."""
        super().__init__(path=path)
        self.key_file = Path(key_file)
        self.key_env = key_env
        self._env_key = os.environ.get(key_env, "").strip() or None

    @properties.classproperty
    def priority(cls) -> float:
        """Viable everywhere, below native keyrings (5) and the 'recommended' threshold (1)."""
        return 0.9

    @property
    def key_source(self) -> str:
        """Describe where the key comes from, e.g. '$MAILROOM_SECRETS_KEY' or 'key file ~/...'."""
        return f"${self.key_env}" if self._env_key is not None else f"key file {display_path(self.key_file)}"

    def describe(self) -> str:
        """Return e.g. 'encrypted file (~/.local/share/mailroom/secrets.json.enc, key ~/.config/...)'."""
        return f"encrypted file ({display_path(self.path)}, key {self.key_source.removeprefix('key file ')})"

    def _load_key(self, *, create: bool) -> bytes | None:
        """Return the key, creating the key file only when ``create`` and no store exists yet."""
        if self._env_key is not None:
            return decode_key(self._env_key, f"${self.key_env}")
        try:
            stat = os.stat(self.key_file)
        except FileNotFoundError:
            if self.path.exists():
                raise SecretsLocked(
                    f"{display_path(self.path)} exists but its key file {display_path(self.key_file)} "
                    f"is missing; restore the key file or set ${self.key_env} to the key"
                ) from None
            if not create:
                return None
            return self._create_key_file()
        if stat.st_mode & 0o077:
            where = display_path(self.key_file)
            raise SecretsError(
                f"key file {where} is accessible by other users (mode {stat.st_mode & 0o777:o}); "
                f"run: chmod 600 {where}"
            )
        text = self.key_file.read_text(encoding="ascii", errors="replace")
        return decode_key(text, f"key file {display_path(self.key_file)}")

    def _create_key_file(self) -> bytes:
        """Write 32 random bytes (base64) to a new 0600 key file without clobbering a racing writer."""
        ensure_private_dir(self.key_file.parent)
        key = _random.token_bytes(_KEY_BYTES)
        fd, tmp = tempfile.mkstemp(dir=self.key_file.parent, prefix=".secrets-key-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(base64.urlsafe_b64encode(key) + b"\n")
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(tmp, self.key_file)  # atomic create-if-absent with complete content
            except FileExistsError:
                return self._load_key(create=False) or key
            except OSError:  # filesystems without hard links: exclusive create instead
                excl = os.open(self.key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(excl, "wb") as handle:
                    handle.write(base64.urlsafe_b64encode(key) + b"\n")
                    os.fsync(handle.fileno())
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        _fsync_dir(self.key_file.parent)
        return key

    def _fernet(self, key: bytes) -> Fernet:
        """Build the Fernet cipher for a raw 32-byte key."""
        return Fernet(base64.urlsafe_b64encode(key))

    def _seal(self, plaintext: bytes, *, create_key: bool) -> dict[str, str]:
        """Encrypt with the current key, creating the key file on first write."""
        key = self._load_key(create=create_key)
        if key is None:
            raise SecretsLocked(f"no key available in {self.key_source}")
        return {"key_id": key_id(key), "payload": self._fernet(key).encrypt(plaintext).decode("ascii")}

    def _unseal(self, envelope: dict[str, Any]) -> bytes:
        """Decrypt, telling a wrong key apart from a damaged file."""
        key = self._load_key(create=False)
        where = display_path(self.path)
        if key is None:
            raise SecretsLocked(f"cannot unlock {where}: no key in {self.key_source}")
        if envelope.get("key_id") != key_id(key):
            raise SecretsLocked(
                f"cannot unlock {where}: it was encrypted with a different key (id {envelope.get('key_id')}) "
                f"than the one in {self.key_source} (id {key_id(key)}); restore the original "
                f"{display_path(self.key_file)} or set ${self.key_env} to the key that was used"
            )
        try:
            return self._fernet(key).decrypt(str(envelope.get("payload", "")).encode("ascii"))
        except (InvalidToken, UnicodeEncodeError):
            raise SecretsError(f"{where} is corrupted (authentication failed)") from None


class PlaintextFileKeyring(_FileKeyring):
    """UNENCRYPTED file store (base64 only), for users who explicitly ask for it."""

    cipher_name = "base64"

    @properties.classproperty
    def priority(cls) -> float:
        """Viable but last resort: anyone who can read the file can read the secrets."""
        return 0.1

    def describe(self) -> str:
        """Return a description that makes the lack of encryption obvious."""
        return f"UNENCRYPTED file ({display_path(self.path)}, base64 only, NOT encrypted)"

    def _seal(self, plaintext: bytes, *, create_key: bool) -> dict[str, str]:
        """Encode without encryption."""
        return {"payload": base64.b64encode(plaintext).decode("ascii")}

    def _unseal(self, envelope: dict[str, Any]) -> bytes:
        """Decode the base64 payload."""
        try:
            return base64.b64decode(str(envelope.get("payload", "")), validate=True)
        except (binascii.Error, ValueError):
            raise SecretsError(f"{display_path(self.path)} is corrupted (bad base64)") from None
