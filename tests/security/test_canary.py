"""The secrets canary: a whole session with a password that is a unique marker, then a search for the marker.

The session adds a mailbox with `mailroom mailbox add --password-stdin`, fails a login, syncs, kills a
running `mailroom sync` mid-sync, crashes a worker of the app (Textual prints its traceback with locals) and
fails a login during a sync; in-process steps log at DEBUG for every logger. Then the database with its WAL,
the logs, the config, the keyring files, temp files and every byte printed are searched: the marker appears
nowhere, also not base64-encoded (AUTH PLAIN) or as UTF-16. Mailroom's files must be 0600 in 0700 folders.
"""

from __future__ import annotations

import base64
import logging
import os
import queue
import secrets as pysecrets
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from store.net import NetError, imap_login
from store.secrets import Secret
from tests.dns_stub import mx_server
from tests.harness import corpus
from tests.harness.hostile import Peer, send, tls
from tests.security.conftest import LOGIN, endpoint

ROOT = Path(__file__).resolve().parents[2]
SCAN_LIMIT = 64 << 20  # bytes; larger temp files (other test runs' corpora) are not ours

CRASHING_APP = r"""
import datetime
import sys
from pathlib import Path

import tui.app
from store.net import Endpoint, imap_login
from store.secrets import open_secret_store
from store.service import open_store
from tui.app import MailroomApp, configure_logging
from tui.settings import config_dir, data_dir, load_settings

settings = load_settings()
configure_logging(settings.log_path())
store = open_store(settings.db_path())
actor = store.identity.actor("alice")
keyring = open_secret_store("file", data_dir=data_dir(), config_dir=config_dir())


class CrashingApp(MailroomApp):
    CSS_PATH = [str(Path(tui.app.__file__).parent / p) for p in MailroomApp.CSS_PATH]

    def on_mount(self):
        super().on_mount()
        self.run_worker(self.crash, thread=True, description="canary worker")

    def crash(self):
        box = self.store.mailboxes.visible(self.actor)[0]
        provider = self.store.providers.get(box.provider_id)
        secret = self.store.mailboxes.credentials(box, keyring)
        client = imap_login(Endpoint.imap_of(provider), box.login, secret, timeout=20)
        raise RuntimeError(f"the canary worker crashed while logged in as {box.login}")


app = CrashingApp(settings, store, actor, lambda: datetime.datetime.now(datetime.UTC))
app.run(headless=True, size=(100, 40))
sys.exit(1 if app.return_code else 0)
"""


def needles(marker: str) -> dict[str, bytes]:
    """The marker as text, UTF-16 and hex, and the parts of its base64 form that fit any alignment."""
    raw = marker.encode()
    found = {"text": raw, "utf-16": marker.encode("utf-16-le"), "hex": raw.hex().encode()}
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + raw)
        found[f"base64+{shift}"] = encoded[4 if shift else 0 : -4]
    return found


