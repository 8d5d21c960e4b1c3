"""Hostile values in every route's ids and every declared query parameter: 400 or 404, never a 500.

The test walks `app.url_map`: each `<int:...>` in a path gets numbers beyond any id column, signs and junk; each
parameter a view declares (`admin_web.params.accepts`) gets values of the wrong kind, out of range, too long,
with control characters; and every list gets parameters it does not know (`_method`, `_external`), which must
never reach `url_for`. Run on SQLite and on PostgreSQL, whose integer and text types are the stricter.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient

from admin_web.params import BadValue, ChoiceParam, CursorParam, DayParam, IntParam, Param, TextParam
from rules.store.models import AccessEvent, AuditEntry, utcnow
from rules.workflows.accounts import create_user
from tests.admin_web.conftest import PASSWORD, csrf_token
from tests.admin_web.test_routes import make_ids

OUT_OF_RANGE_IDS = ["0", "00", "2147483648", "99999999999999999999", "99999999999999999999999", "9" * 400]
NOT_IDS = ["-1", "1.5", "1e3", "abc", "%00", "%D9%A1", "+1", "0x10"]
HOSTILE = {
    IntParam: ["-1", "0", "2147483648", "99999999999999999999", "9223372036854775808", "9" * 400, "junk", "1.5",
               "１", " 7 x"],
    DayParam: ["9999-12-31", "0001-01-01", "2024-02-30", "junk", "20240101", "2024-1-1", "1999-12-31", "2100-01-01",
               "2026-11-20"],
    ChoiceParam: ["junk", "OPEN", "x" * 300],
    TextParam: ["x" * 5000, "a\x07b", "\x7f", "ok text", "%", "_"],
    CursorParam: ["junk", "|", "2026-01-01T00:00:00+00:00|99999999999999999999", "0001-01-01T00:00:00-14:00|1",
                  "9999-12-31T23:59:59-14:00|1", "2026-01-01T00:00:00+00:00|-1", "x" * 500, "9223372036854775808",
                  "2026-01-01T00:00:00|1"],
}
UNKNOWN = {"_method": "POST", "_external": "1", "_anchor": "x", "_scheme": "javascript", "bogus": "1"}


def everything_client(app: Flask) -> FlaskClient:
    """Signed in with every role, so that no route answers 403 before it reads its parameters."""
    with app.extensions["schoolgate_db"].session() as session:
        create_user(session, email="all.roles@school.test", name="All Roles", roles=["staff", "ict", "headteacher",
                                                                                      "dsl"],
                    password=PASSWORD, actor="test")
    client = app.test_client()
    response = client.post("/signin", data={"email": "all.roles@school.test", "password": PASSWORD,
                                            "csrf_token": csrf_token(client)})
    assert response.status_code == 302
    return client


def some_history(app: Flask) -> None:
    """Enough events and audit entries that every list has a next page to link to."""
    with app.extensions["schoolgate_db"].session() as session:
        session.add_all([AccessEvent(ts=utcnow(), client_ip="198.18.0.9", source="dns", action="block",
                                     host=f"site{n}.example") for n in range(105)])
        session.add_all([AuditEntry(actor="test", action="test.entry", target=f"#{n}") for n in range(105)])


def expected(endpoint: str, param: Param, value: str) -> int:
    """200 for a value the parameter takes, else 400 (as an audit cursor naming no entry: none of these does)."""
    if value.strip() == "":
        return 200
    try:
        param.parse(value)
    except BadValue:
        return 400
    return 400 if (endpoint, param.name) == ("audit.index", "after") else 200


def fill(rule: str, ids: dict[str, int], value: str | None = None) -> str:
    """The rule's path with each <int:name> set to `value`, or to the id of a row that exists."""
    def one(match: re.Match[str]) -> str:
        if value is not None:
            return value
        name = match.group(1)
        return str(ids.get(name.removesuffix("_id"), 1))
    return re.sub(r"<int:(\w+)>", one, rule)


def test_ids_beyond_the_database_or_not_numbers_are_404_on_every_route(app: Flask) -> None:
    ids = make_ids(app)
    client = everything_client(app)
    int_rules = [rule for rule in app.url_map.iter_rules() if "<int:" in rule.rule]
    assert len(int_rules) >= 15  # the walk reaches the routes it is meant to
    for rule in int_rules:
        method = "GET" if "GET" in (rule.methods or ()) else "POST"
        for value in OUT_OF_RANGE_IDS + NOT_IDS:
            response = client.open(fill(rule.rule, ids, value), method=method)
            assert response.status_code == 404, (rule.rule, value, response.status_code)


