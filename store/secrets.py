"""Secrets for mailboxes: a masked value type, keyring-backed stores, password commands and redaction."""

from __future__ import annotations

import contextlib
import hmac
import os
import shlex
import signal
import subprocess
from enum import StrEnum
from pathlib import Path
from typing import Any, NoReturn

import keyring
import keyring.errors
from keyring.backend import KeyringBackend
from keyring.backends import chainer, fail, null

from store import private
from store.keyring_file import (
    ENCRYPTED_FILE_NAME,
    KEY_ENV,
    KEY_FILE_NAME,
    PLAINTEXT_FILE_NAME,
    EncryptedFileKeyring,
    PlaintextFileKeyring,
    SecretsError,
    SecretsLocked,
)
from store.net import CUT, squeezed

SERVICE = "mailroom"
MASK = "********"
_PROBE_USER = "__mailroom_probe__"
# Built-in OS keyrings: they never prompt on the terminal (unlock dialogs are graphical).
_NATIVE_MODULES = tuple(
    f"keyring.backends.{name}" for name in ("SecretService", "libsecret", "kwallet", "macOS", "Windows")
)
# Backends that prompt for a passphrase on the terminal or store secrets unencrypted.
_REFUSED_MODULES = ("keyrings.alt", "keyrings.cryptfile", "store.keyring_file")


class Secret:
    """A string whose repr, str and format are masked so it never leaks into logs or crash screens."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        """Wrap ``value``, which must be a str."""
        if not isinstance(value, str):
            raise TypeError(f"Secret holds a str, not {type(value).__name__}")
        object.__setattr__(self, "_value", value)

    def reveal(self) -> str:
        """Return the plaintext; call it only where the value is handed to a protocol library."""
        return self._value

    def __repr__(self) -> str:
        """Return a masked representation."""
        return f"Secret('{MASK}')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        """Format as the masked representation whatever the format spec."""
        return repr(self)

    def __eq__(self, other: object) -> bool:
        """Compare two secrets in constant time."""
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        """Hash consistently with equality."""
        return hash((Secret, self._value))

    def __bool__(self) -> bool:
        """Return whether the secret is non-empty."""
        return bool(self._value)

    def __setattr__(self, name: str, value: Any) -> NoReturn:
        """Refuse mutation; secrets are immutable."""
        raise AttributeError("Secret is immutable")

    def __deepcopy__(self, memo: Any = None) -> Secret:
        """Return self (secrets are immutable), so ``copy`` and ``dataclasses.asdict`` work."""
        return self

    def __reduce_ex__(self, protocol: Any = None) -> NoReturn:
        """Refuse pickling, which would write the plaintext somewhere."""
        raise TypeError("Secret values cannot be pickled")

    __copy__ = __deepcopy__
    __reduce__ = __reduce_ex__


class BackendChoice(StrEnum):
    """Which secrets backend the user asked for."""

    AUTO = "auto"
    FILE = "file"
    SYSTEM = "system"
    PLAINTEXT = "plaintext"


def _backend_label(backend: KeyringBackend) -> str:
    """Return keyring's display name for a backend, e.g. 'SecretService Keyring'."""
    return str(getattr(type(backend), "name", type(backend).__name__))


def redact(text: str, *secrets: Secret | str | None) -> str:
    """Replace every occurrence of the secrets (also quoted or repr-escaped) in ``text`` with a mask."""
    text = str(text)
    variants: set[str] = set()
    for item in secrets:
        raw = item.reveal() if isinstance(item, Secret) else item
        if raw:
            variants.add(raw)
            variants.add(raw.replace("\\", "\\\\").replace('"', '\\"'))  # IMAP quoted string
            variants.add(repr(raw)[1:-1])
            variants.add(repr(raw.encode("utf-8", "surrogateescape"))[2:-1])
            variants.add(squeezed(raw))  # as store.net.server_text shows it
    variants.discard("")
    for variant in sorted(variants, key=len, reverse=True):
        text = text.replace(variant, MASK)
    if text.endswith(CUT):  # a text cut short (store.net.server_text) may end in the start of a secret
        body = text[: -len(CUT)]
        cut = max((_tail_of(body, variant) for variant in variants), default=0)
        if cut:
            return body[:-cut] + MASK + CUT
    return text


def _tail_of(text: str, secret: str) -> int:
    """How many characters at the end of *text* are the start of *secret*."""
    return next((k for k in range(min(len(secret), len(text)), 0, -1) if text.endswith(secret[:k])), 0)


def _check_ref(ref: str) -> None:
    """Validate a secret reference such as ``mailbox:<uuid>``."""
    if not isinstance(ref, str) or not ref.strip() or any(ord(ch) < 32 for ch in ref):
        raise ValueError(f"invalid secret reference: {ref!r}")


