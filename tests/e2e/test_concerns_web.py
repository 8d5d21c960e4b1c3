"""End to end: the DSL's safeguarding screens in the real admin web (`schoolgate web` over HTTPS + headless Chromium).

A concern is in the database as the pipeline writes it (a pupil's search, with the device's activity around it
frozen). The DSL opens the queue from the nav, opens the concern, reads its timeline with the trigger marked, and
closes it as "no concern" (refused until a reason is given). A concern about a member of staff is not in the
DSL's queue; the headteacher opens it. A member of staff raises a concern by hand, sees only a confirmation,
and it appears in the DSL's queue. Staff and the ICT technician are refused the queue. The audit log holds the
DSL's and the headteacher's views. Screenshots go to test-output/screenshots/concerns-*.png.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from rules.store.db import Database
from rules.store.models import AuditEntry, Concern, ConcernEvent, Device, utcnow
from tests.conftest import Cli
from tests.e2e.web_support import CHROMIUM, Person, web_process

pytest.importorskip("playwright.sync_api")  # the whole file drives Chromium
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium at /usr/bin/chromium")

HEAD = ("ann.head@school.test", "Ann Head", "head password 1")
ICT = ("ian.tech@school.test", "Ian Tech", "ict password 12")
STAFF = ("sal.staff@school.test", "Sal Staff", "staff password 1")
DSL = ("dee.dsl@school.test", "Dee Lead", "dsl password 12")
TERM = "how to kill myself"


def database(tmp_path: Path) -> Database:
    return Database(f"sqlite:///{tmp_path}/var/schoolgate.db")


def insert_concerns(db: Database) -> tuple[int, int]:
    """A pupil's high concern with 3 events before and 2 after, and a staff concern routed to the headteacher."""
    with db.session() as session:
        ipad = session.scalar(select(Device).where(Device.name == "Class 3 iPad 07"))
        laptop = session.scalar(select(Device).where(Device.name == "Staff laptop 2"))
        assert ipad is not None and laptop is not None
        at = utcnow() - timedelta(minutes=3)
        pupil = Concern(opened_at=at, last_seen_at=at, device_id=ipad.id, device_name=ipad.name,
                        client_ip="198.18.0.10", person="Pat Pupil", subject="pupil", category="suicide_self_harm",
                        severity="high", source="search", matched=TERM, phrase="(kill|killing) (myself|my self)",
                        why="First person: says they want to or will end their life.", routed_to="dsl",
                        context_complete=True)
        staff = Concern(opened_at=at, last_seen_at=at, device_id=laptop.id, device_name=laptop.name,
                        client_ip="198.18.0.20", person="Tom Teacher", subject="staff", category="sexual_grooming",
                        severity="medium", source="site", matched="badsite.example/chat", phrase="site category: x",
                        why="A site in a safeguarding category.", routed_to="headteacher", context_complete=True)
        session.add_all([pupil, staff])
        session.flush()
        before = ["www.bbc.co.uk", "homework.example", "www.google.com"]
        for position, host in zip(range(-3, 3), [*before, "www.google.com", "maths.example", "games.example"],
                                  strict=True):
            session.add(ConcernEvent(concern_id=pupil.id, position=position, ts=at + timedelta(seconds=10 * position),
                                     source="proxy", host=host, url=f"http://{host}/", action="allow",
                                     search_term=TERM if position == 0 else None))
        return pupil.id, staff.id


@pytest.fixture
def school(cli: Cli, tmp_path: Path) -> tuple[Cli, int, int]:
    cli("init", "--headteacher", HEAD[0], "--headteacher-name", HEAD[1], "--ict", ICT[0], "--ict-name", ICT[1],
        "--password-stdin", input=f"{HEAD[2]}\n{ICT[2]}\n")
    for account, role in ((STAFF, "staff"), (DSL, "dsl")):
        cli("users", "add", account[0], "--name", account[1], "--role", role, "--password-stdin",
            input=account[2] + "\n")
    cli("devices", "add", "--ip", "198.18.0.10", "--name", "Class 3 iPad 07", "--group", "pupils",
        "--person", "Pat Pupil")
    cli("devices", "add", "--ip", "198.18.0.20", "--name", "Staff laptop 2", "--group", "staff",
        "--person", "Tom Teacher")
    db = database(tmp_path)
    try:
        pupil, staff = insert_concerns(db)
    finally:
        db.dispose()
    return cli, pupil, staff


def queue_numbers(person: Person) -> list[str]:
    return [t.strip() for t in person.page.locator("table.concerns tbody td:first-child a").all_inner_texts()]


