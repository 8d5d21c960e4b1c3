"""A ban's evidence is for the headteacher, the DSL and the ICT technician, and every look at it is audited.

Other staff see who is banned, until when, and how to supervise; nowhere they can go shows what the device did.
"""

from __future__ import annotations

import json

import pytest
from flask import Flask
from sqlalchemy import select

from rules.store.audit import audit
from rules.store.models import AccessEvent, AuditEntry, Ban, Device, Group, utcnow
from tests.admin_web.conftest import ACCOUNTS, post, sign_in

VPN_HOST = "nordvpn.example"
REASON = "Trying to get round the filter: 2 x VPN site (10 points; the limit is 10)"


def a_ban(app: Flask) -> tuple[int, int]:
    """A pupil's device with access events and a ban written as the watcher writes it: (ban id, device id)."""
    with app.extensions["schoolgate_db"].session() as session:
        pupils = session.scalars(select(Group).where(Group.name == "pupils")).one()
        device = Device(name="Class 5 iPad 03", group_id=pupils.id, person="Sam Pupil", last_ip="198.18.0.5")
        session.add(device)
        session.flush()
        session.add(AccessEvent(ts=utcnow(), client_ip="198.18.0.5", device_id=device.id, device=device.name,
                                source="dns", host=VPN_HOST, action="block", category="circumvention"))
        ban = Ban(device_id=device.id, person="Sam Pupil", reason=REASON, evidence=json.dumps(
            [{"ts": utcnow().timestamp(), "kind": "circumvention_site", "host": VPN_HOST, "source": "dns",
              "weight": 5}] * 2))
        session.add(ban)
        session.flush()
        return ban.id, device.id


def evidence_views(app: Flask) -> list[tuple[str, str]]:
    with app.extensions["schoolgate_db"].session(read_only=True) as session:
        return [(e.actor, e.target) for e in session.scalars(
            select(AuditEntry).where(AuditEntry.action == "ban.evidence_view").order_by(AuditEntry.id))]


def test_staff_get_403_on_evidence_and_the_headteachers_view_is_audited(app: Flask) -> None:
    ban_id, _ = a_ban(app)
    staff = sign_in(app.test_client(), "staff")
    assert staff.get(f"/bans/{ban_id}/evidence").status_code == 403
    assert evidence_views(app) == []

    head = sign_in(app.test_client(), "headteacher")
    page = head.get(f"/bans/{ban_id}/evidence")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert VPN_HOST in text and REASON in text and "recorded in the audit log" in text
    assert evidence_views(app) == [(ACCOUNTS["headteacher"][0], f"ban #{ban_id}")]
    # the show page links to it, and is not itself a view of the evidence
    shown = head.get(f"/bans/{ban_id}").get_data(as_text=True)
    assert f'href="/bans/{ban_id}/evidence"' in shown and VPN_HOST not in shown
    assert len(evidence_views(app)) == 1


@pytest.mark.parametrize("who", ["dsl", "ict"])
def test_the_dsl_and_the_ict_technician_read_evidence_and_are_audited(sqlite_app: Flask, who: str) -> None:
    ban_id, _ = a_ban(sqlite_app)
    client = sign_in(sqlite_app.test_client(), who)
    assert VPN_HOST in client.get(f"/bans/{ban_id}/evidence").get_data(as_text=True)
    assert evidence_views(sqlite_app) == [(ACCOUNTS[who][0], f"ban #{ban_id}")]
    assert client.get("/bans/99999/evidence").status_code == 404
    assert len(evidence_views(sqlite_app)) == 1


