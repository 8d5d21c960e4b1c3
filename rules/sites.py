"""Schools (sites) of a multi-academy trust that share one database.

Every gateway names its school in `[site] name`; rows that belong to a school (devices, groups, bans, events,
requests, reports, concerns, school accounts, ...) carry its `site_id`. A single school never notices: the
migration makes site 1, "default", and the configuration's default is that name.

The name is a short slug because it is typed into every gateway's configuration and shown in the staff
screens: one spelling, no quoting, no look-alike letters.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from rules.site_names import DEFAULT_SITE, DEFAULT_SITE_ID, SITE_NAME_PATTERN
from rules.store.models import Site

__all__ = ["DEFAULT_SITE", "DEFAULT_SITE_ID", "SITE_NAME_PATTERN", "SiteError", "check_site_name", "ensure_site",
           "site_id_by_name", "site_names"]


class SiteError(ValueError):
    """A school's name is not one schoolgate accepts; the message says why."""


def check_site_name(name: str) -> str:
    """The name, if it is a lower-case slug of at most 64 characters; else SiteError."""
    if not SITE_NAME_PATTERN.fullmatch(name):
        raise SiteError(f"a school's name is lower-case letters, digits and hyphens (such as st-marys), not {name!r}")
    return name


def site_id_by_name(session: Session, name: str) -> int | None:
    """The id of the school called `name`, or None."""
    return session.scalar(select(Site.id).where(Site.name == name))


def ensure_site(session: Session, name: str) -> int:
    """The id of the school called `name`, made (and committed) if it is new.

    Two gateways of a new school starting at once may both try to make it: the loser of the race reads the
    winner's row instead of failing."""
    check_site_name(name)
    found = site_id_by_name(session, name)
    if found is not None:
        return found
    try:
        with session.begin_nested():
            site = Site(name=name)
            session.add(site)
            session.flush()
            new_id = site.id
        session.commit()
        return new_id
    except IntegrityError:
        session.rollback()
        found = site_id_by_name(session, name)
        if found is None:
            raise
        return found


def site_names(session: Session) -> dict[int, str]:
    """Every school's name by id, in name order."""
    return {row.id: row.name for row in session.execute(select(Site.id, Site.name).order_by(Site.name))}