def test_the_dsl_triages_a_concern_staff_raise_one_and_others_are_refused(school: tuple[Cli, int, int],
                                                                         tmp_path: Path, browser: object) -> None:
    cli, pupil_id, staff_id = school
    with web_process(cli, tmp_path) as web:
        dsl = Person(browser, web, DSL)
        assert "1 high" in dsl.page.locator("a.concerns-tile").inner_text()
        dsl.page.click("nav a:has-text('Concerns')")
        dsl.page.wait_for_url("**/concerns/")
        assert queue_numbers(dsl) == [f"#{pupil_id}"]  # the staff concern is the headteacher's alone
        dsl.shot("concerns-01-queue")
        dsl.page.click(f"a:has-text('#{pupil_id}')")
        dsl.page.wait_for_url(f"**/concerns/{pupil_id}")
        main = dsl.page.inner_text("main")
        assert TERM in main and "First person: says they want to or will end their life." in main
        rows = dsl.page.locator("table.timeline tbody tr")
        assert rows.count() == 6
        trigger = dsl.page.locator("table.timeline tr.trigger")
        assert trigger.count() == 1 and TERM in trigger.inner_text()
        assert "this raised the concern" in trigger.inner_text()
        assert "homework.example" in rows.nth(1).inner_text() and "games.example" in rows.nth(5).inner_text()
        dsl.shot("concerns-02-concern")

        dsl.page.check("input[name=state][value=no_concern]")
        dsl.page.click("button:has-text('Save outcome')")
        dsl.page.wait_for_url(f"**/concerns/{pupil_id}")
        assert "Say why this is no concern" in dsl.page.locator("p.flash-error").inner_text()
        dsl.page.check("input[name=state][value=no_concern]")
        dsl.page.fill("textarea[name=reason]", "Year 9 English: the class was reading Romeo and Juliet.")
        dsl.page.fill("textarea[name=note]", "Checked with Mr Jones.")
        dsl.page.click("button:has-text('Save outcome')")
        dsl.page.wait_for_url(f"**/concerns/{pupil_id}")
        assert "no concern" in dsl.page.locator("p.flash-success").inner_text()
        assert "No concern" in dsl.page.locator("h1").inner_text()
        assert "Romeo and Juliet" in dsl.page.locator("ul.notes").inner_text()
        dsl.shot("concerns-03-triaged")
        dsl.go("/concerns/")
        assert queue_numbers(dsl) == []
        dsl.go(f"/concerns/{staff_id}")
        assert "Not found" in dsl.page.inner_text("main")

        staff = Person(browser, web, STAFF)
        assert staff.page.locator("nav a:has-text('Concerns')").count() == 0
        staff.page.click("nav a:has-text('Raise a concern')")
        staff.page.wait_for_url("**/concerns/raise")
        staff.page.fill("input[name=person]", "Pat Pupil")
        staff.page.select_option("select[name=device_id]", label="Class 3 iPad 07")
        staff.page.select_option("select[name=category]", value="bullying_abuse")
        staff.page.check("input[name=severity][value=medium]")
        staff.page.fill("textarea[name=what]", "Pat told me older pupils post about him in a group chat every night.")
        staff.shot("concerns-04-raise")
        staff.page.click("button:has-text('Send the concern')")
        staff.page.wait_for_url("**/concerns/raised")
        confirmation = staff.page.inner_text("main")
        assert "passed to the designated safeguarding lead" in confirmation and "group chat" not in confirmation
        staff.go("/concerns/")
        assert "Not available to you" in staff.page.inner_text("main")
        staff.close()

        dsl.go("/concerns/")
        assert len(queue_numbers(dsl)) == 1 and "group chat" in dsl.page.locator("table.concerns").inner_text()
        dsl.shot("concerns-05-raised-by-staff")
        dsl.close()

        ict = Person(browser, web, ICT)
        for path in ("/concerns/", f"/concerns/{pupil_id}", "/safeguarding/phrases/"):
            ict.go(path)
            assert "Not available to you" in ict.page.inner_text("main"), path
        ict.close()

        head = Person(browser, web, HEAD)
        head.page.click("nav a:has-text('Concerns')")
        head.page.wait_for_url("**/concerns/")
        assert f"#{staff_id}" in queue_numbers(head)
        head.page.click(f"a:has-text('#{staff_id}')")
        head.page.wait_for_url(f"**/concerns/{staff_id}")
        assert "Tom Teacher" in head.page.inner_text("main")
        head.shot("concerns-06-headteacher-staff-concern")
        head.close()

    db = database(tmp_path)
    try:
        with db.session(read_only=True) as session:
            views = [(e.actor, e.target) for e in session.scalars(
                select(AuditEntry).where(AuditEntry.action == "concern.view").order_by(AuditEntry.id))]
            triage = session.scalars(select(AuditEntry).where(AuditEntry.action == "concern.triage")).all()
            raised = session.scalars(select(AuditEntry).where(AuditEntry.action == "concern.raise")).all()
    finally:
        db.dispose()
    assert (DSL[0], f"concern #{pupil_id}") in views and (HEAD[0], f"concern #{staff_id}") in views
    assert all(actor != DSL[0] or target != f"concern #{staff_id}" for actor, target in views)
    assert [(e.actor, e.target) for e in triage] == [(DSL[0], f"concern #{pupil_id}")]
    assert [e.actor for e in raised] == [STAFF[0]]
