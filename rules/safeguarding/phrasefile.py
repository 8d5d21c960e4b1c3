"""The safeguarding phrase file: the built-in catalogue and a school's own phrases share one format.

Each line is one CSV row (so a DSL can keep the list in a spreadsheet and save it as CSV); blank lines and
lines starting with '#' are comments; a first row `phrase,category,severity,why,unless` is a header:

    phrase,category,severity,why,unless
    kill myself,suicide_self_harm,high,"First person: means to end their life."
    isis,extremism,low,"The terrorist group's name.",river;goddess;osiris
    shooting star(s|),innocent,,"Astronomy, not a shooting."
    kys,off,,"Our pupils write KYS for Key Stage."

- `phrase`: what to look for, in the syntax of `rules.safeguarding.patterns`;
- `category`: one of `rules.safeguarding.categories.Category`, or `innocent` (an innocent phrase: a match
  that shares a word with it is suppressed, "shooting stars" for a school that added "shooting"), or `off`
  (school files only: switches off the built-in phrase written exactly so);
- `severity`: high, medium or low; empty for `innocent` and `off`;
- `why`: why it is there, in a sentence, for the DSL who reads the concern (required);
- `unless` (optional): innocent contexts, separated by ';': when one of them appears anywhere in the same
  text, this phrase raises nothing ("isis" with "river" is the Thames at Oxford).

A school file with the same phrase as a built-in one replaces its category, severity and why, keeping the
built-in contexts besides its own (`rules.safeguarding.catalogue.merge`).

Parsing is all or nothing: every bad line is reported (line number, why) in one `PhraseFileError`, and no
list is returned, so nothing is ever half-imported.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from rules.safeguarding.categories import Category, Severity
from rules.safeguarding.patterns import PatternError, compile_pattern, phrase_key

INNOCENT = "innocent"
OFF = "off"
HEADER = ("phrase", "category", "severity", "why", "unless")
MAX_BYTES = 1_000_000
MAX_ROWS = 10_000
MAX_WHY = 500
BUILT_IN = "built-in"
SCHOOL = "school"


@dataclass(frozen=True, slots=True)
class Entry:
    """A phrase that raises a concern: what it is about, how urgent, why it is listed, and its innocent contexts."""

    phrase: str
    category: Category
    severity: Severity
    why: str
    unless: tuple[str, ...] = ()
    origin: str = SCHOOL      # BUILT_IN or SCHOOL: the DSL sees whose phrase raised a concern
    line: int = 0


@dataclass(frozen=True, slots=True)
class Innocent:
    """An innocent phrase: any match that shares a word with it, where it appears, is suppressed."""

    phrase: str
    why: str
    origin: str = SCHOOL
    line: int = 0


@dataclass(frozen=True, slots=True)
class Removal:
    """A school's "off" row: the built-in phrase written so raises nothing at this school."""

    phrase: str
    why: str
    line: int = 0


@dataclass(frozen=True, slots=True)
class PhraseList:
    """The rows of one phrase file (or of the database), in order. Immutable, so it can be cached and shared."""

    entries: tuple[Entry, ...] = ()
    innocents: tuple[Innocent, ...] = ()
    removals: tuple[Removal, ...] = ()

    @classmethod
    def of(cls, rows: Iterable[Entry | Innocent | Removal]) -> PhraseList:
        """A list from rows of any kind, e.g. as stored in the database."""
        rows = list(rows)
        return cls(tuple(r for r in rows if isinstance(r, Entry)), tuple(r for r in rows if isinstance(r, Innocent)),
                   tuple(r for r in rows if isinstance(r, Removal)))

    def __len__(self) -> int:
        return len(self.entries) + len(self.innocents) + len(self.removals)


@dataclass(frozen=True, slots=True)
class LineError:
    """One bad line: its number (from 1), its text and why it cannot be used."""

    line: int
    text: str
    why: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.why}: {self.text[:120]}"


@dataclass
class PhraseFileError(ValueError):
    """The file cannot be used; `errors` names every bad line. Nothing of the file was taken."""

    errors: list[LineError] = field(default_factory=list)
    source: str = "the phrase file"

    def __str__(self) -> str:
        count = len(self.errors)
        head = f"{self.source}: {count} bad line{'s' if count != 1 else ''}, nothing imported"
        shown = [f"  {error}" for error in self.errors[:50]]
        more = [f"  ... and {count - 50} more"] if count > 50 else []
        return "\n".join([head, *shown, *more])


