"""Schools of a trust in the admin web: a member of school A never reaches school B's rows (issue 15).

Every route of the blueprints below is in one of three tables: `WALK` (an id of B in the path, the query or the
form: 404 in the path, and in a form or query the same answer as an id that does not exist, with nothing of B's
changed), `LISTS` (pages whose text must hold no row of B for A's members, and both schools' for a trust admin),
or `NO_SCHOOL_DATA`. A route added to one of these blueprints and to no table fails the first test.
"""

from __future__ import annotations

import io
import itertools
from dataclasses import asdict, dataclass
from datetime import date, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from rules.store.db import Database
from rules.store.models import (
    AccessRequest,
    AuditEntry,
    Ban,
    Category,
    CategoryGroup,
    CategoryUnlock,
    ContentReport,
    Device,
    Group,
    ListEntry,
    Rule,
    SupervisedSession,
    User,
    UserSite,
)
from rules.workflows.accounts import TRUST_ADMIN_POWERS, create_user
from tests.admin_web.conftest import ACCOUNTS, PASSWORD, csrf_token, sign_in
from tests.admin_web.two_schools import A_MARK, B_MARK, B_NAME, B_STAFF, School, make_two_schools

BLUEPRINTS = {"home", "requests", "reports", "logs", "registry", "bans", "audit", "accounts", "unlocks", "ca", "auth",
              "sites"}
MISSING = 99_999_999  # an id no row has


@dataclass(frozen=True)
class Probe:
    """One request with school B's ids (`{name}` is a field of `School`; `{fresh}` a new word each time)."""

    method: str
    path: str
    data: dict[str, object] | None = None
    in_path: bool = True  # the id is in the path: 404; else the same answer as for a missing id


def _future() -> str:
    return (date.today() + timedelta(days=5)).isoformat()


# endpoint -> the probes that carry one of B's ids
WALK: dict[str, list[Probe]] = {
    "requests.show": [Probe("GET", "/requests/{request}")],
    "requests.print_view": [Probe("GET", "/requests/{request}/print")],
    "requests.review": [Probe("POST", "/requests/{request}/review", {"technical_note": "looked"})],
    "requests.decide": [Probe("POST", "/requests/{request}/decide", {"approved": "no", "reasons": "no"}),
                        # A's own request, with B's group or device as whom the exception covers
                        Probe("POST", "/requests/{a_request}/decide",
                              {"approved": "yes", "reasons": "ok", "scope": "group", "group_id": "{group}",
                               "until": _future()}, in_path=False),
                        Probe("POST", "/requests/{a_request}/decide",
                              {"approved": "yes", "reasons": "ok", "scope": "device", "device_id": "{device}",
                               "until": _future()}, in_path=False)],
    "reports.show": [Probe("GET", "/reports/{report}")],
    "reports.print_view": [Probe("GET", "/reports/{report}/print")],
    "reports.action": [Probe("POST", "/reports/{report}/action", {"outcome": "not_blocked", "action_taken": "x"}),
                       Probe("POST", "/reports/{a_report}/action",  # into B's own category
                             {"outcome": "block", "action_taken": "x", "target": "https://apple-report.example/bad",
                              "kind": "domain", "category_id": "{category}"}, in_path=False)],
    "logs.index": [Probe("GET", "/logs/?device={device}", in_path=False),
                   Probe("GET", "/logs/?group={group}", in_path=False)],
    "logs.device": [Probe("GET", "/logs/device/{device}")],
    "logs.export": [Probe("POST", "/logs/export.csv", {"device": "{device}"}, in_path=False),
                    Probe("POST", "/logs/export.csv", {"group": "{group}"}, in_path=False)],
    "registry.category": [Probe("GET", "/categories/{category}"),
                          Probe("POST", "/categories/{category}", {"name": "{fresh}", "locked": "y"}),
                          Probe("POST", "/categories/new", {"name": "{fresh}", "group_ids": "{group}"},
                                in_path=False)],
    "registry.import_list": [Probe("POST", "/lists/import", {"category_id": "{category}", "fmt": "domains"},
                                   in_path=False)],
    "registry.group": [Probe("GET", "/groups/{group}"),
                       Probe("POST", "/groups/{group}", {"name": "{fresh}", "circumvention_mode": "ban"})],
    "registry.device_new": [Probe("POST", "/devices/new", {"ip": "10.9.9.9", "name": "{fresh}",
                                                           "group": "zebra-pupils"}, in_path=False)],
    "bans.show": [Probe("GET", "/bans/{ban}")],
    "bans.evidence": [Probe("GET", "/bans/{ban}/evidence")],
    "bans.confirm": [Probe("POST", "/bans/{ban}/confirm", {"ends_on": _future(), "reason": "confirmed"})],
    "bans.lift": [Probe("POST", "/bans/{ban}/lift", {"reason": "lifted"})],
    "bans.supervise": [Probe("POST", "/bans/{ban}/supervise", {"staff_name": "Sam", "minutes": "30"})],
    "unlocks.confirm": [Probe("POST", "/unlocks/{proposal}/confirm", {"p{proposal}-reason": "ok"})],
    "unlocks.refuse": [Probe("POST", "/unlocks/{proposal}/refuse", {"p{proposal}-reason": "no"})],
    "audit.index": [Probe("GET", "/audit/?after={audit_entry}", in_path=False)],
    "accounts.edit": [Probe("GET", "/accounts/{account}"),
                      Probe("POST", "/accounts/{account}", {"name": "{fresh}", "roles": "headteacher",
                                                            "schools": "{site}", "active": "y"}),
                      Probe("POST", "/accounts/new", {"email": "{fresh}@school.test", "name": "{fresh}",
                                                      "roles": "staff", "schools": "{site}"}, in_path=False)],
    "sites.choose": [Probe("POST", "/school", {"site_id": "{site}", "next": "/"}, in_path=False)],
}
# pages that list or count rows (or offer them in a form): checked for B's words
LISTS = {
    "home.index": ["/"],
    "requests.index": ["/requests/", "/requests/?status=open"],
    "requests.new": ["/requests/new"],
    "reports.index": ["/reports/", "/reports/?status=open"],
    "reports.new": ["/reports/new"],
    "logs.index": ["/logs/", "/logs/?action=block"],
    "registry.categories": ["/categories/"],
    "registry.category": ["/categories/new"],
    "registry.groups": ["/groups/"],
    "registry.devices": ["/devices/"],
    "registry.device_new": ["/devices/new"],
    "bans.index": ["/bans/"],
    "audit.index": ["/audit/"],
    "accounts.index": ["/accounts/"],
    "accounts.edit": ["/accounts/new"],
    "unlocks.index": ["/unlocks/"],
}
# no school's rows: signing in and out, one's own password, the CA certificate
NO_SCHOOL_DATA = {"auth.signin", "auth.signout", "auth.password", "ca.index", "ca.download"}
A_ROLES = [who for who in ACCOUNTS if who not in ("trust_admin", "other", "head2")]


