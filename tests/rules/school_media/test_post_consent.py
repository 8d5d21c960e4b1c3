"""A post's pupils against the consent record: the words each problem is told in, on the day asked, and full
names found in a post's text."""

from __future__ import annotations

from datetime import date

import pytest

from rules.consent.status import ConsentInForce, Media
from rules.school_media.post_consent import PostPupil, full_names_in, problem

DAY = date(2026, 11, 27)
BOTH = (Media.IMAGES, Media.VIDEOS)


def tconsent(images: bool, videos: bool, change: str | None = "given", on: str | None = "2026-09-03") -> ConsentInForce:
    return ConsentInForce(7, images, videos, None if change is None else 1, change, on)


@pytest.mark.parametrize(("consent", "needs", "said"), [
    (tconsent(True, True), BOTH, None),
    (tconsent(True, False), (Media.IMAGES,), None),
    (tconsent(False, False), (), None),  # a text-only post needs no consent
    (tconsent(False, False, None, None), (Media.IMAGES,), "no consent recorded this academic year (2026/27)"),
    (tconsent(False, False, "withdrawn", "2026-11-20"), (Media.IMAGES,), "consent withdrawn on 20 Nov 2026"),
    (tconsent(True, False, "withdrawn", "2026-11-20"), BOTH, "consent for videos withdrawn on 20 Nov 2026"),
    (tconsent(True, False), BOTH, "images only, no videos (given on 03 Sep 2026)"),
    (tconsent(True, False, "amended", "2026-10-01"), (Media.VIDEOS,),
     "images only, no videos (amended on 01 Oct 2026)"),
    (tconsent(False, True), (Media.IMAGES,), "videos only, no images (given on 03 Sep 2026)"),
    (tconsent(False, False), (Media.IMAGES,),
     "no consent for images or videos this academic year (given on 03 Sep 2026)"),
])
def test_problem_words(consent: ConsentInForce, needs: tuple[Media, ...], said: str | None) -> None:
    assert problem(consent, needs, DAY) == said


def pupil(name: str) -> PostPupil:
    return PostPupil(1, name, "4B", None, True)


@pytest.mark.parametrize(("text", "name", "found"), [
    ("Well done Amy Able!", "Amy Able", True),
    ("well done AMY\n able", "Amy Able", True),
    ("Amy was brilliant", "Amy Able", False),  # a first name alone is not a full name
    ("Amy Ablewhite won", "Amy Able", False),  # whole words only
    ("Congratulations Mary Smith", "Mary Jane Smith", True),  # first and last name of a longer name
    ("Congratulations Mary Jane Smith", "Mary Jane Smith", True),
    ("Ali", "Ali", False),  # one word is never a full name
    ("O'Neil (Sean O'Neil) ran", "Sean O'Neil", True),
])
def test_full_names_in_text(text: str, name: str, found: bool) -> None:
    assert (full_names_in(text, [pupil(name)]) != []) == found
