"""The built-in safeguarding catalogue (`builtin_phrases.txt`), and a school's phrases merged with it.

The merge is a pure function of two `PhraseList`s, so the school's rows can come from an import file, the
web screen or the database alike; nothing here reads or writes storage.
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache
from pathlib import Path

from rules.safeguarding.patterns import phrase_key
from rules.safeguarding.phrasefile import BUILT_IN, Entry, LineError, PhraseFileError, PhraseList, read_phrase_file

BUILTIN_FILE = Path(__file__).parent / "builtin_phrases.txt"


@cache
def builtin_phrases() -> PhraseList:
    """The shipped catalogue, read once. A bad line in it is a bug in schoolgate, so it raises."""
    return read_phrase_file(BUILTIN_FILE, origin=BUILT_IN)


def merge(builtin: PhraseList, school: PhraseList) -> PhraseList:
    """The phrases in force at a school: the built-in ones, changed by the school's rows.

    - a school row with the same phrase as a built-in one (case and spacing aside) takes its place, with the
      built-in innocent contexts kept beside the school's own (a school may raise or lower a severity, but
      never loses the catalogue's exceptions by doing so);
    - an `off` row drops the built-in phrase it names; one that names none is ignored here (the import
      reports it, see `unknown_removals`), so a phrase later taken out of the catalogue breaks nothing;
    - the school's other rows and all innocent phrases are added.
    """
    off = {phrase_key(removal.phrase) for removal in school.removals}
    replacing = {phrase_key(entry.phrase): entry for entry in school.entries}
    entries: list[Entry] = []
    for entry in builtin.entries:
        key = phrase_key(entry.phrase)
        if key in off:
            continue
        mine = replacing.pop(key, None)
        if mine is None:
            entries.append(entry)
        else:
            entries.append(replace(mine, unless=tuple(dict.fromkeys(entry.unless + mine.unless))))
    entries.extend(entry for entry in school.entries if phrase_key(entry.phrase) in replacing)
    return PhraseList(tuple(entries), builtin.innocents + school.innocents, ())


def unknown_removals(builtin: PhraseList, school: PhraseList) -> list[LineError]:
    """The school's `off` rows that name no built-in phrase (a typo would otherwise switch nothing off)."""
    known = {phrase_key(entry.phrase) for entry in builtin.entries}
    return [LineError(removal.line, removal.phrase, "'off' names no built-in phrase (write it as the catalogue "
                      "does; `schoolgate safeguarding test` shows a phrase as written)")
            for removal in school.removals if phrase_key(removal.phrase) not in known]


def check_school_list(school: PhraseList, source: str = "the phrase file",
                      builtin: PhraseList | None = None) -> PhraseList:
    """A parsed school list, checked against the catalogue; raises `PhraseFileError` if an `off` row is unknown."""
    errors = unknown_removals(builtin_phrases() if builtin is None else builtin, school)
    if errors:
        raise PhraseFileError(errors, source)
    return school
