"""Taking pupils' names out of the review pack's text: it is printed for the academy council and names no child.

Free text such as a rule's reason or a headteacher's reasons for a decision can name a pupil ("opened for Sam
Pupil's project"). Every name the store knows a child by is replaced with "[pupil]" wherever the pack shows
text: each pupil on the consent record (on roll or not), the person of every device outside the staff group,
and the person of every ban and every safeguarding concern. Names are found as `rules.privacy.terms` finds
them (whole words; a one-word name never as a label of a host name), the whole name in any case; and each part
of a name (a forename alone, "Sam asked for ...") when written with its capital, as names are, so that a pupil
called May does not take the month out of every sentence.

Staff do not type names as the MIS holds them, so both the names and the text are read in one form first: Unicode
composed (an "é" typed as "e" and an accent is the same letter), curly apostrophes as straight ones ("O’Neill",
as a phone or a word processor writes it), zero-width characters dropped. And each name is also looked for as
staff write it: without its accents ("Zoe" for Zoë), its surname in capitals as registers print them ("SMITH,
Tom"), with any run of spaces between its words, and a double-barrelled name with a space for its hyphen.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from rules.privacy.terms import Kind, Term
from rules.store.models import Ban, Concern, Device, Group, Pupil

REPLACEMENT = "[pupil]"
STAFF_GROUP = "staff"  # as `rules.safeguarding.routing`: devices in it are staff's
MIN_PART = 2  # a one-letter initial is not redacted on its own
_WORD = re.compile(r"\w+")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u2032": "'", "`": "'", "\u00b4": "'",
                              "\u2010": "-", "\u2011": "-", "\u00a0": " ", "\u202f": " ", "\u2007": " "})
_INVISIBLE = re.compile("[\u00ad\u200b\u200c\u200d\u2060\ufeff]")


def canonical(text: str) -> str:
    """A text in the one form names are compared in (see the module's docstring); shown as such in the pack."""
    return _INVISIBLE.sub("", unicodedata.normalize("NFC", text).translate(_APOSTROPHES))


def unaccented(text: str) -> str:
    """The text without its accents: "Zoë" -> "Zoe", "Chloé" -> "Chloe"."""
    return unicodedata.normalize("NFC", "".join(ch for ch in unicodedata.normalize("NFD", text)
                                                if not unicodedata.combining(ch)))


def _spellings(name: str) -> Iterator[str]:
    """A name as the MIS has it and as staff write it: without accents too."""
    yield name
    if (plain := unaccented(name)) != name:
        yield plain


def _whole_pattern(name: str) -> re.Pattern[str]:
    """A whole name of several words in any case, with any spaces (or a hyphen) between its words."""
    words = [w for w in re.split(r"[\s-]+", name) if w]
    return re.compile(r"(?<!\w)" + r"[\s-]+".join(re.escape(w) for w in words) + r"(?!\w)", re.IGNORECASE)


def child_names(session: Session) -> set[str]:
    """Every name the store knows a child by (and every ban's and concern's person, who is usually one)."""
    names = set(session.scalars(select(Pupil.name)))
    names |= set(session.scalars(select(Device.person).outerjoin(Group, Device.group_id == Group.id)
                                 .where(Device.person.is_not(None))
                                 .where((Group.name.is_(None)) | (Group.name != STAFF_GROUP))))
    names |= set(session.scalars(select(Ban.person).where(Ban.person.is_not(None))))
    names |= set(session.scalars(select(Concern.person).where(Concern.person.is_not(None))))
    return {name.strip() for name in names if name and name.strip()}


class Redactor:
    """Replaces the given names in any text with "[pupil]"; built once per pack.

    A school has a thousand pupils and the pack a few hundred texts, so a text is only tried against the names
    whose first word it holds (indexed by that word), never against every name."""

    def __init__(self, names: Iterable[str]) -> None:
        found: set[tuple[str, bool]] = set()  # (text, whole name?)
        for name in names:
            for spelling in _spellings(" ".join(canonical(name).split())):
                found.add((spelling, True))
                for part in spelling.split():
                    part = part.strip(".,;:()\"")
                    if len(part) >= MIN_PART and part[0].isalpha():
                        found.add((part[0].upper() + part[1:], False))  # as names are written: "May", not "may"
                        found.add((part.upper(), False))  # a surname as registers print it: "SMITH, Tom"
        # whole names before parts, longer before shorter: "Sam Pupil" goes before "Sam"
        self._ranked = sorted(found, key=lambda item: (not item[1], -len(item[0]), item[0]))
        self._by_word: dict[str, list[int]] = {}
        for order, (text, _whole) in enumerate(self._ranked):
            words = _WORD.findall(text.casefold())
            if words:
                self._by_word.setdefault(words[0], []).append(order)
        self._compiled: dict[int, re.Pattern[str]] = {}

    def _pattern(self, order: int) -> re.Pattern[str]:
        """Compiled when first needed: most of a thousand names never appear in the pack's text."""
        if order not in self._compiled:
            text, whole = self._ranked[order]
            pattern = Term(text, Kind.NAME, REPLACEMENT).pattern
            if whole and len(re.split(r"[\s-]+", text)) > 1:
                pattern = _whole_pattern(text)
            # a whole name in any case; a part with the same whole-word boundaries, but only as written
            self._compiled[order] = pattern if whole else re.compile(pattern.pattern)
        return self._compiled[order]

    def text(self, value: str | None) -> str:
        """`value` without any of the names (an empty string for None)."""
        result = canonical(value or "")
        words = set(_WORD.findall(result.casefold()))
        for order in sorted(o for word in words & self._by_word.keys() for o in self._by_word[word]):
            result = self._pattern(order).sub(REPLACEMENT, result)
        return result

    @classmethod
    def from_store(cls, session: Session) -> Redactor:
        return cls(child_names(session))
