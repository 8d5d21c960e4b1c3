"""Text in the one form that safeguarding matching compares, however a pupil typed it.

A pupil who means "kill myself" may type "Kill Myself", "kïll mysélf", "k1ll my5elf", "kiiiill myself",
"k i l l myself", "killmyself" or, in a URL, "kill%20myself" and "kill+myself". The catalogue's phrases
and the text pass through the same steps, so each phrase is written once:

1. URL-encoded and '+'-separated text is decoded (twice, for a doubly encoded path);
2. case is folded, accents are stripped (NFKD, every mark dropped, the combining grapheme joiner too),
   zero-width characters and the Hangul fillers that look like nothing are dropped, apostrophes vanish
   ("don't" is "dont", "i'm" is "im"), and Cyrillic and Greek letters that look like Latin ones ("kіll"
   with a Cyrillic і, the Turkish dotless ı) are read as those, in a word that also has a Latin letter or
   is made only of such look-alikes (so Russian or Greek text keeps its own letters);
3. the text is split into words at everything that is not a letter or a digit (spaces, punctuation,
   dots, slashes, hyphens, underscores), so spacing and punctuation never matter;
4. in a word that mixes letters with digits or symbols, the usual swaps are undone: 0 o, 3 e, 4 a,
   5 s, 7 t, @ a, $ s, ! i, | l, and 1 as both i and l (a word of digits alone, "1488", stays as it is);
5. a word with a letter three or more times in a row ("kiiiill") is compared by its skeleton, every run
   of a letter made one ("kil"); a word typed normally is compared exactly, so "nose" never reads as
   "noose" and "cuter" never as "cutter";
6. single letters spaced out ("k i l l") are also read joined; a catalogue phrase is also read with its
   words joined ("killmyself", "selfharm"): that is `rules.safeguarding.matcher`'s part.

The result is a *lattice*: for each word position, the forms that may start there and where each ends.
"""

from __future__ import annotations

import re
import unicodedata
from itertools import product
from urllib.parse import unquote_plus

MAX_TEXT = 2000          # characters read from one text: a search term or a URL is never longer in practice
MAX_SPELLED_OUT = 24     # letters spaced out that are read joined, at most, in one run
MAX_ONES = 3             # a word with more 1s than this is read with all 1s as i, and all as l

