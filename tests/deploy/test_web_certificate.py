"""The admin web's certificate: made for public_url's host and signed by the school's CA, kept while it is still
right, made again when the host, the CA or the key changed or it nears its end; checked before it is served."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import DNSName, IPAddress
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from deploy.web_certificate import (
    RENEW_BEFORE,
    CertFiles,
    CertificateError,
    check_pair,
    default_files,
    ensure_certificate,
    names_in,
)
from tests.certificates import TestCa
from tests.conftest import Cli

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def school_ca(tmp_path: Path) -> tuple[Path, Path]:
    """A CA laid out as filter_proxy.ca keeps it: a certificate file, and a file with the key and certificate."""
    ca = TestCa(tmp_path / "ca", days=3650)
    key_file = tmp_path / "ca" / "ca-key-and-cert.pem"
    key = ca.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                               serialization.NoEncryption())
    key_file.write_bytes(key + ca.cert_path.read_bytes())
    return ca.cert_path, key_file


def verify(cert_path: Path, ca_path: Path, name: x509.GeneralName, at: datetime = NOW) -> None:
    """What a browser that trusts the school's CA does: build the chain and check the name (raises if not)."""
    ca = x509.load_pem_x509_certificate(ca_path.read_bytes())
    verifier = PolicyBuilder().store(Store([ca])).time(at).build_server_verifier(name)
    verifier.verify(x509.load_pem_x509_certificate(cert_path.read_bytes()), [])


@pytest.mark.parametrize(("public_url", "host", "name"), [
    ("https://127.0.0.1:8000", "127.0.0.1", IPAddress(ip_address("127.0.0.1"))),
    ("https://[2001:db8::1]:8000/", "2001:db8::1", IPAddress(ip_address("2001:db8::1"))),
    ("https://Filter.School.Example:8443/admin", "filter.school.example", DNSName("filter.school.example")),
    ("https://filtré.école.example", "xn--filtr-fsa.xn--cole-9oa.example",
     DNSName("xn--filtr-fsa.xn--cole-9oa.example")),
])
def test_made_for_the_host_staff_type_and_trusted_through_the_school_ca(tmp_path: Path, school_ca: tuple[Path, Path],
                                                                        public_url: str, host: str,
                                                                        name: x509.GeneralName) -> None:
    outcome = ensure_certificate(tmp_path / "state", public_url, *school_ca, now=NOW)
    assert (outcome.action, outcome.why, outcome.host) == ("made", "there was none", host)
    assert outcome.files == default_files(tmp_path / "state")
    verify(outcome.files.cert, school_ca[0], name)
    assert names_in(x509.load_pem_x509_certificate(outcome.files.cert.read_bytes())) == [host]
    assert stat.S_IMODE(outcome.files.key.stat().st_mode) == 0o600
    check_pair(outcome.files, "cert", "key", now=NOW)  # the key is the certificate's own
    # Browsers refuse server certificates valid for more than 398 days.
    assert outcome.not_after - NOW <= timedelta(days=398)
    other = IPAddress(ip_address("10.9.9.9"))
    with pytest.raises(VerificationError):
        verify(outcome.files.cert, school_ca[0], other)


