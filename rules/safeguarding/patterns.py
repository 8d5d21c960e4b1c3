"""The phrase syntax of the safeguarding catalogue and of a school's phrase file, compiled to word sequences.

A phrase is words, matched whole and in order after normalisation (`rules.safeguarding.normalise`), with
three small additions that let one line say what a DSL means without a regular expression:

- `(a|b|c)`: one of the alternatives, which may be several words or none: `(how|ways) to kill (myself|my self)`,
  `shooting star(s|)`; groups do not nest;
- `word*`: a word that begins with `word` (at least 4 letters): `suicid*` is suicide, suicidal, suicides;
- `*` on its own: any one word: `how many * to overdose`; `(* |)` makes it optional. A phrase may not
  begin or end with it (it would stand for everything around).

Each alternative becomes a sequence of `Step`s. A sequence of two or more words without a gap is also
read with its words joined ("kill myself" is also "killmyself"), as pupils type them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache

from rules.safeguarding.normalise import fold, raw_words, skeleton, word_forms

MAX_ALTERNATIVES = 256   # sequences one phrase may stand for
MAX_WORDS = 12           # words in one sequence
MIN_STEM = 4             # letters before a `*`
MIN_SINGLE_WORD = 3      # letters of a phrase that is one word ("kys"): shorter ones match too much

_GROUP = re.compile(r"\(([^()]*)\)")


class PatternError(ValueError):
    """A phrase that cannot be compiled; the message says why, in words a DSL can act on."""


class StepKind(Enum):
    WORD = "word"   # this word, exactly (or by skeleton, for an elongated word in the text)
    STEM = "stem"   # a word beginning with this
    GAP = "gap"     # any one word


@dataclass(frozen=True, slots=True)
class Step:
    """One word position of a phrase: its kind, its exact form and its skeleton (see normalise, step 5)."""

    kind: StepKind
    exact: str = ""
    loose: str = ""


GAP = Step(StepKind.GAP)


def alternatives(pattern: str) -> list[str]:
    """The plain texts a pattern stands for, its groups expanded: "(a|b) c" -> ["a c", "b c"]."""
    if "(" not in pattern and ")" not in pattern:
        if "|" in pattern:
            raise PatternError("'|' separates alternatives only inside brackets: (a|b)")
        return [pattern]
    texts = [""]
    rest = pattern
    while rest:
        found = _GROUP.search(rest)
        if found is None:
            if "(" in rest or ")" in rest:
                raise PatternError("brackets do not pair up (and they cannot be nested)")
            if "|" in rest:
                raise PatternError("'|' separates alternatives only inside brackets: (a|b)")
            texts = [text + rest for text in texts]
            break
        before = rest[: found.start()]
        if "(" in before or ")" in before or "|" in before:
            raise PatternError("brackets do not pair up (and they cannot be nested)")
        choices = found.group(1).split("|")
        if len(choices) < 2:
            raise PatternError(f"({found.group(1)}) offers no choice: write (a|b), or (a|) for an optional word")
        texts = [text + before + choice for text in texts for choice in choices]
        if len(texts) > MAX_ALTERNATIVES:
            raise PatternError(f"the phrase stands for more than {MAX_ALTERNATIVES} word sequences: split it up")
        rest = rest[found.end():]
    return texts


@lru_cache(maxsize=4096)
def _chunk_words(chunk: str) -> tuple[str, ...]:
    """The words of one space-separated piece of a phrase, normalised as text is (first reading)."""
    return tuple(forms[0] for forms in (word_forms(raw) for raw in raw_words(chunk)) if forms)


def steps(text: str) -> tuple[Step, ...]:
    """One expanded alternative as steps; raises `PatternError` for a misplaced `*` or a too-short word."""
    out: list[Step] = []
    for chunk in text.split():
        if chunk == "*":
            out.append(GAP)
            continue
        stem = chunk.endswith("*")
        body = chunk[:-1] if stem else chunk
        if "*" in body:
            raise PatternError(f"'*' stands alone (any one word) or ends a word (a word beginning so): {chunk!r}")
        found = _chunk_words(body)
        if not found:
            if stem:
                raise PatternError(f"nothing before the '*' in {chunk!r}")
            continue  # punctuation alone
        for position, word in enumerate(found):
            if stem and position == len(found) - 1:
                if len(word) < MIN_STEM:
                    raise PatternError(f"{word}* would match too many words: give at least {MIN_STEM} letters "
                                       "before the '*'")
                out.append(Step(StepKind.STEM, word, skeleton(word)))
            else:
                out.append(Step(StepKind.WORD, word, skeleton(word)))
    if not out:
        raise PatternError("no words in it (or in one of its alternatives)")
    if out[0].kind is StepKind.GAP or out[-1].kind is StepKind.GAP:
        raise PatternError("it may not begin or end with a '*' on its own (that would stand for every word around)")
    if len(out) > MAX_WORDS:
        raise PatternError(f"more than {MAX_WORDS} words: a shorter phrase matches just as well")
    if len(out) == 1 and out[0].kind is StepKind.WORD and len(out[0].exact) < MIN_SINGLE_WORD:
        raise PatternError(f"a single word of fewer than {MIN_SINGLE_WORD} letters would match too much")
    return tuple(out)


def joined(sequence: tuple[Step, ...]) -> Step | None:
    """The sequence as one word ("kill myself" -> "killmyself"), if it has two or more words and no gap."""
    if len(sequence) < 2 or any(step.kind is StepKind.GAP for step in sequence):
        return None
    if any(step.kind is StepKind.STEM for step in sequence[:-1]):
        return None
    word = "".join(step.exact for step in sequence)
    return Step(sequence[-1].kind, word, skeleton(word))


@lru_cache(maxsize=2048)
def compile_pattern(pattern: str) -> tuple[tuple[Step, ...], ...]:
    """Every word sequence a phrase stands for, joined forms included, without repeats."""
    if not pattern.strip():
        raise PatternError("empty phrase")
    found: dict[tuple[Step, ...], None] = {}
    for text in alternatives(pattern):
        sequence = steps(text)
        found[sequence] = None
        one = joined(sequence)
        if one is not None:
            found[(one,)] = None
    return tuple(found)


def phrase_key(pattern: str) -> str:
    """The form in which two phrases are the same phrase (case and spacing aside): for replacing or switching off."""
    return " ".join(fold(pattern).split())
