"""Personal data, for the headteacher only: download everything held about a person, or erase it.

Both are POST forms with the CSRF token (a download of a child's data must never follow a link another site
planted), both are audited by the service in `rules.privacy`, and erasing asks for the name to be typed twice.

Both cover only the viewer's schools (`visible_site_ids()`): a school's headteacher finds, downloads and erases
their own school's records of a person, never another school's. The files under the state folder (weekly
reports, earlier exports) are this web's own gateway's, so they are included only for a viewer who sees its school.
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

from flask import Blueprint, current_app, flash, redirect, render_template, send_file, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, ValidationError
from wtforms.validators import DataRequired, Length

from admin_web.access import database, roles
from admin_web.forms import opts
from admin_web.sites import can_see_site, visible_site_ids
from rules.localtime import LONDON
from rules.privacy.counts import describe
from rules.privacy.erasure import erase
from rules.privacy.export import FORMATS, NothingHeld, record, write
from rules.privacy.subject import MAX_PERSON, SubjectError
from rules.store.models import utcnow

bp = Blueprint("privacy", __name__, url_prefix="/privacy")
MIMETYPES = {"json": "application/json", "html": "text/html"}
PERSON_HINT = ("Their name as it is recorded (a device's person, a ban, a report, a pupil of the consent record), "
               "or a member of staff's email.")


class ExportForm(FlaskForm):
    person = StringField("Name or email", validators=[DataRequired(), Length(max=MAX_PERSON)])
    format = SelectField("Format", choices=opts([("json", "JSON"), ("html", "HTML")]))


def _same_person(form: FlaskForm, field: StringField) -> None:
    if (field.data or "").strip().casefold() != (form.person.data or "").strip().casefold():
        raise ValidationError("Type the same name again to confirm.")


class EraseForm(FlaskForm):
    person = StringField("Name or email", validators=[DataRequired(), Length(max=MAX_PERSON)])
    confirm = StringField("Type the name or email again", validators=[DataRequired(), Length(max=MAX_PERSON),
                                                                      _same_person])


def _state_dir() -> Path | None:
    """The state folder, when its files are of a school the viewer sees (this web's own gateway's school)."""
    if not can_see_site(current_app.config["SCHOOLGATE_SITE_ID"]):
        return None
    return Path(current_app.config["SCHOOLGATE_STATE_DIR"])


@bp.route("/")
@roles("headteacher")
def index() -> ResponseReturnValue:
    return render_template("privacy/index.html", export=ExportForm(prefix="export"), erase=EraseForm(prefix="erase"),
                           hint=PERSON_HINT)


@bp.route("/export", methods=["POST"])
@roles("headteacher")
def export() -> ResponseReturnValue:
    form = ExportForm(prefix="export")
    if not form.validate_on_submit() or form.format.data not in FORMATS:
        return render_template("privacy/index.html", export=form, erase=EraseForm(prefix="erase"),
                               hint=PERSON_HINT), 400
    person, fmt = form.person.data or "", form.format.data
    name = f"subject-access-{utcnow().astimezone(LONDON):%Y%m%d-%H%M%S}.{fmt}"
    # Written to an unnamed temporary file (an export can be large) that send_file closes once sent: the web
    # keeps no copy.
    text = io.TextIOWrapper(tempfile.TemporaryFile(), encoding="utf-8")
    try:
        counts = write(database(), person, fmt, text, _state_dir(), visible_site_ids())
        record(database(), current_user.email, person, counts, [name], visible_site_ids())
    except SubjectError as exc:
        text.close()
        flash(f"Nothing exported: {exc}.", "error")
        return render_template("privacy/index.html", export=form, erase=EraseForm(prefix="erase"),
                               hint=PERSON_HINT), 404 if isinstance(exc, NothingHeld) else 400
    except BaseException:
        text.close()
        raise
    text.flush()
    out = text.detach()
    out.seek(0)
    return send_file(out, mimetype=MIMETYPES[fmt], as_attachment=True, download_name=name)


@bp.route("/erase", methods=["POST"])
@roles("headteacher")
def erase_person() -> ResponseReturnValue:
    form = EraseForm(prefix="erase")
    if not form.validate_on_submit():
        return render_template("privacy/index.html", export=ExportForm(prefix="export"), erase=form,
                               hint=PERSON_HINT), 400
    try:
        done = erase(database(), form.person.data or "", current_user.email, _state_dir(),
                     actor_user_id=current_user.account.id, site_ids=visible_site_ids())
    except SubjectError as exc:
        flash(f"Nothing erased: {exc}.", "error")
        return render_template("privacy/index.html", export=ExportForm(prefix="export"), erase=form,
                               hint=PERSON_HINT), 404 if isinstance(exc, NothingHeld) else 400
    flash(f"Erased. Reference {done.reference}: keep it with the request; the audit log records the erasure "
          f"under it, without the name. Removed or anonymised: {describe(done.counts)}.", "success")
    for name in done.shared_names:
        flash(f"“{name}” is also part of someone else's name: it was erased from this person's own records but "
              "not replaced everywhere.", "info")
    for problem in done.problems:
        flash(f"The database is erased, but a file was not: {problem}.", "error")
    return redirect(url_for("privacy.index"))  # a reload must not send the erasure again
