"""The headteacher's Personal data page: exports and erasure are POST with the CSRF token, audited, headteacher only."""

from __future__ import annotations

import json
from pathlib import Path

from flask import Flask
from sqlalchemy import select

from rules.store.models import AuditEntry, Device, User
from tests.admin_web.conftest import ACCOUNTS, csrf_token, sign_in
from tests.rules.privacy.people import SAM, populate


def test_the_headteacher_downloads_json_and_html_and_each_download_is_audited(app: Flask, tmp_path: Path) -> None:
    populate(app.extensions["schoolgate_db"], tmp_path / "state")
    client = sign_in(app.test_client(), "headteacher")
    assert "Personal data" in client.get("/").get_data(as_text=True)  # in the nav
    token = csrf_token(client, "/privacy/")
    got = client.post("/privacy/export", data={"csrf_token": token, "export-person": "sam pupil",
                                               "export-format": "json"})
    assert got.status_code == 200 and got.mimetype == "application/json"
    assert got.headers["Content-Disposition"].startswith("attachment; filename=subject-access-")
    data = json.loads(got.get_data(as_text=True))
    assert {d["person"] for d in data["devices"]} == {SAM} and len(data["access_events"]) == 5
    page = client.post("/privacy/export", data={"csrf_token": token, "export-person": SAM, "export-format": "html"})
    assert page.mimetype == "text/html" and "&lt;img src=x" in page.get_data(as_text=True)
    assert "<img src=x" not in page.get_data(as_text=True)
    with app.extensions["schoolgate_db"].session(read_only=True) as session:
        entries = session.scalars(select(AuditEntry).where(AuditEntry.action == "data.export")).all()
    assert [(e.actor, e.target) for e in entries] == [(ACCOUNTS["headteacher"][0], "sam pupil"),
                                                       (ACCOUNTS["headteacher"][0], SAM)]


def test_downloads_are_never_a_get_nor_a_post_without_the_token(app: Flask, tmp_path: Path) -> None:
    populate(app.extensions["schoolgate_db"], tmp_path / "state")
    client = sign_in(app.test_client(), "headteacher")
    assert client.get("/privacy/export?export-person=Sam+Pupil&export-format=json").status_code == 405
    assert client.post("/privacy/export", data={"export-person": SAM, "export-format": "json"}).status_code == 400
    token = csrf_token(client, "/privacy/")
    bad = client.post("/privacy/export", data={"csrf_token": token, "export-person": SAM, "export-format": "xml"})
    assert bad.status_code == 400
    nobody = client.post("/privacy/export", data={"csrf_token": token, "export-person": "No Body",
                                                  "export-format": "json"})
    assert nobody.status_code == 404 and "nothing is held about" in nobody.get_data(as_text=True)
    with app.extensions["schoolgate_db"].session(read_only=True) as session:
        assert session.scalars(select(AuditEntry).where(AuditEntry.action == "data.export")).all() == []


def test_other_roles_get_403(app: Flask, tmp_path: Path) -> None:
    populate(app.extensions["schoolgate_db"], tmp_path / "state")
    for who in ("staff", "ict", "dsl"):
        client = sign_in(app.test_client(), who)
        assert client.get("/privacy/").status_code == 403
        assert "Personal data" not in client.get("/").get_data(as_text=True)
        token = csrf_token(client, "/requests/new")
        assert client.post("/privacy/export", data={"csrf_token": token, "export-person": SAM,
                                                    "export-format": "json"}).status_code == 403
        assert client.post("/privacy/erase", data={"csrf_token": token, "erase-person": SAM,
                                                   "erase-confirm": SAM}).status_code == 403


def test_erasing_asks_for_the_name_twice_and_never_erases_the_headteacher_themselves(app: Flask,
                                                                                   tmp_path: Path) -> None:
    db = app.extensions["schoolgate_db"]
    populate(db, tmp_path / "state")
    client = sign_in(app.test_client(), "headteacher")
    token = csrf_token(client, "/privacy/")
    wrong = client.post("/privacy/erase", data={"csrf_token": token, "erase-person": SAM, "erase-confirm": "Sam"})
    assert wrong.status_code == 400 and "Type the same name again" in wrong.get_data(as_text=True)
    own = ACCOUNTS["headteacher"][0]
    mine = client.post("/privacy/erase", data={"csrf_token": token, "erase-person": own, "erase-confirm": own})
    assert mine.status_code == 400 and "you cannot erase your own account" in mine.get_data(as_text=True)
    with db.session(read_only=True) as session:
        assert session.scalar(select(Device.id).where(Device.person == SAM)) is not None
        assert session.scalar(select(User.active).where(User.email == own)) is True

    done = client.post("/privacy/erase", data={"csrf_token": token, "erase-person": SAM, "erase-confirm": "SAM PUPIL"},
                       follow_redirects=True)
    body = done.get_data(as_text=True)
    assert done.status_code == 200 and "Erased. Reference E-" in body and done.request.path == "/privacy/"
    assert SAM not in body  # the page after the erasure does not show the name again
    with db.session(read_only=True) as session:
        assert session.scalar(select(Device.id).where(Device.person == SAM)) is None
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "data.erase")).one()
    assert entry.actor == own and entry.target in body and SAM not in (entry.after or "")


def test_a_name_ending_in_a_percent_sign_is_looked_for_as_it_is(app: Flask, tmp_path: Path) -> None:
    """"%" or "Top 10%" in the Personal data form gave 500 on PostgreSQL ("LIKE pattern must not end with escape
    character"): the name's escaped % lost its pair. Nothing is held about them, and a device person so named is
    found, whole."""
    db = app.extensions["schoolgate_db"]
    populate(db, tmp_path / "state")
    with db.session() as session:
        session.add(Device(name="Odd tablet", person="Top 10%"))
    client = sign_in(app.test_client(), "headteacher")
    token = csrf_token(client, "/privacy/")
    for person in ("%", "Top 10", "_%", "\\"):
        for form in ({"export-person": person, "export-format": "json"}, {"erase-person": person,
                                                                         "erase-confirm": person}):
            answer = client.post("/privacy/export" if "export-person" in form else "/privacy/erase",
                                 data={"csrf_token": token, **form})
            assert answer.status_code == 404, (person, form)
            assert "nothing is held about" in answer.get_data(as_text=True)
    found = client.post("/privacy/export", data={"csrf_token": token, "export-person": "top 10%",
                                                 "export-format": "json"})
    assert found.status_code == 200
    assert [d["name"] for d in json.loads(found.get_data(as_text=True))["devices"]] == ["Odd tablet"]
