"""The policy review page, the headteacher's home page reminder and the review pack, through the Flask test client
(SQLite and PostgreSQL). Today is the real today: 23/09/26 is in the past from 27/11/26 on."""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select

from rules.localtime import LONDON
from rules.store.models import AuditEntry, PolicyReview
from tests.admin_web.conftest import post, sign_in
from tests.rules.review.school import CHILDREN, STAFF_NAME, populate

TODAY = datetime.now(LONDON).date()
NO_DATE = "No date is set for the next review of the social media policy."


def text_of(page: str) -> str:
    """What a reader sees: tags out, entities decoded."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def test_no_date_then_the_policy_date_recorded_and_shown_overdue(app: Flask) -> None:
    head = sign_in(app.test_client(), "headteacher")
    assert NO_DATE in head.get("/review/").get_data(as_text=True)
    assert NO_DATE in head.get("/").get_data(as_text=True)
    response = post(head, "/review/", {"next_review_on": "23/09/26", "reviewed_on": "", "notes": ""}, "/review/")
    assert response.status_code == 302  # type: ignore[attr-defined]
    page = head.get("/review/").get_data(as_text=True)
    assert "<strong>23/09/2026</strong>" in page and "overdue: it was due on 23/09/2026" in page
    home = head.get("/").get_data(as_text=True)
    assert "overdue: it was due on 23/09/2026" in home and NO_DATE not in home
    assert "Policy review" not in sign_in(app.test_client(), "staff").get("/").get_data(as_text=True)


@pytest.mark.parametrize(("form", "words"), [
    ({"next_review_on": "", "reviewed_on": ""}, "give the date, written DD/MM/YY, DD/MM/YYYY or YYYY-MM-DD"),
    ({"next_review_on": "09/23/26", "reviewed_on": ""}, "09/23/26 is not a day of the calendar"),
    ({"next_review_on": "23-09-2026", "reviewed_on": ""}, "write the date as DD/MM/YY, DD/MM/YYYY or YYYY-MM-DD"),
    ({"next_review_on": "23/09/27", "reviewed_on": "01/01/2099"}, "is in the future"),
    ({"next_review_on": "01/09/26", "reviewed_on": "02/09/26"}, "must come after the review"),
])
def test_a_bad_date_is_refused_with_words_and_nothing_is_recorded(app: Flask, form: dict[str, str],
                                                                 words: str) -> None:
    head = sign_in(app.test_client(), "headteacher")
    response = post(head, "/review/", {**form, "notes": "kept"}, "/review/")
    page = response.get_data(as_text=True)  # type: ignore[attr-defined]
    assert response.status_code == 200 and words in html.unescape(page)  # type: ignore[attr-defined]
    with app.extensions["schoolgate_db"].session(read_only=True) as session:
        assert session.scalar(select(func.count()).select_from(PolicyReview)) == 0


def test_the_reminder_shows_from_thirty_days_before(app: Flask) -> None:
    head = sign_in(app.test_client(), "headteacher")
    for days, shown in ((31, False), (30, True)):
        day = (TODAY + timedelta(days=days)).strftime("%d/%m/%Y")
        post(head, "/review/", {"next_review_on": day, "reviewed_on": "", "notes": ""}, "/review/")
        home = head.get("/").get_data(as_text=True)
        assert (f"due for review on {day}, in {days} days" in home) is shown
    history = head.get("/review/").get_data(as_text=True)
    assert history.count("ann.head@school.test") == 2


def test_the_pack_names_no_child_shows_the_counts_and_is_audited(app: Flask) -> None:
    populate(app.extensions["schoolgate_db"])
    head = sign_in(app.test_client(), "headteacher")
    response = head.get("/review/pack")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    seen = text_of(page).casefold()
    for name in CHILDREN:
        for part in [name, *name.split()]:
            assert part.casefold() not in seen, part
            assert html.escape(part).casefold() not in page.casefold(), part
    assert "[pupil]" in seen and STAFF_NAME.casefold() in seen
    seen_as_written = text_of(page)
    assert "Exceptions granted in the period: 1 — for everyone 1, for a group 0, for one device 0" in seen_as_written
    assert "Runs in the period: 4 — passed 3, failed 1." in seen_as_written
    assert "Lifted in the period: 1 , of which false positives: 1 ." in seen_as_written
    assert "4B 2 2 1 0" in seen_as_written and "5A 2 0 0 1" in seen_as_written  # consent coverage per class
    assert 'data-print' in page and "print.css" in page
    with app.extensions["schoolgate_db"].session(read_only=True) as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry)
                              .where(AuditEntry.action == "review_pack.view")) == 1


def test_the_pack_period_is_chosen_and_checked(app: Flask) -> None:
    head = sign_in(app.test_client(), "headteacher")
    page = head.get("/review/pack?from=2025-09-01&to=2026-08-31").get_data(as_text=True)
    assert "01/09/2025 to 31/08/2026" in page
    backwards = head.get("/review/pack?from=2026-08-31&to=2025-09-01").get_data(as_text=True)
    assert "the period starts (31/08/2026) after it ends (01/09/2025); the default period is shown" in \
        html.unescape(backwards)
    assert head.get("/review/pack?from=31/08/2026").status_code == 400


@pytest.mark.parametrize("who", ["dpo", "office_manager", "dsl", "ict", "staff", "marketing"])
def test_only_the_headteacher_reaches_the_review(app: Flask, who: str) -> None:
    other = sign_in(app.test_client(), who)
    assert other.get("/review/pack").status_code == 403 and other.get("/review/").status_code == 403
    assert post(other, "/review/", {"next_review_on": "23/09/26"}, "/").status_code == 403  # type: ignore[attr-defined]
