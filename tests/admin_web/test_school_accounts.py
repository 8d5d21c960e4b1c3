"""The site creation approval form and school accounts in the admin web: the policy's words on the screen, the
form's rules with its own messages, the signing order, who may open and press what, and the audit trail. On
SQLite and PostgreSQL."""

from __future__ import annotations

import html
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from admin_web.access import ANY
from rules.policy.families import family
from rules.school_media.site_forms import AUDIENCE_BOXES, QUESTIONS
from rules.store.models import (
    AccessRequest,
    AuditEntry,
    Rule,
    Schedule,
    SiteCreationForm,
    SocialAccount,
    SocialAccountMember,
    User,
)
from rules.workflows.accounts import TRUST_ADMIN_POWERS
from tests.admin_web.conftest import ACCOUNTS, csrf_token, sign_in

AIMS = "What are your aims and what do you hope to achieve by setting up this site?"


def account_id(app: Flask, who: str) -> int:
    with app.extensions["schoolgate_db"].session(read_only=True) as session:
        found = session.scalar(select(User.id).where(User.email == ACCOUNTS[who][0]))
        assert found is not None
        return found


def text_of(response: object) -> str:
    page = response.get_data(as_text=True)  # type: ignore[attr-defined]
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def form_data(app: Flask, **changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "platform": "tiktok", "site_name": "St Mary's CE Primary", "site_url": "https://www.tiktok.com/@stmarys",
        "department": "School office", "moderator": "Olive Office", "aims": "Share good news with parents.",
        "content": "Sports day and closures.", "audience_families": "y", "audience_pupils": "y",
        "audience_pupils_details": "7 to 11", "contributors_staff": "y",
        "administrator_ids": [account_id(app, "staff"), account_id(app, "office_manager")],
        "vetter": "Olive Office, office manager", "host": "TikTok", "go_live": "2026-12-01",
        "advertise": "The newsletter.", "parental_consent": "", "security_measures": "Followers approved.",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def post_as(client: FlaskClient, path: str, data: dict[str, object]) -> object:
    return client.post(path, data={**data, "csrf_token": csrf_token(client, "/site-forms/new")})


def file_form(app: Flask, who: str = "staff") -> tuple[FlaskClient, int]:
    client = sign_in(app.test_client(), who)
    response = post_as(client, "/site-forms/new", form_data(app))
    assert response.status_code == 302, text_of(response)  # type: ignore[attr-defined]
    return client, int(response.headers["Location"].rsplit("/", 1)[1])  # type: ignore[attr-defined]


def approved(app: Flask, poster: str = "other", schedule_id: int = 0) -> tuple[int, int]:
    _, form_id = file_form(app)
    marketing = sign_in(app.test_client(), "marketing")
    assert post_as(marketing, f"/site-forms/{form_id}/marketing", {"agree": "y"}).status_code == 302  # type: ignore[attr-defined]
    head = sign_in(app.test_client(), "headteacher")
    response = post_as(head, f"/site-forms/{form_id}/headteacher",
                       {"agree": "y", "poster_ids": [account_id(app, poster)], "schedule_id": schedule_id})
    location = response.headers["Location"]  # type: ignore[attr-defined]
    assert "/school-accounts/" in location, text_of(head.get(f"/site-forms/{form_id}"))
    return form_id, int(location.rsplit("/", 1)[1])


def test_every_member_of_staff_reaches_the_form_from_home(app: Flask) -> None:
    for who in ANY:
        page = sign_in(app.test_client(), who).get("/").get_data(as_text=True)
        assert 'href="/site-forms/new"' in page, who


def test_the_form_has_the_policys_sections_and_questions_word_for_word(app: Flask) -> None:
    text = text_of(sign_in(app.test_client(), "staff").get("/site-forms/new"))
    for words in ("Social media site creation approval form", "Use of social media on behalf of the school must be "
                  "approved by the headteacher prior to setting up sites.", "Team details", "Department",
                  "Moderator of site", "Purpose of using social media",
                  "Please describe why you want to set up this site and the content of the site", AIMS,
                  "What is the proposed content of the site?", "Proposed audience of the site",
                  "Proposed contributors to the site", "Ages: age range", "Schools involved: name of school",
                  "Administration of the site", *QUESTIONS.values(), *(box.label for box in AUDIENCE_BOXES),
                  "Facebook", "Instagram", "X (Twitter)", "TikTok"):
        assert words in text, words


def test_fewer_than_two_administrators_is_refused_and_nothing_typed_is_lost(app: Flask) -> None:
    client = sign_in(app.test_client(), "staff")
    response = post_as(client, "/site-forms/new", form_data(app, administrator_ids=[account_id(app, "staff")],
                                                            aims="Our <b>own</b> words"))
    assert response.status_code == 400  # type: ignore[attr-defined]
    text = text_of(response)
    assert "the site must have at least two approved administrators" in text
    assert "Our <b>own</b> words" in text and "St Mary's CE Primary" in text  # shown back, as text
    with app.extensions["schoolgate_db"].session(read_only=True) as session:
        assert session.scalar(select(SiteCreationForm.id)) is None


@pytest.mark.parametrize(("changes", "words"), [
    ({"audience_pupils_details": ""}, "give \u201cAges: age range\u201d"),
    ({"contributors_other_schools": "y"}, "give \u201cSchools involved: name of school\u201d"),
    ({"audience_other": "y"}, "Other (please give details)"),
    ({"platform": None}, "choose the platform"),
    ({"go_live": "31/12/2026"}, "Proposed date of going live"),
    ({"site_url": "https://www.facebook.com/stmarys"}, "must be on TikTok"),
    ({"contributors_pupils": "y", "contributors_pupils_details": "10 to 11"}, "If contributors include pupils"),
    ({"administrator_ids": ["1", "99999999999"]}, "Names of administrators"),
])
def test_each_rule_of_the_form_is_shown_with_its_words(app: Flask, changes: dict[str, object], words: str) -> None:
    client = sign_in(app.test_client(), "staff")
    response = post_as(client, "/site-forms/new", form_data(app, **changes))
    assert response.status_code == 400  # type: ignore[attr-defined]
    assert words in text_of(response)


def test_marketing_then_headteacher_then_the_account(app: Flask) -> None:
    with app.extensions["schoolgate_db"].session() as session:
        session.add(Schedule(name="School hours", days="mon,tue,wed,thu,fri", start_time="08:30", end_time="15:30"))
    staff, form_id = file_form(app)
    head = sign_in(app.test_client(), "headteacher")
    early = post_as(head, f"/site-forms/{form_id}/headteacher", {"agree": "y", "schedule_id": 0})
    assert "the marketing officer must approve the form before the headteacher" in text_of(
        head.get(early.headers["Location"]))  # type: ignore[attr-defined]
    marketing = sign_in(app.test_client(), "marketing")
    page = text_of(marketing.get(f"/site-forms/{form_id}"))
    assert "I approve the aims and content of the proposed site and the use of the school brand and logo." in page
    post_as(marketing, f"/site-forms/{form_id}/marketing", {"agree": "y"})
    assert "Waiting for the headteacher" in text_of(staff.get(f"/site-forms/{form_id}"))
    page = text_of(head.get(f"/site-forms/{form_id}"))
    assert "School hours" in page and "Any time" in page
    for domain in family("tiktok").domains:  # the list of what opens, before signing
        assert domain in page
    with app.extensions["schoolgate_db"].session(read_only=True) as session:
        hours = session.scalar(select(Schedule.id).where(Schedule.name == "School hours"))
    form_id_, account = approved_app_form(app, head, form_id, hours)
    printed = text_of(staff.get(f"/site-forms/{form_id}/print"))
    assert "Marketing officer" in printed and "Signed electronically by Mo Market (mo.market@school.test)" in printed
    assert "Signed electronically by Ann Head (ann.head@school.test)" in printed
    shown = text_of(staff.get(f"/school-accounts/{account}"))
    assert "Olly Other (olly.other@school.test)" in shown and "School hours" in shown
    assert "Sam Staff (sam.staff@school.test)" in shown  # an administrator
    with app.extensions["schoolgate_db"].session(read_only=True) as session:
        stored = session.get(SocialAccount, account)
        assert stored is not None and stored.schedule_id == hours and stored.name == "St Mary's CE Primary"
        trail = [(a.action, a.actor) for a in session.scalars(select(AuditEntry).order_by(AuditEntry.id))
                 if a.action.startswith(("site_form.", "school_account."))]
    assert trail == [("site_form.file", "sam.staff@school.test"),
                     ("site_form.marketing_approve", "mo.market@school.test"),
                     ("school_account.create", "ann.head@school.test"),
                     ("site_form.headteacher_approve", "ann.head@school.test")]
    assert form_id_ == form_id


def approved_app_form(app: Flask, head: FlaskClient, form_id: int, hours: int | None) -> tuple[int, int]:
    response = post_as(head, f"/site-forms/{form_id}/headteacher",
                       {"agree": "y", "poster_ids": [account_id(app, "other")], "schedule_id": hours or 0})
    location = response.headers["Location"]  # type: ignore[attr-defined]
    assert "/school-accounts/" in location
    return form_id, int(location.rsplit("/", 1)[1])


def test_signing_needs_the_statement_ticked(app: Flask) -> None:
    _, form_id = file_form(app)
    marketing = sign_in(app.test_client(), "marketing")
    response = post_as(marketing, f"/site-forms/{form_id}/marketing", {})
    assert "tick the statement to sign it" in text_of(marketing.get(response.headers["Location"]))  # type: ignore[attr-defined]
    with app.extensions["schoolgate_db"].session(read_only=True) as session:
        assert session.get(SiteCreationForm, form_id).status == "open"  # type: ignore[union-attr]


def test_refusing_needs_a_reason_and_the_requester_sees_it(app: Flask) -> None:
    staff, form_id = file_form(app)
    marketing = sign_in(app.test_client(), "marketing")
    post_as(marketing, f"/site-forms/{form_id}/refuse", {"reason": ""})
    post_as(marketing, f"/site-forms/{form_id}/refuse", {"reason": "The logo is <b>old</b>."})
    page = text_of(staff.get(f"/site-forms/{form_id}"))
    assert "Refused" in page and "The logo is <b>old</b>." in page
    with app.extensions["schoolgate_db"].session(read_only=True) as session:
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "site_form.refuse"))
        assert entry is not None and entry.actor == "mo.market@school.test"


