"""The school's own safeguarding phrases, for the DSL and the headteacher: which phrases are noisy (how often
each was closed as "no concern"), the school's list (add a line, remove one, import a whole file).

Every change goes through `rules.safeguarding.service`, which parses the row with the phrase-file parser
(nothing the matcher cannot compile is stored), writes the audit entry, and replaces an imported list whole or
not at all. The scheduler's watcher notices the change and matches with the new list.

The list is the trust's: one list, matched in every school. So it is changed only by someone who sees every
school it changes (`may_edit`): a trust admin, or a DSL or headteacher whose schools are all the trust's (in a
trust of one school, that school's DSL, as before). A school's DSL in a trust of several schools reads the list
and proposes changes to the trust; a change of theirs would alter what is watched in schools whose concerns they
never see. The false-positive counts count only the viewer's schools' concerns.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select
from werkzeug.utils import secure_filename

from admin_web.access import database, roles
from admin_web.concern_forms import ConfirmForm, PhraseForm, PhraseImportForm
from admin_web.sites import visible_site_ids
from rules.safeguarding import service
from rules.safeguarding.categories import Category
from rules.safeguarding.phrasefile import MAX_BYTES
from rules.store.models import Site

bp = Blueprint("phrases", __name__, url_prefix="/safeguarding/phrases")
MANAGERS = ("dsl", "headteacher")


def may_edit() -> bool:
    """Whether the viewer may change the trust's list: they see every school (see the module's docstring)."""
    ids = visible_site_ids()
    if ids is None:
        return True
    with database().session(read_only=True) as db_session:
        every = set(db_session.scalars(select(Site.id)))
    return every <= ids


def _editor() -> None:
    if not may_edit():
        abort(403)


def _page(form: PhraseForm | None = None, upload: PhraseImportForm | None = None,
          errors: list[str] | None = None, status: int = 200) -> ResponseReturnValue:
    with database().session(read_only=True) as db_session:
        counts = service.false_positive_counts(db_session, site_ids=visible_site_ids())
        rows = service.school_phrases(db_session)
    return render_template("concerns/phrases.html", counts=counts, rows=rows, form=form or PhraseForm(),
                           upload=upload or PhraseImportForm(), remove=ConfirmForm(), errors=errors or [],
                           labels={c.value: c.label for c in Category}, may_edit=may_edit()), status


@bp.route("/")
@roles(*MANAGERS)
def index() -> ResponseReturnValue:
    return _page()


@bp.route("/add", methods=["POST"])
@roles(*MANAGERS)
def add() -> ResponseReturnValue:
    _editor()
    form = PhraseForm()
    if not form.validate_on_submit():
        return _page(form=form, status=400)
    try:
        with database().session() as db_session:
            service.add_school_phrase(db_session, form.line(), current_user.email)
    except service.PhraseFileError as exc:
        return _page(form=form, errors=[e.why for e in exc.errors] or [str(exc)], status=400)
    except ValueError as exc:
        return _page(form=form, errors=[str(exc)], status=400)
    flash("Phrase added: monitoring uses it within a minute.", "success")
    return redirect(url_for("phrases.index"))


@bp.route("/<int:phrase_id>/remove", methods=["POST"])
@roles(*MANAGERS)
def remove(phrase_id: int) -> ResponseReturnValue:
    _editor()
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        with database().session() as db_session:
            service.remove_school_phrase(db_session, phrase_id, current_user.email)
    except LookupError:
        abort(404)
    flash("Row removed from the school's list.", "success")
    return redirect(url_for("phrases.index"))


@bp.route("/import", methods=["POST"])
@roles(*MANAGERS)
def import_file() -> ResponseReturnValue:
    """Replace the school's list with a file's rows: all of them, or none when any line is bad."""
    _editor()
    upload = PhraseImportForm()
    if not upload.validate_on_submit():
        return _page(upload=upload, status=400)
    name = secure_filename(upload.file.data.filename or "") or "phrases.csv"
    data = upload.file.data.read(MAX_BYTES + 1)
    try:
        if len(data) > MAX_BYTES:
            raise ValueError(f"the file is larger than {MAX_BYTES:,} bytes")
        text = data.decode("utf-8-sig")
        with database().session() as db_session:
            count = service.import_school_phrases(db_session, text, current_user.email, f"upload:{name}")
    except service.PhraseFileError as exc:
        return _page(upload=upload, errors=[str(e) for e in exc.errors[:50]] or [str(exc)],
                     status=400)
    except UnicodeDecodeError:
        return _page(upload=upload, errors=["the file is not UTF-8 text (save it as \u201cCSV UTF-8\u201d)"],
                     status=400)
    except ValueError as exc:
        return _page(upload=upload, errors=[str(exc)], status=400)
    flash(f"Imported {count} row{'s' if count != 1 else ''} from {name}: they replace the school's list.", "success")
    return redirect(url_for("phrases.index"))