@pytest.fixture
def schools(app: Flask) -> tuple[School, School]:
    return make_two_schools(app.extensions["schoolgate_db"])


def _may(app: Flask, endpoint: str, who: str) -> bool:
    allowed = app.view_functions[endpoint].allowed_roles  # type: ignore[attr-defined]
    held = set(ACCOUNTS[who][2]) | (set(TRUST_ADMIN_POWERS) if who == "trust_admin" else set())
    return bool(allowed & held)


def b_state(db: Database, b: School) -> dict[str, object]:
    """What of school B's a walk could change, as plain values."""
    with db.session(read_only=True) as session:
        def row(model: type, ident: int, *names: str) -> tuple[object, ...]:
            found = session.get(model, ident)
            return tuple(getattr(found, n) for n in names)

        return {
            "request": row(AccessRequest, b.request, "status", "technical_note", "decision_reasons"),
            "report": row(ContentReport, b.report, "status", "action_taken"),
            "ban": row(Ban, b.ban, "state", "ends_at", "lift_reason"),
            "sessions": len(list(session.scalars(select(SupervisedSession.id)))),
            "category": row(Category, b.category, "name", "locked", "description"),
            "proposal": row(CategoryUnlock, b.proposal, "state"),
            "group": row(Group, b.group, "name", "circumvention_mode"),
            "group_in_categories": len(list(session.scalars(select(CategoryGroup.category_id)
                                                            .where(CategoryGroup.group_id == b.group)))),
            "devices": sorted(session.scalars(select(Device.name).where(Device.site_id == b.site))),
            "account": row(User, b.account, "name", "roles", "active"),
            "members": sorted(session.scalars(select(UserSite.user_id).where(UserSite.site_id == b.site))),
            "rules": len(list(session.scalars(select(Rule.id)))),
            "entries": len(list(session.scalars(select(ListEntry.id).where(ListEntry.category_id == b.category)))),
        }