def test_kept_while_right_then_made_again_when_something_changed(tmp_path: Path,
                                                                  school_ca: tuple[Path, Path]) -> None:
    state = tmp_path / "state"
    first = ensure_certificate(state, "https://10.0.50.1:8000", *school_ca, now=NOW)
    pem = first.files.cert.read_bytes()
    again = ensure_certificate(state, "https://10.0.50.1:8443/", *school_ca, now=NOW + timedelta(days=200))
    assert (again.action, again.files.cert.read_bytes()) == ("kept", pem)  # another port: the same host

    moved = ensure_certificate(state, "https://filter.school.example", *school_ca, now=NOW)
    assert moved.action == "made" and moved.why == "the host changed (the old one was for 10.0.50.1)"
    verify(moved.files.cert, school_ca[0], DNSName("filter.school.example"))

    late = moved.not_after - RENEW_BEFORE + timedelta(hours=1)
    renewed = ensure_certificate(state, "https://filter.school.example", *school_ca, now=late)
    assert renewed.action == "made" and renewed.why == f"the old one expires on {moved.not_after:%Y-%m-%d}"
    assert renewed.not_after > moved.not_after

    new_ca = TestCa(tmp_path / "new-ca", "a new school CA", days=3650)
    new_key = tmp_path / "new-ca" / "key.pem"
    new_key.write_bytes(new_ca.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                 serialization.NoEncryption()))
    resigned = ensure_certificate(state, "https://filter.school.example", new_ca.cert_path, new_key, now=late)
    assert resigned.why == "the old one was not signed by the school's CA"
    verify(resigned.files.cert, new_ca.cert_path, DNSName("filter.school.example"), at=late)

    resigned.files.key.write_bytes(ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    fixed = ensure_certificate(state, "https://filter.school.example", new_ca.cert_path, new_key, now=late)
    assert fixed.why == "the old key did not belong to the old certificate"
    fixed.files.cert.write_text("not a certificate")
    assert ensure_certificate(state, "https://filter.school.example", new_ca.cert_path, new_key,
                              now=late).why == "the old files could not be read"


def test_a_pair_that_cannot_be_served_is_named(tmp_path: Path, school_ca: tuple[Path, Path]) -> None:
    made = ensure_certificate(tmp_path / "state", "https://127.0.0.1", *school_ca, now=NOW).files
    other = ensure_certificate(tmp_path / "other", "https://127.0.0.1", *school_ca, now=NOW).files
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    encrypted = tmp_path / "encrypted.pem"
    key = serialization.load_pem_private_key(made.key.read_bytes(), password=None)
    encrypted.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.BestAvailableEncryption(b"secret")))
    cases = [
        (CertFiles(garbage, made.key), f"'web.tls_cert' ({garbage}) is not a PEM certificate"),
        (CertFiles(tmp_path / "missing.pem", made.key), "'web.tls_cert' (" + str(tmp_path / "missing.pem")
         + ") cannot be read: No such file or directory"),
        (CertFiles(made.cert, garbage), f"'web.tls_key' ({garbage}) is not a PEM private key"),
        (CertFiles(made.cert, made.cert), f"'web.tls_key' ({made.cert}) is not a PEM private key"),
        (CertFiles(made.cert, encrypted), f"'web.tls_key' ({encrypted}) is encrypted"),
        (CertFiles(made.cert, other.key), f"'web.tls_key' ({other.key}) is not the key of 'web.tls_cert' "
                                          f"({made.cert})"),
    ]
    for files, message in cases:
        with pytest.raises(CertificateError) as refused:
            check_pair(files, "'web.tls_cert'", "'web.tls_key'", now=NOW)
        assert str(refused.value).startswith(message), str(refused.value)
    with pytest.raises(CertificateError, match="expired on .*; browsers refuse it"):
        check_pair(made, "'web.tls_cert'", "'web.tls_key'", now=NOW + timedelta(days=400))


def test_init_says_what_it_did(cli: Cli, tmp_path: Path) -> None:
    first = cli("init").stdout
    state = tmp_path / "var"
    line = next(line for line in first.splitlines() if line.startswith("web certificate"))
    assert line.startswith(f"web certificate {state / 'web-cert.pem'}: made (there was none), for 127.0.0.1, "
                           "signed by the school's CA, valid until ")
    verify(state / "web-cert.pem", state / "mitmproxy" / "mitmproxy-ca-cert.pem",
           IPAddress(ip_address("127.0.0.1")), at=datetime.now(UTC))
    pem = (state / "web-cert.pem").read_bytes()
    assert ": kept, for 127.0.0.1" in cli("init").stdout and (state / "web-cert.pem").read_bytes() == pem

    cli.config.write_text(cli.config.read_text() + '[web]\npublic_url = "https://filter.school.example"\n')
    assert "made (the host changed (the old one was for 127.0.0.1)), for filter.school.example" in cli("init").stdout

    own = TestCa(tmp_path / "own").issue(["filter.school.example"])
    cli.config.write_text(cli.config.read_text() + f'tls_cert = "{own[0]}"\ntls_key = "{own[1]}"\n')
    assert f"web certificate: {own[0]} ([web] tls_cert), none made" in cli("init").stdout

    cli.config.write_text(f'[database]\nurl = "sqlite:///{state}/schoolgate.db"\n'
                          '[web]\npublic_url = "http://127.0.0.1:8000"\nallow_http = true\n')
    assert "web certificate: none needed (http://127.0.0.1:8000 is plain HTTP, [web] allow_http)" in cli("init").stdout
