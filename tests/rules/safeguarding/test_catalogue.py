"""The built-in catalogue as shipped, and a school's phrases merged with it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rules.safeguarding.catalogue import BUILTIN_FILE, builtin_phrases, check_school_list, merge
from rules.safeguarding.categories import Category, Severity
from rules.safeguarding.matcher import Matcher, builtin_matcher, matcher_for
from rules.safeguarding.patterns import StepKind, compile_pattern
from rules.safeguarding.phrasefile import BUILT_IN, PhraseFileError, PhraseList, parse_phrases

DICTIONARY = Path("/usr/share/dict/british-english")
# Single words in the catalogue that are ordinary dictionary words, each on purpose.
MEANT_WORDS = {"cannabis", "cocaine", "heroin", "isis", "jihad", "nudes", "rape", "sexting"}
# Dictionary words the catalogue's stems reach: every one means what the stem is there for.
MEANT_STEM_WORDS = {
    "overdose", "overdosed", "overdoses", "overdosing", "suicidal", "suicide", "suicides", "anorexia",
    "anorexias", "anorexic", "anorexics", "bulimia", "bulimias", "bulimic", "bulimics", "jihadist", "jihadists",
    "porn", "porno", "pornographer", "pornographers", "pornographic", "pornography", "pornographys", "pornos",
    "porns",
}


def test_every_category_has_phrases_of_every_severity_each_with_a_why() -> None:
    phrases = builtin_phrases()
    assert len(phrases.entries) > 150 and len(phrases.innocents) > 20
    assert {(e.category, e.severity) for e in phrases.entries} == {(c, s) for c in Category for s in Severity}
    assert all(e.origin == BUILT_IN and len(e.why) > 10 for e in phrases.entries)
    assert all(i.why for i in phrases.innocents)


def test_the_header_says_what_was_left_out_and_why() -> None:
    header = "".join(line for line in BUILTIN_FILE.read_text(encoding="utf-8").splitlines(keepends=True)
                     if line.startswith("#"))
    for words in ("Left out, on purpose", "Swearing", "Help-seeking", "Numeric codes", "Health information",
                  "Smoothwall", "high: a child may be at risk now"):
        assert words in header, words


def dictionary() -> set[str]:
    if not DICTIONARY.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{DICTIONARY} is missing: .ci/run installs wbritish")
        pytest.skip(f"{DICTIONARY} is missing (apt-get install wbritish)")
    return {line.strip().lower().replace("'", "") for line in DICTIONARY.read_text(encoding="utf-8").splitlines()}


def test_no_phrase_reads_as_an_everyday_word() -> None:
    """A phrase's joined form ("the rapist" -> "therapist") or a single word must never be an everyday word by
    accident: each single dictionary word is listed on purpose, each joined form is no word at all."""
    words = dictionary()
    single, joined, stemmed = set(), set(), set()
    for entry in builtin_phrases().entries:
        for sequence in compile_pattern(entry.phrase):
            if len(sequence) != 1:
                continue
            step = sequence[0]
            if step.kind is StepKind.STEM:
                stemmed |= {word for word in words if word.startswith(step.exact)}
            elif " " in entry.phrase.strip() and step.exact in words:
                joined.add((step.exact, entry.phrase))
            elif step.exact in words:
                single.add(step.exact)
    assert joined == set()
    assert single <= MEANT_WORDS, single - MEANT_WORDS
    assert stemmed <= MEANT_STEM_WORDS, stemmed - MEANT_STEM_WORDS


SCHOOL = parse_phrases("""\
blue bandana crew,weapons_violence,medium,A local gang
isis,extremism,medium,Our Y10 watched the group's videos,rowing club
kys,off,,Key Stage in our planners
shooting,weapons_violence,medium,We want every mention
kill*,weapons_violence,low,We want every mention
knife,weapons_violence,low,We want every mention
cutting,suicide_self_harm,low,We want every mention
shooting hoops,innocent,,Basketball
""")


def test_merge_adds_replaces_and_switches_off() -> None:
    merged = merge(builtin_phrases(), SCHOOL)
    by_phrase = {e.phrase: e for e in merged.entries}
    assert "kys" not in by_phrase
    assert by_phrase["blue bandana crew"].origin == "school"
    isis = by_phrase["isis"]
    assert (isis.severity, isis.origin, isis.why) == (Severity.MEDIUM, "school", "Our Y10 watched the group's videos")
    assert "river" in isis.unless and "rowing club" in isis.unless  # the catalogue's contexts are kept
    assert len(merged.entries) == len(builtin_phrases().entries) - 1 + 5
    assert merged.innocents[-1].phrase == "shooting hoops" and merged.removals == ()


def test_merge_is_pure() -> None:
    before = builtin_phrases()
    merge(before, SCHOOL)
    assert builtin_phrases() is before and len(before.entries) == len(builtin_phrases().entries)
    assert merge(before, PhraseList()) == PhraseList(before.entries, before.innocents, ())


def test_a_school_list_in_force() -> None:
    matcher = matcher_for(SCHOOL)
    assert [(m.phrase, m.origin) for m in matcher.match("blue-bandana-crew")] == [("blue bandana crew", "school")]
    assert matcher.match("kys") == [] and builtin_matcher().match("kys") != []
    assert matcher.match("isis")[0].severity is Severity.MEDIUM and matcher.match("isis river") == []
    assert matcher.match("shooting hoops") == []


@pytest.mark.parametrize("text", ["how to kill a python process", "shooting stars", "killer whale facts",
                                  "knife and fork", "cutting board", "kill time", "photo shoot"])
def test_the_catalogues_innocent_phrases_also_protect_a_schools_broad_words(text: str) -> None:
    assert matcher_for(SCHOOL).match(text) == [], text


@pytest.mark.parametrize(("text", "phrase"), [("shooting at the school gates", "shooting"),
                                              ("killing spree", "kill*"), ("a knife in his bag", "knife")])
def test_a_schools_broad_words_still_raise_where_they_mean_it(text: str, phrase: str) -> None:
    assert phrase in [m.phrase for m in matcher_for(SCHOOL).match(text)]


def test_an_off_row_that_names_no_builtin_phrase_is_an_error_on_import() -> None:
    school = parse_phrases("kill my self,off,,typo\nkys,off,,fine\n")
    with pytest.raises(PhraseFileError) as caught:
        check_school_list(school, "ours.csv")
    assert [(e.line, e.text) for e in caught.value.errors] == [(1, "kill my self")]
    assert len(merge(builtin_phrases(), school).entries) == len(builtin_phrases().entries) - 1  # merge ignores it


def test_the_builtin_matcher_is_compiled_once() -> None:
    assert builtin_matcher() is builtin_matcher()
    assert isinstance(builtin_matcher(), Matcher)
