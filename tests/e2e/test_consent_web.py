"""End to end: pupils imported with the real `schoolgate pupils import`, the office manager records a class's
consent forms in real Chromium, and the DPO reads the class view: who in 4B may appear in a photo, and in a video.
Screenshots go to test-output/screenshots/.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rules.consent.academic_year import academic_year_of, bounds, label
from rules.consent.records import today
from tests.conftest import Cli
from tests.e2e.web_support import CHROMIUM, Person, web_process

pytest.importorskip("playwright.sync_api")
HEAD = ("ann.head@school.test", "Ann Head", "head password 1")
ICT = ("ian.tech@school.test", "Ian Tech", "ict password 12")
OFFICE = ("olive.office@school.test", "Olive Office", "office password 1")
DPO = ("dan.dpo@school.test", "Dan Protect", "dpo password 12")
STAFF = ("sam.staff@school.test", "Sam Staff", "staff password 1")
EXPORT = ("\ufeffUPN;Legal Forename;Legal Surname;Reg Group;Year Group\r\n"
          "A1;Sam;Jones;4B;Year 4\r\nA2;Bea;Smith;4B;Year 4\r\nA3;Kit;Cole;4B;Year 4\r\nA4;Eve;Other;5A;Year 5\r\n")

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium at /usr/bin/chromium")


@pytest.fixture
def school(cli: Cli, tmp_path: Path) -> Cli:
    cli("init", "--headteacher", HEAD[0], "--headteacher-name", HEAD[1], "--ict", ICT[0], "--ict-name", ICT[1],
        "--password-stdin", input=f"{HEAD[2]}\n{ICT[2]}\n")
    for account, role in ((OFFICE, "office_manager"), (DPO, "dpo"), (STAFF, "staff")):
        cli("users", "add", account[0], "--name", account[1], "--role", role, "--password-stdin",
            input=account[2] + "\n")
    export = tmp_path / "sims.csv"
    export.write_text(EXPORT, encoding="utf-8")
    assert "4 added" in cli("pupils", "import", str(export)).stdout
    return cli


@pytest.fixture
def web(school: Cli, tmp_path: Path) -> Iterator[str]:
    with web_process(school, tmp_path) as base:
        yield base


def test_office_manager_records_a_class_and_the_dpo_sees_who_may_appear(web: str, browser: object) -> None:
    year = academic_year_of(today())
    forms_arrived = bounds(year)[0]
    office = Person(browser, web, OFFICE)
    office.page.click("a.consent-tile")
    office.page.click("table.classes a:has-text('4B')")
    assert f"Who in 4B may appear in a photo or a video, {label(year)}" in office.page.inner_text("h1")
    assert "Eve Other" not in office.page.inner_text("main")
    office.shot("consent-01-class-empty")
    form = office.page.locator("form.consent-bulk")
    form.get_by_label("Sam Jones", exact=True).check()
    form.get_by_label("Images: Sam Jones").check()
    form.get_by_label("Videos: Sam Jones").check()
    form.get_by_label("Given by: Sam Jones").fill("Mrs Jones")
    form.get_by_label("Bea Smith", exact=True).check()
    form.get_by_label("Images: Bea Smith").check()  # images only, not videos
    form.get_by_label("Given by: Bea Smith").fill("Mr Smith")
    form.get_by_label("Date the consent forms arrived").fill(forms_arrived.isoformat())
    office.shot("consent-02-class-forms")
    form.locator("button:has-text('Record consent for the ticked pupils')").click()
    office.page.wait_for_selector("p.flash-success")
    assert "Consent recorded for 2 pupils in 4B" in office.page.inner_text("main")
    office.shot("consent-03-class-recorded")

    dpo = Person(browser, web, DPO)
    dpo.page.click("a.consent-tile")
    dpo.page.click("table.classes a:has-text('4B')")
    rows = {row.locator("td").nth(0).inner_text(): (row.locator("td.images").inner_text(),
                                                    row.locator("td.videos").inner_text())
            for row in dpo.page.locator("table.consent-class tbody tr").all()}
    assert rows == {"Bea Smith": ("Yes", "No"), "Kit Cole": ("No consent recorded", "No consent recorded"),
                    "Sam Jones": ("Yes", "Yes")}
    counts = dpo.page.inner_text("p.counts")
    assert "2 of 3 may appear in images" in counts and "1 of 3 may appear in videos" in counts
    assert "1 with no consent recorded" in counts
    dpo.shot("consent-04-class-dpo")
    dpo.page.click("table.consent-class a:has-text('Bea Smith')")
    assert "Mr Smith" in dpo.page.inner_text("table.consent-history")
    assert "Your view of this page is recorded in the audit log." in dpo.page.inner_text("main")
    dpo.shot("consent-05-pupil")

    staff = Person(browser, web, STAFF)
    assert staff.page.locator("a.consent-tile").count() == 0
    staff.go("/consent/class?name=4B")
    assert "Not available to you" in staff.page.inner_text("main")
    for person in (office, dpo, staff):
        person.close()
