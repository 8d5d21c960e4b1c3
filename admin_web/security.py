"""Security the whole app shares: the secret key file, strict headers, CSRF, and idle/ended sessions.

The secret key is random, generated once and kept in the state dir (mode 0600); it is never derived
from a password, so knowing a password never lets anyone forge a session cookie.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

from flask import Flask, Response, flash, redirect, request, session, url_for
from flask_login import current_user, logout_user
from flask_wtf.csrf import CSRFProtect

SECRET_FILE = "web-secret"
HSTS = "max-age=31536000"  # a year: a browser that met the admin web over HTTPS never tries it in clear
csrf = CSRFProtect()

# No inline script or style anywhere: everything comes from /static.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
       "base-uri 'none'; frame-ancestors 'none'; form-action 'self'")


def load_secret_key(state_dir: Path) -> bytes:
    """Read var/web-secret, creating it (0600, 32 random bytes) the first time."""
    path = state_dir / SECRET_FILE
    state_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_bytes()
        if len(key) < 32:
            raise RuntimeError(f"{path} is shorter than 32 bytes; delete it to generate a new key") from None
        return key
    with os.fdopen(fd, "wb") as handle:
        handle.write(secrets.token_bytes(32))
    return path.read_bytes()


def init_app(app: Flask) -> None:
    csrf.init_app(app)
    app.before_request(_expire_idle_session)
    app.after_request(_headers)


def _expire_idle_session() -> Response | None:
    """Sign out a session that has been idle too long; otherwise note this request's time."""
    if request.endpoint == "static" or not current_user.is_authenticated:
        return None
    from flask import current_app

    idle = current_app.config["SCHOOLGATE_IDLE_MINUTES"] * 60
    now = int(time.time())
    last = session.get("seen", 0)
    if now - last > idle:
        logout_user()
        session.clear()
        flash("You were signed out after a time without activity. Please sign in again.", "info")
        return redirect(url_for("auth.signin", next=request.path if request.method == "GET" else None))  # type: ignore[return-value]
    session["seen"] = now
    return None


def _headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    if request.is_secure:  # only over TLS: a browser ignores HSTS sent in clear, and loopback HTTP must work
        response.headers["Strict-Transport-Security"] = HSTS
    if request.endpoint != "static":
        response.headers["Cache-Control"] = "no-store"
    return response
