"""Certificates and protocol versions: every bad one is refused before a credential moves, over implicit TLS
and STARTTLS, IMAP and SMTP; an admin-pinned certificate or CA is the only way to trust a private server."""

from __future__ import annotations

import re
import socket
import ssl
import warnings
from pathlib import Path

import pytest

from store.net import Endpoint, NetError, imap_login, smtp_login, tls_context
from store.secrets import Secret
from tests.harness.ca import CertFiles
from tests.harness.hostile import HOST, HostileServer, send, tls
from tests.harness.hostile_imap import FakeMailbox, imap_session, imap_starttls_preface
from tests.harness.hostile_smtp import smtp_session, smtp_starttls_preface
from tests.security.conftest import LOGIN, PASSWORD, endpoint

ROOT = Path(__file__).resolve().parents[2]
MODES = [("IMAP", "ssl"), ("IMAP", "starttls"), ("SMTP", "ssl"), ("SMTP", "starttls")]
OLD_VERSIONS = {
    "TLS 1.0": (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1),
    "TLS 1.1": (ssl.TLSVersion.TLSv1_1, ssl.TLSVersion.TLSv1_1),
}


def server_with(hostile, protocol: str, mode: str, cert: CertFiles, versions=None) -> HostileServer:  # noqa: ANN001
    """A hostile server presenting *cert* (implicit TLS or after STARTTLS) that would accept the login."""
    if protocol == "IMAP":
        after = [imap_session(FakeMailbox(LOGIN, PASSWORD))]
        if mode == "ssl":
            return hostile("IMAP", [tls(cert, versions), send("* OK ready"), *after])
        preface = imap_starttls_preface(cert)
        preface[-1] = tls(cert, versions)
        return hostile("IMAP", [*preface, *after])
    after = [smtp_session(PASSWORD)]
    if mode == "ssl":
        return hostile("SMTP", [tls(cert, versions), send("220 ready"), *after])
    preface = smtp_starttls_preface(cert)
    preface[-1] = tls(cert, versions)
    return hostile("SMTP", [*preface, *after])


def login(protocol: str, ep: Endpoint) -> None:
    """Log in (and out) over *ep*."""
    if protocol == "IMAP":
        imap_login(ep, LOGIN, Secret(PASSWORD), timeout=3).logout()
    else:
        smtp_login(ep, LOGIN, Secret(PASSWORD), timeout=3).quit()


def refused(protocol: str, ep: Endpoint) -> NetError:
    """Log in and return the NetError that must stop it."""
    with pytest.raises(NetError) as info:
        login(protocol, ep)
    return info.value


# -- bad certificates ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("protocol", "mode"), MODES)
def test_self_signed_refused(hostile, self_signed, protocol, mode):
    server = server_with(hostile, protocol, mode, self_signed)
    err = refused(protocol, endpoint(server, mode))
    assert err.kind == "cert", str(err)
    assert "self-signed" in str(err) and "CA file" in str(err)
    assert server.leaks(PASSWORD, LOGIN) == []


@pytest.mark.parametrize(("protocol", "mode"), MODES)
@pytest.mark.parametrize(
    ("cert_name", "words"),
    [("expired", "expired"), ("wrong_host", "mismatch"), ("other_ca_server", "local issuer")],
    ids=["expired", "wrong-host", "untrusted-ca"],
)
def test_bad_certificate_refused(hostile, pki, protocol, mode, cert_name, words):
    """Fast version of the Dovecot matrix below: the same certificates on the scriptable server."""
    server = server_with(hostile, protocol, mode, getattr(pki, cert_name))
    err = refused(protocol, endpoint(server, mode, pki.ca_file))
    assert err.kind == "cert", str(err)
    assert words in str(err).lower()
    assert server.leaks(PASSWORD, LOGIN) == []


