"""The DSL's screens: the queue of concerns, one concern with its context and triage, a pupil's page.

Only the DSL and the headteacher reach these (everyone else 403); which concerns each of them sees (staff
concerns: the headteacher only; concerns about the headteacher: nobody here) is decided by
`rules.safeguarding.service`, which also writes every view and change to the audit log in the same
transaction. A concern the viewer may not see answers 404, as one that does not exist: its existence is
itself something they may not know; so does a concern of a school the viewer does not see (each call gives
the service the viewer's `site_ids`).
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import Session

from admin_web.access import database, roles
from admin_web.concern_forms import OUTCOMES, NoteForm, PersonForm, TriageForm
from admin_web.params import ChoiceParam, IntParam, Query, TextParam, accepts
from admin_web.sites import get_visible_or_404, visible_site_ids
from rules.safeguarding import service
from rules.safeguarding.categories import Severity
from rules.safeguarding.states import ConcernState, category_label
from rules.store.models import Concern, ConcernNote, User

bp = Blueprint("concerns", __name__, url_prefix="/concerns")

READERS = ("dsl", "headteacher")
PAGE = 50
MAX_PAGES = 20
QUEUE_LIMIT = PAGE * MAX_PAGES  # the newest 1,000 in the chosen states; filters narrow those
STATE_FILTER = {"open": (ConcernState.OPEN,), "closed": tuple(s for s in ConcernState if s != ConcernState.OPEN),
                **{s.value: (s,) for s in ConcernState if s != ConcernState.OPEN}, "all": None}
FILTERS = (ChoiceParam("state", tuple(STATE_FILTER)), ChoiceParam("severity", tuple(s.value for s in Severity)),
           TextParam("category", 64), IntParam("page", 1, MAX_PAGES))


def _viewer() -> tuple[User, set[str]]:
    return current_user.account, set(current_user.roles)


@bp.route("/")
@roles(*READERS)
@accepts(*FILTERS)
def index(query: Query) -> ResponseReturnValue:
    """The queue: open concerns newest and most severe first, narrowed by state, severity and category."""
    state = query["state"] or "open"
    page = query["page"] or 1
    with database().session(read_only=True) as db_session:
        rows = service.visible_concerns(db_session, set(current_user.roles), states=STATE_FILTER[state],
                                        limit=QUEUE_LIMIT, site_ids=visible_site_ids())
    rows = [c for c in rows if (not query["severity"] or c.severity == query["severity"])
            and (not query["category"] or c.category == query["category"])]
    shown = rows[(page - 1) * PAGE:page * PAGE]
    args = query.link_args("page")
    more = len(rows) > page * PAGE
    return render_template("concerns/index.html", rows=shown, args=args, state=state, page=page,
                           next_url=url_for("concerns.index", **args, page=page + 1) if more else None,
                           prev_url=url_for("concerns.index", **args, page=page - 1) if page > 1 else None,
                           capped=len(rows) >= QUEUE_LIMIT, severities=[s.value for s in Severity],
                           states=STATE_FILTER, category_label=category_label)


@bp.route("/<int:concern_id>")
@roles(*READERS)
def show(concern_id: int) -> ResponseReturnValue:
    """One concern: what matched, who, the frozen activity around it, the device's other concerns, notes."""
    viewer, viewer_roles = _viewer()
    with database().session() as db_session:
        concern = _concern(db_session, concern_id, viewer, viewer_roles)
        context = service.context_of(db_session, concern)
        history = [c for c in service.device_history(db_session, concern) if service.can_see(c, viewer_roles)]
        notes = list(db_session.scalars(select(ConcernNote).where(ConcernNote.concern_id == concern.id)
                                        .order_by(ConcernNote.ts, ConcernNote.id)))
    return render_template("concerns/show.html", concern=concern, context=context, history=history, notes=notes,
                           triage_form=TriageForm(), note_form=NoteForm(), outcomes=OUTCOMES,
                           category_label=category_label)


def _concern(db_session: Session, concern_id: int, viewer: User, viewer_roles: set[str]) -> Concern:
    try:
        return service.get_concern(db_session, concern_id, viewer, viewer_roles, site_ids=visible_site_ids())
    except (LookupError, PermissionError):
        abort(404)


