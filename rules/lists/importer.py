"""Import a list file into a category: parse, de-duplicate, replace that source's entries in one go.

Re-importing the same file replaces what it brought last time (so a refreshed list also drops the
domains it no longer holds), and the whole replacement is one transaction: a failed import leaves the
list in force as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from rules.lists.parse import ParseReport, parse_list
from rules.store.db import Database, bump_policy_version
from rules.store.models import Category, ListEntry, ListSource, utcnow

INSERT_CHUNK = 20_000


@dataclass
class ImportResult:
    """What an import did, for the operator."""

    category: str
    source: str
    format: str  # the format asked for, or for "auto" what the lines were: one format's name or "mixed"
    report: ParseReport
    entries: int
    created_category: bool


def import_list(db: Database, path: Path, category_name: str, fmt: str = "auto",
                on_progress: Callable[[int], None] | None = None, locked: bool | None = None,
                description: str | None = None) -> ImportResult:
    """Import `path` into the category `category_name` (created when missing).

    "auto" is stored as the source's format, so that a refresh reads each line in its own syntax again
    even if the file has changed what it mixes; the result names what was found.
    """
    chosen = "ut1" if fmt == "auto" and path.is_dir() else fmt
    report = ParseReport()
    counter = [0]

    def domains() -> Iterable[str]:
        last = 0
        for name in parse_list(path, chosen, report, category=category_name, progress=counter):
            yield name
            if on_progress is not None and counter[0] - last > 1 << 20:
                on_progress(counter[0] - last)
                last = counter[0]
        if on_progress is not None:
            on_progress(counter[0] - last)

    unique = list(dict.fromkeys(domains()))
    with db.session() as session:
        category = session.scalar(select(Category).where(Category.name == category_name))
        created = category is None
        if category is None:
            category = Category(name=category_name, description=description or f"Imported from {path.name}",
                                locked=bool(locked))
            session.add(category)
            session.flush()
        elif locked is not None and category.locked != locked:
            category.locked = locked
        replace_source_entries(session, category, path.name, str(path.resolve()), chosen, unique,
                               skipped=report.skipped_total)
    shown = report.format_label if chosen == "auto" else chosen
    return ImportResult(category_name, path.name, shown, report, len(unique), created)


def replace_source_entries(session: Session, category: Category, source_name: str, location: str, fmt: str,
                           domains: Iterable[str], skipped: int) -> int:
    """Replace the entries one source gave a category, in the caller's transaction; bump versions."""
    source = session.scalar(
        select(ListSource).where(ListSource.category_id == category.id, ListSource.name == source_name)
    )
    if source is None:
        source = ListSource(category_id=category.id, name=source_name)
        session.add(source)
        session.flush()
    else:
        session.execute(delete(ListEntry).where(ListEntry.source_id == source.id))
    connection = session.connection()
    # Core insert: one executemany, not one ORM object a row.
    insert_rows = insert(ListEntry)
    count = 0
    chunk: list[dict[str, object]] = []
    for domain in dict.fromkeys(domains):
        chunk.append({"category_id": category.id, "source_id": source.id, "domain": domain})
        if len(chunk) >= INSERT_CHUNK:
            connection.execute(insert_rows, chunk)
            count += len(chunk)
            chunk = []
    if chunk:
        connection.execute(insert_rows, chunk)
        count += len(chunk)
    source.location = location
    source.format = fmt
    source.imported_at = utcnow()
    source.entries = count
    source.skipped = skipped
    session.execute(
        update(Category).where(Category.id == category.id).values(content_version=Category.content_version + 1)
    )
    bump_policy_version(session)
    return count