def _send(client: FlaskClient, probe: Probe, ids: dict[str, object]) -> tuple[int, str]:
    fresh = f"walk{next(_COUNTER)}"

    def fill(text: str) -> str:
        return text.format(**ids, fresh=fresh)

    path = fill(probe.path)
    if probe.method == "GET":
        response = client.get(path)
    else:
        data: dict[str, object] = {fill(k): fill(str(v)) for k, v in (probe.data or {}).items()}
        if path == "/lists/import":
            data["file"] = (io.BytesIO(b"apple-added.example\n"), "list.txt")
        data["csrf_token"] = csrf_token(client, "/password")
        response = client.post(path, data=data)
    return response.status_code, response.headers.get("Location", "")


_COUNTER = itertools.count()


def test_every_route_of_these_blueprints_is_walked(app: Flask) -> None:
    endpoints = {r.endpoint for r in app.url_map.iter_rules() if r.endpoint.split(".")[0] in BLUEPRINTS}
    assert endpoints == set(WALK) | set(LISTS) | NO_SCHOOL_DATA


@pytest.mark.parametrize("who", A_ROLES)
def test_a_member_of_school_a_gets_404_for_school_b_ids(app: Flask, schools: tuple[School, School],
                                                       who: str) -> None:
    a, b = schools
    db = app.extensions["schoolgate_db"]
    before = b_state(db, b)
    client = sign_in(app.test_client(), who)
    ids = asdict(b) | {"a_request": a.request, "a_report": a.report}
    missing = {k: MISSING for k in asdict(b)} | {"a_request": a.request, "a_report": a.report}
    walked = 0
    for endpoint, probes in WALK.items():
        if not _may(app, endpoint, who):
            continue
        for probe in probes:
            answer = _send(client, probe, ids)
            if probe.in_path:
                assert answer[0] == 404, (who, endpoint, probe, answer)
            else:
                assert answer == _send(client, probe, missing), (who, endpoint, probe)
            walked += 1
    assert walked >= 2  # every role reaches some of them (the staff: requests, reports, bans, the switcher)
    assert b_state(db, b) == before


@pytest.mark.parametrize("who", A_ROLES)
def test_school_a_pages_hold_none_of_school_b(app: Flask, schools: tuple[School, School], who: str) -> None:
    client = sign_in(app.test_client(), who)
    seen_a = False
    for endpoint, paths in LISTS.items():
        if not _may(app, endpoint, who):
            continue
        for path in paths:
            response = client.get(path)
            assert response.status_code == 200, (endpoint, path)
            text = response.get_data(as_text=True).lower()
            assert B_MARK not in text, (who, path)
            seen_a = seen_a or A_MARK in text
    if who != "staff":  # the staff see A's bans (every member of staff supervises)
        assert seen_a


def test_school_a_counts_and_export_leave_out_school_b(app: Flask, schools: tuple[School, School]) -> None:
    head = sign_in(app.test_client(), "headteacher")
    home = head.get("/").get_data(as_text=True)
    # one open request and one current ban in each school: A's headteacher counts hers only
    assert "<strong>1</strong> access request waiting" in home
    assert "<strong>1</strong> pupil or device currently banned" in home
    export = head.post("/logs/export.csv", data={"csrf_token": csrf_token(head, "/logs/")}).get_data(as_text=True)
    assert export.count("apple-secret.example") == 3 and B_MARK not in export
    trust = sign_in(app.test_client(), "trust_admin")
    home = trust.get("/").get_data(as_text=True)
    assert "<strong>2</strong> access requests waiting" in home
    export = trust.post("/logs/export.csv", data={"csrf_token": csrf_token(trust, "/logs/")}).get_data(as_text=True)
    assert export.count("zebra-secret.example") == 3 and export.count("apple-secret.example") == 3


def test_a_trust_admin_sees_both_schools_with_a_school_column(app: Flask, schools: tuple[School, School]) -> None:
    client = sign_in(app.test_client(), "trust_admin")
    for path in ("/requests/", "/reports/", "/logs/", "/categories/", "/groups/", "/devices/", "/bans/", "/audit/",
                 "/accounts/", "/unlocks/"):
        text = client.get(path).get_data(as_text=True).lower()
        assert A_MARK in text and B_MARK in text, path
        if path not in ("/accounts/", "/unlocks/"):
            assert "<th>school</th>" in text and B_NAME in text, path
    a, b = schools
    assert client.get(f"/bans/{b.ban}/evidence").status_code == 200
    assert client.get(f"/logs/device/{b.device}").status_code == 200