_PERCENT = re.compile(r"%[0-9a-fA-F]{2}")
_WORD = re.compile(r"(?:[^\W_]|[@$!|])+")
_TRIPLE = re.compile(r"([^\W\d_])\1\1")
# Anything that needs more than "each word is its own form": a symbol, letters and digits in one word, or a
# letter three times in a row.
_SLOW = re.compile(r"[@$!|]|[^\W\d_]\d|\d[^\W\d_]|([^\W\d_])\1\1")
_REPEAT = re.compile(r"([^\W\d_])\1+")
_LEET = str.maketrans({"0": "o", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i", "|": "l"})
_APOSTROPHES = str.maketrans("", "", "'\u2019\u2018`\u00b4")
# Characters that draw nothing but are letters or marks to Unicode, so they would hide inside a word.
_INVISIBLE = frozenset("\u034f\u115f\u1160\u3164\uffa0")
# Lower-case look-alikes of Latin letters (after casefold), from Unicode's confusables for Cyrillic, Greek
# and Latin: what a pupil's keyboard switch or a copied "fancy text" produces.
_LOOKALIKES = str.maketrans({
    "а": "a", "в": "b", "с": "c", "ԁ": "d", "е": "e", "ё": "e", "һ": "h", "і": "i", "ї": "i", "ј": "j",
    "к": "k", "ӏ": "l", "м": "m", "н": "h", "о": "o", "р": "p", "ԛ": "q", "г": "r", "ѕ": "s", "т": "t",
    "у": "y", "ү": "y", "х": "x", "ԝ": "w", "ѵ": "v", "ь": "b", "п": "n", "ɡ": "g",
    "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t",
    "υ": "u", "χ": "x", "ω": "w", "ϲ": "c", "ϳ": "j",
    "ı": "i", "ɩ": "i", "ɑ": "a", "ſ": "s", "ȷ": "j", "ℓ": "l",
})
_LOOKALIKE_KEYS = frozenset(chr(k) for k in _LOOKALIKES)
_SCRIPT_WORD = re.compile(r"[^\W_]+")

# One edge of the lattice: (form, loose, end). `loose` says that `form` is a skeleton (step 5) and must be
# looked up among the catalogue's skeletons; `end` is the word position after the edge.
Edge = tuple[str, bool, int]


def decode(text: str) -> str:
    """Undo URL encoding ('%20', '+'), twice for a doubly encoded path; plain text passes unchanged."""
    if "%" in text or "+" in text:
        text = unquote_plus(text)
        if "%" in text and _PERCENT.search(text):
            text = unquote_plus(text)
    return text


def fold(text: str) -> str:
    """Case, accents, zero-width characters and apostrophes folded away (steps 2)."""
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text)
        text = "".join(c for c in text if c not in _INVISIBLE and unicodedata.category(c)[0] != "M"
                       and unicodedata.category(c) != "Cf")
        text = text.casefold().translate(_APOSTROPHES)
        return _SCRIPT_WORD.sub(_latin_lookalikes, text) if not text.isascii() else text
    text = text.lower()
    return text.replace("'", "").replace("`", "") if "'" in text or "`" in text else text


def _latin_lookalikes(found: re.Match[str]) -> str:
    """A word with its Cyrillic and Greek look-alikes read as Latin, when it mixes them with Latin letters or
    is made of them alone; any other word (Russian, Greek) as it is."""
    word = found.group()
    if word.isascii() or not any(c in _LOOKALIKE_KEYS for c in word):
        return word
    if any("a" <= c <= "z" for c in word) or all(c in _LOOKALIKE_KEYS or c.isdigit() for c in word):
        return word.translate(_LOOKALIKES)
    return word


def skeleton(word: str) -> str:
    """The word with every run of a letter made one: "kiiiill" -> "kil"."""
    return _REPEAT.sub(r"\1", word)


def is_elongated(word: str) -> bool:
    """Whether a letter stands three or more times in a row ("kiiill", "noooo")."""
    return _TRIPLE.search(word) is not None


def word_forms(raw: str) -> list[str]:
    """The readings of one raw word (step 4): usually one; two or more when it has a 1 among letters."""
    if raw.isalpha() or raw.isdigit():
        return [raw]
    word = raw.strip("!")
    if not any(c.isalpha() for c in word):  # "$5", "!!!": a number keeps its digits, symbols alone are no word
        digits = "".join(c for c in word if c.isdigit())
        return [digits] if digits else []
    mapped = word.translate(_LEET)
    ones = mapped.count("1")
    if not ones:
        return [mapped]
    if ones > MAX_ONES:
        return [mapped.replace("1", "i"), mapped.replace("1", "l")]
    parts = mapped.split("1")
    readings = []
    for letters in product("il", repeat=ones):
        reading = parts[0]
        for letter, part in zip(letters, parts[1:], strict=True):
            reading += letter + part
        readings.append(reading)
    return readings


def raw_words(text: str) -> list[str]:
    """The words of `text` as typed, split and folded (steps 2 and 3), before any swap is undone."""
    return _WORD.findall(fold(text))


def words(text: str) -> list[str]:
    """The words of `text` as matching reads them (first reading of each), for showing what matched."""
    return [forms[0] for forms in (word_forms(raw) for raw in _WORD.findall(fold(decode(text[:MAX_TEXT])))) if forms]


def lattice(text: str) -> tuple[list[str], list[list[Edge]]]:
    """The words of `text` and, for each word position, the edges that start there (steps 1 to 6)."""
    folded = fold(decode(text[:MAX_TEXT]))
    raws = _WORD.findall(folded)
    if _SLOW.search(folded) is None:
        # The common case: words of letters or of digits alone, typed normally: each word is its own form.
        shown = raws
        edges = [[(word, False, end)] for end, word in enumerate(raws, start=1)]
    else:
        stretched = _TRIPLE.search(folded) is not None
        shown, edges = [], []
        for raw in raws:
            forms = word_forms(raw)
            if forms:
                end = len(shown) + 1
                shown.append(forms[0])
                edges.append([(skeleton(form), True, end) if stretched and is_elongated(form) else (form, False, end)
                              for form in forms])
    if 1 in map(len, shown):
        _join_spelled_out(shown, edges)
    return shown, edges


def _join_spelled_out(shown: list[str], edges: list[list[Edge]]) -> None:
    """Add an edge for every stretch of three or more single letters in a row: "k i l l" is also "kill"."""
    start = 0
    while start < len(shown):
        if not _is_letter(shown[start]):
            start += 1
            continue
        end = start
        while end < len(shown) and _is_letter(shown[end]):
            end += 1
        if end - start >= 3:
            for i in range(start, end - 2):
                for j in range(i + 3, min(end, i + MAX_SPELLED_OUT) + 1):
                    joined = "".join(shown[i:j])
                    edges[i].append((skeleton(joined), True, j) if is_elongated(joined) else (joined, False, j))
        start = end


def _is_letter(word: str) -> bool:
    return len(word) == 1 and word.isalpha()
