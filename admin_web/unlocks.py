"""Unlock proposals: the ICT technician's proposal to unlock a locked category, which a headteacher confirms.

The category page records the proposal (`rules.workflows.catalogue_admin.save_category`); here the headteacher
reads who proposed it and why, and confirms (the category is unlocked at once) or refuses. Nobody confirms a
proposal of their own, even holding both roles. A proposal belongs to its category's school: another school's is
404; one on a trust-wide category is decided by a trust admin only (`admin_web.sites.acts_for_trust`).
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select

from admin_web.access import database, roles
from admin_web.forms import UnlockDecisionForm
from admin_web.sites import acts_for_trust, get_visible_or_404, visible_site_ids
from rules.store.models import Category, CategoryUnlock
from rules.workflows import category_unlock as service

bp = Blueprint("unlocks", __name__, url_prefix="/unlocks")


@bp.route("/")
@roles("headteacher", "ict")
def index() -> ResponseReturnValue:
    with database().session(read_only=True) as db_session:
        rows = service.list_proposals(db_session, site_ids=visible_site_ids())
        trust_wide = set(db_session.scalars(select(Category.id).where(Category.site_id.is_(None))))
    for_trust = acts_for_trust()
    forms = {row.id: UnlockDecisionForm(prefix=f"p{row.id}") for row in rows
             if row.state == service.OPEN and (for_trust or row.category_id not in trust_wide)}
    return render_template("unlocks/index.html", rows=rows, forms=forms, OPEN=service.OPEN)


def _decide(proposal_id: int, confirm: bool) -> ResponseReturnValue:
    with database().session(read_only=True) as db_session:
        proposal = db_session.get(CategoryUnlock, proposal_id)
        if proposal is None:
            abort(404)
        category = get_visible_or_404(db_session, Category, proposal.category_id)  # the proposal's school is its own
    if category.site_id is None and not acts_for_trust():
        flash("Nothing was saved: a category of the whole trust is unlocked by a trust admin.", "error")
        return redirect(url_for("unlocks.index"))
    form = UnlockDecisionForm(prefix=f"p{proposal_id}")
    if not form.validate_on_submit():
        flash("Nothing was saved: the reason is at most 2,000 characters.", "error")
        return redirect(url_for("unlocks.index"))
    try:
        with database().session() as db_session:
            proposal = service.decide_unlock(db_session, proposal_id, current_user.account, confirm=confirm,
                                             reason=form.reason.data or "")
            name = proposal.category_name
    except LookupError:
        abort(404)
    except service.UnlockError as exc:
        flash(f"Nothing was saved: {exc}.", "error")
        return redirect(url_for("unlocks.index"))
    flash(f"Confirmed: {name} is no longer locked; the filter applies it within a few seconds." if confirm
          else f"Refused: {name} stays locked.", "success")
    return redirect(url_for("unlocks.index"))


@bp.route("/<int:proposal_id>/confirm", methods=["POST"])
@roles("headteacher")
def confirm(proposal_id: int) -> ResponseReturnValue:
    return _decide(proposal_id, confirm=True)


@bp.route("/<int:proposal_id>/refuse", methods=["POST"])
@roles("headteacher")
def refuse(proposal_id: int) -> ResponseReturnValue:
    return _decide(proposal_id, confirm=False)
