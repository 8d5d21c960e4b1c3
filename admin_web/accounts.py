"""Accounts, managed by the headteacher: create, change roles, reset a password, disable."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select

from admin_web.access import database, get_or_404, roles
from admin_web.forms import AccountForm
from rules.store.models import User
from rules.workflows.accounts import UserError, create_user, update_account

bp = Blueprint("accounts", __name__, url_prefix="/accounts")


@bp.route("/")
@roles("headteacher")
def index() -> ResponseReturnValue:
    with database().session(read_only=True) as db_session:
        rows = list(db_session.scalars(select(User).order_by(User.active.desc(), User.name)))
    return render_template("accounts/index.html", rows=rows)


@bp.route("/new", methods=["GET", "POST"], defaults={"user_id": None})
@bp.route("/<int:user_id>", methods=["GET", "POST"])
@roles("headteacher")
def edit(user_id: int | None) -> ResponseReturnValue:
    existing = None
    if user_id is not None:
        with database().session(read_only=True) as db_session:
            existing = get_or_404(db_session, User, user_id)
    form = AccountForm()
    if existing is not None and not form.is_submitted():
        form.email.data, form.name.data = existing.email, existing.name
        form.roles.data = existing.roles.split(",")
        form.active.data = existing.active
    if form.validate_on_submit():
        try:
            with database().session() as db_session:
                if existing is None:
                    create_user(db_session, email=form.email.data or "", name=form.name.data or "",
                                roles=form.roles.data or [], password=form.password.data or None,
                                actor=current_user.email)
                else:
                    update_account(db_session, existing.id, current_user.account, name=form.name.data or "",
                                   roles=form.roles.data or [], active=bool(form.active.data),
                                   password=form.password.data or None)
        except UserError as exc:
            flash(f"Not saved: {exc}.", "error")
        except LookupError:
            abort(404)
        else:
            flash("Account saved.", "success")
            return redirect(url_for("accounts.index"))
    return render_template("accounts/edit.html", form=form, existing=existing)
