"""A school's phrase file: every kind of row read as written, every bad line named, nothing half-imported."""

from __future__ import annotations

from pathlib import Path

import pytest

from rules.safeguarding.categories import Category, Severity
from rules.safeguarding.phrasefile import (
    BUILT_IN,
    MAX_ROWS,
    Entry,
    Innocent,
    PhraseFileError,
    Removal,
    parse_phrases,
    read_phrase_file,
)

GOOD = """\
# Our school's own phrases (saved from the DSL's spreadsheet)
phrase,category,severity,why,unless
blue bandana crew,weapons_violence,medium,"A local gang the police warned us about, 2026."
"meet (at|by) the (old|) quarry",sexual_grooming,high,Where older boys have met pupils,"geography;field trip"
Extremism-Thing,Extremism,LOW,Mixed case categories and severities are fine,
shooting hoops,innocent,,Basketball
kys,off,,Our pupils write KYS for Key Stage
"""


def test_every_kind_of_row() -> None:
    phrases = parse_phrases(GOOD)
    assert phrases.entries == (
        Entry("blue bandana crew", Category.WEAPONS_VIOLENCE, Severity.MEDIUM,
              "A local gang the police warned us about, 2026.", (), "school", 3),
        Entry("meet (at|by) the (old|) quarry", Category.SEXUAL_GROOMING, Severity.HIGH,
              "Where older boys have met pupils", ("geography", "field trip"), "school", 4),
        Entry("Extremism-Thing", Category.EXTREMISM, Severity.LOW, "Mixed case categories and severities are fine",
              (), "school", 5),
    )
    assert phrases.innocents == (Innocent("shooting hoops", "Basketball", "school", 6),)
    assert phrases.removals == (Removal("kys", "Our pupils write KYS for Key Stage", 7),)
    assert len(phrases) == 5


def test_a_spreadsheet_file_with_its_bom_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "phrases.csv"
    path.write_bytes("\ufeffphrase,category,severity,why\r\nsnap map stalker,sexual_grooming,medium,Seen in Y9\r\n"
                     .encode())
    assert [e.phrase for e in read_phrase_file(path).entries] == ["snap map stalker"]


BAD = """\
# a comment
phrase,category,severity,why
fine phrase,bullying_abuse,low,This one is good
only,three,fields
kill myself,nonsense,high,Unknown category
kill myself,bullying_abuse,urgent,Unknown severity
no why,bullying_abuse,low,
(unclosed,bullying_abuse,low,Bad brackets
ab,bullying_abuse,low,Too short
shooting stars,innocent,low,Innocent with a severity
kys,off,,No contexts on an off row,river
fine phrase,drugs_alcohol,low,The same phrase again
"good phrase",drugs_alcohol,low,"A bad context","okay;x*"
a,b,c,d,e,f
"unterminated,drugs_alcohol,low,why
"""


def test_every_bad_line_is_named_and_nothing_is_taken() -> None:
    with pytest.raises(PhraseFileError) as caught:
        parse_phrases(BAD, source="school.csv")
    errors = {error.line: error.why for error in caught.value.errors}
    assert sorted(errors) == [4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]  # line 3 is good, yet nothing is returned
    assert "expected 4 or 5 fields" in errors[4] and "found 3" in errors[4]
    assert "unknown category 'nonsense'" in errors[5] and "suicide_self_harm" in errors[5]
    assert "unknown severity 'urgent'" in errors[6]
    assert "say why" in errors[7]
    assert "brackets do not pair up" in errors[8]
    assert "fewer than 3 letters" in errors[9]
    assert "has no severity" in errors[10]
    assert "no innocent contexts" in errors[11]
    assert errors[12] == "the same phrase as line 3"
    assert "the innocent context 'x*'" in errors[13] and "at least 4 letters" in errors[13]
    assert "found 6" in errors[14]
    assert "not a CSV row" in errors[15]
    message = str(caught.value)
    assert message.startswith("school.csv: 12 bad lines, nothing imported")
    assert "  line 5: unknown category 'nonsense'" in message


def test_off_is_only_for_a_school_file() -> None:
    with pytest.raises(PhraseFileError, match="'off' is for a school's file"):
        parse_phrases("kys,off,,why\n", origin=BUILT_IN)


def test_an_innocent_phrase_and_an_entry_may_share_words() -> None:
    phrases = parse_phrases("shooting,weapons_violence,low,Ours\nshooting,innocent,,Also ours\n")
    assert len(phrases.entries) == 1 and len(phrases.innocents) == 1


def test_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("fine,bullying_abuse,low,ok\ncaf\xe9 crew,bullying_abuse,low,ok\n".encode("latin-1"))
    with pytest.raises(PhraseFileError) as caught:
        read_phrase_file(path)
    assert caught.value.errors[0].line == 2 and "UTF-8" in caught.value.errors[0].why


def test_too_many_rows_stops_with_an_error() -> None:
    text = "".join(f"phrase number {n:05d},drugs_alcohol,low,why\n" for n in range(MAX_ROWS + 5))
    with pytest.raises(PhraseFileError) as caught:
        parse_phrases(text)
    assert [e.line for e in caught.value.errors] == [MAX_ROWS + 1]


def test_an_empty_file_is_an_empty_list() -> None:
    assert len(parse_phrases("# nothing yet\n\nphrase,category,severity,why\n")) == 0
