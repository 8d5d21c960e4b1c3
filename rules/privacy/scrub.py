"""The last step of an erasure: every text column of every table, rid of the strings that identify the person.

The tables are walked from the models' metadata, so a table or column added later is covered without anyone
remembering to add it here. Each table is searched with one query (a row that holds any term in any text
column), then the rows found are rewritten in Python, where the exact matching rules of `rules.privacy.terms`
apply. A replacement never makes a value longer than its column allows (PostgreSQL would refuse it).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Column, String, Table, or_, select, update
from sqlalchemy.orm import Session

from rules.privacy.terms import Kind, Term, found_in_any, scrub
from rules.store.models import Base


def text_columns(table: Table) -> list[Column[str]]:
    """The columns that hold text (String and Text), but not a key."""
    return [column for column in table.columns if isinstance(column.type, String) and not column.primary_key]


def scrub_tables(session: Session, terms: Sequence[Term]) -> dict[str, int]:
    """Rewrite every row that holds a term; return the number of rows changed per table (tables changed only)."""
    terms = [term for term in terms if term.kind != Kind.REFERENCE]
    changed: dict[str, int] = {}
    if not terms:
        return changed
    session.flush()
    for table in Base.metadata.sorted_tables:
        columns = text_columns(table)
        if not columns:
            continue
        keys = list(table.primary_key.columns)
        holds_a_term = or_(*(column.ilike(term.like, escape="\\") for column in columns for term in terms))
        rows = session.execute(select(*keys, *columns).where(holds_a_term)).all()
        for found in rows:
            values = dict(zip([c.key for c in (*keys, *columns)], found, strict=True))
            new = {column.key: _fit(column, scrub(terms, values[column.key])) for column in columns
                   if values[column.key] is not None and found_in_any(terms, values[column.key])}
            if new:
                session.execute(update(table).where(*(key == values[key.key] for key in keys)).values(**new))
                changed[table.name] = changed.get(table.name, 0) + 1
    session.expire_all()
    return changed


def _fit(column: Column[str], value: str) -> str:
    length = getattr(column.type, "length", None)
    return value[:length] if length else value
