"""Which accounts belong to a school, for mail that must reach only that school's people.

An account belongs to the schools of its `user_sites` rows. One with none (made before schools existed by a path
that did not record them, or by a test) counts as the default school's, as every row written before schools
existed does; so a single school's mail reaches exactly whom it reached before.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, exists, or_, select

from rules.site_names import DEFAULT_SITE_ID
from rules.store.models import User, UserSite


def members_of(site_id: int) -> ColumnElement[bool]:
    """A WHERE clause on `User`: the account belongs to the school `site_id`."""
    member = User.id.in_(select(UserSite.user_id).where(UserSite.site_id == site_id))
    if site_id != DEFAULT_SITE_ID:
        return member
    return or_(member, ~exists().where(UserSite.user_id == User.id))
