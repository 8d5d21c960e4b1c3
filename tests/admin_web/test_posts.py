"""Posts on the school's accounts, through the Flask test client on SQLite and PostgreSQL: who may submit, the
consent check on the day of approval, the checklist, the author never approving, once only, and the audit."""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from rules.consent.academic_year import label
from rules.school_media.post_checklist import CONTENT_KINDS, CRITERIA, EVERY_CRITERION
from rules.school_media.posts import approved_posts_no_longer_covered, london_today
from rules.store.models import AuditEntry, SocialPost, SocialPostPupil
from rules.workflows.accounts import TRUST_ADMIN_POWERS
from tests.admin_web.conftest import ACCOUNTS, csrf_token, post, sign_in
from tests.fixtures.post_school import days_ago, taccount, tconsent, this_year, tposter, tpupil

ALL_TICKED = {"kinds": [CONTENT_KINDS[2]], "criteria": list(EVERY_CRITERION)}


@dataclass
class School:
    account: int
    retired: int
    pupils: dict[str, int]


@pytest.fixture
def school(app: Flask) -> School:
    """4B: Amy (images and videos), Ben (images only), Cara (withdrew, dated three days ago, recorded today), Dan
    (consent for last year only), Eve (left: off roll); 5C: Finn (images and videos). Sam Staff and Ann Head post on
    the Facebook account; Olly Other was a poster and was removed; Sam posts on a retired account too."""
    with app.extensions["schoolgate_db"].session() as session:
        amy, ben, cara = tpupil(session, "Amy Able"), tpupil(session, "Ben Brook"), tpupil(session, "Cara Cole")
        dan, eve, finn = tpupil(session, "Dan Dale"), tpupil(session, "Eve East", on_roll=False), \
            tpupil(session, "Finn Ford", "5C")
        for pupil in (amy, cara, eve, finn):
            tconsent(session, pupil, images=True, videos=True)
        tconsent(session, ben, images=True, videos=False)
        tconsent(session, cara, images=False, videos=False, change="withdrawn", effective_on=days_ago(3))
        tconsent(session, dan, images=True, videos=True, year=this_year() - 1)
        account, retired = taccount(session), taccount(session, "Old X account", platform="x", state="retired")
        tposter(session, account, ACCOUNTS["staff"][0])
        tposter(session, account, ACCOUNTS["headteacher"][0])
        tposter(session, account, ACCOUNTS["other"][0], removed=True)
        tposter(session, retired, ACCOUNTS["staff"][0])
        return School(account.id, retired.id, {p.name.split()[0]: p.id for p in (amy, ben, cara, dan, eve, finn)})


def submit(client: FlaskClient, account: int, text: str = "Sports day was a joy!", *, images: bool = True,
           videos: bool = False, classes: tuple[str, ...] = (), pupils: tuple[int, ...] = ()) -> object:
    data: dict[str, object] = {"account_id": account, "text": text, "classes": list(classes),
                               "pupil_ids": list(pupils)}
    if images:
        data["has_images"] = "y"
    if videos:
        data["has_videos"] = "y"
    return post(client, "/posts/new", data, "/posts/new")


def submitted(client: FlaskClient, account: int, **kw: object) -> int:
    response = submit(client, account, **kw)  # type: ignore[arg-type]
    assert response.status_code == 302, response.get_data(as_text=True)  # type: ignore[attr-defined]
    return int(response.headers["Location"].rsplit("/", 1)[1])  # type: ignore[attr-defined]


