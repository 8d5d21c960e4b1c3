"""Which schools a subject access or an erasure covers: the rows of the schools named, and nothing else.

A school's headteacher answers for their own school: the web passes their schools (`site_ids`), the CLI its
gateway's school; None covers every school (a trust admin). Rows belong to a school by their own `site_id`, or,
for a table without one (a concern's notes, a pupil's consent records), by the row they belong to. A table
that belongs to no school (the accounts, the trust's phrase list) is left alone by a school's erasure, except
for the person's own account, which is theirs only when every school it belongs to is covered
(`covered_users`): an account shared with another school is the trust's to erase.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import ColumnElement, Table, case, func, select, true
from sqlalchemy.orm import Session

from rules.store.models import UserSite

type SiteIds = Collection[int] | None


def in_schools(column: Any, site_ids: SiteIds) -> ColumnElement[bool]:
    """A WHERE clause: `column` (a site_id) is one of the schools; every row when `site_ids` is None."""
    return true() if site_ids is None else column.in_(sorted(site_ids))


def single_site(site_ids: SiteIds) -> int | None:
    """The school an audit entry about this search belongs to: the one school, else None (the trust's)."""
    return next(iter(site_ids)) if site_ids is not None and len(site_ids) == 1 else None


def table_in_schools(table: Table, site_ids: SiteIds) -> ColumnElement[bool] | None:
    """The rows of `table` in the schools: by its site_id, else by the row its first foreign key to a table
    with a site_id points at. None: the table belongs to no school (a school-scoped erasure leaves it alone)."""
    if site_ids is None:
        return true()
    if "site_id" in table.columns:
        return table.columns["site_id"].in_(sorted(site_ids))
    for fk in sorted(table.foreign_keys, key=lambda f: f.parent.name):
        parent = fk.column.table
        if "site_id" in parent.columns and fk.column.name == "id":
            return fk.parent.in_(select(parent.columns["id"]).where(parent.columns["site_id"].in_(sorted(site_ids))))
    return None


def covered_users(session: Session, site_ids: SiteIds, candidates: Collection[int]) -> set[int]:
    """Of these accounts, those wholly within the schools: each belongs to at least one school, and to no
    school outside them (a trust admin, who belongs to none, only when every school is covered)."""
    wanted = set(candidates)
    if site_ids is None or not wanted:
        return wanted
    inside = func.sum(case((UserSite.site_id.in_(sorted(site_ids)), 1), else_=0))
    rows = session.execute(select(UserSite.user_id, func.count(), inside).where(UserSite.user_id.in_(wanted))
                           .group_by(UserSite.user_id)).all()
    return {user_id for user_id, total, within in rows if total and total == int(within or 0)}
