"""The consent record: pupils by class, one pupil's consent and its history, and the class view that answers
"who in 4B may appear in a photo this year" (and in a video), with the class's forms entered at once.

Only the headteacher, the office manager and the DPO reach these pages (`READERS`: personal data about
children; everyone else 403). Every view of a pupil's page and of a class is audited, and every change, by
`rules.consent.records` in the same transaction. A pupil's name is never put in an address: the search is a
POST, and pupils are reached by id.

Schools: the search and a pupil's page cover the viewer's schools (another school's pupil answers 404, as one
that does not exist); the classes, a class's page and its forms are those of the school the viewer works in
(`current_site_id()`, the header's switcher), as two schools may both have a 4B.
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import func, select

from admin_web.access import database, roles
from admin_web.consent_forms import ClassConsentForm, ConsentForm, SearchForm, field_name, pupil_rows, year_choices
from admin_web.params import IntParam, Query, TextParam, accepts
from admin_web.sites import current_site_id, get_visible_or_404, visible_site_ids
from rules.consent import class_view, records
from rules.consent.academic_year import academic_year_of, label
from rules.consent.records import CHANGE_LABELS, READERS, Change, ConsentError, Entry, PupilNotFound
from rules.store.audit import audit
from rules.store.models import Pupil

bp = Blueprint("consent", __name__, url_prefix="/consent")


def show_day(iso: str | None) -> str:
    """A stored YYYY-MM-DD as people read it: "01 Sep 2026"."""
    return date.fromisoformat(iso).strftime("%d %b %Y") if iso else "—"


CLASS_FILTER = (TextParam("name", 32), IntParam("year", 2000, 2099))


def _consent_form(years: list[int], change: Change) -> ConsentForm:
    form = ConsentForm(prefix=change.value)
    form.academic_year.choices = year_choices(years)
    if not form.is_submitted():
        form.change.data = change.value
        form.academic_year.data = years[0]
        form.effective_on.data = records.today()
    return form


def _index(search: SearchForm, found: list[Pupil] | None, status: int = 200) -> ResponseReturnValue:
    with database().session(read_only=True) as db_session:
        site = [current_site_id()]
        classes = class_view.classes(db_session, site)
        off_roll = db_session.scalar(select(func.count()).select_from(Pupil).where(Pupil.on_roll.is_(False),
                                                                                  Pupil.site_id.in_(site))) or 0
    return render_template("consent/index.html", classes=classes, off_roll=off_roll, search=search, found=found,
                           year_label=label(academic_year_of(records.today()))), status


@bp.route("/")
@roles(*READERS)
def index() -> ResponseReturnValue:
    """The classes, each linking to its pupils and their consent, and the search by name."""
    return _index(SearchForm(), None)


@bp.route("/search", methods=["POST"])
@roles(*READERS)
def search() -> ResponseReturnValue:
    """Pupils by name (a POST, so a child's name is never in an address or a server log)."""
    form = SearchForm()
    if not form.validate_on_submit():
        return _index(form, None, 400)
    with database().session(read_only=True) as db_session:
        found = class_view.search(db_session, form.q.data or "", visible_site_ids())
    return _index(form, found)


@bp.route("/class")
@roles(*READERS)
@accepts(*CLASS_FILTER)
def class_page(query: Query) -> ResponseReturnValue:
    """Who in the class may appear in images and in videos this year (or a past year), with the counts."""
    name, today = query["name"], records.today()
    years = class_view.years_to_choose(today)
    year = query["year"] or years[0]
    if not name:
        return _index(SearchForm(), None)
    if year not in years:
        abort(400, description=f"The value given for \u201cyear\u201d cannot be used: it must be one of "
                               f"{', '.join(str(y) for y in years)}.")
    with database().session() as db_session:
        site_id = current_site_id()
        answer = class_view.class_consent(db_session, name, year, today, [site_id])
        audit(db_session, current_user.email, "consent.view_class", f"class {name}",
              after={"academic_year": year, "pupils": len(answer.rows)}, site_id=site_id)
    return _class_page(answer, years)


def _class_page(answer: class_view.ClassConsent, years: list[int], form: ClassConsentForm | None = None,
                status: int = 200) -> ResponseReturnValue:
    if form is None:
        form = ClassConsentForm()
        form.class_name.data = answer.class_name
        form.academic_year.data = answer.academic_year
        form.effective_on.data = answer.day
    form.academic_year.choices = year_choices([answer.academic_year])
    return render_template("consent/class.html", answer=answer, years=years, label=label, form=form,
                           field_name=field_name, current=years[0], day=show_day), status


@bp.route("/class/record", methods=["POST"])
@roles(*READERS)
def record_class() -> ResponseReturnValue:
    """The class's consent forms, entered at once: one form, one transaction, each pupil with who gave it."""
    today = records.today()
    years = class_view.years_to_choose(today)
    form = ClassConsentForm()
    form.academic_year.choices = year_choices(years)
    name = (form.class_name.data or "")[:32]
    if not form.validate_on_submit():
        errors = "; ".join(f"{form[f].label.text}: {m[0]}" for f, m in form.errors.items())
        flash(f"Nothing was recorded. {errors}", "error")
        if not name:
            return redirect(url_for("consent.index"))
        with database().session(read_only=True) as db_session:  # shown again with what was typed
            answer = class_view.class_consent(db_session, name, years[0], today, [current_site_id()])
        return _class_page(answer, years, form, 400)
    year = form.academic_year.data
    try:
        with database().session() as db_session:
            answer = class_view.class_consent(db_session, name, year, today, [current_site_id()])
            if not answer.rows:
                abort(404)
            rows = pupil_rows(request.form, [r.pupil.id for r in answer.rows])
            entries = [Entry(r.pupil_id, Change.GIVEN, r.images, r.videos, r.given_by, form.effective_on.data,
                             form.note.data or "") for r in rows]
            records.record_many(db_session, entries, academic_year=year, actor=current_user.email, on=today)
    except ConsentError as exc:
        flash(f"Nothing was recorded: {exc}.", "error")
        with database().session(read_only=True) as db_session:
            answer = class_view.class_consent(db_session, name, year, today, [current_site_id()])
        return _class_page(answer, years, form, 400)
    flash(f"Consent recorded for {len(entries)} pupil{'s' if len(entries) != 1 else ''} in {name} "
          f"({label(year)}).", "success")
    return redirect(url_for("consent.class_page", name=name, year=year))


@bp.route("/pupils/<int:pupil_id>")
@roles(*READERS)
def pupil(pupil_id: int) -> ResponseReturnValue:
    """One pupil: this year's consent in force today, the full history, and the forms to change it."""
    return _pupil_page(pupil_id)


def _visible_pupil(pupil_id: int) -> None:
    """404 for a pupil not there or of another school, before anything else is read or written."""
    with database().session(read_only=True) as db_session:
        get_visible_or_404(db_session, Pupil, pupil_id)


def _pupil_page(pupil_id: int, failed: ConsentForm | None = None, status: int = 200) -> ResponseReturnValue:
    _visible_pupil(pupil_id)
    years = class_view.years_to_choose(records.today())
    try:
        with database().session() as db_session:
            found, in_force, rows = records.view_pupil(db_session, pupil_id, current_user.email)
    except PupilNotFound:
        abort(404)
    forms = {change: _consent_form(years, change) for change in Change}
    if failed is None:  # an amendment starts from what is in force
        forms[Change.AMENDED].images.data, forms[Change.AMENDED].videos.data = in_force.images, in_force.videos
    else:
        forms[Change(failed.change.data)] = failed
    recorded_this_year = any(r.academic_year == years[0] for r in rows)
    return render_template("consent/pupil.html", pupil=found, in_force=in_force, rows=rows, forms=forms,
                           Change=Change, CHANGE_LABELS=CHANGE_LABELS, year_label=label(years[0]), label=label,
                           recorded_this_year=recorded_this_year, day=show_day), status


@bp.route("/pupils/<int:pupil_id>/record", methods=["POST"])
@roles(*READERS)
def record(pupil_id: int) -> ResponseReturnValue:
    """Record consent given, an amendment or a withdrawal (a new row; the history is never edited)."""
    _visible_pupil(pupil_id)
    years = class_view.years_to_choose(records.today())
    change_text = request.form.get("given-change") or request.form.get("amended-change") \
        or request.form.get("withdrawn-change") or ""
    try:
        change = Change(change_text)
    except ValueError:
        abort(400, description="The form did not say whether consent is given, amended or withdrawn.")
    form = ConsentForm(prefix=change.value)
    form.academic_year.choices = year_choices(years)
    if not form.validate_on_submit() or form.chosen_change() is not change:
        errors = "; ".join(f"{form[f].label.text or f}: {m[0]}" for f, m in form.errors.items())
        flash(f"Nothing was recorded. {errors}", "error")
        return _pupil_page(pupil_id, form, 400)
    withdrawn = change is Change.WITHDRAWN
    entry = Entry(pupil_id, change, False if withdrawn else form.images.data, False if withdrawn else form.videos.data,
                  form.given_by.data or "", form.effective_on.data, form.note.data or "")
    try:
        with database().session() as db_session:
            records.record_consent(db_session, entry, academic_year=form.academic_year.data,
                                   actor=current_user.email)
    except PupilNotFound:
        abort(404)
    except ConsentError as exc:
        flash(f"Nothing was recorded: {exc}.", "error")
        return _pupil_page(pupil_id, form, 400)
    flash(f"{CHANGE_LABELS[change]} recorded for {label(form.academic_year.data)}.", "success")
    return redirect(url_for("consent.pupil", pupil_id=pupil_id))
