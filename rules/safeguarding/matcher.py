"""Matching text against the safeguarding phrases: compiled once into one word trie, read in one pass.

Every phrase, innocent phrase and innocent context is compiled into a single trie of words (exact forms,
skeletons, stems and one-word gaps). Matching a text walks the trie once from each word position of the
text's lattice (`rules.safeguarding.normalise`): the cost follows the length of the text, not the number
of phrases, and a word no phrase begins with costs one dictionary look-up.

Exceptions, so that innocent texts raise nothing:

- an innocent phrase ("shooting stars", "killer whale") suppresses every match that shares a word with it
  where it appears;
- an entry's innocent contexts (`unless`: "isis" with "river", "overdose" with "vitamin") suppress that
  entry when one of them appears anywhere in the same text.

With `explain=True` the suppressed matches are returned too, each with the exception that suppressed it,
so that `schoolgate safeguarding test` can say why a text raised nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

import idna

from rules.automatic import is_automatic_lookup
from rules.safeguarding.catalogue import builtin_phrases, merge
from rules.safeguarding.categories import Category, Severity
from rules.safeguarding.normalise import MAX_TEXT, Edge, decode, lattice
from rules.safeguarding.patterns import Step, StepKind, compile_pattern
from rules.safeguarding.phrasefile import Entry, Innocent, PhraseList


@dataclass(frozen=True, slots=True)
class Suppression:
    """The exception that kept a match from raising a concern."""

    kind: str      # "innocent": an innocent phrase shares its words; "unless": an innocent context appears
    phrase: str    # the innocent phrase or context, as the catalogue writes it
    why: str

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "phrase": self.phrase, "why": self.why}


@dataclass(frozen=True, slots=True)
class Match:
    """A phrase found in a text: what it is about, how urgent, the phrase and why it is listed."""

    category: Category
    severity: Severity
    phrase: str           # the catalogue's phrase, as written
    why: str
    matched: str          # the text's words that matched, normalised ("kill myself" for "K1ll my5elf")
    origin: str           # "built-in" or "school"
    suppressed_by: Suppression | None = None

    def as_dict(self) -> dict[str, object]:
        return {"category": str(self.category), "severity": str(self.severity), "phrase": self.phrase,
                "why": self.why, "matched": self.matched, "origin": self.origin,
                "suppressed_by": None if self.suppressed_by is None else self.suppressed_by.as_dict()}


# Stems are kept by their first letters, so that a word that begins no stem costs one look-up: by the first
# three letters of the exact form (every stem has at least four), by the first letter of the skeleton.
_HEAD = 3
_LOOSE_HEAD = 1


class _Node:
    """One trie node: where each next word leads, and what ends here (indices into the matcher's targets)."""

    __slots__ = ("exact", "loose", "stems", "loose_stems", "gap", "targets", "leaf")

    def __init__(self) -> None:
        self.exact: dict[str, _Node] = {}
        self.loose: dict[str, _Node] = {}
        self.stems: dict[str, tuple[tuple[str, _Node], ...]] = {}
        self.loose_stems: dict[str, tuple[tuple[str, _Node], ...]] = {}
        self.gap: _Node | None = None
        self.targets: tuple[int, ...] = ()
        self.leaf = True

    def add(self, step: Step) -> _Node:
        self.leaf = False
        if step.kind is StepKind.GAP:
            if self.gap is None:
                self.gap = _Node()
            return self.gap
        if step.kind is StepKind.STEM:
            child = _stem_child(self.stems, step.exact, _HEAD) or _Node()
            _add_stem(self.stems, step.exact, child, _HEAD)
            _add_stem(self.loose_stems, step.loose, child, _LOOSE_HEAD)
            return child
        child = self.exact.setdefault(step.exact, _Node())
        self.loose.setdefault(step.loose, child)
        return child


def _stem_child(stems: dict[str, tuple[tuple[str, _Node], ...]], stem: str, head: int) -> _Node | None:
    return next((node for known, node in stems.get(stem[:head], ()) if known == stem), None)


def _add_stem(stems: dict[str, tuple[tuple[str, _Node], ...]], stem: str, child: _Node, head: int) -> None:
    if _stem_child(stems, stem, head) is None:
        stems[stem[:head]] = (*stems.get(stem[:head], ()), (stem, child))


@dataclass(frozen=True, eq=False)
class Matcher:
    """A compiled phrase list. Immutable after `compile`; one per process, rebuilt when the school's list changes."""

    entries: tuple[Entry, ...]
    innocents: tuple[Innocent, ...]
    contexts: tuple[str, ...]                       # every entry's innocent contexts, each once
    entry_contexts: tuple[frozenset[int], ...]      # per entry: indices into `contexts`
    _root: _Node = field(repr=False)

    @classmethod
    def compile(cls, phrases: PhraseList) -> Matcher:
        """Compile every phrase, innocent phrase and context into the one trie."""
        root = _Node()
        contexts: dict[str, int] = {}
        entry_contexts = []
        for entry in phrases.entries:
            entry_contexts.append(frozenset(contexts.setdefault(c, len(contexts)) for c in entry.unless))
        targets: dict[_Node, list[int]] = {}
        patterns = [e.phrase for e in phrases.entries] + [i.phrase for i in phrases.innocents] + list(contexts)
        for target, pattern in enumerate(patterns):
            for sequence in compile_pattern(pattern):
                node = root
                for step in sequence:
                    node = node.add(step)
                targets.setdefault(node, []).append(target)
        for node, found in targets.items():
            node.targets = tuple(dict.fromkeys(found))
        return cls(phrases.entries, phrases.innocents, tuple(contexts), tuple(entry_contexts), root)

    def match(self, text: str, *, explain: bool = False) -> list[Match]:
        """The concerns `text` raises, most severe first; with `explain`, the suppressed matches too."""
        if not text:
            return []
        shown, edges = lattice(text)
        return self._resolve(shown, self._walk(edges), explain)

    def match_search(self, term: str, *, explain: bool = False) -> list[Match]:
        """The concerns a search term raises (as captured from the search URL, decoded or not)."""
        return self.match(term.strip(), explain=explain)

    def match_site(self, host: str, path: str = "", *, explain: bool = False) -> list[Match]:
        """The concerns a request raises by its host (normal form) and URL path with query: none for a
        device's own automatic lookup. Host and path are read as words split at dots, slashes, hyphens and
        underscores (and at every other character that is not a letter or digit)."""
        if is_automatic_lookup(host, path or None):
            return []
        if "xn--" in host:
            try:
                host = idna.decode(host)
            except (idna.IDNAError, UnicodeError):
                pass
        return self.match(f"{host} {decode(path[:MAX_TEXT])}" if path else host, explain=explain)

    def _walk(self, edges: list[list[Edge]]) -> list[tuple[int, int, int]]:
        """(target, start, end) for every phrase, innocent phrase or context found, in one pass.

        The hot path: most words begin nothing, so each costs a dictionary look-up or two and no allocation."""
        found: list[tuple[int, int, int]] = []
        size = len(edges)
        stack: list[tuple[_Node, int, int]] = []

        def reach(node: _Node, start: int, end: int) -> None:
            for target in node.targets:
                found.append((target, start, end))
            if end < size and not node.leaf:
                stack.append((node, start, end))

        root = self._root
        for start in range(size):
            stack.append((root, start, start))
            while stack:
                node, first, position = stack.pop()
                for form, loose, end in edges[position]:
                    if loose:
                        child, stems = node.loose.get(form), node.loose_stems.get(form[:_LOOSE_HEAD])
                    else:
                        child, stems = node.exact.get(form), node.stems.get(form[:_HEAD]) if node.stems else None
                    if child is not None:
                        reach(child, first, end)
                    if stems:
                        for stem, stem_child in stems:
                            if form.startswith(stem):
                                reach(stem_child, first, end)
                    if node.gap is not None:
                        reach(node.gap, first, end)
        return found

    def _resolve(self, shown: list[str], found: list[tuple[int, int, int]], explain: bool) -> list[Match]:
        """Apply the exceptions to what the walk found; one match per entry (its first unsuppressed place)."""
        if not found:
            return []
        entry_count, innocent_count = len(self.entries), len(self.innocents)
        present: set[int] = set()
        innocent_spans: list[tuple[int, int, int]] = []
        places: dict[int, list[tuple[int, int]]] = {}
        for target, start, end in found:
            if target < entry_count:
                places.setdefault(target, []).append((start, end))
            elif target < entry_count + innocent_count:
                innocent_spans.append((target - entry_count, start, end))
            else:
                present.add(target - entry_count - innocent_count)
        results: list[tuple[int, Match]] = []
        for index, spans in places.items():
            entry = self.entries[index]
            context = min(self.entry_contexts[index] & present, default=None)
            best: tuple[int, int, Suppression | None] | None = None
            for start, end in sorted(spans):
                suppression = self._suppression(context, innocent_spans, start, end)
                if suppression is None:
                    best = (start, end, None)
                    break
                if best is None:
                    best = (start, end, suppression)
            assert best is not None
            start, end, suppression = best
            if suppression is None or explain:
                results.append((start, Match(entry.category, entry.severity, entry.phrase, entry.why,
                                             " ".join(shown[start:end]), entry.origin, suppression)))
        results.sort(key=lambda item: (item[1].suppressed_by is not None, -item[1].severity.rank, item[0]))
        return [match for _, match in results]

    def _suppression(self, context: int | None, innocent_spans: list[tuple[int, int, int]],
                     start: int, end: int) -> Suppression | None:
        if context is not None:
            phrase = self.contexts[context]
            return Suppression("unless", phrase, "it appears in the same text, and the list names it as an innocent "
                               "context of this phrase")
        for index, innocent_start, innocent_end in innocent_spans:
            if innocent_start < end and start < innocent_end:
                innocent = self.innocents[index]
                return Suppression("innocent", innocent.phrase, innocent.why)
        return None


@cache
def builtin_matcher() -> Matcher:
    """The built-in catalogue, compiled once per process."""
    return Matcher.compile(builtin_phrases())


def matcher_for(school: PhraseList) -> Matcher:
    """The catalogue merged with a school's phrases, compiled (the caller keeps it until the list changes)."""
    return Matcher.compile(merge(builtin_phrases(), school))


def match(text: str, *, explain: bool = False) -> list[Match]:
    """The concerns `text` raises under the built-in catalogue."""
    return builtin_matcher().match(text, explain=explain)


def match_search(term: str, *, explain: bool = False) -> list[Match]:
    """The concerns a search term raises under the built-in catalogue."""
    return builtin_matcher().match_search(term, explain=explain)


def match_site(host: str, path: str = "", *, explain: bool = False) -> list[Match]:
    """The concerns a request (host and URL path) raises under the built-in catalogue."""
    return builtin_matcher().match_site(host, path, explain=explain)
