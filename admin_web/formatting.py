"""Jinja filters: London time for people, safe links, role names."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Flask

from admin_web.access import EVIDENCE_READERS, ROLE_NAMES, has
from rules.localtime import LONDON
from rules.monitoring.states import CURRENT_BAN_STATES, BanState, CircumventionMode
from rules.school_dates import show as school_date
from rules.workflows.form_urls import safe_href


def london(moment: datetime | None, fmt: str = "%d %b %Y %H:%M") -> str:
    if moment is None:
        return "—"
    return moment.astimezone(LONDON).strftime(fmt)


def london_date(moment: datetime | None) -> str:
    return london(moment, "%d %b %Y")


def last_open_day(expires_at: datetime | None) -> str:
    """An exception that ends at midnight (London) is open through the day before: say that day."""
    if expires_at is None:
        return "—"
    local = expires_at.astimezone(LONDON)
    if local.hour == 0 and local.minute == 0:
        return f"the end of {(local - timedelta(days=1)).strftime('%d %b %Y')}"
    return local.strftime("%d %b %Y %H:%M")


def register_filters(app: Flask) -> None:
    app.jinja_env.filters.update(london=london, london_date=london_date, last_open_day=last_open_day,
                                 safe_href=safe_href, school_date=school_date,
                                 role_name=lambda r: ROLE_NAMES.get(r, r))
    # the shared words, so that templates compare with the owner's members, not with copies of the strings
    app.jinja_env.globals.update(has=has, ROLE_NAMES=ROLE_NAMES, EVIDENCE_READERS=EVIDENCE_READERS, BanState=BanState,
                                 CURRENT_BAN_STATES=CURRENT_BAN_STATES, CircumventionMode=CircumventionMode)
