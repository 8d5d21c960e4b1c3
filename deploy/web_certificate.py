"""The admin web's TLS certificate: made by `schoolgate init`, signed by the school's CA, checked at start.

Staff sign in over the same LAN and Wi-Fi as pupils, so the admin web is served over HTTPS from the first
start. Its certificate is signed by the school's CA (the one the proxy uses for `intercept_tls` and the
admin web offers at /certificate/), so a device that trusts that CA trusts the admin web with no step of
its own. `init` keeps a certificate that is still right (the same host, the same CA, the key that belongs
to it, more than RENEW_BEFORE left) and makes a new one otherwise, so an operator who changes
`[web] public_url` only runs init again. `[web] tls_cert` and `tls_key` replace it with the school's own.

Made with `cryptography` directly: the admin web never imports mitmproxy, and this module needs only the
CA's two PEM files.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from rules.policy.names import normalize_host

CERT_FILE = "web-cert.pem"
KEY_FILE = "web-key.pem"
# Browsers refuse server certificates valid for longer than 398 days (Apple's rule for every CA).
VALID_FOR = timedelta(days=397)
RENEW_BEFORE = timedelta(days=30)  # init makes a new one when less than this is left
BACKDATE = timedelta(hours=1)  # a device whose clock is a little slow still accepts a new certificate


class CertificateError(Exception):
    """A certificate or key file that cannot be served; the message names the file."""


@dataclass(frozen=True)
class CertFiles:
    """The two PEM files the admin web serves HTTPS with."""

    cert: Path
    key: Path


@dataclass(frozen=True)
class Outcome:
    """What `ensure_certificate` did ("made" or "kept"), why, and until when the certificate is valid."""

    action: str
    why: str
    files: CertFiles
    host: str
    not_after: datetime


def default_files(state_dir: Path) -> CertFiles:
    """Where init keeps the certificate it makes: beside the web's session key in the state folder."""
    return CertFiles(state_dir / CERT_FILE, state_dir / KEY_FILE)


def public_host(public_url: str) -> str:
    """The host staff type (from `[web] public_url`), as the certificate must name it."""
    host = urlsplit(public_url).hostname or ""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return normalize_host(host)  # lower case, punycode: what a DNS SAN holds


def ensure_certificate(state_dir: Path, public_url: str, ca_cert_path: Path, ca_key_path: Path,
                       now: datetime | None = None) -> Outcome:
    """Keep the certificate in the state folder if it is still right for `public_url`, else make a new one."""
    moment = now or datetime.now(UTC)
    files = default_files(state_dir)
    host = public_host(public_url)
    ca_cert = x509.load_pem_x509_certificate(ca_cert_path.read_bytes())
    why = why_renew(files, ca_cert, host, moment)
    if why is None:
        current = x509.load_pem_x509_certificate(files.cert.read_bytes())
        return Outcome("kept", "still valid for this host and CA", files, host, current.not_valid_after_utc)
    ca_key = serialization.load_pem_private_key(ca_key_path.read_bytes(), password=None)
    cert_pem, key_pem = make_certificate(ca_cert, ca_key, host, moment)  # type: ignore[arg-type]
    _write(files.key, key_pem, 0o600)
    _write(files.cert, cert_pem, 0o644)
    made = x509.load_pem_x509_certificate(cert_pem)
    return Outcome("made", why, files, host, made.not_valid_after_utc)


def why_renew(files: CertFiles, ca_cert: x509.Certificate, host: str, now: datetime) -> str | None:
    """None when the files hold a certificate for `host`, signed by `ca_cert`, with its own key and more than
    RENEW_BEFORE left; otherwise the reason to make a new one, in words for the operator."""
    if not files.cert.is_file() or not files.key.is_file():
        return "there was none"
    try:
        cert = x509.load_pem_x509_certificate(files.cert.read_bytes())
        key = serialization.load_pem_private_key(files.key.read_bytes(), password=None)
    except ValueError:
        return "the old files could not be read"
    if not _same_key(cert, key):
        return "the old key did not belong to the old certificate"
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        return "the old one was not signed by the school's CA"
    if host not in names_in(cert):
        return f"the host changed (the old one was for {', '.join(names_in(cert)) or 'no name'})"
    if cert.not_valid_after_utc - now < RENEW_BEFORE:
        return f"the old one expires on {cert.not_valid_after_utc:%Y-%m-%d}"
    return None


def make_certificate(ca_cert: x509.Certificate, ca_key: CertificateIssuerPrivateKeyTypes, host: str,
                     now: datetime) -> tuple[bytes, bytes]:
    """A server certificate for `host` (an IP SAN for an address, a DNS SAN for a name) and its new key, PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    try:
        san: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        san = x509.DNSName(host)
    subject = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "schoolgate admin web")]
    if len(host) <= 64:  # the longest common name X.509 allows; the SAN is what browsers read
        subject.insert(0, x509.NameAttribute(NameOID.COMMON_NAME, host))
    not_after = min(now + VALID_FOR, ca_cert.not_valid_after_utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name(subject))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName([san]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()),  # type: ignore[arg-type]
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def check_pair(files: CertFiles, cert_label: str, key_label: str, now: datetime | None = None) -> x509.Certificate:
    """The certificate in `files`, checked to be PEM, to have its own key and to be in date; otherwise a
    CertificateError that names the file by `cert_label` or `key_label` (the configuration key)."""
    try:
        cert = x509.load_pem_x509_certificates(files.cert.read_bytes())[0]
    except OSError as exc:
        raise CertificateError(f"{cert_label} ({files.cert}) cannot be read: {exc.strerror}") from None
    except ValueError:
        raise CertificateError(f"{cert_label} ({files.cert}) is not a PEM certificate") from None
    try:
        key = serialization.load_pem_private_key(files.key.read_bytes(), password=None)
    except OSError as exc:
        raise CertificateError(f"{key_label} ({files.key}) cannot be read: {exc.strerror}") from None
    except TypeError:
        raise CertificateError(f"{key_label} ({files.key}) is encrypted: give the key without a passphrase, "
                               "readable by the schoolgate user only") from None
    except ValueError:
        raise CertificateError(f"{key_label} ({files.key}) is not a PEM private key") from None
    if not _same_key(cert, key):
        raise CertificateError(f"{key_label} ({files.key}) is not the key of {cert_label} ({files.cert})")
    if cert.not_valid_after_utc <= (now or datetime.now(UTC)):
        raise CertificateError(f"{cert_label} ({files.cert}) expired on {cert.not_valid_after_utc:%Y-%m-%d}; "
                               "browsers refuse it")
    return cert


def names_in(cert: x509.Certificate) -> list[str]:
    """The host names and addresses a certificate is for (its SAN)."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [*san.get_values_for_type(x509.DNSName), *(str(a) for a in san.get_values_for_type(x509.IPAddress))]


def _same_key(cert: x509.Certificate, key: object) -> bool:
    public = getattr(key, "public_key", None)
    if public is None:
        return False
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    return bool(cert.public_key().public_bytes(*spki) == public().public_bytes(*spki))


def _write(path: Path, data: bytes, mode: int) -> None:
    """Replace `path` in one step, created with `mode` (the key is never readable by others, even briefly)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.new")
    temporary.unlink(missing_ok=True)
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(temporary, mode)  # the umask may have narrowed it; a key must be exactly 0600
    os.replace(temporary, path)
