"""The forms' workflows and the security rules, through the Flask test client (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
import time
from datetime import date, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from rules.store.models import (
    AccessEvent,
    AccessRequest,
    AuditEntry,
    Category,
    Group,
    ListEntry,
    ListSource,
    Rule,
    User,
)
from tests.admin_web.conftest import ACCOUNTS, PASSWORD, csrf_token, post, sign_in


def file_request(client: FlaskClient, url: str = "https://www.videosite.test/lesson") -> int:
    response = post(client, "/requests/new", {"full_url": url, "site_content": "Volcano video",
                                               "reasons_for_access": "Geography", "risks_and_controls": "Supervised"},
                    "/requests/new")
    assert response.status_code == 302, response.get_data(as_text=True)  # type: ignore[attr-defined]
    return int(response.headers["Location"].rsplit("/", 1)[1])  # type: ignore[attr-defined]


def approve(client: FlaskClient, request_id: int, **extra: object) -> object:
    data = {"approved": "yes", "reasons": "Good plan", "scope": "group", "group_id": extra.pop("group_id", 1),
            "until": (date.today() + timedelta(days=3)).isoformat(), **extra}
    return post(client, f"/requests/{request_id}/decide", data, f"/requests/{request_id}")


def test_request_approval_makes_one_exception_and_only_once(app: Flask) -> None:
    db = app.extensions["schoolgate_db"]
    request_id = file_request(sign_in(app.test_client(), "staff"))
    head = sign_in(app.test_client(), "headteacher")
    with db.session() as session:
        pupils = session.scalar(select(Group.id).where(Group.name == "pupils"))
    approve(head, request_id, group_id=pupils)
    second = sign_in(app.test_client(), "head2")
    approve(second, request_id, group_id=pupils)
    assert "this request was already approved" in second.get(f"/requests/{request_id}").get_data(as_text=True)
    with db.session() as session:
        rules = list(session.scalars(select(Rule).where(Rule.source == "request")))
        req = session.get(AccessRequest, request_id)
        assert req is not None and req.status == "approved" and req.authoriser_name == "Ann Head"
        assert [(r.action, r.domain, r.scope, r.group_id) for r in rules] == [("allow", "www.videosite.test",
                                                                               "group", pupils)]
        assert rules[0].expires_at is not None and req.rule_id == rules[0].id
        assert session.scalar(select(func.count()).select_from(AuditEntry)
                              .where(AuditEntry.action == "request.approve")) == 1


def test_nobody_approves_their_own_request_and_staff_see_only_their_own(app: Flask) -> None:
    head = sign_in(app.test_client(), "headteacher")
    own = file_request(head)
    response = approve(head, own)
    assert response.status_code == 302  # type: ignore[attr-defined]
    assert "cannot decide your own request" in head.get(f"/requests/{own}").get_data(as_text=True)
    other = sign_in(app.test_client(), "other")
    assert other.get(f"/requests/{own}").status_code == 404
    assert other.get(f"/requests/{own}/print").status_code == 404
    assert other.get("/requests/999999").status_code == 404
    with app.extensions["schoolgate_db"].session() as session:
        assert session.get(AccessRequest, own).status == "open"  # type: ignore[union-attr]


def test_locked_category_cannot_be_opened(app: Flask) -> None:
    db = app.extensions["schoolgate_db"]
    with db.session() as session:
        locked = Category(name="iwf", locked=True)
        session.add(locked)
        session.flush()
        source = ListSource(category_id=locked.id, name="iwf")
        session.add(source)
        session.flush()
        session.add(ListEntry(category_id=locked.id, source_id=source.id, domain="never.test"))
    request_id = file_request(sign_in(app.test_client(), "staff"), "https://www.never.test/")
    head = sign_in(app.test_client(), "headteacher")
    assert "can only be refused" in head.get(f"/requests/{request_id}").get_data(as_text=True)
    approve(head, request_id, scope="everyone")
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Rule)) == 0


def test_report_block_creates_a_block_rule_and_the_dsl_sees_named_reports(app: Flask) -> None:
    db = app.extensions["schoolgate_db"]
    with db.session() as session:
        category = Category(name="violence")
        session.add(category)
        session.flush()
        category_id = category.id
    staff = sign_in(app.test_client(), "staff")
    named = post(staff, "/reports/new", {"individual": "Pat Pupil", "incident_date": date.today().isoformat(),
                                         "full_urls": "https://bad.example/x", "nature": "Gore"}, "/reports/new")
    anonymous = post(staff, "/reports/new", {"individual": "", "incident_date": date.today().isoformat(),
                                             "full_urls": "https://worse.example/", "nature": "Gore"}, "/reports/new")
    named_path, anon_path = named.headers["Location"], anonymous.headers["Location"]  # type: ignore[attr-defined]
    dsl = sign_in(app.test_client(), "dsl")
    assert dsl.get(named_path).status_code == 200
    assert dsl.get(anon_path).status_code == 404
    assert sign_in(app.test_client(), "other").get(named_path).status_code == 404
    ict = sign_in(app.test_client(), "ict")
    response = post(ict, named_path + "/action", {"outcome": "block", "kind": "url",
                                                  "target": "https://bad.example/x", "category_id": category_id,
                                                  "action_taken": "Blocked that page"}, named_path)
    assert response.status_code == 302  # type: ignore[attr-defined]
    with db.session() as session:
        rule = session.scalar(select(Rule).where(Rule.source == "report"))
        assert rule is not None and (rule.action, rule.kind, rule.domain, rule.url_prefix, rule.category_id) == (
            "block", "url", "bad.example", "bad.example/x", category_id)


def test_post_without_csrf_token_is_refused(app: Flask) -> None:
    client = sign_in(app.test_client(), "staff")
    response = client.post("/requests/new", data={"full_url": "https://a.test/", "site_content": "x",
                                                  "reasons_for_access": "x", "risks_and_controls": "x"})
    assert response.status_code == 400
    with app.extensions["schoolgate_db"].session() as session:
        assert session.scalar(select(func.count()).select_from(AccessRequest)) == 0


def test_javascript_url_is_refused(app: Flask) -> None:
    client = sign_in(app.test_client(), "staff")
    response = post(client, "/requests/new", {"full_url": "javascript:alert(1)", "site_content": "x",
                                              "reasons_for_access": "x", "risks_and_controls": "x"}, "/requests/new")
    assert response.status_code == 200  # type: ignore[attr-defined]
    assert "must start with http:// or https://" in response.get_data(as_text=True)  # type: ignore[attr-defined]


@pytest.mark.parametrize("url", ["http://[::1", "https://[2001:db8::1/x", "http://]/"])
def test_an_unclosed_bracket_in_a_url_is_a_message_not_500(app: Flask, url: str) -> None:
    """Any member of staff: "http://[::1" in the request form (or the report form) answered 500."""
    client = sign_in(app.test_client(), "staff")
    response = post(client, "/requests/new", {"full_url": url, "site_content": "x", "reasons_for_access": "x",
                                              "risks_and_controls": "x"}, "/requests/new")
    assert response.status_code == 200  # type: ignore[attr-defined]
    assert "is not a web address" in response.get_data(as_text=True)  # type: ignore[attr-defined]
    response = post(client, "/reports/new", {"incident_date": "2026-11-20", "full_urls": f"https://ok.example/\n{url}",
                                             "nature": "x"}, "/reports/new")
    assert response.status_code == 200  # type: ignore[attr-defined]
    assert "is not a web address" in response.get_data(as_text=True)  # type: ignore[attr-defined]


def test_hostile_host_is_escaped_and_csv_neutralises_formulas(app: Flask) -> None:
    from rules.store.models import utcnow

    with app.extensions["schoolgate_db"].session() as session:
        session.add(AccessEvent(ts=utcnow(), client_ip="198.18.0.9", source="dns", action="block",
                                host="<img src=x onerror=alert(1)>.example", category="=HYPERLINK(\"x\")"))
    head = sign_in(app.test_client(), "headteacher")
    page = head.get("/logs/").get_data(as_text=True)
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;.example" in page
    assert "script-src 'self'" in head.get("/logs/").headers["Content-Security-Policy"]
    assert head.get("/logs/export.csv").status_code == 405  # a link cannot start an export
    csv_text = post(head, "/logs/export.csv", {}, "/logs/").get_data(as_text=True)  # type: ignore[attr-defined]
    assert "'=HYPERLINK" in csv_text and ",=HYPERLINK" not in csv_text
    with app.extensions["schoolgate_db"].session() as session:
        actions = set(session.scalars(select(AuditEntry.action)))
    assert {"access_log.view", "access_log.export"} <= actions


def test_sign_out_and_disabling_end_sessions_on_the_server(app: Flask) -> None:
    client = sign_in(app.test_client(), "staff")
    stolen = client.get_cookie("schoolgate_session")
    assert stolen is not None
    cookie = client.get_cookie("schoolgate_session")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"
    client.post("/signout", data={"csrf_token": csrf_token(client, "/")})
    replay = app.test_client()
    replay.set_cookie("schoolgate_session", stolen.value)
    assert replay.get("/").status_code == 302

    victim = sign_in(app.test_client(), "other")
    with app.extensions["schoolgate_db"].session() as session:
        user = session.scalar(select(User).where(User.email == ACCOUNTS["other"][0]))
        assert user is not None
        user_id = user.id
    head = sign_in(app.test_client(), "headteacher")
    post(head, f"/accounts/{user_id}", {"email": ACCOUNTS["other"][0], "name": "Olly Other", "roles": "staff"},
         f"/accounts/{user_id}")  # no "active": the account is disabled
    assert victim.get("/").status_code == 302


def test_idle_session_expires(app: Flask) -> None:
    client = sign_in(app.test_client(), "staff")
    with client.session_transaction() as session:
        session["seen"] = int(time.time()) - 31 * 60
    assert client.get("/").status_code == 302


def test_sign_in_is_rate_limited_and_secret_key_file_is_private(app: Flask) -> None:
    client = app.test_client()
    for _ in range(5):
        client.post("/signin", data={"email": ACCOUNTS["staff"][0], "password": "wrong password",
                                     "csrf_token": csrf_token(client)})
    response = client.post("/signin", data={"email": ACCOUNTS["staff"][0], "password": PASSWORD,
                                            "csrf_token": csrf_token(client)})
    assert response.status_code == 429
    key_file = app.config["SCHOOLGATE_STATE_DIR"] / "web-secret"
    assert key_file.stat().st_mode & 0o777 == 0o600 and len(key_file.read_bytes()) == 32
    assert re.search(r"Email.*Password", client.get("/signin").get_data(as_text=True), re.S)