def test_nothing_a_member_of_staff_can_open_shows_the_evidence(sqlite_app: Flask) -> None:
    app = sqlite_app
    ban_id, device_id = a_ban(app)
    staff = sign_in(app.test_client(), "staff")
    for path in ("/", "/bans/", f"/bans/{ban_id}", "/requests/", "/reports/", "/requests/new"):
        response = staff.get(path)
        assert response.status_code == 200, path
        text = response.get_data(as_text=True)
        assert VPN_HOST not in text and "points" not in text and REASON not in text, path
    shown = staff.get(f"/bans/{ban_id}").get_data(as_text=True)
    assert "Sam Pupil" in shown and "Class 5 iPad 03" in shown and "Open supervised access" in shown
    assert "/evidence" not in shown  # not even the link
    for path in (f"/bans/{ban_id}/evidence", "/logs/", f"/logs/device/{device_id}", "/devices/", "/audit/"):
        assert staff.get(path).status_code == 403, path
    assert staff.get("/logs/export.csv").status_code in (403, 405)


def test_a_lifted_ban_is_not_shown_to_staff_at_all(sqlite_app: Flask) -> None:
    """A lesson needs the bans in force; once lifted, the pupil's name and why are for those who decide on bans."""
    app = sqlite_app
    ban_id, _ = a_ban(app)
    staff = sign_in(app.test_client(), "staff")
    assert staff.get(f"/bans/{ban_id}").status_code == 200  # in force: whom to supervise
    head = sign_in(app.test_client(), "headteacher")
    response = post(head, f"/bans/{ban_id}/lift", {"reason": "A parent installed the VPN app", "false_positive": "y"},
                    f"/bans/{ban_id}/evidence")
    assert response.status_code == 302  # type: ignore[attr-defined]
    assert "A parent installed the VPN app" in head.get(f"/bans/{ban_id}").get_data(as_text=True)
    answer = staff.get(f"/bans/{ban_id}")
    assert answer.status_code == 404
    shown = answer.get_data(as_text=True)
    assert "Sam Pupil" not in shown and "A parent installed" not in shown and "false positive" not in shown


def test_evidence_shown_on_the_audit_page_is_a_view_of_evidence_and_is_audited(sqlite_app: Flask) -> None:
    """An alert's audit entry (and a ban's, as the watcher wrote them before) carries what the device did: the audit
    page showed it to the ICT technician with no record that anyone looked."""
    app = sqlite_app
    _, device_id = a_ban(app)
    with app.extensions["schoolgate_db"].session() as session:
        audit(session, "detector", "circumvention.alert", f"device #{device_id}", after={
            "summary": REASON, "evidence": [{"ts": utcnow().timestamp(), "kind": "circumvention_site",
                                             "host": VPN_HOST, "source": "dns", "weight": 5}]})
        alert = session.scalars(select(AuditEntry).where(AuditEntry.action == "circumvention.alert")).one().id
    ict = sign_in(app.test_client(), "ict")
    assert VPN_HOST not in ict.get("/audit/?action=signin").get_data(as_text=True)
    assert evidence_views(app) == []  # a page without evidence is no view of it
    assert VPN_HOST in ict.get("/audit/").get_data(as_text=True)
    assert evidence_views(app) == [(ACCOUNTS["ict"][0], "audit log")]
    with app.extensions["schoolgate_db"].session(read_only=True) as session:
        view = session.scalars(select(AuditEntry).where(AuditEntry.action == "ban.evidence_view")).one()
    assert json.loads(view.after or "") == {"entries": [alert]}


def test_supervised_access_opened_in_another_teachers_name_says_who_opened_it(sqlite_app: Flask) -> None:
    """The supervisor's name is typed (a teaching assistant may have no account): Sam Staff could open supervised
    access "by Olly Other", and every page then said Olly was responsible for the banned pupil. Who opened it is
    shown beside it, as the audit log has it."""
    app = sqlite_app
    ban_id, _ = a_ban(app)
    staff = sign_in(app.test_client(), "staff")
    opened = post(staff, f"/bans/{ban_id}/supervise", {"staff_name": ACCOUNTS["other"][1], "minutes": "30"},
                  f"/bans/{ban_id}")
    assert opened.status_code == 302  # type: ignore[attr-defined]
    other = sign_in(app.test_client(), "other")
    for path in (f"/bans/{ban_id}", "/bans/"):
        text = other.get(path).get_data(as_text=True)
        assert ACCOUNTS["other"][1] in text and f"opened by {ACCOUNTS['staff'][0]}" in text, path
