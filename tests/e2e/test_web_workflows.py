"""End to end: the real `schoolgate web` process, real headless Chromium, real `schoolgate check`.

Staff file a request, the headteacher approves it for a group until a date, and the decision for a
device of that group turns from block to allow, and back to block after the date. Staff report a site,
the ICT technician blocks it, and `schoolgate check` says block. Hostile names render as text.
Screenshots of each screen go to test-output/screenshots/.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.conftest import Cli
from tests.e2e.web_support import CHROMIUM, Person, web_process

pytest.importorskip("playwright.sync_api")  # the whole file drives Chromium
HEAD = ("ann.head@school.test", "Ann Head", "head password 1")
ICT = ("ian.tech@school.test", "Ian Tech", "ict password 12")
STAFF = ("sam.staff@school.test", "Sam Staff", "staff password 1")
DSL = ("dee.dsl@school.test", "Dee Lead", "dsl password 12")
PUPIL_IP = "198.18.0.10"
HOSTILE = "<img src=x onerror=alert(1)>"

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium at /usr/bin/chromium")


@pytest.fixture
def school(cli: Cli, tmp_path: Path) -> Cli:
    """An initialised school: four accounts, a pupil device, and a blocked video site."""
    cli("init", "--headteacher", HEAD[0], "--headteacher-name", HEAD[1], "--ict", ICT[0], "--ict-name", ICT[1],
        "--password-stdin", input=f"{HEAD[2]}\n{ICT[2]}\n")
    cli("users", "add", STAFF[0], "--name", STAFF[1], "--role", "staff", "--password-stdin", input=STAFF[2] + "\n")
    cli("users", "add", DSL[0], "--name", DSL[1], "--role", "dsl", "--password-stdin", input=DSL[2] + "\n")
    cli("devices", "add", "--ip", PUPIL_IP, "--name", "Class 3 iPad 07", "--group", "pupils", "--person", "Pat Pupil")
    listing = tmp_path / "video.txt"
    listing.write_text("videosite.test\n", encoding="utf-8")
    cli("lists", "import", str(listing), "--category", "video")
    return cli


@pytest.fixture
def web(school: Cli, tmp_path: Path) -> Iterator[str]:
    with web_process(school, tmp_path) as base:
        yield base


def decision(cli: Cli, host: str, at: str | None = None) -> str:
    args = ["check", host, "--client", PUPIL_IP, "--json"] + (["--at", at] if at else [])
    return str(json.loads(cli(*args).stdout)["action"])


def test_request_approved_for_a_group_until_a_date(school: Cli, web: str, browser: object) -> None:
    assert decision(school, "www.videosite.test") == "block"
    staff = Person(browser, web, STAFF)
    staff.shot("01-home-staff")
    staff.go("/requests/new")
    for label in ("Full URL", "Site content", "Reasons for access", "Identified risks and control measures"):
        assert staff.page.get_by_label(label, exact=True).count() == 1, label
    staff.page.get_by_label("Full URL", exact=True).fill("https://www.videosite.test/lesson/42")
    staff.page.get_by_label("Site content", exact=True).fill("A video about volcanoes for Year 5 geography.")
    staff.page.get_by_label("Reasons for access", exact=True).fill("Needed for Thursday's lesson.")
    staff.page.get_by_label("Identified risks and control measures", exact=True).fill(
        "Comments could appear; the teacher shows the video from the front.")
    staff.shot("02-request-new")
    staff.page.click("button:has-text('Send the request')")
    staff.page.wait_for_url("**/requests/*")
    request_path = staff.page.url.removeprefix(web)
    assert "Waiting" in staff.page.inner_text("h1")

    ict = Person(browser, web, ICT)
    ict.go(request_path)
    ict.page.get_by_label("Technical note (ICT technician)").fill("Video host; only the domain is listed.")
    ict.page.click("button:has-text('Save the technical note')")
    assert "Ian Tech" in ict.page.inner_text("table.form-table")

    head = Person(browser, web, HEAD)
    head.shot("03-home-headteacher")
    head.go(request_path)
    assert "can never open a site in a locked category" in head.page.inner_text("main")
    until = date.today() + timedelta(days=7)
    head.page.check("input[name=approved][value=yes]")
    head.page.get_by_label("Reasons", exact=True).fill("A sound lesson plan.")
    head.page.check("input[name=scope][value=group]")
    head.page.select_option("select[name=group_id]", label="pupils")
    head.page.fill("input[name=until]", until.isoformat())
    head.shot("04-request-decide")
    head.page.click("button:has-text('Sign the decision')")
    assert "Approved" in head.page.inner_text("h1")
    head.shot("05-request-approved")

    assert decision(school, "www.videosite.test") == "allow"
    assert decision(school, "www.videosite.test", (until + timedelta(days=2)).isoformat() + "T09:00") == "block"
    assert decision(school, "www.videosite.test", until.isoformat() + "T15:00") == "allow"

    staff.go(request_path)
    assert "Approved" in staff.page.inner_text("h1") and "A sound lesson plan." in staff.page.inner_text("main")
    staff.go(request_path + "/print")
    staff.shot("06-request-print")
    assert "Blocked content access request form" in staff.page.inner_text("h1")
    for person in (staff, ict, head):
        person.close()


def test_report_blocked_by_the_technician_and_hostile_names_stay_text(school: Cli, web: str, browser: object,
                                                                       tmp_path: Path) -> None:
    assert decision(school, "bad.example") == "allow"
    with sqlite3.connect(tmp_path / "var" / "schoolgate.db") as conn:
        conn.execute("INSERT INTO access_events (ts, client_ip, device_id, device, source, host, action, category) "
                     "VALUES (datetime('now'), ?, 1, 'Class 3 iPad 07', 'dns', ?, 'block', 'video')",
                     (PUPIL_IP, f"{HOSTILE}.example"))
    staff = Person(browser, web, STAFF)
    staff.go("/reports/new")
    staff.page.get_by_label("Name of individual accessing inappropriate content (if known)").fill(HOSTILE)
    staff.page.get_by_label("Full URL(s)").fill("https://bad.example/page\njavascript:alert(2)")
    staff.page.get_by_label("Nature of inappropriate content").fill(f"Violent images {HOSTILE}")
    staff.page.click("button:has-text('Send the report')")
    assert "must start with http:// or https://" in staff.page.inner_text("main")  # the javascript: line
    staff.page.get_by_label("Full URL(s)").fill("https://bad.example/page")
    staff.shot("07-report-new")
    staff.page.click("button:has-text('Send the report')")
    staff.page.wait_for_url("**/reports/*")
    report_path = staff.page.url.removeprefix(web)

    ict = Person(browser, web, ICT)
    ict.go("/categories/new")
    ict.page.get_by_label("Name").fill("violence")
    ict.page.click("button:has-text('Save')")
    ict.go(report_path)
    assert HOSTILE in ict.page.inner_text("main")
    ict.page.select_option("select[name=category_id]", label="violence")
    ict.page.get_by_label("Action taken").fill("Blocked the whole site.")
    ict.shot("08-report-action")
    ict.page.click("button:has-text('Sign and save')")
    assert "Blocked" in ict.page.inner_text("h1")
    assert decision(school, "bad.example") == "block"

    dsl = Person(browser, web, DSL)
    dsl.go(report_path)
    assert HOSTILE in dsl.page.inner_text("main")
    dsl.shot("09-report-dsl")

    head = Person(browser, web, HEAD)
    head.go("/logs/")
    assert f"{HOSTILE}.example" in head.page.inner_text("table.log")
    assert head.page.locator("table.log img").count() == 0
    head.shot("10-access-log")
    head.go("/")
    head.shot("11-dashboard")
    head.go("/audit/")
    head.shot("12-audit")
    head.go("/bans/")
    head.shot("13-bans")
    head.go("/certificate/")
    assert "admin web's own secure address" in head.page.inner_text("main")
    head.shot("14-certificate")
    # `init` made the school's CA (it signs the admin web's certificate): offered for download as it is on disk
    download = head.page.request.get(web + "/certificate/schoolgate-ca.pem")
    assert download.ok and download.body() == (tmp_path / "var" / "mitmproxy" / "mitmproxy-ca-cert.pem").read_bytes()
    ict.go("/categories/")
    ict.shot("15-lists")
    ict.go("/devices/")
    ict.shot("16-devices")
    for person in (staff, ict, dsl, head):
        person.close()
