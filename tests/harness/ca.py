"""Test certificate authorities and server certificates, made with `cryptography` in milliseconds."""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

LOCAL_NAMES = ("localhost",)
LOCAL_IPS = ("127.0.0.1",)


@dataclass(frozen=True)
class CertFiles:
    """A PEM certificate and its unencrypted PEM private key on disk."""

    cert_file: Path
    key_file: Path


@dataclass(frozen=True)
class CA:
    """A certificate authority: its files plus the objects needed to sign with it."""

    files: CertFiles
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def cert_file(self) -> Path:
        """Path of the CA certificate, the file a client trusts."""
        return self.files.cert_file


@dataclass(frozen=True)
class TestPKI:
    """Everything TLS tests need: a trusted CA, a good server cert and deliberately bad ones."""

    __test__ = False  # not a pytest test class

    ca: CA
    server: CertFiles
    other_ca: CA
    other_ca_server: CertFiles
    expired: CertFiles
    wrong_host: CertFiles

    @property
    def ca_file(self) -> Path:
        """Path of the CA certificate the tests trust."""
        return self.ca.cert_file


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _write(directory: Path, stem: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> CertFiles:
    directory.mkdir(parents=True, exist_ok=True)
    cert_file = directory / f"{stem}.crt"
    key_file = directory / f"{stem}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_file.chmod(0o640)
    return CertFiles(cert_file, key_file)


def make_ca(directory: Path, name: str = "Mailroom Test CA", stem: str = "ca") -> CA:
    """Create a self-signed CA valid from yesterday for ten years and write it to `directory`."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Mailroom tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, name),
        ]
    )
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return CA(_write(directory, stem, cert, key), cert, key)


def issue_cert(
    ca: CA,
    directory: Path,
    stem: str,
    dns_names: tuple[str, ...] = LOCAL_NAMES,
    ip_addresses: tuple[str, ...] = LOCAL_IPS,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
) -> CertFiles:
    """Issue a TLS server certificate signed by `ca` for the given names and write it to `directory`."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    not_before = not_before or now - dt.timedelta(days=1)
    not_after = not_after or now + dt.timedelta(days=825)
    common_name = dns_names[0] if dns_names else ip_addresses[0]
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False
        )
        .sign(ca.key, hashes.SHA256())
    )
    return _write(directory, stem, cert, key)


def make_test_pki(directory: Path) -> TestPKI:
    """Write a trusted CA, a localhost/127.0.0.1 server cert and the bad variants into `directory`."""
    directory = Path(directory)
    ca = make_ca(directory, "Mailroom Test CA", "ca")
    other_ca = make_ca(directory, "Untrusted Other CA", "other-ca")
    now = _now()
    return TestPKI(
        ca=ca,
        server=issue_cert(ca, directory, "server"),
        other_ca=other_ca,
        other_ca_server=issue_cert(other_ca, directory, "other-ca-server"),
        expired=issue_cert(
            ca,
            directory,
            "expired",
            not_before=now - dt.timedelta(days=60),
            not_after=now - dt.timedelta(days=1),
        ),
        wrong_host=issue_cert(
            ca, directory, "wrong-host", dns_names=("mail.wrong-host.test",), ip_addresses=()
        ),
    )
