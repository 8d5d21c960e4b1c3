"""Every route, as every role and signed out: 200, 403, or a redirect to sign in. No route without roles."""

from __future__ import annotations

import pytest
from flask import Flask

from admin_web.access import ANY, EVIDENCE_READERS, LOG_READERS
from rules.store.models import (
    AbuseFollowUp,
    AbuseLogEntry,
    AbuseScreenshot,
    Ban,
    Category,
    Concern,
    Device,
    Group,
    Pupil,
)
from rules.workflows.accounts import TRUST_ADMIN_POWERS
from tests.admin_web.conftest import sign_in

EVERYONE = set(ANY)
CONCERN_READERS = {"dsl", "headteacher"}  # safeguarding concerns: nobody else, not even the ICT technician
CONSENT_READERS = {"headteacher", "office_manager", "dpo"}  # the consent record: children's personal data
# endpoint -> (path, roles that get 200)
GET_ROUTES = {
    "home.index": ("/", EVERYONE),
    "requests.index": ("/requests/", EVERYONE),
    "requests.new": ("/requests/new", EVERYONE),
    "reports.index": ("/reports/", EVERYONE),
    "reports.new": ("/reports/new", EVERYONE),
    "logs.index": ("/logs/", set(LOG_READERS)),
    "logs.device": ("/logs/device/{device}", set(LOG_READERS)),
    "registry.categories": ("/categories/", {"ict"}),
    "registry.category": ("/categories/{category}", {"ict"}),
    "registry.groups": ("/groups/", {"ict"}),
    "registry.group": ("/groups/{group}", {"ict"}),
    "registry.devices": ("/devices/", {"ict"}),
    "registry.device_new": ("/devices/new", {"ict"}),
    "unlocks.index": ("/unlocks/", {"ict", "headteacher"}),
    "bans.index": ("/bans/", EVERYONE),
    "bans.show": ("/bans/{ban}", EVERYONE),
    "bans.evidence": ("/bans/{ban}/evidence", set(EVIDENCE_READERS)),
    "audit.index": ("/audit/", {"ict", "headteacher", "dsl"}),
    "accounts.index": ("/accounts/", {"headteacher"}),
    "accounts.edit": ("/accounts/new", {"headteacher"}),
    "ca.index": ("/certificate/", EVERYONE),
    "privacy.index": ("/privacy/", {"headteacher"}),
    "concerns.index": ("/concerns/", CONCERN_READERS),
    "concerns.show": ("/concerns/{concern}", CONCERN_READERS),
    "concerns.person_of": ("/concerns/{concern}/person", CONCERN_READERS),
    "concerns.person": ("/concerns/person", CONCERN_READERS),
    "phrases.index": ("/safeguarding/phrases/", CONCERN_READERS),
    "raise_concern.new": ("/concerns/raise", EVERYONE),
    "raise_concern.raised": ("/concerns/raised", EVERYONE),
    "auth.password": ("/password", EVERYONE),
    "consent.index": ("/consent/", CONSENT_READERS),
    "consent.class_page": ("/consent/class?name=4B", CONSENT_READERS),
    "consent.pupil": ("/consent/pupils/{pupil}", CONSENT_READERS),
    "posts.index": ("/posts/", EVERYONE),
    "posts.new": ("/posts/new", EVERYONE),
    "site_forms.index": ("/site-forms/", EVERYONE),
    "site_forms.new": ("/site-forms/new", EVERYONE),
    "school_accounts.index": ("/school-accounts/", EVERYONE),
    # issue 14: the abuse log, the policy review and its pack (headteacher only: see admin_web/review.py on dpo)
    "abuse.index": ("/abuse-log/", {"headteacher"}),
    "abuse.new": ("/abuse-log/new", {"headteacher"}),
    "abuse.show": ("/abuse-log/{abuse_entry}", {"headteacher"}),
    "abuse.edit": ("/abuse-log/{abuse_entry}/edit", {"headteacher"}),
    "abuse.screenshot": ("/abuse-log/screenshots/{abuse_screenshot}", {"headteacher"}),
    "review.index": ("/review/", {"headteacher"}),
    "review.pack": ("/review/pack", {"headteacher"}),
}
# Routes reached only by POST, or whose GET answer depends on data (tested in the workflow tests).
POST_ONLY = {"auth.signout", "requests.review", "requests.decide", "reports.action", "registry.import_list",
             "bans.confirm", "bans.lift", "bans.supervise", "unlocks.confirm", "unlocks.refuse", "logs.export",
             "privacy.export", "privacy.erase_person", "concerns.triage", "concerns.note", "phrases.add",
             "phrases.remove", "phrases.import_file", "consent.search", "consent.record_class", "consent.record",
             "posts.withdraw", "posts.remove_pupil", "posts.approve", "posts.refuse", "posts.send_back",
             "site_forms.sign_marketing", "site_forms.sign_headteacher",
             "site_forms.refuse", "school_accounts.add_poster", "school_accounts.remove_poster",
             "school_accounts.retire", "school_accounts.add_hours", "school_accounts.set_hours",
             "posts.take_down", "abuse.add_follow_up", "abuse.follow_up_done", "abuse.upload_screenshot",
             "sites.choose"}
