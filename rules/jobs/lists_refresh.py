"""The list refresh job: re-read every list source from its file or URL; a failure keeps the last good copy."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import select

from rules.lists.fetch import FetchError, fetch
from rules.lists.importer import BUILTIN_LOCATION, ListImportError, import_list_file
from rules.lists.parse import ListFileError
from rules.store.audit import audit
from rules.store.db import Database
from rules.store.models import Category, ListSource

log = logging.getLogger(__name__)
ACTOR = "scheduler"


@dataclass
class RefreshResult:
    refreshed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def refresh_lists(db: Database, fetcher: Callable[[str], bytes] = fetch) -> RefreshResult:
    """Re-read every list source from its file or URL; a failed refresh keeps the last good copy in force."""
    result = RefreshResult()
    with db.session(read_only=True) as session:
        rows = session.execute(select(ListSource, Category.name).join(Category, Category.id == ListSource.category_id))
        sources = [(s.id, s.name, s.location, s.format, category) for s, category in rows
                   if s.location and s.location != BUILTIN_LOCATION]
    for source_id, name, location, fmt, category in sources:
        label = f"{name} ({location})"
        try:
            with _local_copy(location, fetcher) as path, db.session() as session:
                outcome = import_list_file(session, ACTOR, path, category, fmt=fmt, source_name=name,
                                           location=location, create=False, action="list.refreshed",
                                           keep_if_unchanged=True, require_entries=True,
                                           by_person=False)
        except (FetchError, ListFileError, ListImportError, OSError, UnicodeDecodeError) as exc:
            result.failed[label] = str(exc)
            log.warning("list %s not refreshed, the last good copy stays in force: %s", label, exc)
            with db.session() as session:
                audit(session, ACTOR, "list.refresh_failed", f"list source #{source_id}", reason=str(exc),
                      after={"location": location})
            continue
        (result.refreshed if outcome.changed else result.unchanged).append(label)
    return result


@contextmanager
def _local_copy(location: str, fetcher: Callable[[str], bytes]) -> Iterator[Path]:
    """The source as a file: a URL is fetched into a temporary folder, removed once imported."""
    if urlsplit(location).scheme in ("http", "https"):
        body = fetcher(location)
        with tempfile.TemporaryDirectory(prefix="schoolgate-list-") as folder:
            path = Path(folder) / "list.txt"
            path.write_bytes(body)
            yield path
        return
    if "://" in location:
        raise FetchError(f"refused {location!r}: only http:// and https:// URLs are fetched")
    yield Path(location)
