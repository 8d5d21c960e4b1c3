"""Import a list file into a category: the one way lists come in, from the CLI, the web, the refresh job and `init`.

Each import checks the category's name, parses the file (with "auto", each line in its own syntax),
de-duplicates, replaces what that source gave the category last time (so a refreshed list also drops
the domains it no longer holds) and writes one audit entry naming who did it, all in the caller's
transaction: a failed import leaves the list in force as it was and records nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from rules.lists.parse import ParseReport, parse_list
from rules.store.audit import audit
from rules.store.db import Database, bump_policy_version
from rules.store.models import Category, ListEntry, ListSource, utcnow

INSERT_CHUNK = 20_000
CATEGORY_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
# The location of the catalogue shipped with schoolgate: refreshed by `init`, never by the refresh job.
BUILTIN_LOCATION = "schoolgate"


class ListImportError(ValueError):
    """The list cannot be imported (the category's name, a missing category, nothing usable); says why."""


def check_category_name(name: str) -> str:
    """The name in its stored form (trimmed, lower case), or ListImportError saying what a name may be."""
    clean = name.strip().lower()
    if not CATEGORY_NAME.match(clean):
        raise ListImportError("a category name is lower-case letters, digits, '-' or '_' (e.g. social-media)")
    return clean


@dataclass
class ImportResult:
    """What an import did, for the operator."""

    category: str
    source: str
    format: str  # the format asked for, or for "auto" what the lines were: one format's name or "mixed"
    report: ParseReport
    entries: int
    created_category: bool
    changed: bool = True  # False when keep_if_unchanged found the same domains and left the list alone


def import_list_file(session: Session, actor: str, path: Path, category_name: str, *, fmt: str = "auto",
                     source_name: str | None = None, location: str | None = None, create: bool = True,
                     locked: bool | None = None, description: str | None = None, builtin: bool = False,
                     action: str = "list.import", keep_if_unchanged: bool = False, require_entries: bool = False,
                     by_person: bool = True, on_progress: Callable[[int], None] | None = None,
                     site_id: int | None = None, own: bool = True) -> ImportResult:
    """Import `path` into the category `category_name` as the source `source_name` (the file's name).

    `location` is where a refresh reads the source again (the file's full path unless given). A missing
    category is created when `create` (with `locked`, `description`, `builtin`), else refused; `locked=True`
    also locks an existing category, and `locked=False` on a locked one is refused (unlocking takes two
    people). A locked category never loses a site through an import either, which would unlock it by another
    road: a person's import (`by_person`: the CLI, the web) that would drop sites its source listed, or move the
    source to another file, is refused; the refresh job and `init` keep the sites the source no longer lists.
    `site_id` is the school importing (None: the trust, as the refresh job and `init` do): it may fill the trust's
    categories and its own, never another school's own (names are unique across the trust); a category it
    creates is its own when `own`, else the trust's.
    "auto" is stored as the source's format, so that a refresh reads each line in its own syntax
    again even if the file has changed what it mixes; the result names what was found. The file is read
    before the database is touched, so a long parse holds no lock.
    """
    name = check_category_name(category_name)
    chosen = "ut1" if fmt == "auto" and path.is_dir() else fmt
    source = source_name or path.name
    report = ParseReport()
    counter = [0]

    def domains() -> Iterable[str]:
        last = 0
        for domain in parse_list(path, chosen, report, category=name, progress=counter):
            yield domain
            if on_progress is not None and counter[0] - last > 1 << 20:
                on_progress(counter[0] - last)
                last = counter[0]
        if on_progress is not None:
            on_progress(counter[0] - last)

    unique = list(dict.fromkeys(domains()))
    shown = report.format_label if chosen == "auto" else chosen
    if require_entries and not unique:
        raise ListImportError(f"{location or path} holds no usable entries ({report.skipped_total} lines skipped)")
    category = session.scalar(select(Category).where(Category.name == name))
    if category is not None and site_id is not None and category.site_id not in (None, site_id):
        raise ListImportError(f"the category {name} is another school's own: choose another name")
    created = category is None
    if category is None:
        if not create:
            raise ListImportError(f"there is no category named {name}")
        category = Category(name=name, description=description or f"Imported from {path.name}",
                            locked=bool(locked), builtin=builtin, site_id=site_id if own else None)
        session.add(category)
        session.flush()
    elif locked and not category.locked:
        category.locked = True  # locking is immediate; unlocking takes two people (rules.workflows.category_unlock)
    elif locked is False and category.locked:
        raise ListImportError(f"the category {name} is locked; unlocking it takes two people: the ICT technician "
                              f"proposes it on the category's page in the admin web and the headteacher confirms it")
    previous = session.scalar(
        select(ListSource).where(ListSource.category_id == category.id, ListSource.name == source))
    before = None if previous is None else {"entries": previous.entries}
    where = location or str(path.resolve())
    kept: list[str] = []
    if category.locked and not created and previous is not None:
        kept = _kept_in_locked(session, name, source, previous, where, unique, by_person)
    if keep_if_unchanged and previous is not None and not created:
        current = set(session.scalars(select(ListEntry.domain).where(ListEntry.source_id == previous.id)))
        if current == {*unique, *kept}:
            return ImportResult(name, source, shown, report, len(current), False, changed=False)
    count = replace_source_entries(session, category, source, where, chosen, [*unique, *kept],
                                   skipped=report.skipped_total)
    after: dict[str, object] = {"source": source, "location": where, "format": shown, "entries": count,
                                "skipped": report.skipped_total, "lines_by_format": dict(report.formats)}
    if kept:
        after["kept_while_locked"] = len(kept)
    audit(session, actor, action, f"category {name}", before=before, after=after, site_id=category.site_id)
    return ImportResult(name, source, shown, report, count, created)


def _kept_in_locked(session: Session, category: str, source: str, previous: ListSource, where: str,
                    unique: list[str], by_person: bool) -> list[str]:
    """The sites a locked category's source listed that the new copy does not: refused from a person (taking
    them out would open them without the headteacher), else kept. A person may not move the source elsewhere
    either: the refresh job would then read a file of their choosing."""
    listed = set(unique)
    dropped = sorted(d for d in session.scalars(select(ListEntry.domain).where(ListEntry.source_id == previous.id))
                     if d not in listed)
    two_people = (f"the category {category} is locked, and taking sites out of it would open them without the "
                  "headteacher: propose unlocking it on the category's page in the admin web (the headteacher "
                  "confirms), or import the new list under another file name, which adds to the category")
    if by_person and dropped:
        raise ListImportError(f"{source} would drop {len(dropped)} of the sites it lists now (e.g. {dropped[0]}); "
                              f"{two_people}")
    if by_person and previous.location and previous.location != where:
        raise ListImportError(f"{source} was imported from {previous.location}, not {where}; {two_people}")
    return dropped


def import_list(db: Database, path: Path, category_name: str, fmt: str = "auto", *, actor: str,
                on_progress: Callable[[int], None] | None = None, locked: bool | None = None,
                description: str | None = None, site_id: int | None = None, own: bool = True) -> ImportResult:
    """`import_list_file` in a transaction of its own, for the CLI: the import commits or nothing does."""
    with db.session() as session:
        return import_list_file(session, actor, path, category_name, fmt=fmt, on_progress=on_progress,
                                locked=locked, description=description, site_id=site_id, own=own)


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