def read_phrase_file(path: Path, origin: str = SCHOOL) -> PhraseList:
    """Read and parse a phrase file (UTF-8, with or without the BOM a spreadsheet writes)."""
    data = path.read_bytes()
    if len(data) > MAX_BYTES:
        raise PhraseFileError([LineError(0, path.name, f"larger than {MAX_BYTES:,} bytes")], str(path))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise PhraseFileError([LineError(line, "", "not UTF-8 text (save the spreadsheet as 'CSV UTF-8')")],
                              str(path)) from None
    return parse_phrases(text, origin, source=str(path))


def parse_phrases(text: str, origin: str = SCHOOL, source: str = "the phrase file") -> PhraseList:
    """Parse a phrase file's text; raise `PhraseFileError` listing every bad line, or return every row."""
    errors: list[LineError] = []
    rows: list[Entry | Innocent | Removal] = []
    seen: dict[str, int] = {}
    first_row = True
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if len(rows) + len(errors) >= MAX_ROWS:
            errors.append(LineError(number, stripped, f"more than {MAX_ROWS:,} rows in one file"))
            break
        try:
            fields = [f.strip() for f in next(csv.reader([stripped], strict=True))]
        except csv.Error as exc:
            errors.append(LineError(number, stripped, f"not a CSV row ({exc})"))
            continue
        if first_row and fields and fields[0].lower() == HEADER[0]:
            first_row = False
            continue
        first_row = False
        try:
            row = _row(fields, number, origin)
        except ValueError as exc:
            errors.append(LineError(number, stripped, str(exc)))
            continue
        key = phrase_key(row.phrase) + ("" if isinstance(row, Entry) else f" ({_kind(row)})")
        if key in seen:
            errors.append(LineError(number, stripped, f"the same phrase as line {seen[key]}"))
            continue
        seen[key] = number
        rows.append(row)
    if errors:
        raise PhraseFileError(errors, source)
    return PhraseList.of(rows)


def _kind(row: Entry | Innocent | Removal) -> str:
    return INNOCENT if isinstance(row, Innocent) else OFF if isinstance(row, Removal) else "entry"


def _row(fields: list[str], line: int, origin: str) -> Entry | Innocent | Removal:
    """One row as an entry, an innocent phrase or a removal; ValueError says what is wrong with it."""
    if len(fields) < 4 or len(fields) > 5:
        raise ValueError(f"expected 4 or 5 fields ({', '.join(HEADER)}), found {len(fields)}")
    phrase, category_text, severity_text, why = fields[:4]
    unless_text = fields[4] if len(fields) == 5 else ""
    _check_pattern(phrase, "the phrase")
    if not why:
        raise ValueError("say why the phrase is there (the fourth field): the DSL reads it with every concern")
    if len(why) > MAX_WHY:
        raise ValueError(f"the why is longer than {MAX_WHY} characters")
    category_name = category_text.lower().replace("-", "_").replace(" ", "_")
    if category_name in (INNOCENT, OFF):
        if severity_text:
            raise ValueError(f"an '{category_name}' row has no severity: leave the third field empty")
        if unless_text:
            raise ValueError(f"an '{category_name}' row has no innocent contexts: leave the fifth field empty")
        if category_name == OFF:
            if origin == BUILT_IN:
                raise ValueError("'off' is for a school's file, to switch off a built-in phrase")
            return Removal(phrase, why, line)
        return Innocent(phrase, why, origin, line)
    try:
        category = Category(category_name)
    except ValueError:
        names = ", ".join([*(c.value for c in Category), INNOCENT, OFF])
        raise ValueError(f"unknown category {category_text!r} (one of: {names})") from None
    try:
        severity = Severity(severity_text.lower())
    except ValueError:
        raise ValueError(f"unknown severity {severity_text!r} (high, medium or low)") from None
    unless = tuple(context.strip() for context in unless_text.split(";") if context.strip())
    for context in unless:
        _check_pattern(context, f"the innocent context {context!r}")
    return Entry(phrase, category, severity, why, unless, origin, line)


def _check_pattern(pattern: str, what: str) -> None:
    try:
        compile_pattern(pattern)
    except PatternError as exc:
        raise ValueError(f"{what} cannot be used: {exc}") from None
