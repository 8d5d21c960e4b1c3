"""What the admin web needs to know, as plain values: the app is built from these and a database."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class WebSettings:
    """`public_url` is where people reach the app (cookies are Secure when it is https); `state_dir` holds the
    session signing key and the CA certificate the app offers for download."""

    public_url: str = "http://127.0.0.1:8000"
    session_idle_minutes: int = 30  # signed out after this long without a request
    state_dir: Path = Path("var")
    site_id: int = 1  # the school of the gateway this web runs on: where a trust_admin's new rows go by default
