"""The web's one place for schools (sites): which the viewer sees, and where what they create goes.

A trust runs one admin web over one database for many schools. Every account belongs to one or more schools
(`user_sites`) and sees only their rows; a `trust_admin` sees every school. Every view applies this module:

- lists, counts, exports and logs filter with `visible(query, Model.site_id)`;
- an id in a path or a form is fetched with `get_visible_or_404`: another school's row is 404, exactly as a row
  that does not exist, so ids cannot be probed across schools;
- rows made on the web go to `current_site_id()`: the school chosen in the header (the session), by default the
  web's own gateway's school when the viewer sees it, else their first school.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, redirect, request, session, url_for
from flask_login import current_user
from sqlalchemy import ColumnElement, Select, func, select, true
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from admin_web.access import ANY, database, roles
from rules.store.models import Site

bp = Blueprint("sites", __name__)
SESSION_KEY = "site_id"


def visible_site_ids() -> frozenset[int] | None:
    """The schools the signed-in account sees; None: every school (a trust_admin)."""
    if not current_user.is_authenticated:
        return frozenset()
    ids: frozenset[int] | None = current_user.site_ids
    return ids


def can_see_site(site_id: int | None) -> bool:
    """Whether the viewer sees rows of this school (None: a trust-wide row, which every account sees)."""
    ids = visible_site_ids()
    return site_id is None or ids is None or site_id in ids


def site_filter(column: Any, *, trust_wide: bool = False) -> ColumnElement[bool]:
    """A WHERE clause for `column` (a `site_id` column): the viewer's schools; with `trust_wide`, the trust's
    own rows (site_id NULL) too."""
    ids = visible_site_ids()
    if ids is None:
        return true()
    clause = column.in_(sorted(ids))
    return (clause | column.is_(None)) if trust_wide else clause


def visible[Q: Select](query: Q, column: Any, *, trust_wide: bool = False) -> Q:
    """`query` limited to what the viewer sees of `column`'s table (see `site_filter`)."""
    if visible_site_ids() is None:
        return query
    return query.where(site_filter(column, trust_wide=trust_wide))


def get_visible_or_404[T](db_session: Session, model: type[T], ident: int) -> T:
    """The row `ident` of `model` when it exists and belongs to a school the viewer sees (or to the whole trust,
    for tables where the school may be None); else 404, the same answer as for a row that does not exist."""
    row = db_session.get(model, ident)
    if row is None or not can_see_site(getattr(row, "site_id")):  # noqa: B009 (every model passed has one)
        abort(404)
    return row


def site_names() -> dict[int, str]:
    """The names of the schools the viewer sees, by id, in name order."""
    with database().session(read_only=True) as db_session:
        query = visible(select(Site.id, Site.name).order_by(Site.name), Site.id)
        return {row.id: row.name for row in db_session.execute(query)}


def current_site_id() -> int:
    """The school the viewer is working in: where rows made on the web go."""
    chosen = session.get(SESSION_KEY)
    if isinstance(chosen, int) and _exists_and_visible(chosen):
        return chosen
    own: int = current_app.config["SCHOOLGATE_SITE_ID"]
    if can_see_site(own):
        return own
    ids = visible_site_ids()
    if not ids:  # an account in no school sees nothing and may make nothing
        abort(403)
    return min(ids)


def _exists_and_visible(site_id: int) -> bool:
    if not can_see_site(site_id):
        return False
    with database().session(read_only=True) as db_session:
        return db_session.get(Site, site_id) is not None


def acts_for_trust() -> bool:
    """Whether the viewer may change what is the whole trust's (trust-wide categories, their unlocks): a trust
    admin; or anyone with the role when the trust is one school, so a single school works as it always has."""
    if current_user.is_authenticated and "trust_admin" in current_user.roles:
        return True
    with database().session(read_only=True) as db_session:
        return (db_session.scalar(select(func.count()).select_from(Site)) or 0) <= 1


def viewer_audit_site() -> int | None:
    """The school an audit entry about a look across what the viewer sees concerns (the whole access log, the
    audit page): their only school, else the trust (None, which trust admins read)."""
    ids = visible_site_ids()
    return next(iter(ids)) if ids is not None and len(ids) == 1 else None


def shows_several_schools() -> bool:
    """Whether pages should say which school each row belongs to (the viewer sees more than one)."""
    ids = visible_site_ids()
    return ids is None or len(ids) > 1


@bp.post("/school")
@roles(*ANY)
def choose() -> Response:
    """The header's school switcher: where the viewer's new rows go from now on."""
    raw = request.form.get("site_id", "")
    if not raw.isdigit() or not _exists_and_visible(int(raw)):
        abort(404)
    session[SESSION_KEY] = int(raw)
    target = request.form.get("next", "")
    if not target.startswith("/") or target.startswith("//"):
        target = url_for("home.index")
    return redirect(target)


def template_globals() -> dict[str, Any]:
    """What base.html needs for the switcher: the schools, the current one, whether to show them."""
    if not current_user.is_authenticated:
        return {"schools": {}, "current_school": None, "several_schools": False}
    names = site_names()
    return {"schools": names, "current_school": current_site_id() if names else None,
            "several_schools": len(names) > 1}