class SecretStore:
    """Get, set and delete secrets by reference under the fixed service name 'mailroom'."""

    def __init__(self, backend: KeyringBackend, *, kind: BackendChoice, backend_name: str, note: str = ""):
        """Wrap an already chosen keyring backend."""
        self.backend = backend
        self.kind = kind
        self.backend_name = backend_name
        self.note = note

    def __repr__(self) -> str:
        """Describe the store without any secret."""
        return f"SecretStore(kind={self.kind.value!r}, backend={self.backend_name!r})"

    @property
    def is_encrypted(self) -> bool:
        """Return whether secrets are protected by more than file permissions."""
        return self.kind is not BackendChoice.PLAINTEXT

    def _error(self, exc: Exception, action: str, ref: str, *secrets: Secret) -> SecretsError:
        """Build a clean error for a backend failure; the message is redacted."""
        detail = redact(str(exc), *secrets) or type(exc).__name__
        if isinstance(exc, SecretsError):
            message = detail  # our own backend's messages are already complete
        else:
            message = f"could not {action} secret {ref!r} in {self.backend_name}: {detail}"
        locked = isinstance(exc, keyring.errors.KeyringLocked)
        return SecretsLocked(message) if locked else SecretsError(message)

    def get(self, ref: str) -> Secret | None:
        """Return the secret stored under ``ref`` or ``None``."""
        _check_ref(ref)
        try:
            value = self.backend.get_password(SERVICE, ref)
        except Exception as exc:  # noqa: BLE001 - every backend failure becomes a SecretsError
            error = self._error(exc, "read", ref)
        else:
            return None if value is None else Secret(value)
        raise error from None  # raised outside ``except`` so no frame with plaintext is chained

    def set(self, ref: str, secret: Secret) -> None:
        """Store ``secret`` under ``ref``, replacing any previous value."""
        _check_ref(ref)
        if not isinstance(secret, Secret):
            raise TypeError(f"SecretStore.set expects a Secret, not {type(secret).__name__}")
        if not secret:
            raise SecretsError(f"refusing to store an empty secret for {ref!r}; use delete() instead")
        try:
            self.backend.set_password(SERVICE, ref, secret.reveal())
        except Exception as exc:  # noqa: BLE001
            error = self._error(exc, "store", ref, secret)
        else:
            return
        raise error from None

    def delete(self, ref: str) -> None:
        """Delete the secret under ``ref``; deleting a missing secret is not an error."""
        _check_ref(ref)
        try:
            self.backend.delete_password(SERVICE, ref)
        except keyring.errors.PasswordDeleteError:
            if self.get(ref) is None:
                return
            error = SecretsError(f"could not delete secret {ref!r} from {self.backend_name}")
        except Exception as exc:  # noqa: BLE001
            error = self._error(exc, "delete", ref)
        else:
            return
        raise error from None

    def check(self) -> None:
        """Raise ``SecretsError``/``SecretsLocked`` unless the store can be read right now."""
        if isinstance(self.backend, EncryptedFileKeyring | PlaintextFileKeyring):
            self.backend.check()
        else:
            self.get(_PROBE_USER)


def _backend_problem(backend: KeyringBackend, *, native_only: bool) -> str | None:
    """Return why a keyring backend must not be used, or ``None`` if it is acceptable."""
    cls = type(backend)
    module = cls.__module__
    if isinstance(backend, fail.Keyring):
        return "keyring found no backend (it selected keyring.backends.fail.Keyring)"
    if isinstance(backend, null.Keyring):
        return "keyring is disabled (null backend)"
    if isinstance(backend, chainer.ChainerBackend):
        return "keyring has no backend to chain"
    if module.startswith(_REFUSED_MODULES) or "plaintext" in cls.__name__.lower():
        return f"{module}.{cls.__name__} may prompt on the terminal or store secrets unencrypted"
    if native_only and not module.startswith(_NATIVE_MODULES):
        return f"{module}.{cls.__name__} is not a built-in OS keyring (choose 'system' to use it)"
    return None


def _probe(backend: KeyringBackend) -> str | None:
    """Try a harmless lookup; a locked keyring counts as working (it unlocks with a GUI dialog)."""
    try:
        backend.get_password(SERVICE, _PROBE_USER)
    except keyring.errors.KeyringLocked:
        return None
    except Exception as exc:  # noqa: BLE001
        return f"{_backend_label(backend)} does not work ({type(exc).__name__}: {exc})"
    return None


def find_system_keyring(*, native_only: bool = True) -> tuple[KeyringBackend | None, str]:
    """Return the best working system backend (never the chainer itself) or ``None`` and the reason."""
    try:
        current = keyring.get_keyring()
    except Exception as exc:  # noqa: BLE001 - e.g. a bad PYTHON_KEYRING_BACKEND
        return None, f"keyring could not be initialised ({type(exc).__name__}: {exc})"
    if isinstance(current, chainer.ChainerBackend) and current.backends:
        candidates = list(current.backends)  # highest priority first
    else:
        candidates = [current]
    problems = []
    for backend in candidates:
        problem = _backend_problem(backend, native_only=native_only) or _probe(backend)
        if problem is None:
            return backend, ""
        problems.append(problem)
    return None, "; ".join(problems)