# The filer, the two signers, and a trust admin (who may do what a headteacher does, in every school).
SEES_FORMS = ("staff", "marketing", "headteacher", "trust_admin")


def test_who_may_open_a_form_and_an_account(app: Flask) -> None:
    form_id, account = approved(app)
    for who in ["signed-out", *ANY]:
        client = app.test_client() if who == "signed-out" else sign_in(app.test_client(), who)
        for path in (f"/site-forms/{form_id}", f"/site-forms/{form_id}/print", f"/school-accounts/{account}"):
            code = client.get(path).status_code
            if who == "signed-out":
                assert code == 302, path
            elif path.startswith("/school-accounts/") or who in SEES_FORMS:
                assert code == 200, (who, path)  # the filer, the two signers; every member of staff the account
            else:
                assert code == 404, (who, path)  # another member's form is not theirs to see
        if who != "signed-out":
            listed = client.get("/site-forms/").get_data(as_text=True)
            assert (f'href="/site-forms/{form_id}"' in listed) == (who in SEES_FORMS)
    assert sign_in(app.test_client(), "staff").get("/school-accounts/999999").status_code == 404


POST_ROLES = {
    "/site-forms/{form}/marketing": {"marketing"},
    "/site-forms/{form}/headteacher": {"headteacher"},
    "/site-forms/{form}/refuse": {"marketing", "headteacher"},
    "/school-accounts/{account}/posters": {"headteacher"},
    "/school-accounts/{account}/posters/{member}/remove": {"headteacher"},
    "/school-accounts/{account}/retire": {"headteacher"},
    "/school-accounts/{account}/hours": {"headteacher"},
    "/school-accounts/hours": {"headteacher"},
}