def test_every_declared_parameter_refuses_hostile_values_with_400_never_500(app: Flask) -> None:
    ids = make_ids(app)
    some_history(app)
    client = everything_client(app)
    token = csrf_token(client, "/logs/")
    walked = set()
    for rule in app.url_map.iter_rules():
        params: tuple[Param, ...] = getattr(app.view_functions[rule.endpoint], "query_params", ())
        if not params or "<int:" in rule.rule and rule.endpoint != "logs.device":
            continue
        path = fill(rule.rule, ids)
        post = "GET" not in (rule.methods or ())
        for param in params:
            for value in HOSTILE[type(param)]:
                if post:
                    response = client.post(path, data={param.name: value, "csrf_token": token})
                else:
                    response = client.get(path + "?" + urlencode({param.name: value}))
                want = expected(rule.endpoint, param, value)
                text = response.get_data(as_text=True)  # (read to the end: the export streams)
                assert response.status_code == want, (rule.endpoint, param.name, value, response.status_code)
                if want == 400:
                    assert f"\u201c{param.name}\u201d cannot be used" in text or "no longer exists" in text
                walked.add(rule.endpoint)
        # parameters the view does not know are dropped, and never reach a link it builds
        response = client.post(path, data={**UNKNOWN, "csrf_token": token}) if post else \
            client.get(path + "?" + urlencode(UNKNOWN))
        page = response.get_data(as_text=True)
        assert response.status_code == 200, (rule.endpoint, response.status_code)
        if not post:
            for name in UNKNOWN:
                assert f"{name}=" not in page, (rule.endpoint, name)
    assert walked >= {"logs.index", "logs.device", "logs.export", "audit.index", "requests.index", "reports.index",
                      "auth.signin"}


def test_a_nul_character_anywhere_is_400(app: Flask) -> None:
    client = everything_client(app)
    assert client.get("/logs/?host=" + quote("a\x00b")).status_code == 400
    response = client.post("/requests/new", data={"full_url": "https://a.test/\x00", "site_content": "x\x00",
                                                   "reasons_for_access": "x", "risks_and_controls": "x",
                                                   "csrf_token": csrf_token(client, "/requests/new")})
    assert response.status_code == 400 and "NUL" in response.get_data(as_text=True)


def test_forged_ids_and_far_dates_in_forms_are_refused_not_500(app: Flask) -> None:
    ids = make_ids(app)
    client = everything_client(app)
    token = csrf_token(client, "/categories/")
    forged = client.post(f"/categories/{ids['category']}", data={"name": "social-media", "block_everyone": "y",
                                                                   "group_ids": "99999999999999999999",
                                                                   "csrf_token": token})
    assert forged.status_code == 200 and "could not be coerced" in forged.get_data(as_text=True)
    far = client.post(f"/bans/{ids['ban']}/confirm", data={"ends_on": "9999-12-31", "csrf_token": token},
                      follow_redirects=True)
    assert far.status_code == 200 and "Choose the day the ban ends." in far.get_data(as_text=True)


def test_a_form_with_seventy_thousand_groups_is_refused_not_500(app: Flask) -> None:
    """One bound parameter a group id: PostgreSQL takes at most 65,535, and the ICT technician's category form
    (a select of a few groups) answered a forged list of 70,000 with a 500."""
    ids = make_ids(app)
    client = everything_client(app)
    token = csrf_token(client, "/categories/")
    many = [("name", "social-media"), ("block_everyone", "y"), ("csrf_token", token)] + \
        [("group_ids", str(n)) for n in range(1, 70_001)]
    answer = client.post(f"/categories/{ids['category']}", data=urlencode(many),
                         content_type="application/x-www-form-urlencoded")
    assert answer.status_code == 200 and "choose at most 1000 groups" in answer.get_data(as_text=True)
    repeated = [("name", "social-media"), ("csrf_token", token)] + [("group_ids", str(ids["group"]))] * 70_000
    answer = client.post(f"/categories/{ids['category']}", data=urlencode(repeated),
                         content_type="application/x-www-form-urlencoded")
    assert answer.status_code == 302  # one group, named 70,000 times, is one group


@pytest.mark.parametrize("path, status", [
    ("/requests/99999999999999999999999", 404), ("/logs/?to=9999-12-31", 400), ("/logs/?from=0001-01-01", 400),
    ("/audit/?after=99999999999999999999999", 400), ("/audit/?after=junk", 400), ("/audit/?after=12345", 400),
    ("/logs/?after=junk", 400), ("/logs/?device=-1", 400), ("/logs/?device=99999999999999999999", 400),
    ("/logs/?_method=POST", 200), ("/requests/?status=junk", 400),
])
def test_the_reported_500s(app: Flask, path: str, status: int) -> None:
    client = everything_client(app)
    assert client.get(path).status_code == status


def test_views_read_query_parameters_only_through_their_declaration() -> None:
    """So that the walk above sees every parameter: no view reads `request.args` (or `.values`) itself."""
    root = Path(__file__).resolve().parents[2] / "admin_web"
    readers = [path.name for path in root.glob("*.py") if path.name != "params.py"
               and re.search(r"request\.(args|values)\b", path.read_text(encoding="utf-8"))]
    assert readers == []
