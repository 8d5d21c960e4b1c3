"""The last step of an erasure: every text column of every table, rid of the strings that identify the person.

The tables are walked from the models' metadata, so a table or column added later is covered without anyone
remembering to add it here. Each table is searched with one query (a row that holds any term in any text
column), then the rows found are rewritten in Python, where the exact matching rules of `rules.privacy.terms`
apply. A replacement never makes a value longer than its column allows (PostgreSQL would refuse it).

Reading every text value of a log of millions of events takes seconds per million rows, and on SQLite the
erasure's transaction holds the one write lock meanwhile. So the append-only tables (rows are added, never
edited) are searched first in a read-only transaction (`find_rows`); inside the erasure only the rows found
then, and the rows added since, are read again.

An erasure for some schools (`site_ids`) rewrites only their rows (`rules.privacy.scope.table_in_schools`): a
table that belongs to no school is left as it is then.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Column, ColumnElement, Integer, String, Table, func, or_, select, update
from sqlalchemy.orm import Session

from rules.privacy.scope import SiteIds, table_in_schools
from rules.privacy.terms import Kind, Term, found_in_any, scrub
from rules.store.models import Base

APPEND_ONLY = ("access_events", "audit_log")  # rows are inserted and deleted, never edited by a person
MAX_NARROWED = 10_000  # more rows found than this: search the whole table again (a query has a bounded size)


@dataclass(frozen=True)
class Found:
    """The rows of an append-only table that held a term when it was searched, and the highest id then."""

    ids: frozenset[int]
    last_id: int


def text_columns(table: Table) -> list[Column[str]]:
    """The columns that hold text (String and Text), but not a key."""
    return [column for column in table.columns if isinstance(column.type, String) and not column.primary_key]


def _tables() -> list[Table]:
    return [table for table in Base.metadata.sorted_tables if text_columns(table)]


def _key(table: Table) -> Column[int] | None:
    """The table's single whole-number key, or None."""
    keys = list(table.primary_key.columns)
    if len(keys) == 1 and isinstance(keys[0].type, Integer):
        return keys[0]
    return None


def find_rows(session: Session, terms: Sequence[Term], site_ids: SiteIds = None) -> dict[str, Found]:
    """Search the append-only tables of these schools (run before the erasure's transaction, in a read-only
    one)."""
    terms = [term for term in terms if term.kind != Kind.REFERENCE]
    found: dict[str, Found] = {}
    for table in _tables():
        key = _key(table)
        scope = table_in_schools(table, site_ids)
        if table.name not in APPEND_ONLY or key is None or not terms or scope is None:
            continue
        last = session.scalar(select(func.max(key))) or 0
        ids = session.scalars(select(key).where(key <= last, _holds_a_term(session, text_columns(table), terms),
                                                scope))
        found[table.name] = Found(frozenset(ids), last)
    return found


def scrub_tables(session: Session, terms: Sequence[Term], found: dict[str, Found] | None = None,
                 site_ids: SiteIds = None) -> dict[str, int]:
    """Rewrite every row of these schools (None: every row) that holds a term; return the number of rows
    changed per table (tables changed only).

    `found`, from `find_rows` with the same terms, narrows the append-only tables to the rows found then and
    those added since."""
    terms = [term for term in terms if term.kind != Kind.REFERENCE]
    changed: dict[str, int] = {}
    if not terms:
        return changed
    session.flush()
    for table in _tables():
        scope = table_in_schools(table, site_ids)
        if scope is None:
            continue
        columns = text_columns(table)
        keys = list(table.primary_key.columns)
        where = _holds_a_term(session, columns, terms) & scope
        earlier, key = (found or {}).get(table.name), _key(table)
        if earlier is not None and key is not None and len(earlier.ids) <= MAX_NARROWED:
            where = where & or_(key.in_(earlier.ids), key > earlier.last_id)
        for row in session.execute(select(*keys, *columns).where(where)).all():
            values = dict(zip([c.key for c in (*keys, *columns)], row, strict=True))
            new = {column.key: _fit(column, scrub(terms, values[column.key])) for column in columns
                   if values[column.key] is not None and found_in_any(terms, values[column.key])}
            if new:
                session.execute(update(table).where(*(k == values[k.key] for k in keys)).values(**new))
                changed[table.name] = changed.get(table.name, 0) + 1
    session.expire_all()
    return changed


def _holds_a_term(session: Session, columns: list[Column[str]], terms: Sequence[Term]) -> ColumnElement[bool]:
    """Whether any text column holds any term (it may over-match: `found_in_any` decides).

    SQLite's LIKE ignores ASCII case by itself, and is twice as fast without `lower()` on each value;
    PostgreSQL needs ILIKE."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    return or_(*(column.like(term.like, escape="\\") if sqlite else column.ilike(term.like, escape="\\")
                 for column in columns for term in terms))


def _fit(column: Column[str], value: str) -> str:
    length = getattr(column.type, "length", None)
    return value[:length] if length else value
