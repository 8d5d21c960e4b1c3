"""Dates as schools write them: the three forms read, one form shown, anything else refused with words."""

from __future__ import annotations

from datetime import date

import pytest

from rules.school_dates import DateError, parse_school_date, show


@pytest.mark.parametrize("text", ["23/09/26", "23/09/2026", "2026-09-23", " 23/9/26 ", "23/09/2026\n"])
def test_the_policy_date_in_every_accepted_form(text: str) -> None:
    assert parse_school_date(text) == date(2026, 9, 23)


@pytest.mark.parametrize(("text", "words"), [
    ("", "DD/MM/YY, DD/MM/YYYY or YYYY-MM-DD"),
    ("23.09.26", "DD/MM/YY"),
    ("09/23/26", "not a day of the calendar"),  # American order: month 23
    ("31/02/2027", "not a day of the calendar"),
    ("2026-9-23", "DD/MM/YY"),
    ("23/09/026", "DD/MM/YY"),
    ("next tuesday", "DD/MM/YY"),
    ("01/01/1999", "from 01/01/2000 to 31/12/2099"),
    ("9999-12-31", "from 01/01/2000"),
    ("23/09/26<script>", "DD/MM/YY"),
])
def test_anything_else_is_refused_saying_what_to_type(text: str, words: str) -> None:
    with pytest.raises(DateError, match=words):
        parse_school_date(text)


def test_shown_as_dd_mm_yyyy() -> None:
    assert show(date(2026, 9, 23)) == "23/09/2026"
    assert show("2026-03-04") == "04/03/2026"
    assert show(None) == "—"
