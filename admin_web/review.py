"""The policy's "Monitoring and review": the next review date and its history, and the annual review pack.

Headteacher only. The policy gives the review to "the headteacher and academy council", and the pack is what the
headteacher prints for the council. It names no child, but it holds safeguarding concern counts, ban counts and
free text (rule and request reasons, with pupils' names taken out, not staff's) that the DPO does not otherwise
see; the DPO reads consent coverage on the consent record itself. So the `dpo` role is not given the pack.

The policy is reviewed per school: the date, the history and the pack are those of the school the headteacher
works in (`current_site_id()`, the header's switcher).
"""

from __future__ import annotations

from datetime import date, datetime

from flask import Blueprint, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import Length, Optional

from admin_web.access import database, roles
from admin_web.date_fields import SchoolDateField, day_of, required_date
from admin_web.params import DayParam, Query, accepts
from admin_web.sites import current_site_id
from rules.localtime import LONDON
from rules.review import policy_review
from rules.review.pack import PeriodError, build_pack, checked_period, default_period
from rules.review.reminder import ReviewStatus

bp = Blueprint("review", __name__, url_prefix="/review")
WHO = ("headteacher",)


class ReviewForm(FlaskForm):
    next_review_on = SchoolDateField("Next review date", validators=[required_date])
    reviewed_on = SchoolDateField("A review took place on (leave empty if you are only changing the date)")
    notes = TextAreaField("Notes", validators=[Optional(), Length(max=policy_review.MAX_NOTES)])


def _today() -> date:
    return datetime.now(LONDON).date()


@bp.route("/", methods=["GET", "POST"])
@roles(*WHO)
def index() -> ResponseReturnValue:
    form = ReviewForm()
    site_id = current_site_id()
    if form.validate_on_submit():
        data = policy_review.ReviewInput(day_of(form.next_review_on), form.reviewed_on.data, form.notes.data or "")
        try:
            with database().session() as session:
                policy_review.record(session, current_user.account.email, data, today=_today(), site_id=site_id)
        except policy_review.ReviewError as exc:
            flash(f"Nothing was recorded: {exc}.", "error")
        else:
            flash("Recorded. The next review date is now in force.", "success")
            return redirect(url_for("review.index"))
    with database().session(read_only=True) as session:
        status = ReviewStatus(policy_review.next_review_date(session, site_id), _today())
        rows = policy_review.history(session, site_id)
        session.expunge_all()
    return render_template("review/index.html", form=form, status=status, rows=rows)


@bp.route("/pack")
@roles(*WHO)
@accepts(DayParam("from"), DayParam("to"))
def pack(query: Query) -> ResponseReturnValue:
    today = _today()
    site_id = current_site_id()
    with database().session() as session:  # writable: the view is audited in the same transaction
        try:
            period = checked_period(query["from"], query["to"], default_period(session, today, site_id), today)
        except PeriodError as exc:
            flash(f"{exc}; the default period is shown.", "error")
            period = default_period(session, today, site_id)
        found = build_pack(session, current_user.account.email, period, today, site_id)
    return render_template("review/pack.html", pack=found, status=ReviewStatus(found.next_review_on, today))
