"""The matching engine on small lists of its own: whole words, stems, gaps, joined and spelled-out forms,
the two kinds of exception, one match per phrase, most severe first, sites and automatic lookups."""

from __future__ import annotations

import pytest

from rules.safeguarding.categories import Category, Severity
from rules.safeguarding.matcher import Matcher, match_site
from rules.safeguarding.phrasefile import parse_phrases


def tmatcher(text: str) -> Matcher:
    """A matcher compiled from phrase-file rows, as a school's list would be."""
    return Matcher.compile(parse_phrases(text))


LIST = tmatcher("""\
kill myself,suicide_self_harm,high,First person
shooting,weapons_violence,low,A school's broad word
suicid*,suicide_self_harm,medium,Topic,squad;burpee*
how many * to die,suicide_self_harm,high,A method
isis,extremism,low,The group,river;goddess
shooting star(s|),innocent,,Astronomy
""")


@pytest.mark.parametrize(("text", "phrases"), [
    ("i want to kill myself", ["kill myself"]),
    ("killmyself", ["kill myself"]),
    ("kill-my-self", []),                      # "my self" is not "myself" unless the phrase says so
    ("k i l l m y s e l f", ["kill myself"]),
    ("Suicidal", ["suicid*"]),
    ("SUICIDE", ["suicid*"]),
    ("suicidewatch", ["suicid*"]),             # a stem matches the start of a word, joined words included
    ("presuicide", []),                        # ...never the middle
    ("how many pills to die", ["how many * to die"]),
    ("how many to die", []),                   # the gap is exactly one word
    ("how many paracetamol tablets to die", []),
    ("shooting at the school", ["shooting"]),
    ("isis", ["isis"]),
    ("crisis", []),
    ("is is", []),
])
def test_whole_words_stems_and_gaps(text: str, phrases: list[str]) -> None:
    assert [m.phrase for m in LIST.match(text)] == phrases


def test_an_innocent_phrase_quiets_only_the_words_it_shares() -> None:
    assert LIST.match("shooting stars") == []
    assert [m.phrase for m in LIST.match("shooting stars then shooting at the school")] == ["shooting"]
    quiet = LIST.match("a shooting star", explain=True)
    assert [(m.phrase, m.suppressed_by.kind, m.suppressed_by.phrase, m.suppressed_by.why)
            for m in quiet if m.suppressed_by] == [("shooting", "innocent", "shooting star(s|)", "Astronomy")]


def test_a_context_quiets_its_phrase_anywhere_in_the_text_and_nothing_else() -> None:
    assert LIST.match("the isis river") == [] and LIST.match("river trip, then isis") == []
    assert LIST.match("suicide squad") == [] and LIST.match("suicide burpees in pe") == []
    assert [m.phrase for m in LIST.match("suicide squad: how many pills to die")] == ["how many * to die"]
    quiet = LIST.match("goddess isis", explain=True)[0]
    assert quiet.suppressed_by is not None and (quiet.suppressed_by.kind, quiet.suppressed_by.phrase) == (
        "unless", "goddess")


def test_one_match_per_phrase_most_severe_first() -> None:
    found = LIST.match("suicide, suicidal, suicide; how many ways to die; kill myself")
    assert [(m.phrase, m.severity) for m in found] == [
        ("how many * to die", Severity.HIGH), ("kill myself", Severity.HIGH), ("suicid*", Severity.MEDIUM)]
    assert found[0].category is Category.SUICIDE_SELF_HARM and found[0].why == "A method"
    assert found[0].matched == "how many ways to die" and found[0].origin == "school"


def test_a_phrase_quiet_in_one_place_still_raises_in_another() -> None:
    found = LIST.match("shooting star... later: shooting", explain=True)
    assert [(m.phrase, m.suppressed_by) for m in found] == [("shooting", None)]


def test_explain_lists_raised_matches_before_quiet_ones() -> None:
    found = LIST.match("isis river; kill myself", explain=True)
    assert [(m.phrase, m.suppressed_by is None) for m in found] == [("kill myself", True), ("isis", False)]
    assert [m.phrase for m in LIST.match("isis river; kill myself")] == ["kill myself"]


def test_sites_are_split_at_dots_slashes_hyphens_and_underscores() -> None:
    assert [m.phrase for m in LIST.match_site("www.how-to-kill-myself.example")] == ["kill myself"]
    assert [m.phrase for m in LIST.match_site("forum.example", "/t/kill_myself")] == ["kill myself"]
    assert [m.phrase for m in LIST.match_site("search.example", "/?q=kill+myself")] == ["kill myself"]
    assert [m.phrase for m in LIST.match_site("search.example", "/?q=kill%2Bmyself")] == ["kill myself"]
    assert [m.phrase for m in LIST.match_site("killmyself.example")] == ["kill myself"]
    assert LIST.match_site("www.scunthorpe-united.co.uk", "/essex/shooting-stars") == []


def test_an_international_name_is_read_in_its_own_letters() -> None:
    assert LIST.match("xn--kllmyself-05a.example") == []  # the punycode letters alone say nothing...
    assert [m.phrase for m in LIST.match_site("xn--kllmyself-05a.example")] == ["kill myself"]  # kïllmyself.example


@pytest.mark.parametrize(("host", "path"), [
    ("captive.apple.com", "/kill-myself"),
    ("connectivitycheck.gstatic.com", "/generate_204"),
    ("use-application-dns.net", ""),
    ("mask.icloud.com", ""),
    ("x.resolver.arpa", ""),
    ("suicide.example", "/generate_204"),      # a connectivity-check path: the device's own check
])
def test_automatic_lookups_are_never_matched(host: str, path: str) -> None:
    assert LIST.match_site(host, path, explain=True) == []


def test_a_check_path_with_a_query_is_not_automatic() -> None:
    assert [m.phrase for m in LIST.match_site("suicide.example", "/generate_204?q=1")] == ["suicid*"]


def test_empty_text_and_text_of_symbols_raise_nothing() -> None:
    assert LIST.match("") == [] and LIST.match("!!! $$ @@ ... ///") == [] and LIST.match_search("   ") == []


def test_the_builtin_site_matcher() -> None:
    found = match_site("www.sanctioned-suicide.net", "/threads/123")
    assert [(m.phrase, m.severity) for m in found][0] == ("sanctioned suicide", Severity.HIGH)
    assert match_site("www.youtube.com", "/results?search_query=how+to+self+harm")[0].severity is Severity.HIGH
    assert match_site("captive.apple.com", "/hotspot-detect.html") == []