def test_the_views_of_a_device_log_are_audited_with_its_school(app: Flask, schools: tuple[School, School]) -> None:
    a, b = schools
    sign_in(app.test_client(), "ict").get(f"/logs/device/{a.device}")
    sign_in(app.test_client(), "trust_admin").get(f"/logs/device/{b.device}")
    with app.extensions["schoolgate_db"].session(read_only=True) as session:
        seen = {(e.target, e.site_id) for e in session.scalars(select(AuditEntry)
                                                               .where(AuditEntry.action == "access_log.view"))}
    assert seen == {(f"device #{a.device}", a.site), (f"device #{b.device}", b.site)}
    # and A's headteacher reads the first in the audit log, never the second
    text = sign_in(app.test_client(), "headteacher").get("/audit/?action=access_log").get_data(as_text=True)
    assert f"device #{a.device}" in text and f"device #{b.device}" not in text


def test_a_trust_admin_works_in_the_school_chosen_in_the_header(app: Flask, schools: tuple[School, School]) -> None:
    a, b = schools
    client = sign_in(app.test_client(), "trust_admin")
    assert client.post("/school", data={"site_id": b.site, "next": "/devices/",
                                        "csrf_token": csrf_token(client, "/")}).status_code == 302
    assert f'value="{b.site}" selected' in client.get("/").get_data(as_text=True)
    form = client.get("/devices/new").get_data(as_text=True)
    assert "zebra-pupils" in form and "apple-pupils" not in form  # the group select: the chosen school's
    response = client.post("/devices/new", data={"ip": "10.1.0.9", "name": "Zebra Library PC", "group": "zebra-pupils",
                                                 "csrf_token": csrf_token(client, "/devices/new")})
    assert response.status_code == 302
    with app.extensions["schoolgate_db"].session(read_only=True) as session:
        device = session.scalars(select(Device).where(Device.name == "Zebra Library PC")).one()
        assert device.site_id == b.site and device.group_id == b.group
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "device.register")).one()
        assert entry.site_id == b.site


def test_trust_wide_categories_are_the_trust_admins(app: Flask, schools: tuple[School, School]) -> None:
    a, b = schools
    db = app.extensions["schoolgate_db"]
    with db.session() as session:
        trust_wide = Category(name="trust-list", description="the trust's", locked=True)
        session.add(trust_wide)
        session.flush()
        trust_id = trust_wide.id
    ict = sign_in(app.test_client(), "ict")
    page = ict.get(f"/categories/{trust_id}").get_data(as_text=True)
    assert "only a trust admin changes it" in page
    token = csrf_token(ict, "/categories/")
    assert ict.post(f"/categories/{trust_id}", data={"name": "renamed", "csrf_token": token}).status_code == 403
    listing = {"category_id": str(trust_id), "fmt": "domains", "csrf_token": token}
    assert ict.post("/lists/import", data={**listing, "file": (io.BytesIO(b"x.example\n"), "l.txt")}).status_code == 403
    assert f'<option value="{trust_id}"' not in ict.get("/categories/").get_data(as_text=True)  # nor offered
    # the technician's own category: made in school A, and changed
    assert ict.post("/categories/new", data={"name": "apple-extra", "block_everyone": "y",
                                             "csrf_token": token}).status_code == 302
    with db.session(read_only=True) as session:
        made = session.scalars(select(Category).where(Category.name == "apple-extra")).one()
        assert made.site_id == a.site
        assert session.get(Category, trust_id).name == "trust-list"  # type: ignore[union-attr]
    trust = sign_in(app.test_client(), "trust_admin")
    response = trust.post(f"/categories/{trust_id}", data={"name": "trust-list", "description": "changed",
                                                          "locked": "y", "csrf_token": csrf_token(trust, "/")})
    assert response.status_code == 302
    trust_token = csrf_token(trust, "/")
    imported = trust.post("/lists/import", data={"category_id": str(trust_id), "fmt": "domains", "csrf_token":
                                                 trust_token, "file": (io.BytesIO(b"x.example\n"), "l.txt")})
    assert imported.status_code == 200
    with db.session(read_only=True) as session:
        assert session.get(Category, trust_id).description == "changed"  # type: ignore[union-attr]
        assert list(session.scalars(select(ListEntry.domain).where(ListEntry.category_id == trust_id))) == ["x.example"]


