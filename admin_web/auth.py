"""Sign-in by email and password, sign-out, and the session's link to the account.

Failed sign-ins slow the next attempt for that email from that address (`rules.workflows.signin_throttle`):
the answer is 429 with the wait in words, given at once without checking the password. No account is ever
locked, so a pupil who types the headteacher's email cannot keep her out.

The session stores "user id:session epoch". An account's epoch goes up when it signs out, is disabled
or has its roles or password changed, so every session issued before that stops working on the server.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, ValidationError
from wtforms.validators import DataRequired, Length

from admin_web.access import ANY, database, public, roles
from admin_web.params import Query, TextParam, accepts
from rules.store.models import User
from rules.workflows.accounts import (
    UserError,
    authenticate,
    change_own_password,
    end_sessions,
    roles_of,
    schools_of,
)
from rules.workflows.signin_throttle import wait_before_attempt

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
login_manager.login_view = "auth.signin"
login_manager.login_message = "Please sign in to see that page."
login_manager.login_message_category = "info"
login_manager.session_protection = "basic"


@dataclass
class WebUser(UserMixin):
    """The signed-in account, as the views see it; `account` is the row the services take."""

    account: User
    roles: set[str]
    site_ids: frozenset[int] | None = frozenset()  # the schools the account sees; None: every school (trust_admin)

    def get_id(self) -> str:
        return f"{self.account.id}:{self.account.session_epoch}"

    @property
    def name(self) -> str:
        return self.account.name

    @property
    def email(self) -> str:
        return self.account.email


@login_manager.user_loader
def load_user(session_id: str) -> WebUser | None:
    user_id, _, epoch = session_id.partition(":")
    if not user_id.isdigit() or not epoch.isdigit():
        return None
    with database().session(read_only=True) as db_session:
        user = db_session.get(User, int(user_id))
        if user is None or not user.active or user.session_epoch != int(epoch):
            return None
        return WebUser(user, roles_of(user), schools_of(db_session, user))


class SignInForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=255)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


def _same_password(form: FlaskForm, field: PasswordField) -> None:
    if field.data != form.new_password.data:
        raise ValidationError("Type the same new password twice.")


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired(), Length(max=1024)])
    new_password = PasswordField("New password (at least 10 characters)", validators=[DataRequired(),
                                                                                       Length(min=10, max=1024)])
    repeat = PasswordField("New password again", validators=[DataRequired(), _same_password])


def _safe_next(target: str | None) -> str:
    """Only a path on this site, so sign-in can never redirect somewhere else."""
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc \
            and "\\" not in target:
        return target
    return url_for("home.index")


@bp.route("/signin", methods=["GET", "POST"])
@public
@accepts(TextParam("next", 2048))
def signin(query: Query) -> ResponseReturnValue:
    form = SignInForm()
    if form.validate_on_submit():
        address = request.remote_addr or "unknown"
        email = (form.email.data or "").strip().lower()
        with database().session() as db_session:
            wait = wait_before_attempt(db_session, email, address)
            if wait is not None:  # answered at once: the password is not checked and no thread sleeps
                flash(wait.message(), "error")
                return render_template("auth/signin.html", form=form), 429, {"Retry-After": str(wait.seconds)}
            user = authenticate(db_session, email, form.password.data or "", address)
            web_user = WebUser(user, roles_of(user), schools_of(db_session, user)) if user is not None else None
        if web_user is None:
            flash("That email and password do not match an active account.", "error")
            return render_template("auth/signin.html", form=form), 200
        session.clear()  # a fresh session: nothing from before sign-in survives
        login_user(web_user)
        session["nonce"] = secrets.token_hex(16)
        session["seen"] = int(time.time())
        return redirect(_safe_next(query["next"]))
    return render_template("auth/signin.html", form=form)


@bp.route("/signout", methods=["POST"])
@roles(*ANY)
def signout() -> ResponseReturnValue:
    """End the session everywhere: raise the account's epoch, then clear the cookie."""
    with database().session() as db_session:
        end_sessions(db_session, current_user.account.id)
    logout_user()
    session.clear()
    flash("You have signed out.", "info")
    return redirect(url_for("auth.signin"))


@bp.route("/password", methods=["GET", "POST"])
@roles(*ANY)
def password() -> ResponseReturnValue:
    """Choose your own password. Until you do, whoever set it (the headteacher, for an account made on the web)
    can sign in as you; so a headteacher never confirms an unlock proposed by an account whose password she set.
    A wrong current password is a failed sign-in: the same throttle slows it."""
    form = PasswordChangeForm()
    if form.validate_on_submit():
        address = request.remote_addr or "unknown"
        with database().session() as db_session:
            wait = wait_before_attempt(db_session, current_user.email, address)
            if wait is not None:
                flash(wait.message(), "error")
                return render_template("auth/password.html", form=form), 429, {"Retry-After": str(wait.seconds)}
            try:
                account = change_own_password(db_session, current_user.account, form.current_password.data or "",
                                              form.new_password.data or "", address)
            except UserError as exc:
                error = str(exc)
            else:
                error = ""
                web_user = WebUser(account, roles_of(account), schools_of(db_session, account))
        if error:
            flash(f"Not changed: {error}.", "error")
            return render_template("auth/password.html", form=form), 400
        session.clear()  # every session of the account ended; this one starts again with the new epoch
        login_user(web_user)
        session["nonce"] = secrets.token_hex(16)
        session["seen"] = int(time.time())
        flash("Your password is changed: other browsers signed in as you have been signed out.", "success")
        return redirect(url_for("home.index"))
    return render_template("auth/password.html", form=form), 400 if form.is_submitted() else 200
