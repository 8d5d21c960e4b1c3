"""The phrase syntax: alternatives, stems and one-word gaps, and the errors a DSL gets for a bad phrase."""

from __future__ import annotations

import pytest

from rules.safeguarding.patterns import (
    MAX_ALTERNATIVES,
    PatternError,
    Step,
    StepKind,
    alternatives,
    compile_pattern,
    phrase_key,
)


def words(sequence: tuple[Step, ...]) -> str:
    marks = {StepKind.WORD: "", StepKind.STEM: "*"}
    return " ".join("*" if s.kind is StepKind.GAP else s.exact + marks[s.kind] for s in sequence)


def test_alternatives_expand_in_order() -> None:
    assert alternatives("(how|ways) to kill (myself|my self)") == [
        "how to kill myself", "how to kill my self", "ways to kill myself", "ways to kill my self"]
    assert alternatives("shooting star(s|)") == ["shooting stars", "shooting star"]


def test_a_phrase_is_also_read_with_its_words_joined() -> None:
    assert [words(s) for s in compile_pattern("kill (myself|my self)")] == [
        "kill myself", "killmyself", "kill my self"]  # "kill my self" joins to "killmyself" too: listed once


def test_stems_and_gaps() -> None:
    assert [words(s) for s in compile_pattern("suicid*")] == ["suicid*"]
    assert [words(s) for s in compile_pattern("self harm*")] == ["self harm*", "selfharm*"]
    assert [words(s) for s in compile_pattern("how many * to die")] == ["how many * to die"]  # no joined form
    sequence = compile_pattern("how many (* |)to die")
    assert [words(s) for s in sequence] == ["how many * to die", "how many to die", "howmanytodie"]


def test_phrases_are_normalised_as_text_is() -> None:
    assert [words(s) for s in compile_pattern("Pro-Ana")] == ["pro ana", "proana"]
    assert [words(s) for s in compile_pattern("I'm being bullied")][0] == "im being bullied"
    loose = compile_pattern("kill")[0][0]
    assert (loose.exact, loose.loose) == ("kill", "kil")


@pytest.mark.parametrize(("pattern", "message"), [
    ("", "empty phrase"),
    ("   ", "empty phrase"),
    ("(how|ways to kill", "brackets do not pair up"),
    ("how) to kill", "brackets do not pair up"),
    ("((a|b)|c) d", "brackets do not pair up"),
    ("kill|die", "only inside brackets"),
    ("(kill) myself", "offers no choice"),
    ("* myself", "may not begin or end"),
    ("kill *", "may not begin or end"),
    ("sui*cide", "stands alone"),
    ("kil*", "at least 4 letters"),
    ("ab", "fewer than 3 letters"),
    ("(a|b) (c|d) (e|f) (g|h) (i|j) (k|l) (m|n) (o|p) (q|r)", f"more than {MAX_ALTERNATIVES}"),
    (" ".join(["word"] * 13), "more than 12 words"),
    ("(kill|) (|)", "no words"),
    ("(kill|!!)", "no words"),
])
def test_bad_phrases_say_why(pattern: str, message: str) -> None:
    with pytest.raises(PatternError, match=message.replace("(", r"\(")):
        compile_pattern(pattern)


def test_phrase_key_ignores_case_and_spacing_only() -> None:
    assert phrase_key("  Kill   MYSELF ") == phrase_key("kill myself") == "kill myself"
    assert phrase_key("kill my self") != phrase_key("kill myself")
