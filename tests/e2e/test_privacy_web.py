"""End to end: the headteacher's Personal data page in the real admin web (`schoolgate web` + headless Chromium).

The headteacher downloads everything held about Sam Pupil as JSON and as a readable page (his ban's evidence
holds a hostile host name, which must stay text), then erases it, typing his name twice; `schoolgate devices
list` and `bans list` then know nothing of him, and the audit log holds the erasure's reference, not his name.
A member of staff sees no link and gets 403. Screenshots go to test-output/screenshots/privacy-*.png.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from rules.store.db import Database
from rules.store.models import AuditEntry
from tests.conftest import Cli
from tests.e2e.web_support import CHROMIUM, Person, web_process
from tests.rules.privacy.people import HOSTILE, SAM, SAM_DEVICES, populate

pytest.importorskip("playwright.sync_api")  # the whole file drives Chromium
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium at /usr/bin/chromium")

HEAD = ("ann.head@school.test", "Ann Head", "head password 1")
ICT = ("ian.tech@school.test", "Ian Tech", "ict password 12")
STAFF = ("sal.staff@school.test", "Sal Staff", "staff password 1")


@pytest.fixture
def school(cli: Cli, tmp_path: Path) -> Cli:
    cli("init", "--headteacher", HEAD[0], "--headteacher-name", HEAD[1], "--ict", ICT[0], "--ict-name", ICT[1],
        "--password-stdin", input=f"{HEAD[2]}\n{ICT[2]}\n")
    cli("users", "add", STAFF[0], "--name", STAFF[1], "--role", "staff", "--password-stdin", input=STAFF[2] + "\n")
    db = Database(f"sqlite:///{tmp_path}/var/schoolgate.db")
    try:
        populate(db, tmp_path / "var")
    finally:
        db.dispose()
    return cli


def download(person: Person, button: str) -> str:
    with person.page.expect_download() as info:
        person.page.click(f"button:has-text('{button}')")
    path = info.value.path()
    assert info.value.suggested_filename.startswith("subject-access-")
    return Path(path).read_text(encoding="utf-8")


def test_the_headteacher_exports_and_erases_a_pupil_and_staff_cannot(school: Cli, tmp_path: Path,
                                                                    browser: object) -> None:
    cli = school
    with web_process(cli, tmp_path) as web:
        head = Person(browser, web, HEAD)
        head.page.click("nav a:has-text('Personal data')")
        head.page.wait_for_url("**/privacy/")
        head.page.fill("input[name='export-person']", "sam pupil")
        head.shot("privacy-01-page")
        data = json.loads(download(head, "Download JSON"))
        assert {d["name"] for d in data["devices"]} == set(SAM_DEVICES)
        assert len(data["access_events"]) == 5 and data["bans"][0]["evidence"][0]["host"] == HOSTILE
        page = download(head, "Download readable page")
        assert "&lt;img src=x onerror=alert(1)&gt;.example" in page and "<img" not in page

        head.page.fill("input[name='erase-person']", SAM)
        head.page.fill("input[name='erase-confirm']", "Sam")
        head.page.click("button:has-text('Erase everything')")
        assert "Type the same name again to confirm." in head.page.inner_text("main")
        assert any(d["person"] == SAM for d in map(json.loads, cli("devices", "list", "--json").stdout.splitlines()))
        head.page.fill("input[name='erase-confirm']", "SAM PUPIL")
        head.page.click("button:has-text('Erase everything')")
        flash = head.page.locator("p.flash-success").inner_text()
        reference = re.search(r"Reference (E-\d{8}-[0-9a-f]{6})", flash)
        assert reference, flash
        head.shot("privacy-02-erased")
        head.close()

        staff = Person(browser, web, STAFF)
        assert staff.page.locator("nav a:has-text('Personal data')").count() == 0
        staff.go("/privacy/")
        assert "Not available to you" in staff.page.inner_text("main")
        staff.shot("privacy-03-staff-refused")
        staff.close()

    devices = [json.loads(line) for line in cli("devices", "list", "--json").stdout.splitlines()]
    assert all(d["person"] != SAM and d["name"] not in SAM_DEVICES for d in devices)
    assert SAM not in cli("bans", "list", "--all", "--json").stdout
    db = Database(f"sqlite:///{tmp_path}/var/schoolgate.db")
    try:
        with db.session(read_only=True) as session:
            entries = session.scalars(select(AuditEntry).where(AuditEntry.action.in_(["data.export", "data.erase"]))
                                      .order_by(AuditEntry.id)).all()
    finally:
        db.dispose()
    assert [(e.actor, e.action) for e in entries] == [(HEAD[0], "data.export")] * 2 + [(HEAD[0], "data.erase")]
    assert entries[-1].target == reference.group(1)
    assert all(SAM not in (e.target + (e.after or "")) for e in entries)
