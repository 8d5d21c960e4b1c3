"""Who may open what: one decorator on every view, and the error pages.

Every route names the roles that may use it (`ANY` for every signed-in member of staff). Signed-out
visitors are sent to sign in; a signed-in person without the role gets 403. The route table test walks
`app.url_map` and fails for a view that has no roles declared.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, abort, current_app, render_template
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from rules.store.db import Database
from rules.workflows.accounts import ROLES

F = TypeVar("F", bound=Callable[..., Any])
ANY = ROLES
LOG_READERS = ("ict", "headteacher", "dsl")
# Who may read a ban's evidence (sites, times, points): those who act on it. Other staff see only that a pupil is
# banned, until when, and how to supervise them; every view of evidence is audited.
EVIDENCE_READERS = ("headteacher", "dsl", "ict")
ROLE_NAMES = {"staff": "Staff", "ict": "ICT technician", "headteacher": "Headteacher", "dsl": "DSL",
              "marketing": "Marketing officer", "office_manager": "Office manager", "dpo": "DPO",
              "trust_admin": "Trust admin"}


def roles(*allowed: str) -> Callable[[F], F]:
    """Let only signed-in people holding one of `allowed` roles reach the view."""
    unknown = set(allowed) - set(ROLES)
    if unknown or not allowed:
        raise ValueError(f"unknown roles {unknown}")

    def wrap(view: F) -> F:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return current_app.login_manager.unauthorized()  # type: ignore[attr-defined]
            if not current_user.roles & set(allowed):
                abort(403)
            return view(*args, **kwargs)

        guarded.allowed_roles = frozenset(allowed)  # type: ignore[attr-defined]
        return guarded  # type: ignore[return-value]

    return wrap


def public[F: Callable[..., Any]](view: F) -> F:
    """Mark a view that needs no sign-in (only the sign-in page itself)."""
    view.allowed_roles = None  # type: ignore[attr-defined]
    return view


def database() -> Database:
    db: Database = current_app.extensions["schoolgate_db"]
    return db


def has(*wanted: str) -> bool:
    return current_user.is_authenticated and bool(current_user.roles & set(wanted))


def get_or_404(session: Session, model: type, ident: int) -> Any:
    row = session.get(model, ident)
    if row is None:
        abort(404)
    return row


def register_errors(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> tuple[str, int]:
        return render_template("error.html", code=400, title="The form could not be accepted",
                               message="The form was missing its security token or had expired. Go back, "
                                       "reload the page and try again."), 400

    for code, title, message in (
        (403, "Not available to you", "Your account does not have the role this page needs. "
                                      "Ask the headteacher if you think it should."),
        (404, "Not found", "There is nothing here, or it is not yours to see."),
        (400, "Bad request", "The request could not be understood."),
        (405, "Not allowed", "This address does not answer that kind of request: use the page's own button."),
        (413, "File too large", "The file is larger than 64 MB."),
    ):
        def handler(exc: Exception, code: int = code, title: str = title, message: str = message) -> tuple[str, int]:
            # A 400 raised with its own words (a bad parameter, see `admin_web.params`) says what was wrong.
            if code == 400 and isinstance(exc, HTTPException) and exc.description != type(exc).description:
                message = exc.description or message
            return render_template("error.html", code=code, title=title, message=message), code

        app.register_error_handler(code, handler)