def test_every_change_is_refused_to_the_roles_without_it(app: Flask) -> None:
    form_id, account = approved(app)
    with app.extensions["schoolgate_db"].session(read_only=True) as session:
        member = session.scalar(select(SocialAccountMember.id).where(SocialAccountMember.role == "poster"))
    for who in ["signed-out", *ANY]:
        client = app.test_client() if who == "signed-out" else sign_in(app.test_client(), who)
        for template, allowed in POST_ROLES.items():
            path = template.format(form=form_id, account=account, member=member)
            if who == "signed-out":
                assert client.post(path).status_code in (302, 400), path
                continue
            code = post_as(client, path, {}).status_code  # type: ignore[attr-defined]
            holds = who in allowed or (who == "trust_admin" and bool(allowed & set(TRUST_ADMIN_POWERS)))
            assert (code == 403) == (not holds), (who, path, code)


def test_the_headteacher_changes_posters_and_retires_with_a_reason(app: Flask) -> None:
    _, account = approved(app)
    head = sign_in(app.test_client(), "headteacher")
    post_as(head, f"/school-accounts/{account}/posters", {"user_id": account_id(app, "dsl")})
    with app.extensions["schoolgate_db"].session(read_only=True) as session:
        dee = session.scalar(select(SocialAccountMember.id)
                             .where(SocialAccountMember.user_id == account_id(app, "dsl")))
    page = text_of(head.get(f"/school-accounts/{account}"))
    assert "Dee Lead (dee.dsl@school.test)" in page and "Remove" in page
    post_as(head, f"/school-accounts/{account}/posters/{dee}/remove", {})
    page = text_of(head.get(f"/school-accounts/{account}"))
    assert "by ann.head@school.test" in page
    post_as(head, f"/school-accounts/{account}/retire", {"reason": ""})
    with app.extensions["schoolgate_db"].session(read_only=True) as session:
        assert session.get(SocialAccount, account).state == "active"  # type: ignore[union-attr]
    post_as(head, f"/school-accounts/{account}/retire", {"reason": "Moved to the PTA's account."})
    page = text_of(sign_in(app.test_client(), "staff").get(f"/school-accounts/{account}"))
    assert "Retired" in page and "Moved to the PTA's account." in page
    with app.extensions["schoolgate_db"].session(read_only=True) as session:
        actions = list(session.scalars(select(AuditEntry.action).where(AuditEntry.actor == "ann.head@school.test")))
    assert {"school_account.poster_add", "school_account.poster_remove", "school_account.retire"} <= set(actions)