class Canary:
    """Where the session runs and everything it printed."""

    def __init__(self, root: Path, marker: str, dns: str, mail_root: Path) -> None:
        self.root, self.marker, self.mail_root = root, marker, mail_root
        self.needles = needles(marker)
        self.started = time.time()
        self.outputs: list[tuple[str, str]] = []
        self.findings: list[str] = []
        for d in ("home", "data", "config", "cache", "state", "tmp", "etc"):
            (root / d).mkdir(parents=True, exist_ok=True)
        self.config_file = root / "etc" / "mailroom.toml"
        self.config_file.write_text('[secrets]\nbackend = "file"\n\n[ui]\ncursor_blink = false\n')
        keep = {k: v for k, v in os.environ.items() if not k.startswith(("MAILROOM_", "XDG_"))}
        self.env = {
            **keep,
            "HOME": str(root / "home"),
            "XDG_DATA_HOME": str(root / "data"),
            "XDG_CONFIG_HOME": str(root / "config"),
            "XDG_CACHE_HOME": str(root / "cache"),
            "XDG_STATE_HOME": str(root / "state"),
            "TMPDIR": str(root / "tmp"),
            "MAILROOM_USER": "alice",
            "MAILROOM_CONFIG": str(self.config_file),
            "MAILROOM_DNS_SERVER": dns,
            "PYTHONPATH": str(ROOT),
        }

    @property
    def data_dir(self) -> Path:
        return self.root / "data" / "mailroom"

    @property
    def config_dir(self) -> Path:
        return self.root / "config" / "mailroom"

    @property
    def db(self) -> Path:
        return self.data_dir / "mailroom.db"

    def cli(self, *args: str, stdin: str | None = None, code: int = 0) -> str:
        """Run `mailroom ARGS` as a user would; return stdout (stderr is kept for the search)."""
        done = subprocess.run(
            [sys.executable, "-m", "tui.cli", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env,
            cwd=ROOT,
            timeout=180,
        )
        self.outputs.append((f"mailroom {' '.join(args)}", done.stdout + done.stderr))
        assert done.returncode == code, f"mailroom {' '.join(args)} → {done.returncode}: {done.stderr}"
        self.scan_files()
        return done.stdout

    def record(self, where: str, text: object) -> None:
        """Keep something printed or returned, to be searched."""
        self.outputs.append((where, str(text)))

    def search(self, where: str, data: bytes) -> None:
        for name, needle in self.needles.items():
            if needle in data:
                self.findings.append(f"{where}: the marker ({name})")

    def scan_files(self) -> None:
        """Search every file of the session (taken now, so a WAL that a later checkpoint removes is seen)."""
        for path in _files(self.root):
            self.search(str(path.relative_to(self.root)), _read(path))

    def scan_temp(self) -> None:
        """Search temp files written since the session began, outside the mail server's own folder."""
        top = Path(tempfile.gettempdir())
        for path in _files(top, skip=lambda p: p.name.startswith("mailroom-harness-") or p == self.mail_root):
            try:
                if path.stat().st_mtime >= self.started - 1:
                    self.search(str(path), _read(path))
            except OSError:
                continue

    def scan_outputs(self) -> None:
        for where, text in self.outputs:
            self.search(f"output of {where}", text.encode("utf-8", "surrogateescape"))


def _files(top: Path, skip=lambda p: False) -> Iterator[Path]:  # noqa: ANN001
    for dirpath, dirnames, filenames in os.walk(top, onerror=lambda e: None):
        here = Path(dirpath)
        dirnames[:] = [d for d in dirnames if not skip(here / d)]
        for name in filenames:
            path = here / name
            try:
                if path.is_file() and not path.is_symlink() and path.stat().st_size <= SCAN_LIMIT:
                    yield path
            except OSError:
                continue


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


def _kill_mid_sync(canary: Canary, email: str) -> None:
    """Start the headless scheduler, look at what other users could see of it, and SIGKILL it mid-sync."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "sync", "--no-idle", "--mailbox", email],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=canary.env,
        cwd=ROOT,
        start_new_session=True,
    )
    lines: queue.Queue[bytes] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stderr], daemon=True).start()
    try:
        lines.get(timeout=60)  # the banner: it is running
        time.sleep(0.4)
        for pid in _process_tree(proc.pid):
            for part in ("cmdline", "environ"):
                canary.search(f"/proc/<sync>/{part}", _read(Path(f"/proc/{pid}/{part}")))
        canary.scan_files()
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate(timeout=30)
    rest = b""
    while not lines.empty():
        rest += lines.get()
    canary.record("mailroom sync (killed)", (out + rest).decode("utf-8", "replace"))
    canary.scan_files()


def _process_tree(pid: int) -> list[int]:
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            pending += [int(c) for c in _read(task / "children").split()]
    return found


def _set_password(mail_server, email: str, password: str) -> None:  # noqa: ANN001
    """Change the user's password on the server and wait until Dovecot takes it: it stats a passwd-file at
    most once a second, and a `mailroom sync --once` now starts well within that second."""
    from store.net import Endpoint

    path = mail_server.imap_server.users_dir / email
    path.write_text(f"{email}:{{PLAIN}}{password}::::::\n", encoding="utf-8")
    path.chmod(0o644)
    endpoint = Endpoint(mail_server.host, mail_server.imaps_port, "ssl", str(mail_server.ca_file))
    deadline = time.monotonic() + 10
    while True:
        try:
            imap_login(endpoint, email, Secret(password), timeout=5).logout()
            return
        except NetError as exc:
            assert exc.kind == "auth" and time.monotonic() < deadline, f"Dovecot never took it: {exc.kind}"


def _in_process(canary: Canary, email: str, other: str, monkeypatch) -> None:  # noqa: ANN001
    """authorize and sync in this process with every logger at DEBUG into a file of the session."""
    from store.accounts import AuthorizeError, authorize
    from store.secrets import open_secret_store
    from store.service import open_store
    from store.sync.engine import SyncOptions

    for key in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "HOME", "TMPDIR"):
        monkeypatch.setenv(key, canary.env[key])
    monkeypatch.setattr(tempfile, "tempdir", canary.env["TMPDIR"])
    log_file = canary.root / "state" / "debug.log"
    handler = logging.FileHandler(log_file, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root_logger = logging.getLogger()
    old_level = root_logger.level
    root_logger.addHandler(handler)
    root_logger.setLevel(logging.DEBUG)
    store = open_store(canary.db)
    try:
        keyring = open_secret_store("file", data_dir=canary.data_dir, config_dir=canary.config_dir)
        actor = store.identity.actor("alice")
        provider = store.providers.get("Canary STARTTLS")
        authorize(provider, email, keyring.get(store.mailboxes.get(actor, email).secret_ref), timeout=20)
        with pytest.raises(AuthorizeError) as info:
            authorize(provider, other, Secret(canary.marker + "Wrong"), timeout=20)
        canary.record(
            "authorize (wrong password)", f"{info.value} | {info.value.title} | {info.value.detail}"
        )
        events: list[object] = []
        box = store.mailboxes.get(actor, email)
        summary = store.sync.run(box, keyring, events.append, SyncOptions(workers=1, retry_delays=()))
        canary.record("in-process sync", f"{summary!r} {events!r}")
        assert summary.ok, summary.error
    finally:
        store.close()
        root_logger.removeHandler(handler)
        root_logger.setLevel(old_level)
        handler.close()
    canary.scan_files()


def _check_permissions(canary: Canary) -> list[str]:
    """Mailroom's folders are 0700 and its files 0600 (no bits for group or others)."""
    bad = []
    for top in (canary.data_dir, canary.config_dir):
        assert top.is_dir(), f"{top} was never created"
        for dirpath, _, filenames in os.walk(top):
            for path in [Path(dirpath), *(Path(dirpath) / f for f in filenames)]:
                mode = path.stat().st_mode & 0o777
                if mode & 0o077:
                    bad.append(f"{path.relative_to(canary.root)} is {mode:o}")
    return bad


@pytest.mark.slow
@pytest.mark.integration
def test_canary_session(mail_server, tmp_path, monkeypatch):
    mail_server.ensure_running()
    marker = "Cnry" + pysecrets.token_hex(12)
    domain = f"canary-{pysecrets.token_hex(3)}.example"
    email, other = f"ann@{domain}", f"bob@{domain}"
    maildir = mail_server.add_user(email, marker)
    mail_server.add_user(other, marker + "Other")
    imap = mail_server.imap_server
    corpus.build(maildir, 300, 6000, seed=11, owner=(imap.uid, imap.gid), owner_email=email)
    host, ca = mail_server.host, str(mail_server.ca_file)
    with mx_server({}) as (dns, _):
        canary = Canary(tmp_path / "canary", marker, dns, imap.root.parent)
        try:
            canary.cli(
                "provider",
                "add",
                "Canary",
                "--imap",
                f"{host}:{mail_server.imaps_port}",
                "--smtp",
                f"{host}:{mail_server.smtps_port}",
                "--ca-file",
                ca,
            )
            canary.cli(
                "provider",
                "add",
                "Canary STARTTLS",
                "--imap",
                f"{host}:{mail_server.imap_port}",
                "--imap-tls",
                "starttls",
                "--smtp",
                f"{host}:{mail_server.smtp_port}",
                "--smtp-tls",
                "starttls",
                "--ca-file",
                ca,
            )
            canary.cli("domain", "add", domain, "--provider", "Canary STARTTLS")
            canary.cli("mailbox", "add", email, "--password-stdin", stdin=marker + "\n")
            canary.cli("mailbox", "add", other, "--password-stdin", stdin=marker + "Wrong\n", code=1)
            canary.cli("mailbox", "list", "--json")
            canary.cli("config", "show")
            with sqlite3.connect(
                canary.db
            ) as conn:  # the settings screens are another issue: all mail, all folders
                conn.execute("UPDATE mailboxes SET load_period = 'all', folder_scope = 'all'")
            _kill_mid_sync(canary, email)
            canary.cli("sync", "--once", "--json")
            script = canary.root / "etc" / "crashing_app.py"
            script.write_text(CRASHING_APP)
            crash = subprocess.run(
                [sys.executable, str(script)],
                capture_output=True,
                text=True,
                env=canary.env,
                cwd=ROOT,
                timeout=120,
            )
            canary.record("crashed app", crash.stdout + crash.stderr)
            assert "RuntimeError" in crash.stdout + crash.stderr, "the worker did not crash as planned"
            assert "Secret('********')" in crash.stdout + crash.stderr, "the crash report shows no locals"
            assert "the canary worker crashed" in (canary.data_dir / "mailroom.log").read_text()
            canary.scan_files()
            _set_password(mail_server, email, marker + "Changed")  # the login fails during the next sync
            canary.cli("sync", "--once", "--mailbox", email, code=1)
            _set_password(mail_server, email, marker)
            canary.cli("sync", "--once", "--mailbox", email)
            _in_process(canary, email, other, monkeypatch)
        finally:
            _set_password(mail_server, email, marker)
    canary.scan_files()
    canary.scan_temp()
    canary.scan_outputs()
    assert canary.findings == []
    assert len(canary.outputs) >= 12
    assert (canary.data_dir / "secrets.json.enc").exists() and canary.db.exists()
    assert _check_permissions(canary) == []


# -- fast checks of the same promise ------------------------------------------------------------------------


def _echo_login(peer: Peer) -> None:
    """A server that repeats the LOGIN command (password included) in its goodbye."""
    command = peer.expect("CAPABILITY")
    peer.send("* CAPABILITY IMAP4rev1", "{tag} OK done")
    command = peer.expect("LOGIN")
    peer.send_raw(b"* BYE you said: " + command.raw)
    peer.close()


@pytest.mark.parametrize("password", ["plain-Canary-7", 'quo"ted\\Canary-7', "ünï-Canary-7"])
def test_a_server_echoing_the_password_is_not_repeated(hostile, pki, password):
    server = hostile("IMAP", [tls(pki.server), send("* OK ready"), _echo_login])
    with pytest.raises(NetError) as info:
        imap_login(endpoint(server, "ssl", pki.ca_file), LOGIN, Secret(password), timeout=3)
    text = str(info.value)
    assert all(needle not in text.encode() for needle in needles(password).values()), text
    assert password.replace("\\", "\\\\").replace('"', '\\"') not in text


def test_secret_is_masked_in_a_crash_report():
    """Textual prints locals of a crashed worker; a Secret there shows as its mask."""
    from rich.console import Console
    from rich.traceback import Traceback

    secret = Secret("-".join(["masked", "Canary", "7"]))  # no plain local or source line holds the value
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        console = Console(record=True, width=120, file=open(os.devnull, "w"))  # noqa: SIM115
        console.print(Traceback(show_locals=True))
        report = console.export_text()
    assert "secret" in report and "masked-Canary-7" not in report
    assert secret.reveal() == "masked-Canary-7"


def test_needles_find_every_form_of_the_marker():
    """The search works: the marker is found as text, in AUTH PLAIN base64 at any offset, and as UTF-16."""
    marker = "Cnry" + pysecrets.token_hex(12)
    for login in ("a@x", "ab@x", "abc@x"):
        token = base64.b64encode(f"\0{login}\0{marker}".encode())
        assert any(n in b"AUTH PLAIN " + token for n in needles(marker).values()), login
    assert any(n in marker.encode("utf-16-le") for n in needles(marker).values())
    assert not any(n in b"nothing to see" for n in needles(marker).values())


def _echo_after_login(peer: Peer) -> None:
    """A server that accepts the login, then repeats it (password and a terminal escape) as it quits."""
    peer.expect("CAPABILITY")
    peer.send("* CAPABILITY IMAP4rev1", "{tag} OK done")
    login = peer.expect("LOGIN")
    peer.send("{tag} OK logged in")
    peer.read_command()
    peer.send_raw(b"* BYE \x1b[2J you said: " + login.raw)
    peer.close()


def test_a_server_echoing_the_password_during_sync_is_not_repeated(hostile, pki, box_env_factory):
    password = "Pw-7Rq2-secret-never-on-the-wire"
    server = hostile("IMAP", [tls(pki.server), send("* OK ready"), _echo_after_login])
    env = box_env_factory(server.port, pki.ca_file)
    summary = env.sync()
    assert not summary.ok
    assert password not in summary.error and "\x1b" not in summary.error, summary.error
