"""The DSL's screens through the Flask test client, on SQLite and PostgreSQL: who sees which concern, the queue's
order and filters, one concern with its frozen context, triage and notes, a pupil's page, staff raising a concern
by hand, and the audit entry each view and change leaves."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from rules.store.models import (
    AuditEntry,
    Ban,
    Concern,
    ConcernEvent,
    ConcernNote,
    ContentReport,
    Device,
    Group,
    User,
    utcnow,
)
from tests.admin_web.conftest import ACCOUNTS, csrf_token, sign_in

DSL, HEAD, STAFF, ICT = (ACCOUNTS[k][0] for k in ("dsl", "headteacher", "staff", "ict"))


def add_concern(app: Flask, *, person: str = "Pat Pupil", subject: str = "pupil", routed_to: str = "dsl",
                severity: str = "high", category: str = "suicide_self_harm", matched: str = "how to kill myself",
                phrase: str = "(kill|killing) (myself|my self)", age: timedelta = timedelta(0),
                device: str = "Class 3 iPad 07", context: bool = True) -> int:
    """A concern as the pipeline writes one, with its frozen context (3 events before, the trigger, 2 after)."""
    with app.extensions["schoolgate_db"].session() as session:
        dev = session.scalar(select(Device).where(Device.name == device))
        if dev is None:
            group = session.scalar(select(Group).where(Group.name == ("staff" if subject != "pupil" else "pupils")))
            dev = Device(name=device, group_id=group.id, person=person)
            session.add(dev)
            session.flush()
        at = utcnow() - age
        concern = Concern(opened_at=at, last_seen_at=at, device_id=dev.id, device_name=dev.name,
                          client_ip="198.18.0.7", person=person, subject=subject, category=category,
                          severity=severity, source="search", matched=matched, phrase=phrase,
                          why="First person: says they want to end their life.", routed_to=routed_to,
                          context_complete=True)
        session.add(concern)
        session.flush()
        if context:
            for position in range(-3, 3):
                term = matched if position == 0 else None
                host = "www.google.com" if position == 0 else f"site{position + 3}.example"
                session.add(ConcernEvent(concern_id=concern.id, position=position, ts=at + timedelta(seconds=position),
                                         source="proxy", host=host, url=f"http://{host}/", action="allow",
                                         search_term=term))
        return concern.id


def audit_actions(app: Flask, action: str) -> list[tuple[str, str]]:
    with app.extensions["schoolgate_db"].session(read_only=True) as session:
        return [(e.actor, e.target) for e in session.scalars(select(AuditEntry).where(AuditEntry.action == action)
                                                             .order_by(AuditEntry.id))]


def concern_row(app: Flask, concern_id: int) -> Concern:
    with app.extensions["schoolgate_db"].session(read_only=True) as session:
        row = session.get(Concern, concern_id)
        assert row is not None
        return row


def client_as(app: Flask, who: str) -> FlaskClient:
    return sign_in(app.test_client(), who)


def post(client: FlaskClient, path: str, data: dict[str, object], form_page: str) -> object:
    return client.post(path, data={**data, "csrf_token": csrf_token(client, form_page)})


def text(response: object) -> str:
    return response.get_data(as_text=True)  # type: ignore[attr-defined]


def queue_ids(page: str) -> list[int]:
    return [int(n) for n in re.findall(r'<a href="/concerns/(\d+)">#', page)]


def test_only_the_dsl_and_the_headteacher_see_concerns_and_staff_concerns_only_the_headteacher(app: Flask) -> None:
    pupil = add_concern(app)
    teacher = add_concern(app, person="Tom Teacher", subject="staff", routed_to="headteacher",
                          device="Staff laptop 3", severity="medium")
    head = add_concern(app, person="Ann Head", subject="headteacher", routed_to="chair", device="Head's laptop")
    for who in ("staff", "ict"):
        client = client_as(app, who)
        for path in ("/concerns/", f"/concerns/{pupil}", f"/concerns/{pupil}/person", "/concerns/person",
                     "/safeguarding/phrases/"):
            assert client.get(path).status_code == 403, (who, path)
        assert "how to kill myself" not in text(client.get("/"))
        assert 'href="/concerns/"' not in text(client.get("/"))  # no Concerns link in the nav
    dsl = client_as(app, "dsl")
    assert queue_ids(text(dsl.get("/concerns/"))) == [pupil]
    assert dsl.get(f"/concerns/{teacher}").status_code == 404  # as if it did not exist
    assert dsl.get(f"/concerns/{head}").status_code == 404
    headteacher = client_as(app, "headteacher")
    assert sorted(queue_ids(text(headteacher.get("/concerns/")))) == sorted([pupil, teacher])
    assert headteacher.get(f"/concerns/{teacher}").status_code == 200
    assert headteacher.get(f"/concerns/{head}").status_code == 404  # the chair's, never the headteacher's own
    # the DSL cannot triage or annotate what they may not see
    response = post(dsl, f"/concerns/{teacher}/triage", {"state": "record_made"}, "/concerns/raise")
    assert response.status_code == 404 and concern_row(app, teacher).state == "open"
    assert post(dsl, f"/concerns/{teacher}/notes", {"text": "x"}, "/concerns/raise").status_code == 404
    assert audit_actions(app, "concern.view") == [(HEAD, f"concern #{teacher}")]


def test_the_queue_is_newest_and_most_severe_first_and_filters_narrow_it(app: Flask) -> None:
    low_today = add_concern(app, severity="low", category="drugs_alcohol", matched="buy weed", phrase="buy weed")
    high_today = add_concern(app, severity="high", age=timedelta(minutes=5))
    medium_yesterday = add_concern(app, severity="medium", age=timedelta(days=1), category="bullying_abuse")
    closed = add_concern(app, severity="high", age=timedelta(days=2))
    with app.extensions["schoolgate_db"].session() as session:
        session.get(Concern, closed).state = "record_made"
    dsl = client_as(app, "dsl")
    assert queue_ids(text(dsl.get("/concerns/"))) == [high_today, low_today, medium_yesterday]
    assert queue_ids(text(dsl.get("/concerns/?severity=low"))) == [low_today]
    assert queue_ids(text(dsl.get("/concerns/?category=bullying_abuse"))) == [medium_yesterday]
    assert queue_ids(text(dsl.get("/concerns/?state=record_made"))) == [closed]
    assert queue_ids(text(dsl.get("/concerns/?state=all"))) == [high_today, low_today, medium_yesterday, closed]
    assert "No concerns here." in text(dsl.get("/concerns/?category=extremism"))
    for bad in ("state=junk", "severity=urgent", "page=0", "page=21", "page=x", "category=" + "x" * 65):
        response = dsl.get("/concerns/?" + bad)
        assert response.status_code == 400 and "cannot be used" in text(response), bad
    home = text(dsl.get("/"))
    assert "3</strong> open safeguarding concerns" in home and "1 high" in home


def test_one_concern_shows_what_matched_its_context_with_the_trigger_and_the_view_is_audited(app: Flask) -> None:
    concern_id = add_concern(app)
    earlier = add_concern(app, severity="low", age=timedelta(days=3), matched="self harm", phrase="self harm")
    headteacher = client_as(app, "headteacher")
    page = text(headteacher.get(f"/concerns/{concern_id}"))
    assert "how to kill myself" in page and "(kill|killing) (myself|my self)" in page
    assert "First person: says they want to end their life." in page and "Pat Pupil" in page
    rows = re.findall(r'<tr class="(before|trigger|after)"', page)
    assert rows == ["before"] * 3 + ["trigger"] + ["after"] * 2
    trigger = page[page.index('<tr class="trigger"'):]
    assert "search:</strong> how to kill myself" in trigger[:600] and "this raised the concern" in trigger[:800]
    assert f'href="/concerns/{earlier}"' in page  # the device's other concern
    dsl = client_as(app, "dsl")
    assert dsl.get(f"/concerns/{concern_id}").status_code == 200
    assert audit_actions(app, "concern.view") == [(HEAD, f"concern #{concern_id}"), (DSL, f"concern #{concern_id}")]


def test_triage_needs_a_reason_for_no_concern_and_a_recipient_for_escalation(app: Flask) -> None:
    first, second = add_concern(app), add_concern(app, device="Class 4 iPad 01", person="Kim Pupil")
    dsl = client_as(app, "dsl")
    page = f"/concerns/{first}"
    response = post(dsl, f"{page}/triage", {"state": "no_concern", "reason": "  "}, page)
    assert "Say why this is no concern" in text(dsl.get(response.headers["Location"]))  # type: ignore[attr-defined]
    assert concern_row(app, first).state == "open"
    post(dsl, f"{page}/triage", {"state": "escalated", "escalated_to": ""}, page)
    assert concern_row(app, first).state == "open"
    post(dsl, f"{page}/triage", {"state": "escalated", "escalated_to": "the moon"}, page)
    assert concern_row(app, first).state == "open"
    post(dsl, f"{page}/triage", {"state": "open"}, page)
    assert concern_row(app, first).state == "open"

    response = post(dsl, f"{page}/triage", {"state": "no_concern", "reason": "A history lesson on Shakespeare.",
                                            "note": "Checked with the teacher."}, page)
    assert response.status_code == 302  # type: ignore[attr-defined]
    row = concern_row(app, first)
    assert (row.state, row.outcome_reason, row.closed_by) == ("no_concern", "A history lesson on Shakespeare.", DSL)
    assert "No concern" in text(dsl.get(page))
    post(dsl, f"/concerns/{second}/triage", {"state": "escalated", "escalated_to": "prevent", "note": "Rang them."},
         f"/concerns/{second}")
    assert (concern_row(app, second).state, concern_row(app, second).escalated_to) == ("escalated", "prevent")
    assert "Escalated: Prevent" in text(dsl.get(f"/concerns/{second}"))
    assert [t for _, t in audit_actions(app, "concern.triage")] == [f"concern #{first}", f"concern #{second}"]
    assert queue_ids(text(dsl.get("/concerns/"))) == []
    counts = text(dsl.get("/safeguarding/phrases/"))
    fp_row = re.search(r"<code>\(kill\|killing\) \(myself\|my self\)</code></td><td>(\d+)</td><td>(\d+)</td>", counts)
    assert fp_row and fp_row.groups() == ("1", "2")


def test_notes_are_kept_in_order_and_audited(app: Flask) -> None:
    concern_id = add_concern(app)
    dsl = client_as(app, "dsl")
    page = f"/concerns/{concern_id}"
    post(dsl, f"{page}/notes", {"text": "Spoke to <b>form tutor</b>."}, page)
    post(dsl, f"{page}/notes", {"text": "Parents called."}, page)
    assert post(dsl, f"{page}/notes", {"text": ""}, page).status_code == 302  # type: ignore[attr-defined]
    shown = text(dsl.get(page))
    assert shown.index("Spoke to &lt;b&gt;form tutor&lt;/b&gt;.") < shown.index("Parents called.")
    with app.extensions["schoolgate_db"].session(read_only=True) as session:
        assert session.scalar(select(ConcernNote.text).order_by(ConcernNote.id.desc()).limit(1)) == "Parents called."
    assert len(audit_actions(app, "concern.note")) == 2


def test_a_pupils_page_gathers_their_concerns_bans_and_reports_and_is_audited(app: Flask) -> None:
    concern_id = add_concern(app)
    other = add_concern(app, person="Kim Pupil", device="Class 4 iPad 01")
    with app.extensions["schoolgate_db"].session() as session:
        device = session.scalar(select(Device).where(Device.name == "Class 3 iPad 07"))
        staff = session.scalar(select(User).where(User.email == STAFF))
        session.add(Ban(device_id=device.id, person="Pat Pupil", reason="VPN to get round the filter", evidence="[]"))
        session.add(ContentReport(reporter_id=staff.id, reporter_name="Sam Staff", individual="pat pupil",
                                  incident_date=utcnow().date().isoformat(), full_urls="https://bad.example/",
                                  nature="Shared a violent video"))
    dsl = client_as(app, "dsl")
    page = text(dsl.get(f"/concerns/{concern_id}/person"))
    assert f'href="/concerns/{concern_id}"' in page and f'href="/concerns/{other}"' not in page
    assert "VPN to get round the filter" in page and "Shared a violent video" in page
    found = post(dsl, "/concerns/person", {"person": "  PAT PUPIL "}, "/concerns/person")
    assert found.status_code == 200 and f'href="/concerns/{concern_id}"' in text(found)  # type: ignore[attr-defined]
    assert post(dsl, "/concerns/person", {"person": ""}, "/concerns/person").status_code == 400  # type: ignore
    assert [a for a, _ in audit_actions(app, "concern.person_view")] == [DSL, DSL]
    none = add_concern(app, person="", device="Library PC 2")
    with app.extensions["schoolgate_db"].session() as session:
        session.get(Concern, none).person = None
    assert dsl.get(f"/concerns/{none}/person").status_code == 404


def test_staff_raise_a_concern_by_hand_it_is_routed_and_they_see_only_a_confirmation(app: Flask) -> None:
    with app.extensions["schoolgate_db"].session() as session:
        group = session.scalar(select(Group).where(Group.name == "pupils"))
        device = Device(name="Class 5 iPad 12", group_id=group.id, person="Lee Pupil")
        session.add(device)
        session.flush()
        device_id = device.id
    staff = client_as(app, "staff")
    form = staff.get("/concerns/raise")
    assert form.status_code == 200 and "Class 5 iPad 12" in text(form)
    for bad in ({"what": ""}, {"person": "", "device_id": "0"}, {"category": "knitting"}, {"severity": "urgent"},
                {"subject": "governor"}, {"device_id": "99999999999999999999"}, {"what": "x" * 4001}):
        data = {"subject": "pupil", "person": "Lee Pupil", "device_id": "0", "category": "bullying_abuse",
                "severity": "high", "what": "Lee said older boys take his lunch money every day.", **bad}
        assert post(staff, "/concerns/raise", data, "/concerns/raise").status_code == 400, bad  # type: ignore
    response = post(staff, "/concerns/raise", {"subject": "pupil", "person": "", "device_id": str(device_id),
                                               "category": "bullying_abuse", "severity": "high",
                                               "what": "Lee said older boys take his lunch money every day."},
                    "/concerns/raise")
    assert response.headers["Location"].endswith("/concerns/raised")  # type: ignore[attr-defined]
    confirmation = text(staff.get("/concerns/raised"))
    assert "passed to the designated safeguarding lead (DSL)" in confirmation
    assert "lunch money" not in confirmation and staff.get("/concerns/").status_code == 403
    about_colleague = post(staff, "/concerns/raise", {"subject": "staff", "person": "Tom Teacher", "device_id": "0",
                                                      "category": "sexual_grooming", "severity": "high",
                                                      "what": "Messages a pupil on a personal account."},
                           "/concerns/raise")
    assert about_colleague.status_code == 302  # type: ignore[attr-defined]
    assert "passed to the headteacher" in text(staff.get("/concerns/raised"))
    with app.extensions["schoolgate_db"].session(read_only=True) as session:
        rows = list(session.scalars(select(Concern).order_by(Concern.id)))
    assert [(c.source, c.subject, c.routed_to, c.raised_by, c.person) for c in rows] == [
        ("manual", "pupil", "dsl", STAFF, "Lee Pupil"), ("manual", "staff", "headteacher", STAFF, "Tom Teacher")]
    assert queue_ids(text(client_as(app, "dsl").get("/concerns/"))) == [rows[0].id]
    assert sorted(queue_ids(text(client_as(app, "headteacher").get("/concerns/")))) == [rows[0].id, rows[1].id]
    assert [a for a, _ in audit_actions(app, "concern.raise")] == [STAFF, STAFF]


def test_the_school_phrase_list_add_remove_import_all_or_nothing(app: Flask) -> None:
    dsl = client_as(app, "dsl")
    page = "/safeguarding/phrases/"
    added = post(dsl, page + "add", {"phrase": "blue bandana crew", "kind": "weapons_violence", "severity": "medium",
                                     "why": "A local gang the police warned us about", "unless": "film; costume"}, page)
    assert added.status_code == 302  # type: ignore[attr-defined]
    shown = text(dsl.get(page))
    assert "blue bandana crew" in shown and "film; costume" in shown
    bad = post(dsl, page + "add", {"phrase": "ab", "kind": "extremism", "severity": "low", "why": "x"}, page)
    assert bad.status_code == 400 and "Nothing was changed" in text(bad)  # type: ignore[attr-defined]
    twice = post(dsl, page + "add", {"phrase": "Blue  Bandana crew", "kind": "weapons_violence", "severity": "low",
                                     "why": "again"}, page)
    assert twice.status_code == 400 and "already has" in text(twice)  # type: ignore[attr-defined]

    from io import BytesIO

    def upload(content: bytes) -> object:
        return dsl.post(page + "import", data={"file": (BytesIO(content), "ours.csv"),
                                               "csrf_token": csrf_token(dsl, page)},
                        content_type="multipart/form-data")

    broken = upload(b"phrase,category,severity,why\nmeet at the old quarry,sexual_grooming,high,Where they met\n"
                    b"xx,nonsense,high,\n")
    assert broken.status_code == 400 and "line 3" in text(broken)  # type: ignore[attr-defined]
    assert "blue bandana crew" in text(dsl.get(page))  # nothing of the bad file was taken
    assert upload(b"\xff\xfe\x00junk").status_code == 400  # type: ignore[attr-defined]
    good = upload(b"meet at the old quarry,sexual_grooming,high,Where older boys have met pupils\n"
                  b"shooting hoops,innocent,,Basketball\n")
    assert good.status_code == 302  # type: ignore[attr-defined]
    shown = text(dsl.get(page))
    assert "meet at the old quarry" in shown and "blue bandana crew" not in shown
    row_ids = [int(n) for n in re.findall(r'/safeguarding/phrases/(\d+)/remove', shown)]
    assert len(row_ids) == 2
    assert post(dsl, f"{page}{row_ids[0]}/remove", {}, page).status_code == 302  # type: ignore[attr-defined]
    assert post(dsl, f"{page}{row_ids[0]}/remove", {}, page).status_code == 404  # type: ignore[attr-defined]
    assert "meet at the old quarry" not in text(dsl.get(page))
    assert [a for a in ("safeguarding.phrase_add", "safeguarding.import", "safeguarding.phrase_remove")
            if audit_actions(app, a) == [(DSL, audit_actions(app, a)[0][1])]] == [
        "safeguarding.phrase_add", "safeguarding.import", "safeguarding.phrase_remove"]
    ict = client_as(app, "ict")
    assert post(ict, page + "add", {"phrase": "blue bandana crew", "kind": "weapons_violence", "severity": "low",
                                    "why": "x"}, "/categories/").status_code == 403  # type: ignore[attr-defined]


def test_the_ict_technician_marks_a_category_as_safeguarding_and_it_is_audited(app: Flask) -> None:
    ict = client_as(app, "ict")
    created = post(ict, "/categories/new", {"name": "self-harm-forums", "description": "Forums", "safeguarding": "y",
                                            "block_everyone": "y"}, "/categories/new")
    assert created.status_code == 302  # type: ignore[attr-defined]
    with app.extensions["schoolgate_db"].session(read_only=True) as session:
        from rules.store.models import Category

        category = session.scalar(select(Category).where(Category.name == "self-harm-forums"))
        assert category is not None and category.safeguarding
        category_id = category.id
    assert "Safeguarding" in text(ict.get("/categories/"))
    post(ict, f"/categories/{category_id}", {"name": "self-harm-forums", "block_everyone": "y"},
         f"/categories/{category_id}")
    with app.extensions["schoolgate_db"].session(read_only=True) as session:
        assert not session.get(Category, category_id).safeguarding
        entries = list(session.scalars(select(AuditEntry).where(AuditEntry.target == "category self-harm-forums")
                                       .order_by(AuditEntry.id)))
    assert [(e.actor, e.action) for e in entries] == [(ICT, "category.create"), (ICT, "category.update")]
    assert '"safeguarding": true' in (entries[0].after or "") and '"safeguarding": false' in (entries[1].after or "")


def test_the_dashboard_shows_automatic_lookups_apart_and_the_concern_tile_only_to_the_dsl(app: Flask) -> None:
    from rules.store.models import AccessEvent

    with app.extensions["schoolgate_db"].session() as session:
        session.add_all([AccessEvent(ts=utcnow(), client_ip="198.18.0.9", source="dns", action="block",
                                     host="use-application-dns.net", category="circumvention") for _ in range(120)])
        session.add(AccessEvent(ts=utcnow(), client_ip="198.18.0.9", source="dns", action="block",
                                host="games.example", category="games"))
    add_concern(app, severity="medium")
    ict = text(client_as(app, "ict").get("/"))
    top_sites = ict[ict.index("Top blocked sites"):ict.index("Devices with most blocks")]
    assert "games.example" in top_sites and "use-application-dns.net" not in top_sites
    automatic = ict[ict.index("Automatic lookups by devices"):]
    assert "(120 in the last 14 days)" in automatic and "use-application-dns.net" in automatic
    assert "open safeguarding concern" not in ict
    dsl = text(client_as(app, "dsl").get("/"))
    assert "1</strong> open safeguarding concern" in dsl and " high" not in dsl.split("open safeguarding")[1][:60]
    staff = text(client_as(app, "staff").get("/"))
    assert "open safeguarding concern" not in staff and "Automatic lookups" not in staff
    assert "Raise a safeguarding concern" in staff


@pytest.mark.parametrize("path", ["/concerns/2147483648", "/concerns/0/person", "/safeguarding/phrases/-1/remove"])
def test_ids_out_of_range_are_404(app: Flask, path: str) -> None:
    client = client_as(app, "dsl")
    assert client.open(path, method="POST" if path.endswith("remove") else "GET").status_code == 404


def test_the_audit_page_never_shows_a_concerns_notes_reasons_or_the_pupil_looked_up(app: Flask) -> None:
    """The ICT technician reads the audit log, and the DSL reads it too, but not staff concerns: what the DSL
    writes about a pupil, and whose page was looked at, stay on the concern screens."""
    pupil = add_concern(app, person="Pat Pupil")
    teacher = add_concern(app, person="Tom Teacher", subject="staff", routed_to="headteacher", device="Staff laptop 3")
    dsl, head = client_as(app, "dsl"), client_as(app, "headteacher")
    page = f"/concerns/{pupil}"
    post(dsl, f"{page}/notes", {"text": "Pat disclosed that her stepdad hits her."}, page)
    post(dsl, f"{page}/triage", {"state": "no_concern", "reason": "Pat was researching for a PSHE poster on abuse.",
                                 "note": "Mum informed about the bruises."}, page)
    post(head, f"/concerns/{teacher}/notes", {"text": "Tom has a history with the pupil's family."},
         f"/concerns/{teacher}")
    dsl.get(f"{page}/person")
    assert len(audit_actions(app, "concern.note")) == 2 and len(audit_actions(app, "concern.triage")) == 1
    for who, client in (("ict", client_as(app, "ict")), ("dsl", dsl)):
        audit_page = text(client.get("/audit/?action=concern"))
        assert "concern.note" in audit_page and "concern.triage" in audit_page, who
        for secret in ("stepdad", "PSHE poster", "bruises", "history with the pupil", "Pat Pupil"):
            assert secret not in audit_page, (who, secret)
