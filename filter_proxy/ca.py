"""The school's CA for `intercept_tls`: where mitmproxy keeps it, so the web app can offer it for download."""

from __future__ import annotations

from pathlib import Path

from mitmproxy import certs

CA_NAME = "mitmproxy"  # mitmproxy's file prefix in its confdir
KEY_SIZE = 2048


def confdir(state_dir: Path) -> Path:
    """mitmproxy's configuration folder (its CA lives here), under schoolgate's state folder."""
    return state_dir / "mitmproxy"


def ca_certificate_path(state_dir: Path, create: bool = True) -> Path:
    """The PEM file of the CA certificate devices must trust for `intercept_tls` (made if missing)."""
    folder = confdir(state_dir)
    path = folder / f"{CA_NAME}-ca-cert.pem"
    if create and not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        certs.CertStore.from_store(folder, CA_NAME, KEY_SIZE)
    return path


def ca_key_path(state_dir: Path) -> Path:
    """The PEM file holding the CA's private key (and its certificate): what signs the admin web's certificate."""
    return confdir(state_dir) / f"{CA_NAME}-ca.pem"