def test_a_headteacher_manages_her_schools_accounts_only(app: Flask, schools: tuple[School, School]) -> None:
    a, b = schools
    db = app.extensions["schoolgate_db"]
    head = sign_in(app.test_client(), "headteacher")
    page = head.get("/accounts/new").get_data(as_text=True)
    assert 'value="trust_admin"' not in page and B_NAME not in page
    token = csrf_token(head, "/accounts/new")
    refused = head.post("/accounts/new", data={"email": "tim@school.test", "name": "Tim", "roles": "trust_admin",
                                                "schools": str(a.site), "csrf_token": token})
    assert refused.status_code == 200  # the form again: not a role she may give
    made = head.post("/accounts/new", data={"email": "tina@school.test", "name": "Tina", "roles": "staff",
                                             "schools": str(a.site), "csrf_token": token})
    assert made.status_code == 302
    trust = sign_in(app.test_client(), "trust_admin")
    page = trust.get("/accounts/").get_data(as_text=True)
    assert "Zoe Zebra" in page and B_NAME in page and "Every school" in page
    # a trust admin puts Zoe in both schools; A's headteacher then sees her, and keeps her in B when she saves
    response = trust.post(f"/accounts/{b.account}", data={"name": "Zoe Zebra", "email": B_STAFF[0], "roles": "staff",
                                                          "active": "y", "schools": [str(a.site), str(b.site)],
                                                          "csrf_token": csrf_token(trust, "/")})
    assert response.status_code == 302
    assert head.get(f"/accounts/{b.account}").status_code == 200
    saved = head.post(f"/accounts/{b.account}", data={"name": "Zoe Z", "email": B_STAFF[0], "roles": "staff",
                                                       "active": "y", "schools": str(a.site), "csrf_token": token})
    assert saved.status_code == 302
    with db.session(read_only=True) as session:
        tina = session.scalars(select(User).where(User.email == "tina@school.test")).one()
        assert set(session.scalars(select(UserSite.site_id).where(UserSite.user_id == tina.id))) == {a.site}
        assert session.scalar(select(User.id).where(User.email == "tim@school.test")) is None
        assert set(session.scalars(select(UserSite.site_id).where(UserSite.user_id == b.account))) == {a.site, b.site}


def test_a_member_of_two_schools_sees_both_and_files_in_the_chosen_one(app: Flask,
                                                                        schools: tuple[School, School]) -> None:
    a, b = schools
    db = app.extensions["schoolgate_db"]
    with db.session() as session:
        create_user(session, email="hana.both@trust.test", name="Hana Both", roles=["headteacher"], password=PASSWORD,
                    actor="test", site_ids=[a.site, b.site])
    client = app.test_client()
    assert client.post("/signin", data={"email": "hana.both@trust.test", "password": PASSWORD,
                                        "csrf_token": csrf_token(client)}).status_code == 302
    page = client.get("/requests/").get_data(as_text=True).lower()
    assert A_MARK in page and B_MARK in page and "<th>school</th>" in page
    assert client.get("/").get_data(as_text=True).count('<option value="') == 2  # the switcher: her two schools
    client.post("/school", data={"site_id": b.site, "next": "/requests/new", "csrf_token": csrf_token(client, "/")})
    response = client.post("/requests/new", data={"full_url": "https://hana.example/", "site_content": "x",
                                                  "reasons_for_access": "y", "risks_and_controls": "z",
                                                  "csrf_token": csrf_token(client, "/requests/new")})
    assert response.status_code == 302
    with db.session(read_only=True) as session:
        filed = session.scalars(select(AccessRequest).where(AccessRequest.host == "hana.example")).one()
        assert filed.site_id == b.site
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "request.file")).one()
        assert entry.site_id == b.site


def test_another_schools_locked_category_does_not_close_this_schools_request(
        app: Flask, schools: tuple[School, School]) -> None:
    a, b = schools
    db = app.extensions["schoolgate_db"]
    with db.session() as session:  # B's own locked category blocks A's requested site; the trust's holds neither
        session.add(Rule(site_id=b.site, action="block", domain="apple-request.example", category_id=b.category,
                         reason="zebra's own"))
    head = sign_in(app.test_client(), "headteacher")
    response = head.post(f"/requests/{a.request}/decide",
                         data={"approved": "yes", "reasons": "fine", "scope": "everyone", "until": _future(),
                               "csrf_token": csrf_token(head, f"/requests/{a.request}")})
    assert response.status_code == 302
    with db.session(read_only=True) as session:
        approved = session.get(AccessRequest, a.request)
        assert approved is not None and approved.status == "approved"
        rule = session.get(Rule, approved.rule_id)
        assert rule is not None and rule.site_id == a.site
