"""Subject access: everything held about one person, written as JSON (for machines) and HTML (for people).

Used by `schoolgate data export` and by the headteacher's page in the admin web. Every export is audited
("data.export", the person as the target, what was written and how much), after the files are complete: an
export that failed half way leaves no file behind, and none without its audit entry. Every value in the HTML
is escaped: names, URLs and host names come from pupils and the internet and must stay text.
"""

from __future__ import annotations

import html
import json
import os
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from rules.localtime import LONDON
from rules.privacy.holdings import SECTIONS, access_events, count_events, gather
from rules.privacy.scope import SiteIds, single_site
from rules.privacy.subject import Subject, SubjectError, find_subject
from rules.store.audit import audit
from rules.store.db import Database
from rules.store.models import utcnow

FORMATS = ("json", "html")
TITLES = {"accounts": "Staff account", "devices": "Devices", "access_events": "Access events of their devices",
          "access_events_naming_them": "Other devices' access events that name them (a search, an address)",
          "bans": "Bans, with their evidence and supervised sessions",
          "supervision_given": "Supervised access they gave or opened", "access_requests": "Access requests",
          "content_reports": "Inappropriate content reports",
          "concerns": "Safeguarding concerns about them, with their context and notes",
          "pupils": "Pupil record and consent history (images and videos on the school's social media)",
          "consent_given": "Consent they gave for a pupil (as the person with parental responsibility)",
          "posts_written": "Posts they submitted for the school's social media accounts",
          "site_forms": "Social media site creation approval forms they filed or signed",
          "school_account_roles": "Their roles on the school's social media accounts (administrator, poster)",
          "abuse_log": "The headteacher's log of inappropriate comments or abuse: entries naming them as who "
                       "posted it, with screenshots",
          "report_files": "Weekly report files naming them",
          "audit_entries": "Audit log entries about them"}


class NothingHeld(SubjectError):
    """No row matches the person: nothing to export or erase."""

    def __init__(self, person: str) -> None:
        super().__init__(f"nothing is held about {person!r}: no device, ban, content report, pupil, abuse log "
                         "entry or staff account has that name or email (the whole name is matched, in any case)")


@dataclass(frozen=True)
class Held:
    """One subject's holdings, read in one transaction; the access events are read as they are written."""

    subject: Subject
    sections: dict[str, list[dict[str, Any]]]
    events: Iterator[dict[str, Any]]
    counts: dict[str, int]
    generated_at: datetime


@dataclass(frozen=True)
class Exported:
    paths: tuple[Path, ...]
    counts: dict[str, int]


def export_person(db: Database, person: str, folder: Path, actor: str, state_dir: Path | None,
                  site_ids: SiteIds = None) -> Exported:
    """Write the JSON and the HTML file of what these schools (None: every school) hold into `folder` (created
    0700); the files are 0600."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    stem = f"subject-access-{utcnow().astimezone(LONDON):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
    paths = (folder / f"{stem}.json", folder / f"{stem}.html")
    try:
        for path, fmt in zip(paths, FORMATS, strict=True):
            with _private(path) as out:
                counts = write(db, person, fmt, out, state_dir, site_ids)
        record(db, actor, person, counts, [p.name for p in paths], site_ids)
    except BaseException:
        for path in paths:
            path.unlink(missing_ok=True)
        raise
    return Exported(paths, counts)


def write(db: Database, person: str, fmt: str, out: TextIO, state_dir: Path | None,
          site_ids: SiteIds = None) -> dict[str, int]:
    """Write one format of what these schools (None: every school) hold to `out` (not audited: callers `record`
    once the file is complete); the counts."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}")
    with db.session(read_only=True) as session:
        subject = find_subject(session, person, site_ids)
        if not subject.found:
            raise NothingHeld(subject.person)
        sections = gather(session, subject, state_dir)
        counts = {name: len(sections.get(name, ())) for name in SECTIONS}
        counts["access_events"] = count_events(session, subject)
        held = Held(subject, sections, access_events(session, subject), counts, utcnow())
        (write_json if fmt == "json" else write_html)(held, out)
    return counts


def record(db: Database, actor: str, person: str, counts: dict[str, int], files: list[str],
           site_ids: SiteIds = None) -> None:
    with db.session() as session:
        audit(session, actor, "data.export", person.strip()[:255], after={"files": files, "counts": counts},
              site_id=single_site(site_ids))


def _private(path: Path) -> TextIO:
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w", encoding="utf-8")


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return str(value)


def _dumps(value: Any) -> str:
    return json.dumps(value, default=_json_value, ensure_ascii=False)


def write_json(held: Held, out: TextIO) -> None:
    """One JSON object; the access events are streamed into it one by one."""
    about = {"person": held.subject.person, "generated_at": held.generated_at,
             "matched_by": held.subject.matched_by, "counts": held.counts}
    out.write('{"subject_access": ' + _dumps(about))
    for name in SECTIONS:
        out.write(f",\n{_dumps(name)}: ")
        if name == "access_events":
            _json_list(held.events, out)
        else:
            out.write(_dumps(held.sections.get(name, [])))
    out.write("\n}\n")


def _json_list(items: Iterable[Any], out: TextIO) -> None:
    out.write("[")
    for i, item in enumerate(items):
        out.write(("," if i else "") + "\n" + _dumps(item))
    out.write("]")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(LONDON).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dict | list):
        return json.dumps(value, default=_json_value, ensure_ascii=False, indent=1)
    return str(value)


def _cell(value: Any) -> str:
    return f"<td>{html.escape(_text(value))}</td>"


STYLE = ("body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:2em}"
         "td,th{border:1px solid #999;padding:3px 6px;vertical-align:top;text-align:left;white-space:pre-wrap}")


def write_html(held: Held, out: TextIO) -> None:
    """A page a person can read and print: a table per section, times in London time, every value escaped."""
    person = html.escape(held.subject.person)
    out.write(f"<!doctype html><html lang='en-GB'><meta charset='utf-8'><title>Subject access: {person}</title>"
              f"<style>{STYLE}</style><body><h1>Everything schoolgate holds about {person}</h1>"
              f"<p>Made {html.escape(_text(held.generated_at))} (London time). Found by: "
              f"{html.escape(', '.join(held.subject.matched_by))}.</p><ul>")
    for name in SECTIONS:
        out.write(f"<li>{html.escape(TITLES[name])}: {held.counts[name]}</li>")
    out.write("</ul>")
    for name in SECTIONS:
        out.write(f"<h2 id='{name}'>{html.escape(TITLES[name])}</h2>")
        rows: Iterable[dict[str, Any]] = held.events if name == "access_events" else held.sections.get(name, [])
        _html_table(rows, out)
    out.write("</body></html>\n")


def _html_table(rows: Iterable[dict[str, Any]], out: TextIO) -> None:
    columns: list[str] | None = None
    for item in rows:
        if columns is None:
            columns = list(item)
            out.write("<table><tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in columns) + "</tr>")
        out.write("<tr>" + "".join(_cell(item.get(c)) for c in columns) + "</tr>")
    out.write("</table>" if columns is not None else "<p>None.</p>")
