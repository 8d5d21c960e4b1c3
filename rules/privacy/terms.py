"""The strings that identify a person, found and replaced the same way in every column and file.

A `Term` is one such string (a name, an email, a MAC, a device's name, or a row reference such as "ban #4")
with what it becomes when erased. Finding is done in two steps: a SQL `LIKE` that can only over-match (any
non-ASCII letter becomes `_`, because SQLite's `lower()` and a PostgreSQL database in the C locale fold ASCII
only), then the exact test in Python. Names match whole words only, so that erasing "Al" never rewrites
"Alan"; a one-word name must also not be a label of a host name, so that erasing a device called "ipad" never
rewrites the host "ipad.apple.com" in another pupil's log.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import quote, quote_plus


class Kind(StrEnum):
    """What a term is: it decides where the term may start and end inside a longer text."""

    NAME = "name"  # a person's name: whole words
    DEVICE = "device"  # a device's name: whole words; one word: not next to a dot or hyphen either
    EMAIL = "email"  # anywhere
    MAC = "mac"  # anywhere
    REFERENCE = "reference"  # "device #12": not followed by another digit; never replaced


ERASED = "[erased]"
_ESCAPE = str.maketrans({"\\": "\\\\", "%": "\\%", "_": "\\_"})


@dataclass(frozen=True)
class Term:
    text: str
    kind: Kind
    replacement: str = ERASED

    @property
    def pattern(self) -> re.Pattern[str]:
        body = re.escape(self.text)
        if self.kind == Kind.REFERENCE:
            return re.compile(rf"(?<!\w){body}(?!\d)", re.IGNORECASE)
        if self.kind in (Kind.NAME, Kind.DEVICE) and not any(ch.isspace() for ch in self.text):
            # one word: a whole word that is not a label of a host name ("sam" in "sam.example", "ipad" in
            # "ipad.apple.com"); a full stop that ends a sentence ("... talked to Sam.") still ends it
            return re.compile(rf"(?<![\w.-]){body}(?![\w-]|\.\w)", re.IGNORECASE)
        if self.kind in (Kind.NAME, Kind.DEVICE):
            return re.compile(rf"(?<!\w){body}(?!\w)", re.IGNORECASE)
        return re.compile(body, re.IGNORECASE)

    @property
    def like(self) -> str:
        """A lower-case LIKE pattern (escape character backslash) that matches every text holding the term."""
        folded = "".join(ch if ch.isascii() else "_" for ch in self.text.lower().translate(_ESCAPE))
        return f"%{folded}%"

    def found_in(self, text: str | None) -> bool:
        return bool(text) and self.pattern.search(text or "") is not None

    def replace(self, text: str) -> str:
        return self.pattern.sub(self.replacement, text)


def with_json_forms(terms: Iterable[Term]) -> list[Term]:
    """Each term, and the forms it takes where stored text encodes it: inside JSON ("Zoë" is "Zo\\u00eb" in the
    audit log's before/after) and in a URL ("Sam+Pupil" in a search address); the longest first, so that
    "Sam Pupil's laptop" goes before "Sam Pupil"."""
    found: dict[tuple[str, Kind], Term] = {}
    for term in terms:
        if not term.text.strip():
            continue
        for form in (term.text, json.dumps(term.text)[1:-1], quote_plus(term.text), quote(term.text)):
            found.setdefault((form.casefold(), term.kind), Term(form, term.kind, term.replacement))
    return sorted(found.values(), key=lambda t: (-len(t.text), t.text))


def found_in_any(terms: Iterable[Term], *texts: str | None) -> bool:
    return any(term.found_in(text) for term in terms for text in texts)


def scrub(terms: Iterable[Term], text: str) -> str:
    """`text` with every term (but references, which name rows, not people) replaced."""
    for term in terms:
        if term.kind != Kind.REFERENCE:
            text = term.replace(text)
    return text