def page(client: FlaskClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return html.unescape(response.get_data(as_text=True))


def approve(client: FlaskClient, post_id: int, ticks: dict[str, list[str]] | None = None,
            seen: str | None = None) -> str:
    """Tick the checklist and press approve as the screen would (the form's `seen` read from the page), then
    return the post's page with the flashed outcome."""
    text = page(client, f"/posts/{post_id}")
    if seen is None:
        match = re.search(r'name="seen" type="hidden" value="([^"]+)"', text)
        assert match, "no approval form"
        seen = match.group(1)
    response = client.post(f"/posts/{post_id}/approve", data={**(ALL_TICKED if ticks is None else ticks),
                                                                "seen": seen, "csrf_token": csrf_token(client)})
    assert response.status_code == 302
    return page(client, f"/posts/{post_id}")


def status_of(app: Flask, post_id: int) -> str:
    with app.extensions["schoolgate_db"].session() as session:
        row = session.get(SocialPost, post_id)
        assert row is not None
        return row.status


def pupils_of(app: Flask, post_id: int) -> dict[int, str | None]:
    with app.extensions["schoolgate_db"].session() as session:
        return {r.pupil_id: r.via_class for r in session.scalars(
            select(SocialPostPupil).where(SocialPostPupil.post_id == post_id))}


def audits(app: Flask, action: str) -> list[AuditEntry]:
    with app.extensions["schoolgate_db"].session() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def approve_button(text: str) -> str:
    match = re.search(r"<button[^>]*>Approve the post</button>", text)
    assert match, "no approve button"
    return match.group(0)


# --- who may submit ------------------------------------------------------------------------------------------------

def test_a_member_of_staff_who_is_not_a_poster_cannot_submit(app: Flask, school: School) -> None:
    client = sign_in(app.test_client(), "dsl")
    text = page(client, "/posts/new")
    assert "You are not an authorised poster of any active school account" in text
    assert 'name="text"' not in text and "Amy Able" not in text  # the roll is not shown to them
    assert "Submit a post for a school account" not in page(client, "/")
    assert submit(client, school.account).status_code == 403  # type: ignore[attr-defined]
    with app.extensions["schoolgate_db"].session() as session:
        assert session.scalars(select(SocialPost)).first() is None


def test_a_removed_poster_cannot_submit(app: Flask, school: School) -> None:
    client = sign_in(app.test_client(), "other")
    assert "You are not an authorised poster" in page(client, "/posts/new")
    assert submit(client, school.account).status_code == 403  # type: ignore[attr-defined]
    assert audits(app, "post.submit") == []


def test_a_retired_account_takes_no_posts(app: Flask, school: School) -> None:
    client = sign_in(app.test_client(), "staff")
    form = page(client, "/posts/new")
    assert "St Mary's Facebook" in form and "Old X account" not in form
    assert submit(client, school.retired).status_code == 403  # type: ignore[attr-defined]
    assert audits(app, "post.submit") == []


def test_a_poster_sees_the_home_link_and_their_posts(app: Flask, school: School) -> None:
    client = sign_in(app.test_client(), "staff")
    assert "Submit a post for a school account" in page(client, "/")
    post_id = submitted(client, school.account, text="Harvest festival on Friday", images=False)
    home = page(client, "/")
    assert f"#{post_id} Harvest festival on Friday" in home and "Waiting for approval" in home
    assert "Harvest festival on Friday" in page(client, "/posts/")


def test_pupils_without_images_or_videos_and_an_empty_text_are_refused(app: Flask, school: School) -> None:
    client = sign_in(app.test_client(), "staff")
    response = submit(client, school.account, images=False, pupils=(school.pupils["Amy"],))
    assert response.status_code == 400  # type: ignore[attr-defined]
    assert "pupils appear only in images or videos" in html.unescape(response.get_data(as_text=True))  # type: ignore[attr-defined]
    assert submit(client, school.account, text="  ").status_code == 400  # type: ignore[attr-defined]
    assert submit(client, school.account, pupils=(school.pupils["Eve"],)).status_code == 400  # type: ignore[attr-defined]
    assert audits(app, "post.submit") == []


def test_hostile_and_oversized_input_is_refused_or_shown_as_text(app: Flask, school: School) -> None:
    client = sign_in(app.test_client(), "staff")
    hostile = "<img src=x onerror=alert(1)> Sports day"
    post_id = submitted(client, school.account, text=hostile, images=False)
    raw = sign_in(app.test_client(), "headteacher").get(f"/posts/{post_id}").get_data(as_text=True)
    assert "<img src=x" not in raw and "&lt;img src=x onerror=alert(1)&gt; Sports day" in raw
    too_long = submit(client, school.account, text="x" * 5001, images=False)
    assert too_long.status_code == 400  # type: ignore[attr-defined]
    assert "Text of the post" in too_long.get_data(as_text=True)  # type: ignore[attr-defined]
    for forged in ({"classes": ["9Z"]}, {"pupil_ids": ["99999999999999999999"]}, {"pupil_ids": ["abc"]},
                   {"classes": ["x" * 40]}):
        response = post(client, "/posts/new", {"account_id": school.account, "text": "Hi", "has_images": "y",
                                               **forged}, "/posts/new")
        assert response.status_code == 400, forged  # type: ignore[attr-defined]
    assert len(audits(app, "post.submit")) == 1


# --- pupils by class and by name --------------------------------------------------------------------------------------

def test_a_class_added_expands_to_its_on_roll_pupils(app: Flask, school: School) -> None:
    client = sign_in(app.test_client(), "staff")
    post_id = submitted(client, school.account, classes=("4B",), pupils=(school.pupils["Finn"],))
    p = school.pupils
    assert pupils_of(app, post_id) == {p["Amy"]: "4B", p["Ben"]: "4B", p["Cara"]: "4B", p["Dan"]: "4B",
                                       p["Finn"]: None}  # Eve has left: not on roll, not in the post
    [entry] = audits(app, "post.submit")
    after = json.loads(entry.after or "{}")
    assert entry.actor == ACCOUNTS["staff"][0] and entry.target == f"post #{post_id}"
    assert sorted(after["pupils"]) == sorted([[p["Amy"], "4B"], [p["Ben"], "4B"], [p["Cara"], "4B"],
                                              [p["Dan"], "4B"], [p["Finn"], None]])
    assert "Amy Able" not in (entry.after or "")  # the audit names pupils by id only


def test_the_author_edits_pupils_and_text_while_it_waits_then_withdraws(app: Flask, school: School) -> None:
    client = sign_in(app.test_client(), "staff")
    p = school.pupils
    post_id = submitted(client, school.account, classes=("4B",))
    assert re.search(r'<input checked [^>]*name="classes" [^>]*value="4B">', page(client, f"/posts/{post_id}/edit"))
    # take one pupil of the class out, then change the text and swap the class for Finn by name
    response = post(client, f"/posts/{post_id}/pupils/{p['Dan']}/remove", {}, f"/posts/{post_id}")
    assert response.status_code == 302  # type: ignore[attr-defined]
    assert p["Dan"] not in pupils_of(app, post_id)
    response = post(client, f"/posts/{post_id}/edit", {"text": "Our Year 4 choir", "has_images": "y",
                                                        "classes": ["4B"], "pupil_ids": [p["Finn"]]},
                    f"/posts/{post_id}/edit")
    assert response.status_code == 302  # type: ignore[attr-defined]
    assert pupils_of(app, post_id) == {p["Amy"]: "4B", p["Ben"]: "4B", p["Cara"]: "4B", p["Finn"]: None}
    response = post(client, f"/posts/{post_id}/edit", {"text": "Our Year 4 choir", "has_images": "y",
                                                        "pupil_ids": [p["Finn"]]}, f"/posts/{post_id}/edit")
    assert pupils_of(app, post_id) == {p["Finn"]: None}
    edits = audits(app, "post.edit")
    assert len(edits) == 3 and json.loads(edits[1].after or "{}")["text"] == "Our Year 4 choir"
    # someone else cannot change it, or even see that it exists
    other = sign_in(app.test_client(), "ict")
    assert other.get(f"/posts/{post_id}/edit").status_code == 404
    assert post(other, f"/posts/{post_id}/withdraw", {}, "/posts/").status_code == 404  # type: ignore[attr-defined]
    response = post(client, f"/posts/{post_id}/withdraw", {}, f"/posts/{post_id}")
    assert response.status_code == 302 and status_of(app, post_id) == "withdrawn"  # type: ignore[attr-defined]
    assert len(audits(app, "post.withdraw")) == 1
    post(client, f"/posts/{post_id}/withdraw", {}, f"/posts/{post_id}")
    assert "this post was already withdrawn" in page(client, f"/posts/{post_id}")
    assert len(audits(app, "post.withdraw")) == 1
    assert client.get(f"/posts/{post_id}/edit").status_code == 302  # a decided post cannot be changed


# --- approval --------------------------------------------------------------------------------------------------------

def test_the_author_cannot_approve_their_own_post(app: Flask, school: School) -> None:
    head = sign_in(app.test_client(), "headteacher")
    post_id = submitted(head, school.account, pupils=(school.pupils["Amy"],))
    text = page(head, f"/posts/{post_id}")
    assert "You wrote this post, so the headteacher or the office manager must approve it." in text
    assert "Approve the post" not in text
    # the server refuses a forged approval too
    response = head.post(f"/posts/{post_id}/approve", data={**ALL_TICKED, "seen": "2026-01-01T00:00:00+00:00",
                                                             "csrf_token": csrf_token(head)})
    assert response.status_code == 302
    assert "you wrote this post" in page(head, f"/posts/{post_id}")
    assert status_of(app, post_id) == "submitted" and audits(app, "post.approve") == []
    office = sign_in(app.test_client(), "office_manager")
    assert "Approved by olive.office@school.test" in approve(office, post_id)


def test_an_unticked_checklist_is_refused(app: Flask, school: School) -> None:
    client = sign_in(app.test_client(), "staff")
    post_id = submitted(client, school.account, pupils=(school.pupils["Amy"],))
    head = sign_in(app.test_client(), "headteacher")
    text = page(head, f"/posts/{post_id}")
    for words in (*CONTENT_KINDS, *EVERY_CRITERION, "Staff will ensure that their posts meet the following criteria:",
                  "Before posting on social media, staff will:"):
        assert words in text, words
    one_short = {"kinds": [CONTENT_KINDS[0]], "criteria": list(EVERY_CRITERION[:-1])}
    assert "1 of the 9 criteria is not ticked" in approve(head, post_id, one_short)
    assert "tick the kind of content" in approve(head, post_id, {"kinds": [], "criteria": list(EVERY_CRITERION)})
    forged = {"kinds": ["Anything at all"], "criteria": list(CRITERIA)}
    assert "2 of the 9 criteria are not ticked" in approve(head, post_id, forged)
    assert status_of(app, post_id) == "submitted" and audits(app, "post.approve") == []
    assert "Approved by ann.head@school.test" in approve(head, post_id)
    with app.extensions["schoolgate_db"].session() as session:
        row = session.get(SocialPost, post_id)
        assert row is not None and json.loads(row.checklist) == [CONTENT_KINDS[2], *EVERY_CRITERION]
    [entry] = audits(app, "post.approve")
    after = json.loads(entry.after or "{}")
    assert after["status"] == "approved" and after["media"] == ["images"] and after["day"] == london_today().isoformat()
    assert list(after["consent_records"]) == [str(school.pupils["Amy"])]


def test_a_pupil_with_consent_for_images_only_is_flagged_in_a_post_with_a_video(app: Flask, school: School) -> None:
    client = sign_in(app.test_client(), "staff")
    with_video = submitted(client, school.account, images=True, videos=True,
                           pupils=(school.pupils["Ben"], school.pupils["Amy"]))
    photo_only = submitted(client, school.account, images=True, pupils=(school.pupils["Ben"],))
    office = sign_in(app.test_client(), "office_manager")
    text = page(office, f"/posts/{with_video}")
    assert "Not covered: images only, no videos" in text and "Ben Brook" in text
    assert text.count("Not covered") == 1  # Amy may appear in both
    assert "disabled" in approve_button(text)
    assert "remove the 1 pupil without consent first: Ben Brook (images only, no videos" in approve(office, with_video)
    assert status_of(app, with_video) == "submitted"
    text = page(office, f"/posts/{photo_only}")
    assert "Not covered" not in text and "disabled" not in approve_button(text)
    assert "Approved by" in approve(office, photo_only)


def test_consent_from_last_academic_year_does_not_count(app: Flask, school: School) -> None:
    client = sign_in(app.test_client(), "staff")
    post_id = submitted(client, school.account, pupils=(school.pupils["Dan"],))
    head = sign_in(app.test_client(), "headteacher")
    text = page(head, f"/posts/{post_id}")
    assert f"Not covered: no consent recorded this academic year ({label(this_year())})" in text
    assert "remove the 1 pupil without consent first: Dan Dale" in approve(head, post_id)
    assert status_of(app, post_id) == "submitted"


def test_withdrawn_consent_blocks_approval_until_the_pupil_is_removed(app: Flask, school: School) -> None:
    client = sign_in(app.test_client(), "staff")
    post_id = submitted(client, school.account, classes=("4B",))
    head = sign_in(app.test_client(), "headteacher")
    text = page(head, f"/posts/{post_id}")
    withdrawn_on = days_ago(3).strftime("%d %b %Y")
    assert f"Not covered: consent withdrawn on {withdrawn_on}" in text
    assert "disabled" in approve_button(text)
    assert "Cara Cole (consent withdrawn on" in approve(head, post_id)
    # the author sees the pupils but not their consent (the consent record is the approvers' and the DPO's)
    assert "Not covered" not in page(client, f"/posts/{post_id}")
    for name in ("Cara", "Dan"):  # the approver removes the flagged pupils
        response = post(head, f"/posts/{post_id}/pupils/{school.pupils[name]}/remove", {}, f"/posts/{post_id}")
        assert response.status_code == 302  # type: ignore[attr-defined]
    removed = audits(app, "post.remove_pupil")
    assert [json.loads(e.before or "{}")["pupil_id"] for e in removed] == [school.pupils["Cara"], school.pupils["Dan"]]
    assert removed[0].reason == f"consent withdrawn on {withdrawn_on}"
    assert removed[0].actor == ACCOUNTS["headteacher"][0]
    text = page(head, f"/posts/{post_id}")
    assert "Not covered" not in text and "disabled" not in approve_button(text)
    assert "Approved by ann.head@school.test" in approve(head, post_id)
    assert status_of(app, post_id) == "approved"


def test_approval_happens_once_and_only_for_the_post_as_read(app: Flask, school: School) -> None:
    client = sign_in(app.test_client(), "staff")
    post_id = submitted(client, school.account, pupils=(school.pupils["Amy"],))
    head = sign_in(app.test_client(), "headteacher")
    stale = re.search(r'name="seen" type="hidden" value="([^"]+)"', page(head, f"/posts/{post_id}"))
    assert stale
    post(client, f"/posts/{post_id}/edit", {"text": "Changed after the head read it", "has_images": "y",
                                            "pupil_ids": [school.pupils["Amy"]]}, f"/posts/{post_id}/edit")
    assert "changed or decided by someone else" in approve(head, post_id, seen=stale.group(1))
    assert status_of(app, post_id) == "submitted"
    assert "Approved" in approve(head, post_id)
    office = sign_in(app.test_client(), "office_manager")
    response = office.post(f"/posts/{post_id}/approve", data={**ALL_TICKED, "seen": stale.group(1),
                                                               "csrf_token": csrf_token(office)})
    assert response.status_code == 302
    assert "this post is approved, not waiting for approval" in page(office, f"/posts/{post_id}")
    assert len(audits(app, "post.approve")) == 1


def test_full_names_in_the_text_are_warned_about_but_do_not_block(app: Flask, school: School) -> None:
    client = sign_in(app.test_client(), "staff")
    post_id = submitted(client, school.account, text="Well done AMY  able on her medal!",
                        pupils=(school.pupils["Amy"],))
    head = sign_in(app.test_client(), "headteacher")
    text = page(head, f"/posts/{post_id}")
    assert "Warning: the text contains the full name of Amy Able" in text
    assert "disabled" not in approve_button(text)
    assert "Approved" in approve(head, post_id)
    assert json.loads(audits(app, "post.approve")[0].after or "{}")["full_names_in_text"] == [school.pupils["Amy"]]


def test_a_pupil_named_in_the_text_but_left_off_the_list_is_pointed_out(app: Flask, school: School) -> None:
    """Cara's consent was withdrawn: a photo captioned with her name, and only Amy listed, passed the consent check
    with nothing said. The approver is now told who the text names, with the class, that is not in the post."""
    client = sign_in(app.test_client(), "staff")
    post_id = submitted(client, school.account, text="Amy Able and cara cole won the relay; Eve East cheered",
                        pupils=(school.pupils["Amy"],))
    head = sign_in(app.test_client(), "headteacher")
    text = page(head, f"/posts/{post_id}")
    assert ("Warning: the text names Cara Cole (4B), who is not among the pupils of this post, so their consent has "
            "not been checked") in text
    warning = re.search(r'<p class="notice bad warning-others">(.*?)</p>', text, re.S)
    assert warning and "Eve East" not in warning.group(1)  # off roll: not a pupil of the school any more
    assert "Warning: the text names" not in page(client, f"/posts/{post_id}")  # the author sees no consent hints
    assert "Approved" in approve(head, post_id)  # a warning, as a full name of a listed pupil is
    after = json.loads(audits(app, "post.approve")[0].after or "{}")
    assert after["others_named_in_text"] == [school.pupils["Cara"]]


def test_refuse_and_send_back_need_a_reason_and_the_author_reads_it(app: Flask, school: School) -> None:
    client = sign_in(app.test_client(), "staff")
    first = submitted(client, school.account, pupils=(school.pupils["Amy"],))
    second = submitted(client, school.account, text="Second", images=False)
    head = sign_in(app.test_client(), "headteacher")
    post(head, f"/posts/{first}/return", {"reason": ""}, f"/posts/{first}")
    assert status_of(app, first) == "submitted"
    post(head, f"/posts/{first}/return", {"reason": "Blur the faces in the back row"}, f"/posts/{first}")
    assert status_of(app, first) == "returned"
    assert "Blur the faces in the back row" in page(client, f"/posts/{first}")
    # the author changes it: it waits for approval again
    post(client, f"/posts/{first}/edit", {"text": "Sports day (faces blurred)", "has_images": "y",
                                          "pupil_ids": [school.pupils["Amy"]]}, f"/posts/{first}/edit")
    assert status_of(app, first) == "submitted"
    post(head, f"/posts/{second}/refuse", {"reason": "Not one of our objectives"}, f"/posts/{second}")
    assert status_of(app, second) == "refused" and "Not one of our objectives" in page(client, f"/posts/{second}")
    assert [e.reason for e in audits(app, "post.return")] == ["Blur the faces in the back row"]
    assert [e.reason for e in audits(app, "post.refuse")] == ["Not one of our objectives"]
    post(client, f"/posts/{second}/edit", {"text": "Try again"}, "/posts/")
    assert status_of(app, second) == "refused"


def test_approved_posts_no_longer_covered_after_a_withdrawal(app: Flask, school: School) -> None:
    client = sign_in(app.test_client(), "staff")
    post_id = submitted(client, school.account, text="Science week", pupils=(school.pupils["Amy"],
                                                                              school.pupils["Finn"]))
    head = sign_in(app.test_client(), "headteacher")
    approve(head, post_id)
    listed = page(head, "/posts/")
    assert "Every approved post is still covered by the consent in force today." in listed
    with app.extensions["schoolgate_db"].session() as session:
        from rules.store.models import Pupil

        amy = session.get(Pupil, school.pupils["Amy"])
        assert amy is not None
        tconsent(session, amy, images=False, videos=False, change="withdrawn", effective_on=london_today())
    listed = page(head, "/posts/")
    section = listed[listed.index('id="no-longer-covered"'):]
    assert f"Amy Able</strong> (4B): consent withdrawn on {london_today():%d %b %Y}" in section
    assert "Finn Ford" not in section and f"#{post_id}" in section
    with app.extensions["schoolgate_db"].session() as session:
        [item] = approved_posts_no_longer_covered(session, london_today())
        assert item.post.id == post_id and [p.name for p, _ in item.pupils] == ["Amy Able"]
    assert "no-longer-covered" not in page(client, "/posts/")  # the poster does not get the approvers' list
    assert "take-down" not in page(client, f"/posts/{post_id}")
    # the headteacher has the image removed and records it: the post leaves the list
    assert "Consent was withdrawn or amended for Amy Able" in page(head, f"/posts/{post_id}")
    post(head, f"/posts/{post_id}/take_down", {"reason": ""}, "/posts/")
    assert status_of(app, post_id) == "approved"
    post(head, f"/posts/{post_id}/take_down", {"reason": "Photo deleted from the Facebook page"}, "/posts/")
    assert status_of(app, post_id) == "taken_down"
    assert "Photo deleted from the Facebook page" in page(client, f"/posts/{post_id}")
    assert "Every approved post is still covered by the consent in force today." in page(head, "/posts/")
    [entry] = audits(app, "post.take_down")
    assert entry.reason == "Photo deleted from the Facebook page" and entry.actor == ACCOUNTS["headteacher"][0]
    post(head, f"/posts/{post_id}/take_down", {"reason": "again"}, "/posts/")
    assert "this post is taken down, not an approved post" in page(head, f"/posts/{post_id}")


# --- roles -----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("who", ["signed-out", *ACCOUNTS])
def test_post_pages_by_role(app: Flask, school: School, who: str) -> None:
    """A post names pupils: its author and the approvers see it; to anyone else it does not exist."""
    author = sign_in(app.test_client(), "staff")
    post_id = submitted(author, school.account, pupils=(school.pupils["Amy"],))
    client = app.test_client()
    if who == "signed-out":
        for path in (f"/posts/{post_id}", f"/posts/{post_id}/edit", "/posts/", "/posts/new"):
            response = client.get(path)
            assert response.status_code == 302 and "/signin" in response.headers["Location"], path
        for action in ("approve", "refuse", "return", "take_down", "withdraw", f"pupils/{school.pupils['Amy']}/remove"):
            assert client.post(f"/posts/{post_id}/{action}").status_code in (302, 400)
        return
    sign_in(client, who)
    held = set(ACCOUNTS[who][2]) | (set(TRUST_ADMIN_POWERS) if who == "trust_admin" else set())
    approver = bool(held & {"headteacher", "office_manager"})  # a trust admin decides as a headteacher
    show = client.get(f"/posts/{post_id}").status_code
    edit = client.get(f"/posts/{post_id}/edit").status_code
    if who == "staff":
        assert (show, edit) == (200, 200)
    elif approver:
        assert (show, edit) == (200, 404)
    else:
        assert (show, edit) == (404, 404)
    token = csrf_token(client, "/posts/")
    for action in ("approve", "refuse", "return", "take_down"):
        response = client.post(f"/posts/{post_id}/{action}", data={"csrf_token": token})
        assert response.status_code == (302 if approver else 403), action
    assert status_of(app, post_id) == "submitted"  # no approval without the checklist, no refusal without a reason
    response = client.post(f"/posts/{post_id}/pupils/{school.pupils['Amy']}/remove", data={"csrf_token": token})
    assert response.status_code == (302 if who == "staff" or approver else 404)
    assert (pupils_of(app, post_id) == {}) == (who == "staff" or approver)