@pytest.mark.integration
@pytest.mark.parametrize("kind", ["expired", "wrong_host", "other_ca"])
def test_dovecot_with_bad_certificate_refused(bad_tls_server, kind):
    """Real Dovecot IMAP and submission servers with a bad certificate, on all four ports."""
    info = bad_tls_server(kind)
    ports = {
        ("IMAP", "ssl"): info.imaps_port,
        ("IMAP", "starttls"): info.imap_port,
        ("SMTP", "ssl"): info.smtps_port,
        ("SMTP", "starttls"): info.smtp_port,
    }
    for (protocol, mode), port in ports.items():
        err = refused(protocol, Endpoint(HOST, port, mode, str(info.ca_file)))  # type: ignore[arg-type]
        assert err.kind == "cert", f"{protocol} {mode}: {err}"


# -- old protocol versions --------------------------------------------------------------------------------


def _offers(server: HostileServer, version: tuple) -> bool:
    """Whether a client that allows old versions completes a handshake with an implicit-TLS server."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version, ctx.maximum_version = version
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    with socket.create_connection((HOST, server.port), timeout=3) as sock:
        with ctx.wrap_socket(sock, server_hostname=HOST) as tls_sock:
            return tls_sock.version() in ("TLSv1", "TLSv1.1")


@pytest.mark.parametrize(("protocol", "mode"), MODES)
@pytest.mark.parametrize("version", OLD_VERSIONS, ids=["tls1.0", "tls1.1"])
def test_old_tls_versions_refused(hostile, pki, protocol, mode, version):
    """OpenSSL 3 here still offers TLS 1.0 and 1.1 at security level 0, so the refusal is the client's."""
    probe = server_with(hostile, protocol, "ssl", pki.server, OLD_VERSIONS[version])
    assert _offers(probe, OLD_VERSIONS[version]), "the server must really offer the old version"
    server = server_with(hostile, protocol, mode, pki.server, OLD_VERSIONS[version])
    err = refused(protocol, endpoint(server, mode, pki.ca_file))
    assert err.kind == "tls", str(err)
    assert server.leaks(PASSWORD, LOGIN) == []


def test_client_context_policy(pki):
    ctx = tls_context(str(pki.ca_file))
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    assert len(ctx.get_ca_certs()) == 1, "a CA file replaces the system trust store"
    assert tls_context().verify_mode == ssl.CERT_REQUIRED


# -- pinning: the only way to trust a private server -------------------------------------------------------


@pytest.mark.parametrize(("protocol", "mode"), MODES)
def test_pinned_self_signed_certificate_is_trusted(hostile, self_signed, protocol, mode):
    server = server_with(hostile, protocol, mode, self_signed)
    login(protocol, endpoint(server, mode, self_signed.cert_file))
    assert server.leaks(PASSWORD, LOGIN, after_tls_ok=True) == []


@pytest.mark.parametrize(("protocol", "mode"), MODES)
def test_pinned_private_ca_is_trusted_and_replaces_the_others(hostile, pki, protocol, mode):
    private = server_with(hostile, protocol, mode, pki.other_ca_server)
    login(protocol, endpoint(private, mode, pki.other_ca.cert_file))
    public = server_with(hostile, protocol, mode, pki.server)
    err = refused(protocol, endpoint(public, mode, pki.other_ca.cert_file))
    assert err.kind == "cert", "a provider's CA file must be the only trust for that provider"


def test_no_code_turns_verification_off():
    """No module of the app disables certificate or host name checks or lowers the TLS floor."""
    patterns = [
        r"CERT_NONE",
        r"check_hostname\s*=\s*False",
        r"_create_unverified_context",
        r"_create_stdlib_context",
        r"TLSVersion\.(TLSv1|TLSv1_1|SSLv3)\b",
        r"set_ciphers",
        r"SECLEVEL",
    ]
    offenders = []
    for folder in ("store", "screens", "tui"):
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            offenders += [f"{path.relative_to(ROOT)}: {p}" for p in patterns if re.search(p, text)]
    assert offenders == []