def _file_store(data_dir: Path, config_dir: Path, note: str = "") -> SecretStore:
    """Build the encrypted file store in the given directories."""
    backend = EncryptedFileKeyring(path=data_dir / ENCRYPTED_FILE_NAME, key_file=config_dir / KEY_FILE_NAME)
    return SecretStore(backend, kind=BackendChoice.FILE, backend_name=backend.describe(), note=note)


def _system_store(backend: KeyringBackend) -> SecretStore:
    """Wrap a system keyring backend."""
    name = f"system keyring ({_backend_label(backend)})"
    return SecretStore(backend, kind=BackendChoice.SYSTEM, backend_name=name)


def open_secret_store(
    choice: str, data_dir: Path, config_dir: Path, allow_plaintext: bool = False
) -> SecretStore:
    """Open the store for ``choice`` ('auto', 'file', 'system', 'plaintext'); nothing ever prompts."""
    try:
        kind = BackendChoice(str(choice).strip().lower())
    except ValueError:
        options = ", ".join(c.value for c in BackendChoice)
        raise SecretsError(f"unknown secrets backend {choice!r}; choose one of {options}") from None
    data_dir, config_dir = Path(data_dir), Path(config_dir)
    private.remember(data_dir, config_dir)  # never attached to mail, whoever asks (store/private.py)
    if kind is BackendChoice.PLAINTEXT:
        if not allow_plaintext:
            raise SecretsError(
                "the 'plaintext' secrets backend stores passwords UNENCRYPTED and is only used "
                "when explicitly allowed; choose 'file' for an encrypted file instead"
            )
        backend = PlaintextFileKeyring(path=data_dir / PLAINTEXT_FILE_NAME)
        return SecretStore(
            backend, kind=kind, backend_name=backend.describe(), note="secrets are NOT encrypted"
        )
    if kind is BackendChoice.FILE:
        return _file_store(data_dir, config_dir)
    if kind is BackendChoice.SYSTEM:
        backend, problem = find_system_keyring(native_only=False)
        if backend is None:
            raise SecretsError(
                f"no usable system keyring: {problem}. Start a Secret Service (GNOME Keyring, KeePassXC) "
                f"or KWallet, or choose the 'file' backend (set ${KEY_ENV} for headless use)"
            )
        return _system_store(backend)
    if (data_dir / ENCRYPTED_FILE_NAME).exists():  # stay with the file earlier runs chose
        return _file_store(data_dir, config_dir, note="using the existing encrypted secrets file")
    backend, problem = find_system_keyring(native_only=True)
    if backend is not None:
        return _system_store(backend)
    return _file_store(data_dir, config_dir, note=f"system keyring not used: {problem}")


def _command_label(cmd: str) -> str:
    """Return the program name of a shell command, for messages (never its arguments)."""
    try:
        words = shlex.split(cmd)
    except ValueError:
        words = []
    return repr(os.path.basename(words[0])) if words else "(shell)"


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """Kill the command's whole process group so no grandchild keeps our pipes open."""
    with contextlib.suppress(ProcessLookupError):
        if hasattr(os, "killpg"):
            os.killpg(proc.pid, signal.SIGKILL)
        else:  # pragma: no cover - Windows
            proc.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):  # a daemonised grandchild may hold the pipe
        proc.communicate(timeout=5)


def run_password_command(cmd: str, timeout: float = 10) -> Secret:
    """Run a shell command without stdin or a controlling terminal and return its first stdout line."""
    label = _command_label(cmd)
    if not cmd.strip():
        raise SecretsError("the password command is empty")
    try:
        proc = subprocess.Popen(
            cmd,
            shell=True,
            stdin=subprocess.DEVNULL,  # it can never read our keyboard input
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # no controlling terminal: /dev/tty cannot be opened either
        )
    except OSError as exc:
        message = f"could not start password command {label}: {exc.strerror or type(exc).__name__}"
        raise SecretsError(message) from None
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        out = err = None
    if out is None or err is None:
        _kill(proc)
        raise SecretsError(f"password command {label} timed out after {timeout:g}s and was killed")
    try:
        first = out.split(b"\n", 1)[0].rstrip(b"\r").decode("utf-8")
    except UnicodeDecodeError:
        first = None
    err_line = err.decode("utf-8", "replace").strip().split("\n", 1)[0].strip()
    err_line = redact(err_line, first) if first else err_line
    del out, err
    code = proc.returncode
    if code != 0:
        del first
        status = f"was killed by signal {-code}" if code < 0 else f"failed with exit status {code}"
        raise SecretsError(f"password command {label} {status}" + (f": {err_line}" if err_line else ""))
    if first is None:
        raise SecretsError(f"password command {label} printed output that is not valid UTF-8")
    if not first:
        del first
        raise SecretsError(f"password command {label} printed nothing on its first line")
    return Secret(first)