def _exists(concern_id: int) -> None:
    """404 before the form is read, for a concern that is not there or of another school: a bad form must not
    answer differently for those (ids must not be probeable)."""
    with database().session(read_only=True) as db_session:
        get_visible_or_404(db_session, Concern, concern_id)


@bp.route("/<int:concern_id>/triage", methods=["POST"])
@roles(*READERS)
def triage(concern_id: int) -> ResponseReturnValue:
    """Close a concern as no concern (with a reason), record made, or escalated (to whom), with notes."""
    _exists(concern_id)
    form = TriageForm()
    if not form.validate_on_submit():
        errors = [f"{field.label.text}: {e}" for field in form for e in field.errors]
        flash("Not saved. " + (" ".join(errors) or "Choose an outcome."), "error")
        return redirect(url_for("concerns.show", concern_id=concern_id))
    viewer, viewer_roles = _viewer()
    try:
        with database().session() as db_session:
            service.triage(db_session, concern_id, viewer, viewer_roles, state=form.state.data or "",
                           reason=form.reason.data or "", escalated_to=form.escalated_to.data or None,
                           note=form.note.data or "", site_ids=visible_site_ids())
    except (LookupError, PermissionError):
        abort(404)
    except ValueError as exc:
        flash(f"Not saved: {exc}.", "error")
        return redirect(url_for("concerns.show", concern_id=concern_id))
    flash(f"Concern #{concern_id}: {OUTCOMES[ConcernState(form.state.data)].split(' (')[0].lower()}.", "success")
    return redirect(url_for("concerns.show", concern_id=concern_id))


@bp.route("/<int:concern_id>/notes", methods=["POST"])
@roles(*READERS)
def note(concern_id: int) -> ResponseReturnValue:
    _exists(concern_id)
    form = NoteForm()
    if not form.validate_on_submit():
        flash("Not saved: write the note (at most 4,000 characters).", "error")
        return redirect(url_for("concerns.show", concern_id=concern_id))
    viewer, viewer_roles = _viewer()
    try:
        with database().session() as db_session:
            service.add_note(db_session, concern_id, viewer, viewer_roles, form.text.data or "",
                             site_ids=visible_site_ids())
    except (LookupError, PermissionError):
        abort(404)
    except ValueError as exc:
        flash(f"Not saved: {exc}.", "error")
    else:
        flash("Note added.", "success")
    return redirect(url_for("concerns.show", concern_id=concern_id))


@bp.route("/<int:concern_id>/person")
@roles(*READERS)
def person_of(concern_id: int) -> ResponseReturnValue:
    """The pupil's page for the person a concern names (by the concern's id: no name in the address)."""
    viewer, viewer_roles = _viewer()
    with database().session() as db_session:
        concern = _concern(db_session, concern_id, viewer, viewer_roles)
        if not concern.person:
            abort(404)
        return _person_page(db_session, concern.person, viewer, viewer_roles, PersonForm())


@bp.route("/person", methods=["GET", "POST"])
@roles(*READERS)
def person() -> ResponseReturnValue:
    """Find a pupil's page by name: a POST, so the name never sits in an address or a server log."""
    form = PersonForm()
    if not form.validate_on_submit():
        return render_template("concerns/person.html", form=form, overview=None,
                               category_label=category_label), 400 if form.is_submitted() else 200
    viewer, viewer_roles = _viewer()
    with database().session() as db_session:
        return _person_page(db_session, form.person.data or "", viewer, viewer_roles, form)


def _person_page(db_session: Session, name: str, viewer: User, viewer_roles: set[str],
                 form: PersonForm) -> ResponseReturnValue:
    try:
        overview = service.person_overview(db_session, name, viewer, viewer_roles, site_ids=visible_site_ids())
    except PermissionError:
        abort(403)
    except ValueError as exc:
        flash(f"{exc}.", "error")
        return render_template("concerns/person.html", form=form, overview=None, category_label=category_label), 400
    return render_template("concerns/person.html", form=form, overview=overview, category_label=category_label)
