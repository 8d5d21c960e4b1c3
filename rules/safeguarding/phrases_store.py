"""The school's own safeguarding phrases in the database (`SafeguardingPhrase` rows), as a `PhraseList`.

The phrase-file parser is the one gate: an import, a line added on the web screen and the rows read back
all pass through `rules.safeguarding.phrasefile`, so a row the matcher cannot compile never gets stored.
The watcher asks `fingerprint` each poll and recompiles only when the list changed.
"""

from __future__ import annotations

import csv
import io

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from rules.safeguarding.catalogue import check_school_list
from rules.safeguarding.patterns import phrase_key
from rules.safeguarding.phrasefile import (
    INNOCENT,
    OFF,
    SCHOOL,
    Entry,
    Innocent,
    LineError,
    PhraseFileError,
    PhraseList,
    Removal,
    parse_phrases,
)
from rules.store.audit import audit
from rules.store.models import SafeguardingPhrase

PHRASE = "phrase"


def rows(session: Session) -> list[SafeguardingPhrase]:
    """The school's rows, in the order they were added."""
    return list(session.scalars(select(SafeguardingPhrase).order_by(SafeguardingPhrase.id)))


def as_line(row: SafeguardingPhrase) -> str:
    """One stored row as the phrase-file line it came from."""
    category = row.category if row.kind == PHRASE else row.kind
    fields = [row.pattern, category or "", row.severity or "", row.why]
    if row.contexts:
        fields.append(";".join(row.contexts.splitlines()))
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(fields)
    return out.getvalue()


def school_list(session: Session) -> PhraseList:
    """The stored rows as a phrase list (parsed again, so the matcher gets exactly what an import gives)."""
    stored = rows(session)
    if not stored:
        return PhraseList()
    return parse_phrases("\n".join(as_line(row) for row in stored), SCHOOL, source="the school's stored list")


def fingerprint(session: Session) -> tuple[int, int, object]:
    """Changes whenever a row is added, removed or the list replaced: (count, highest id, latest time)."""
    count, top, latest = session.execute(select(func.count(), func.max(SafeguardingPhrase.id),
                                                func.max(SafeguardingPhrase.created_at))).one()
    return int(count), int(top or 0), latest


def _to_row(item: Entry | Innocent | Removal, actor: str) -> SafeguardingPhrase:
    if isinstance(item, Entry):
        return SafeguardingPhrase(kind=PHRASE, pattern=item.phrase, category=item.category.value,
                                  severity=item.severity.value, why=item.why, contexts="\n".join(item.unless),
                                  created_by=actor)
    return SafeguardingPhrase(kind=INNOCENT if isinstance(item, Innocent) else OFF, pattern=item.phrase,
                              category=None, severity=None, why=item.why, contexts="", created_by=actor)


def _items(phrases: PhraseList) -> list[Entry | Innocent | Removal]:
    items: list[Entry | Innocent | Removal] = [*phrases.entries, *phrases.innocents, *phrases.removals]
    items.sort(key=lambda item: item.line)
    return items


def import_text(session: Session, text: str, actor: str, source: str) -> int:
    """Replace the school's list with the file's rows, all or nothing; audited ("safeguarding.import")."""
    phrases = check_school_list(parse_phrases(text, SCHOOL, source=source), source)
    before = len(rows(session))
    session.execute(delete(SafeguardingPhrase))
    for item in _items(phrases):
        session.add(_to_row(item, actor))
    session.flush()
    audit(session, actor, "safeguarding.import", "school phrases", before={"rows": before},
          after={"rows": len(phrases), "phrases": len(phrases.entries), "innocent": len(phrases.innocents),
                 "off": len(phrases.removals), "source": source})
    return len(phrases)


def add_row(session: Session, row_text: str, actor: str) -> SafeguardingPhrase:
    """Add one phrase-file line; PhraseFileError for a bad line, ValueError when the list already has it."""
    parsed = check_school_list(parse_phrases(row_text.strip(), SCHOOL, source="the new row"), "the new row")
    items = _items(parsed)
    if len(items) != 1:
        raise PhraseFileError([LineError(1, row_text[:120], "write exactly one phrase-file line")], "the new row")
    item = items[0]
    new = _to_row(item, actor)
    for existing in rows(session):
        if existing.kind == new.kind and phrase_key(existing.pattern) == phrase_key(new.pattern):
            raise ValueError(f"the school's list already has {existing.pattern!r} (row #{existing.id})")
    session.add(new)
    session.flush()
    audit(session, actor, "safeguarding.phrase_add", f"phrase #{new.id}", after={"line": as_line(new)})
    return new


def remove_row(session: Session, phrase_id: int, actor: str) -> None:
    """Remove one of the school's rows; LookupError when there is none."""
    row = session.get(SafeguardingPhrase, phrase_id)
    if row is None:
        raise LookupError(f"no school phrase #{phrase_id}")
    line = as_line(row)
    session.delete(row)
    session.flush()
    audit(session, actor, "safeguarding.phrase_remove", f"phrase #{phrase_id}", before={"line": line})
