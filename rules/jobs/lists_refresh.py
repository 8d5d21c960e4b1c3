"""The list refresh job: re-read every list source from its file or URL; a failure keeps the last good copy."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import select

from rules.lists.fetch import FetchError, fetch
from rules.lists.importer import replace_source_entries
from rules.lists.parse import ListFileError, ParseReport, parse_list
from rules.store.audit import audit
from rules.store.db import Database
from rules.store.models import Category, ListEntry, ListSource

log = logging.getLogger(__name__)
ACTOR = "scheduler"
BUILTIN_LOCATION = "schoolgate"


@dataclass
class RefreshResult:
    refreshed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def refresh_lists(db: Database, fetcher: Callable[[str], bytes] = fetch) -> RefreshResult:
    """Re-read every list source from its file or URL; a failed refresh keeps the last good copy in force."""
    result = RefreshResult()
    with db.session(read_only=True) as session:
        sources = [(s.id, s.name, s.location, s.format) for s in session.scalars(select(ListSource))
                   if s.location and s.location != BUILTIN_LOCATION]
    for source_id, name, location, fmt in sources:
        label = f"{name} ({location})"
        try:
            domains, report, chosen = _read_source(location, fmt, fetcher)
        except (FetchError, ListFileError, OSError) as exc:
            result.failed[label] = str(exc)
            log.warning("list %s not refreshed, the last good copy stays in force: %s", label, exc)
            with db.session() as session:
                audit(session, ACTOR, "list.refresh_failed", f"list source #{source_id}", reason=str(exc),
                      after={"location": location})
            continue
        with db.session() as session:
            source = session.get(ListSource, source_id)
            if source is None:
                continue
            current = set(session.scalars(select(ListEntry.domain).where(ListEntry.source_id == source_id)))
            if current == set(domains):
                result.unchanged.append(label)
                continue
            category = session.get_one(Category, source.category_id)
            count = replace_source_entries(session, category, name, location, chosen, domains,
                                           skipped=report.skipped_total)
            audit(session, ACTOR, "list.refreshed", f"list source #{source_id}",
                  before={"entries": len(current)}, after={"entries": count, "location": location})
            result.refreshed.append(label)
    return result


def _read_source(location: str, fmt: str, fetcher: Callable[[str], bytes]) -> tuple[list[str], ParseReport, str]:
    report = ParseReport()
    if urlsplit(location).scheme in ("http", "https"):
        body = fetcher(location)
        with tempfile.TemporaryDirectory(prefix="schoolgate-list-") as folder:
            path = Path(folder) / "list.txt"
            path.write_bytes(body)
            domains = list(dict.fromkeys(parse_list(path, fmt, report)))  # "auto": each line in its syntax
    else:
        path = Path(location)
        if "://" in location:
            raise FetchError(f"refused {location!r}: only http:// and https:// URLs are fetched")
        domains = list(dict.fromkeys(parse_list(path, fmt, report)))
    if not domains:
        raise FetchError(f"{location} holds no usable entries ({report.skipped_total} lines skipped)")
    return domains, report, fmt