DATA_DEPENDENT = {"requests.show", "requests.print_view", "reports.show", "reports.print_view", "ca.download",
                  "posts.show", "posts.edit",
                  "site_forms.show", "site_forms.print_view", "school_accounts.show"}  # see test_school_accounts.py
PUBLIC = {"auth.signin", "static"}


def make_ids(app: Flask) -> dict[str, int]:
    with app.extensions["schoolgate_db"].session() as session:
        group = session.query(Group).filter_by(name="pupils").one()
        category = Category(name="social-media", description="Social media")
        device = Device(name="Class 3 iPad 07", group_id=group.id)
        session.add_all([category, device])
        session.flush()
        ban = Ban(device_id=device.id, person="Pat Pupil", reason="VPN", evidence='[{"host": "vpn.example"}]')
        # a pupil's concern, as the pipeline writes one
        concern = Concern(device_id=device.id, device_name=device.name, person="Pat Pupil", category="bullying_abuse",
                          severity="medium", source="search", matched="everyone hates me", phrase="everyone hates me",
                          why="A pupil saying they are isolated.")
        pupil = Pupil(mis_id="A123", name="Pat Pupil", class_name="4B", year_group="Year 4")
        entry = AbuseLogEntry(occurred_on="2026-11-20", platform="facebook", account_text="Parents' group",
                              posted_text="a comment", created_by="ann.head@school.test")
        session.add_all([ban, concern, pupil, entry])
        session.flush()
        follow_up = AbuseFollowUp(entry_id=entry.id, due_on="2026-11-30")
        shot = AbuseScreenshot(entry_id=entry.id, content_type="image/png", size=8, sha256="0" * 64,
                               data=b"\x89PNG\r\n\x1a\n", uploaded_by="ann.head@school.test")
        session.add_all([follow_up, shot])
        session.flush()
        return {"device": device.id, "category": category.id, "group": group.id, "ban": ban.id, "concern": concern.id,
                "pupil": pupil.id, "abuse_entry": entry.id, "abuse_follow_up": follow_up.id,
                "abuse_screenshot": shot.id}


@pytest.fixture
def ids(app: Flask) -> dict[str, int]:
    return make_ids(app)


def test_every_route_is_in_the_table_and_declares_roles(app: Flask) -> None:
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert endpoints == set(GET_ROUTES) | POST_ONLY | DATA_DEPENDENT | PUBLIC
    for endpoint, view in app.view_functions.items():
        if endpoint in PUBLIC:
            continue
        assert getattr(view, "allowed_roles", None), f"{endpoint} has no role check"


@pytest.mark.parametrize("who", ["signed-out", *ANY])
def test_get_routes_answer_by_role(app: Flask, ids: dict[str, int], who: str) -> None:
    client = app.test_client()
    if who != "signed-out":
        sign_in(client, who)
    for endpoint, (path, allowed) in GET_ROUTES.items():
        response = client.get(path.format(**ids))
        if who == "signed-out":
            assert response.status_code == 302 and "/signin" in response.headers["Location"], endpoint
        elif who in allowed or (who == "trust_admin" and allowed & set(TRUST_ADMIN_POWERS)):
            assert response.status_code == 200, (endpoint, response.status_code)
        else:
            assert response.status_code == 403, (endpoint, response.status_code)


@pytest.mark.parametrize("endpoint", sorted(POST_ONLY - {"auth.signout"}))
def test_post_routes_refuse_staff_without_the_role_or_signed_out(sqlite_app: Flask, endpoint: str) -> None:
    app = sqlite_app
    ids = make_ids(app)
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
    path = rule.rule.replace("<int:request_id>", "1").replace("<int:report_id>", "1").replace(
        "<int:ban_id>", str(ids["ban"])).replace("<int:proposal_id>", "1").replace(
        "<int:concern_id>", str(ids["concern"])).replace("<int:phrase_id>", "1").replace(
        "<int:pupil_id>", str(ids["pupil"])).replace("<int:post_id>", "1").replace(
        "<int:form_id>", "1").replace("<int:account_id>", "1").replace("<int:member_id>", "1").replace(
        "<int:entry_id>", str(ids["abuse_entry"])).replace("<int:follow_up_id>", str(ids["abuse_follow_up"]))
    signed_out = app.test_client().post(path)
    assert signed_out.status_code in (302, 400)  # CSRF refuses first, or sign-in is asked for
    allowed = app.view_functions[endpoint].allowed_roles  # type: ignore[attr-defined]
    if allowed == frozenset(ANY):
        return
    client = sign_in(app.test_client(), "staff")
    from tests.admin_web.conftest import csrf_token

    response = client.post(path, data={"csrf_token": csrf_token(client, "/requests/new")})
    assert response.status_code == 403
