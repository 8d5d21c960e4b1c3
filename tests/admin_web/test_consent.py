"""The consent record in the admin web: the class view, a class's forms at once, a pupil's page with its history,
the search; who may see them; every view and change audited (on SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from rules.consent.academic_year import academic_year_of, bounds, label
from rules.consent.records import today
from rules.store.models import AuditEntry, ConsentRecord, Pupil
from tests.admin_web.conftest import ACCOUNTS, csrf_token, sign_in

HOSTILE = "<img src=x onerror=alert(1)> Tables"
YEAR = academic_year_of(today())
FIRST_DAY = bounds(YEAR)[0]


@pytest.fixture
def pupils(app: Flask) -> dict[str, int]:
    with app.extensions["schoolgate_db"].session() as session:
        rows = [Pupil(mis_id="A1", name="Sam Jones", class_name="4B", year_group="Year 4"),
                Pupil(mis_id="A2", name="Bea Smith", class_name="4B", year_group="Year 4"),
                Pupil(mis_id="A3", name=HOSTILE, class_name="4B", year_group="Year 4"),
                Pupil(mis_id="C1", name="Eve Other", class_name="5A", year_group="Year 5")]
        session.add_all(rows)
        session.flush()
        return {"sam": rows[0].id, "bea": rows[1].id, "bobby": rows[2].id, "eve": rows[3].id}


def audit_entries(app: Flask, action: str) -> list[AuditEntry]:
    with app.extensions["schoolgate_db"].session(read_only=True) as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def records(app: Flask) -> list[tuple[int, str, bool, bool, str, str]]:
    with app.extensions["schoolgate_db"].session(read_only=True) as session:
        return [(r.pupil_id, r.change, r.images, r.videos, r.given_by, r.effective_on)
                for r in session.scalars(select(ConsentRecord).order_by(ConsentRecord.id))]


def bulk(client: FlaskClient, rows: dict[int, dict[str, str]], on: date | None = FIRST_DAY,
         class_name: str = "4B") -> object:
    data = {"csrf_token": csrf_token(client, "/consent/"), "class_name": class_name, "academic_year": str(YEAR),
            "effective_on": on.isoformat() if on else "", "note": "September forms"}
    for pupil_id, fields in rows.items():
        data.update({f"pupil-{pupil_id}-{k}": v for k, v in fields.items()})
    return client.post("/consent/class/record", data=data)


def test_the_office_manager_records_a_class_and_the_class_view_answers(app: Flask, pupils: dict[str, int]) -> None:
    office = sign_in(app.test_client(), "office_manager")
    home = office.get("/").get_data(as_text=True)
    assert "Consent record" in home and "/consent/" in home
    page = office.get("/consent/class?name=4B").get_data(as_text=True)
    assert f"Who in 4B may appear in a photo or a video, {label(YEAR)}" in page
    assert "Eve Other" not in page  # another class
    assert page.count('<span class="consent-none">No consent recorded</span>') == 6  # images and videos, 3 pupils
    assert HOSTILE not in page and "&lt;img src=x" in page

    done = bulk(office, {pupils["sam"]: {"record": "y", "images": "y", "videos": "y", "given_by": "Mrs Jones"},
                         pupils["bea"]: {"record": "y", "images": "y", "given_by": "Mr Smith"},
                         pupils["bobby"]: {"images": "y", "given_by": "not ticked: not recorded"},
                         pupils["eve"]: {"record": "y", "images": "y", "given_by": "another class: ignored"}})
    assert done.status_code == 302  # type: ignore[attr-defined]
    assert sorted(records(app)) == sorted([
        (pupils["sam"], "given", True, True, "Mrs Jones", FIRST_DAY.isoformat()),
        (pupils["bea"], "given", True, False, "Mr Smith", FIRST_DAY.isoformat())])
    page = office.get(done.headers["Location"]).get_data(as_text=True)  # type: ignore[attr-defined]
    assert "Consent recorded for 2 pupils in 4B" in page
    assert '<strong class="count-images">2</strong> of 3 may appear in images' in page
    assert '<strong class="count-videos">1</strong> of 3 may appear in videos' in page
    assert '<strong class="count-none">1</strong> with no consent recorded' in page
    changes = audit_entries(app, "consent.record")
    assert {e.target for e in changes} == {f"pupil #{pupils['sam']}", f"pupil #{pupils['bea']}"}
    assert {e.actor for e in changes} == {ACCOUNTS["office_manager"][0]}
    assert [json.loads(e.before or "")["record_id"] for e in changes] == [None, None]
    assert len(audit_entries(app, "consent.view_class")) == 2

    dpo = sign_in(app.test_client(), "dpo")
    seen = dpo.get("/consent/class?name=4B").get_data(as_text=True)
    assert '<strong class="count-images">2</strong>' in seen


def test_one_bad_row_records_nothing(app: Flask, pupils: dict[str, int]) -> None:
    office = sign_in(app.test_client(), "office_manager")
    got = bulk(office, {pupils["sam"]: {"record": "y", "images": "y", "given_by": "Mrs Jones"},
                        pupils["bea"]: {"record": "y", "images": "y", "given_by": ""}})
    assert got.status_code == 400  # type: ignore[attr-defined]
    text = got.get_data(as_text=True)  # type: ignore[attr-defined]
    assert "Nothing was recorded: Bea Smith: say who gave it" in text
    assert 'value="Mrs Jones"' in text  # what was typed is kept
    future = bulk(office, {pupils["sam"]: {"record": "y", "given_by": "Mrs Jones"}}, on=today() + timedelta(days=1))
    assert future.status_code == 400 and "is in the future" in future.get_data(as_text=True)  # type: ignore[attr-defined]
    undated = bulk(office, {pupils["sam"]: {"record": "y", "given_by": "Mrs Jones"}}, on=None)
    assert undated.status_code == 400  # type: ignore[attr-defined]
    text = undated.get_data(as_text=True)  # type: ignore[attr-defined]
    assert "Date the consent forms arrived: This field is required." in text and 'value="Mrs Jones"' in text
    assert records(app) == [] and audit_entries(app, "consent.record") == []


def test_a_pupils_page_records_amends_and_withdraws_with_history(app: Flask, pupils: dict[str, int]) -> None:
    dpo = sign_in(app.test_client(), "dpo")
    path = f"/consent/pupils/{pupils['bea']}"
    page = dpo.get(path).get_data(as_text=True)
    assert "No consent recorded" in page and "Record consent given" in page and "Withdraw consent" not in page
    views = audit_entries(app, "consent.view")
    assert [(e.actor, e.target) for e in views] == [(ACCOUNTS["dpo"][0], f"pupil #{pupils['bea']}")]

    def send(change: str, **fields: str) -> object:
        data = {"csrf_token": csrf_token(dpo, path), f"{change}-change": change, f"{change}-academic_year": str(YEAR),
                f"{change}-given_by": "Mr Smith", f"{change}-effective_on": FIRST_DAY.isoformat()}
        data.update({f"{change}-{k}": v for k, v in fields.items()})
        return dpo.post(f"{path}/record", data=data)

    assert send("given", images="y", videos="y").status_code == 302  # type: ignore[attr-defined]
    assert send("amended", images="y").status_code == 302  # type: ignore[attr-defined]
    page = dpo.get(path).get_data(as_text=True)
    assert "Consent given" in page and "Consent amended" in page and "Withdraw consent" in page
    in_force = page.split('class="card in-force"')[1].split("</section>")[0]
    assert 'class="images"><span class="consent-yes">Yes' in in_force
    assert 'class="videos"><span class="consent-no">No' in in_force

    late = send("withdrawn", effective_on=(today() + timedelta(days=2)).isoformat())
    assert late.status_code == 400 and "is in the future" in late.get_data(as_text=True)  # type: ignore[attr-defined]
    assert send("withdrawn", note="Letter from Mr Smith").status_code == 302  # type: ignore[attr-defined]
    page = dpo.get(path).get_data(as_text=True)
    in_force = page.split('class="card in-force"')[1].split("</section>")[0]
    assert in_force.count("consent-no") == 2 and "withdrawn" in in_force
    assert [r[1:4] for r in records(app)] == [("given", True, True), ("amended", True, False),
                                             ("withdrawn", False, False)]
    assert len(audit_entries(app, "consent.record")) == 3
    assert dpo.get("/consent/pupils/999999").status_code == 404


def test_search_is_a_post_and_finds_by_name(app: Flask, pupils: dict[str, int]) -> None:
    head = sign_in(app.test_client(), "headteacher")
    assert head.get("/consent/search?q=Sam").status_code == 405  # a child's name never in an address
    found = head.post("/consent/search", data={"csrf_token": csrf_token(head, "/consent/"), "q": "jones"})
    text = found.get_data(as_text=True)
    assert found.status_code == 200 and f"/consent/pupils/{pupils['sam']}" in text and "Bea Smith" not in text
    assert head.post("/consent/search", data={"q": "jones"}).status_code == 400  # no CSRF token


def test_bad_class_or_year(app: Flask, pupils: dict[str, int]) -> None:
    head = sign_in(app.test_client(), "headteacher")
    nobody = head.get("/consent/class?name=9Z")
    assert nobody.status_code == 200 and "No pupils on roll in 9Z" in nobody.get_data(as_text=True)
    assert head.get(f"/consent/class?name=4B&year={YEAR + 1}").status_code == 400
    assert head.get(f"/consent/class?name=4B&year={YEAR - 1}").status_code == 200
    assert "Find a pupil" in head.get("/consent/class").get_data(as_text=True)


@pytest.mark.parametrize("who", ["staff", "ict", "dsl", "marketing"])
def test_nobody_else_sees_or_changes_it(app: Flask, pupils: dict[str, int], who: str) -> None:
    client = sign_in(app.test_client(), who)
    assert "Consent record" not in client.get("/").get_data(as_text=True)
    for path in ("/consent/", "/consent/class?name=4B", f"/consent/pupils/{pupils['sam']}"):
        assert client.get(path).status_code == 403, path
    token = csrf_token(client, "/requests/new")
    for path, data in (("/consent/search", {"q": "Sam"}),
                       (f"/consent/pupils/{pupils['sam']}/record",
                        {"given-change": "given", "given-academic_year": str(YEAR), "given-images": "y",
                         "given-given_by": "X", "given-effective_on": FIRST_DAY.isoformat()}),
                       ("/consent/class/record", {"class_name": "4B", "academic_year": str(YEAR),
                                                  "effective_on": FIRST_DAY.isoformat(),
                                                  f"pupil-{pupils['sam']}-record": "y",
                                                  f"pupil-{pupils['sam']}-given_by": "X"})):
        assert client.post(path, data={"csrf_token": token, **data}).status_code == 403, path
    assert records(app) == [] and audit_entries(app, "consent.view") == []
