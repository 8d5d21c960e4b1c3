"""Jinja filters: London time for people, safe links, role names."""

from __future__ import annotations

from datetime import datetime

from flask import Flask

from admin_web.access import ROLE_NAMES, has
from rules.snapshot import LONDON
from rules.weburl import safe_href


def london(moment: datetime | None, fmt: str = "%d %b %Y %H:%M") -> str:
    if moment is None:
        return "—"
    return moment.astimezone(LONDON).strftime(fmt)


def london_date(moment: datetime | None) -> str:
    return london(moment, "%d %b %Y")


def register_filters(app: Flask) -> None:
    app.jinja_env.filters.update(london=london, london_date=london_date, safe_href=safe_href,
                                 role_name=lambda r: ROLE_NAMES.get(r, r))
    app.jinja_env.globals.update(has=has, ROLE_NAMES=ROLE_NAMES)