def test_the_headteacher_changes_an_accounts_hours(app: Flask) -> None:
    _, account = approved(app)
    with app.extensions["schoolgate_db"].session() as session:
        hours = Schedule(name="School hours", days="mon,tue,wed,thu,fri", start_time="08:30", end_time="15:30")
        session.add(hours)
        session.flush()
        hours_id = hours.id
    head = sign_in(app.test_client(), "headteacher")
    post_as(head, f"/school-accounts/{account}/hours", {"schedule_id": 424242})
    assert "choose hours from the list" in text_of(head.get(f"/school-accounts/{account}"))
    post_as(head, f"/school-accounts/{account}/hours", {"schedule_id": hours_id})
    assert "School hours: mon,tue,wed,thu,fri, 08:30–15:30" in text_of(head.get(f"/school-accounts/{account}"))
    post_as(head, f"/school-accounts/{account}/hours", {"schedule_id": 0})
    with app.extensions["schoolgate_db"].session(read_only=True) as session:
        assert session.get(SocialAccount, account).schedule_id is None  # type: ignore[union-attr]
        reasons = list(session.scalars(select(AuditEntry.reason).where(AuditEntry.action == "school_account.hours")
                                       .order_by(AuditEntry.id)))
    assert reasons == ["School hours", "any time"]


def test_the_signers_see_what_waits_for_them_on_the_start_page(app: Flask) -> None:
    _, form_id = file_form(app)
    assert "1 social media site creation form waiting for your signature" in text_of(
        sign_in(app.test_client(), "marketing").get("/"))
    assert "waiting for your signature" not in text_of(sign_in(app.test_client(), "headteacher").get("/"))
    post_as(sign_in(app.test_client(), "marketing"), f"/site-forms/{form_id}/marketing", {"agree": "y"})
    assert "1 social media site creation form waiting for your signature" in text_of(
        sign_in(app.test_client(), "headteacher").get("/"))
    assert "waiting for your signature" not in text_of(sign_in(app.test_client(), "marketing").get("/"))


