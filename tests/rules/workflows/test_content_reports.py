"""Content reports: filed by staff, seen only by those who should, completed once by the ICT technician."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import select

from rules.store.db import Database
from rules.store.models import AuditEntry, Category, ContentReport, Rule, User
from rules.workflows.access_requests import NotFound
from rules.workflows.content_reports import ReportError, act_on_report, file_report, get_report, list_reports
from rules.workflows.form_urls import BadURL


@pytest.fixture
def people(db: Database) -> dict[str, int]:
    with db.session() as session:
        users = {key: User(email=f"{key}@school.example", name=key.title(), roles=key if key != "other" else "staff")
                 for key in ("staff", "other", "ict", "dsl")}
        session.add_all(users.values())
        session.flush()
        return {key: user.id for key, user in users.items()}


def user(session, people: dict[str, int], key: str) -> User:
    found = session.get(User, people[key])
    assert found is not None
    return found


def file(db: Database, people: dict[str, int], individual: str = "", urls: str = "https://bad.example/page") -> int:
    with db.session() as session:
        return file_report(session, user(session, people, "staff"), individual=individual,
                           incident_date=date(2026, 11, 20), full_urls=urls, nature=" violent images ").id


def test_a_report_keeps_the_urls_as_typed_and_its_audit_entry_never_names_the_individual(
        db: Database, people: dict[str, int]) -> None:
    report_id = file(db, people, individual="A Pupil", urls=" https://bad.example/page \n\nhttp://worse.example/")
    with db.session() as session:
        rep = session.get(ContentReport, report_id)
        assert rep is not None
        assert (rep.status, rep.reporter_name, rep.incident_date, rep.nature) == ("open", "Staff", "2026-11-20",
                                                                                   "violent images")
        assert rep.full_urls == "https://bad.example/page\nhttp://worse.example/"
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "report.file")).one()
        assert entry.actor == "staff@school.example" and entry.target == f"content report #{report_id}"
        assert json.loads(entry.after or "{}")["names_individual"] is True
        assert "A Pupil" not in (entry.after or "")


def test_a_report_with_a_url_that_is_not_a_web_address_is_not_filed(db: Database, people: dict[str, int]) -> None:
    with pytest.raises(BadURL):
        file(db, people, urls="javascript:alert(1)")
    with db.session() as session:
        assert session.scalars(select(ContentReport)).all() == []


def test_who_sees_which_report(db: Database, people: dict[str, int]) -> None:
    plain = file(db, people)
    named = file(db, people, individual="A Pupil")
    with db.session() as session:
        def seen(key: str, roles: set[str]) -> list[int]:
            return [r.id for r in list_reports(session, user(session, people, key), roles)]
        assert seen("staff", {"staff"}) == [named, plain]  # the reporter, newest first
        assert seen("other", {"staff"}) == []
        assert seen("dsl", {"dsl"}) == [named]  # only the ones that name someone
        assert seen("ict", {"ict"}) == [named, plain]
        assert [r.id for r in list_reports(session, user(session, people, "ict"), {"ict"}, status="blocked")] == []
        assert get_report(session, named, user(session, people, "dsl"), {"dsl"}).id == named
        for key, roles, report_id in (("other", {"staff"}, plain), ("dsl", {"dsl"}, plain), ("ict", {"ict"}, 999)):
            with pytest.raises(NotFound):
                get_report(session, report_id, user(session, people, key), roles)


def test_blocking_from_a_report_makes_a_rule_for_everyone_and_completes_it_once(
        db: Database, people: dict[str, int]) -> None:
    report_id = file(db, people)
    with db.session() as session:
        category_id = session.scalars(select(Category.id)).first()
        rep = act_on_report(session, report_id, user(session, people, "ict"), block=True, action_taken=" blocked ",
                            target="https://Bad.example/page/x", kind="url", category_id=category_id)
        assert (rep.status, rep.action_taken, rep.actioned_by_email) == ("blocked", "blocked", "ict@school.example")
        rule = session.get(Rule, rep.rule_id)
        assert rule is not None
        assert (rule.action, rule.kind, rule.domain, rule.url_prefix, rule.scope, rule.source, rule.category_id) == (
            "block", "url", "bad.example", "bad.example/page/x", "everyone", "report", category_id)
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "report.block")).one()
        assert json.loads(entry.before or "{}")["status"] == "open"
        assert json.loads(entry.after or "{}")["rule_id"] == rule.id and entry.reason == "blocked"
    with db.session() as session, pytest.raises(ReportError, match="already completed"):
        act_on_report(session, report_id, user(session, people, "ict"), block=False, action_taken="changed my mind")


def test_not_blocking_records_why_and_no_rule(db: Database, people: dict[str, int]) -> None:
    report_id = file(db, people)
    with db.session() as session:
        rep = act_on_report(session, report_id, user(session, people, "ict"), block=False,
                            action_taken="a news site; spoke to the teacher")
        assert (rep.status, rep.rule_id) == ("not_blocked", None)
        assert session.scalars(select(Rule).where(Rule.source == "report")).all() == []
        assert session.scalars(select(AuditEntry).where(AuditEntry.action == "report.not_blocked")).one().reason == \
            "a news site; spoke to the teacher"


@pytest.mark.parametrize("kw, says", [
    ({"block": False, "action_taken": "  "}, "describe the action taken"),
    ({"block": True, "action_taken": "x", "target": "https://bad.example/", "kind": "ip"}, "domain"),
    ({"block": True, "action_taken": "x", "target": "https://bad.example/", "category_id": None}, "category"),
])
def test_an_incomplete_action_leaves_the_report_open(db: Database, people: dict[str, int], kw: dict[str, object],
                                                     says: str) -> None:
    report_id = file(db, people)
    with db.session() as session, pytest.raises(ReportError, match=says):
        act_on_report(session, report_id, user(session, people, "ict"), **kw)
    with db.session() as session:
        assert session.get(ContentReport, report_id).status == "open"
