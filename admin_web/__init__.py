"""The admin web: the school's forms, approvals, access logs and audit, as a Flask application.

`create_app()` assembles the app (Flask tutorial style) from its settings and a database: sign-in, the
security headers, then one blueprint per area. Views stay thin and call service functions in `rules/`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask

from admin_web import params, security
from admin_web.access import register_errors
from admin_web.auth import login_manager
from admin_web.formatting import register_filters
from admin_web.settings import WebSettings
from rules.store.db import Database


def create_app(settings: WebSettings, *, db: Database, state_dir: Path | None = None,
               overrides: dict[str, Any] | None = None) -> Flask:
    """Build the app over `db`; `state_dir`, when given, stands in for `settings.state_dir`."""
    app = Flask(__name__)
    state = state_dir or settings.state_dir
    over_tls = urlsplit(settings.public_url).scheme == "https"  # "HTTPS://" too: the cookies must be Secure
    app.config.update(
        SECRET_KEY=security.load_secret_key(state),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=over_tls,
        SESSION_COOKIE_NAME="schoolgate_session",
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SECURE=over_tls,
        MAX_CONTENT_LENGTH=64 * 1024 * 1024,
        SCHOOLGATE_IDLE_MINUTES=settings.session_idle_minutes,
        SCHOOLGATE_STATE_DIR=state,
        SCHOOLGATE_PUBLIC_URL=settings.public_url,
        SCHOOLGATE_SITE_ID=settings.site_id,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session, which expires when idle
    )
    app.config.update(overrides or {})
    app.extensions["schoolgate_db"] = db
    params.init_app(app)  # before the blueprints: their <int:...> routes use its bounded converter
    login_manager.init_app(app)
    security.init_app(app)
    register_filters(app)
    register_errors(app)

    from admin_web import accounts, audit_view, auth, bans, ca, home, logs, registry, reports, requests, unlocks

    for module in (auth, home, requests, reports, logs, registry, unlocks, bans, audit_view, accounts, ca):
        app.register_blueprint(module.bp)
    from admin_web import privacy

    app.register_blueprint(privacy.bp)
    from admin_web import concern_raise, concerns, safeguarding_phrases

    for module in (concerns, concern_raise, safeguarding_phrases):
        app.register_blueprint(module.bp)
    # The rest of the policy: school social media, the consent record, the abuse log and the annual review.
    from admin_web import abuse_log, consent, posts, review, school_accounts, site_forms

    for module in (site_forms, school_accounts, posts, consent, abuse_log, review):
        app.register_blueprint(module.bp)
    # Schools of a trust: the header's school switcher, and what every template needs to show it.
    from admin_web import sites

    app.register_blueprint(sites.bp)
    app.context_processor(sites.template_globals)
    return app