def test_the_headteacher_adds_the_schools_hours(app: Flask) -> None:
    head = sign_in(app.test_client(), "headteacher")
    post_as(head, "/school-accounts/hours", {"name": "School hours", "days": ["mon", "tue", "wed", "thu", "fri"],
                                             "start": "08:30", "end": "15:30"})
    post_as(head, "/school-accounts/hours", {"name": "Bad", "days": ["mon"], "start": "08:30", "end": "08:30"})
    page = text_of(head.get("/school-accounts/"))
    assert "School hours : mon,tue,wed,thu,fri, 08:30–15:30" in page
    assert "must start and end at different times" in page
    with app.extensions["schoolgate_db"].session(read_only=True) as session:
        assert [s.name for s in session.scalars(select(Schedule))] == ["School hours"]
        assert session.scalar(select(AuditEntry.actor).where(AuditEntry.action == "schedule.create")) == \
            "ann.head@school.test"


def file_request(app: Flask, url: str) -> int:
    staff = sign_in(app.test_client(), "staff")
    response = staff.post("/requests/new", data={"full_url": url, "site_content": "A lesson video.",
                                                  "reasons_for_access": "Year 6 science.",
                                                  "risks_and_controls": "Shown from the front.",
                                                  "csrf_token": csrf_token(staff, "/requests/new")})
    return int(response.headers["Location"].rsplit("/", 1)[1])


def approve_request(app: Flask, request_id: int, reach: str) -> FlaskClient:
    head = sign_in(app.test_client(), "headteacher")
    head.post(f"/requests/{request_id}/decide", data={
        "approved": "yes", "reasons": "A sound plan.", "scope": "everyone", "until": "2099-01-01", "reach": reach,
        "csrf_token": csrf_token(head, f"/requests/{request_id}")})
    return head


def test_the_whole_service_opens_every_domain_of_the_family(app: Flask) -> None:
    request_id = file_request(app, "https://www.tiktok.com/@nasa/video/1")
    head = sign_in(app.test_client(), "headteacher")
    page = text_of(head.get(f"/requests/{request_id}"))
    assert "This site only" in page and "The whole service" in page
    for domain in family("tiktok").domains:
        assert domain in page
    approve_request(app, request_id, "service")
    with app.extensions["schoolgate_db"].session(read_only=True) as session:
        req = session.get(AccessRequest, request_id)
        assert req is not None and req.service == "tiktok"
        rules = list(session.scalars(select(Rule).order_by(Rule.id)))
        assert [r.domain for r in rules] == list(family("tiktok").domains)
        assert req.rule_id == rules[0].id
        assert {(r.action, r.scope, r.expires_at) for r in rules} == {("allow", "everyone", req.expires_at)}
    printed = text_of(head.get(f"/requests/{request_id}/print"))
    assert "the whole service TikTok" in printed and "tiktokcdn.com" in printed


def test_this_site_only_opens_the_host_alone(app: Flask) -> None:
    request_id = file_request(app, "https://www.tiktok.com/@nasa/video/1")
    approve_request(app, request_id, "site")
    with app.extensions["schoolgate_db"].session(read_only=True) as session:
        req = session.get(AccessRequest, request_id)
        assert req is not None and req.service is None
        assert [r.domain for r in session.scalars(select(Rule))] == ["www.tiktok.com"]


def test_a_host_of_no_service_has_no_choice_and_cannot_open_a_service(app: Flask) -> None:
    request_id = file_request(app, "https://www.videosite.test/lesson")
    head = approve_request(app, request_id, "service")
    assert "The whole service" not in text_of(head.get(f"/requests/{request_id}"))
    with app.extensions["schoolgate_db"].session(read_only=True) as session:
        assert session.get(AccessRequest, request_id).status == "open"  # type: ignore[union-attr]
        assert session.scalar(select(Rule.id)) is None
