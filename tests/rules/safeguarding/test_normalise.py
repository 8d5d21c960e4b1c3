"""Normalisation: however a pupil types a word, it reaches the matcher in one form; ordinary words stay exact."""

from __future__ import annotations

import pytest

from rules.safeguarding.normalise import MAX_TEXT, decode, fold, lattice, skeleton, word_forms, words


@pytest.mark.parametrize(("raw", "decoded"), [
    ("kill%20myself", "kill myself"),
    ("kill+myself", "kill myself"),
    ("kill%2520myself", "kill myself"),            # encoded twice, as some redirects do
    ("caf%C3%A9", "café"),
    ("100% sure", "100% sure"),                    # a bare % is left alone
    ("plain text", "plain text"),
])
def test_decode(raw: str, decoded: str) -> None:
    assert decode(raw) == decoded


@pytest.mark.parametrize(("raw", "folded"), [
    ("KILL Myself", "kill myself"),
    ("Kïll mysélf", "kill myself"),
    ("ＫＩＬＬ", "kill"),                           # full-width letters
    ("k\u200bill", "kill"),                        # a zero-width space inside the word
    ("Straße", "strasse"),
    ("don't", "dont"),
    ("I\u2019m", "im"),
])
def test_fold(raw: str, folded: str) -> None:
    assert fold(raw) == folded


@pytest.mark.parametrize(("raw", "forms"), [
    ("kill", ["kill"]),
    ("1488", ["1488"]),                            # digits alone stay digits
    ("k1ll", ["kill", "klll"]),                    # 1 is i or l
    ("ki11", ["kiii", "kiil", "kili", "kill"]),
    ("my5elf", ["myself"]),
    ("$uicide", ["suicide"]),
    ("@na", ["ana"]),
    ("pr0", ["pro"]),
    ("su!c!de", ["suicide"]),
    ("ki||", ["kill"]),
    ("myself!!", ["myself"]),                      # punctuation at the end is punctuation
    ("$5", ["5"]),
    ("!!!", []),
])
def test_word_forms(raw: str, forms: list[str]) -> None:
    assert word_forms(raw) == forms


def test_words_split_at_every_separator() -> None:
    assert words("www.how-to_kill/my.self?q=1") == ["www", "how", "to", "kill", "my", "self", "q", "1"]


def test_a_stretched_word_is_compared_by_its_skeleton_an_ordinary_one_exactly() -> None:
    assert skeleton("kiiiill") == "kil" and skeleton("noose") == "nose"
    _, edges = lattice("kiiiill nose noose")
    assert edges[0] == [("kil", True, 1)]        # stretched: the skeleton, looked up among skeletons
    assert edges[1] == [("nose", False, 2)]      # typed normally: exactly, so "nose" never reads as "noose"
    assert edges[2] == [("noose", False, 3)]


def test_letters_spaced_out_are_also_read_joined() -> None:
    shown, edges = lattice("k i l l myself")
    assert shown == ["k", "i", "l", "l", "myself"]
    assert ("kill", False, 4) in edges[0] and ("ill", False, 4) in edges[1]
    assert all(edge[2] <= 4 for position in edges[:4] for edge in position)  # never across a real word


def test_two_letters_are_not_a_spelled_out_word() -> None:
    _, edges = lattice("a b cat")
    assert [len(position) for position in edges] == [1, 1, 1]


def test_text_is_read_to_a_limit() -> None:
    shown, _ = lattice("word " * 2000 + "kill myself")
    assert len(" ".join(shown)) <= MAX_TEXT and "myself" not in shown


@pytest.mark.parametrize("typed", [
    "how to k\u0456ll myself",        # a Cyrillic і, from a keyboard switched to Ukrainian
    "how to kill m\u0443self",        # a Cyrillic у
    "how to k\u0131ll myself",        # the Turkish dotless ı
    "how to k%C4%B1ll myself",        # the same, URL-encoded
    "how to \u03baill my\u0455elf",   # a Greek κ and a Cyrillic ѕ
    "how to k\u034fill myself",       # the combining grapheme joiner, which draws nothing, inside the word
    "how to k\u3164ill myself",       # the Hangul filler, a "letter" that draws nothing
])
def test_look_alike_letters_and_invisible_letters_hide_nothing(typed: str) -> None:
    from rules.safeguarding.matcher import match
    assert "(kill|killing) (myself|my self)" in [m.phrase for m in match(typed)]


@pytest.mark.parametrize(("raw", "folded"), [
    ("Привет, как дела", "привет, kak дела"),      # Russian keeps its own letters (a word of look-alikes aside)
    ("καλημέρα Αθήνα", "καλημερα αθηνα"),           # so does Greek
    ("k\u0456ll", "kill"),
])
def test_look_alikes_are_read_as_latin_only_among_latin_letters_or_alone(raw: str, folded: str) -> None:
    assert fold(raw) == folded
