"""End to end: the ban screens in the real admin web (`schoolgate web` + headless Chromium).

Two bans are written as the watcher writes them (a Ban row with its evidence list). The headteacher sees
them on the dashboard and the ban list, reads the evidence on its own page (a hostile host name stays text;
each view is audited), and confirms one with an end date; a member of staff sees whom to supervise, never the
evidence (403), and opens supervised access in their name; the headteacher lifts the other ban as a false
positive. After each step `schoolgate bans list --json`
says the same. Screenshots go to test-output/screenshots/bans-*.png.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from rules.localtime import LONDON
from rules.monitoring.bans import NO_PROOF
from rules.monitoring.signals import SIGNALS, SignalKind
from rules.store.db import Database
from rules.store.models import Ban, Device
from tests.conftest import Cli
from tests.e2e.web_support import CHROMIUM, Person, web_process

pytest.importorskip("playwright.sync_api")  # the whole file drives Chromium
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium at /usr/bin/chromium")

HEAD = ("ann.head@school.test", "Ann Head", "head password 1")
ICT = ("ian.tech@school.test", "Ian Tech", "ict password 12")
STAFF = ("tom.teacher@school.test", "Tom Teacher", "staff password 1")
HOSTILE = "<img src=x onerror=alert(1)>.example"


def evidence(ip: str, items: list[tuple[str, str, str, int]]) -> str:
    """Evidence JSON as `rules.monitoring.watcher` writes it: (kind, host, source, weight) per signal; what the
    proxy saw came over a completed connection, a DNS look-up over UDP proves nothing by itself."""
    now = datetime.now(UTC).timestamp()
    return json.dumps([{"ts": now - 60 + i, "kind": kind, "host": host, "client_ip": ip, "source": source,
                        "event_id": 100 + i, "weight": weight, "proof": "connection" if source == "proxy" else None}
                       for i, (kind, host, source, weight) in enumerate(items)])


@pytest.fixture
def school(cli: Cli, tmp_path: Path) -> tuple[Cli, dict[str, int]]:
    """Three accounts, two pupils' devices, and a ban on each written as the detector writes them."""
    cli("init", "--headteacher", HEAD[0], "--headteacher-name", HEAD[1], "--ict", ICT[0], "--ict-name", ICT[1],
        "--password-stdin", input=f"{HEAD[2]}\n{ICT[2]}\n")
    cli("users", "add", STAFF[0], "--name", STAFF[1], "--role", "staff", "--password-stdin", input=STAFF[2] + "\n")
    cli("devices", "add", "--ip", "10.0.0.5", "--name", "Class 5 iPad 03", "--group", "pupils", "--person", "Sam Pupil")
    cli("devices", "add", "--ip", "10.0.0.6", "--name", "Class 6 laptop 11", "--group", "pupils",
        "--person", "Bea Pupil")
    db = Database(f"sqlite:///{tmp_path}/var/schoolgate.db")
    try:
        with db.session() as session:
            sam = session.query(Device).filter_by(name="Class 5 iPad 03").one()
            bea = session.query(Device).filter_by(name="Class 6 laptop 11").one()
            sam_ban = Ban(device_id=sam.id, person=sam.person,
                          reason="Trying to get round the filter: 1 x connection to a bare IP address; "
                                 "2 x VPN, web proxy or private DNS site; 1 x hidden site name (ECH) "
                                 "(10 points; the limit is 10)",
                          evidence=evidence("10.0.0.5", [("circumvention_site", "nordvpn.com", "dns", 3),
                                                         ("bare_ip", "203.0.113.9", "proxy", 1),
                                                         ("ech", HOSTILE, "proxy", 3),
                                                         ("circumvention_site", "expressvpn.com", "dns", 3)]))
            bea_ban = Ban(device_id=bea.id, person=bea.person,
                          reason="Trying to get round the filter: 1 x DNS over HTTPS request "
                                 "(10 points; the limit is 10)",
                          evidence=evidence("10.0.0.6", [("doh", "cloudflare-dns.com", "proxy", 10)]))
            session.add_all([sam_ban, bea_ban])
            session.flush()
            ids = {"sam": sam_ban.id, "bea": bea_ban.id}
    finally:
        db.dispose()
    return cli, ids


@pytest.fixture
def web(school: tuple[Cli, dict[str, int]], tmp_path: Path) -> Iterator[str]:
    with web_process(school[0], tmp_path) as base:
        yield base


def text(person: Person, selector: str) -> str:
    """The visible text of `selector`, white space (tiles put the number on its own line) as single spaces."""
    return " ".join(person.page.inner_text(selector).split())


def listed(cli: Cli, *args: str) -> dict[int, dict[str, Any]]:
    out = cli("bans", "list", "--json", *args).stdout
    return {row["id"]: row for row in (json.loads(line) for line in out.splitlines() if line.strip())}


def test_the_headteacher_and_staff_handle_bans(school: tuple[Cli, dict[str, int]], web: str,
                                              browser: object) -> None:
    cli, ids = school
    before = listed(cli)
    assert set(before) == {ids["sam"], ids["bea"]} and {b["state"] for b in before.values()} == {"active"}

    # The headteacher: the dashboard says two are banned; the list names them; the ban shows its evidence.
    head = Person(browser, web, HEAD)
    assert "2 pupils or devices currently banned" in text(head, "section.tiles")
    head.shot("bans-01-dashboard-headteacher")
    head.page.click("a.tile:has-text('currently banned')")
    head.page.wait_for_url("**/bans/")
    listing = head.page.inner_text("table.list")
    assert "Sam Pupil" in listing and "Class 5 iPad 03" in listing and "Bea Pupil" in listing
    head.shot("bans-02-list-headteacher")
    head.page.click(f"a[href='/bans/{ids['sam']}']")
    head.page.wait_for_url(f"**/bans/{ids['sam']}")
    page = head.page.inner_text("main")
    assert "Sam Pupil" in page and "Class 5 iPad 03" in page
    assert "Waiting for review" in text(head, "h1")
    head.page.click("a:has-text('Review the evidence and decide')")
    head.page.wait_for_url(f"**/bans/{ids['sam']}/evidence")
    assert "Your view of this evidence is recorded in the audit log." in head.page.inner_text("main")
    rows = [[" ".join(cell.split()) for cell in row.split("\t")]
            for row in head.page.inner_text("table.list tbody").splitlines()]
    assert [row[1:] for row in rows] == [
        [SIGNALS[SignalKind.CIRCUMVENTION_SITE].description, "nordvpn.com", "DNS (name look-up)", "3", NO_PROOF],
        [SIGNALS[SignalKind.BARE_IP].description, "203.0.113.9", "Web filter", "1", "Yes: a completed connection"],
        [SIGNALS[SignalKind.ECH].description, HOSTILE, "Web filter", "3", "Yes: a completed connection"],  # as text
        [SIGNALS[SignalKind.CIRCUMVENTION_SITE].description, "expressvpn.com", "DNS (name look-up)", "3", NO_PROOF]]
    assert all(re.fullmatch(r"\d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d", row[0]) for row in rows), rows  # London time
    assert head.page.locator("main img").count() == 0  # the hostile host name is text, not markup
    head.shot("bans-03-show-headteacher")

    # ... and confirms it with an end date
    ends_on = date.today() + timedelta(days=14)
    head.page.fill("input[name=ends_on]", ends_on.isoformat())
    head.page.fill("textarea[name=reason]", "Talked with Sam; two weeks, supervised lessons only.")
    head.page.click("button:has-text('Confirm')")
    assert "Ban confirmed." in head.page.inner_text("main")
    assert f"Ends the end of {ends_on.strftime('%d %b %Y')}" in text(head, "dl.given")
    head.shot("bans-04-confirmed")
    now = listed(cli)[ids["sam"]]
    assert now["state"] == "confirmed"
    ends = datetime.fromisoformat(now["ends"].replace("Z", "+00:00")).astimezone(LONDON)
    # in force all that day in school time: it ends as the next day begins in London
    assert ends == datetime.combine(ends_on + timedelta(days=1), time(0, 0), LONDON)

    # A member of staff: sees whom to supervise, opens supervised access in their own name
    staff = Person(browser, web, STAFF)
    staff.go("/bans/")
    listing = staff.page.inner_text("table.list")
    assert "Sam Pupil" in listing and "Bea Pupil" in listing
    staff.shot("bans-05-list-staff")
    staff.page.click(f"a[href='/bans/{ids['sam']}']")
    assert staff.page.locator("button:has-text('Confirm')").count() == 0  # the headteacher's decisions only
    assert staff.page.locator("button:has-text('Lift')").count() == 0
    # what a teacher needs in a lesson, and nothing of what the device did
    main = staff.page.inner_text("main")
    assert "Sam Pupil" in main and "Class 5 iPad 03" in main and "Ends" in main
    for secret in ("nordvpn.com", "expressvpn.com", "203.0.113.9", "points", "VPN", "Evidence", "evidence"):
        assert secret not in main, secret
    staff.go(f"/bans/{ids['sam']}/evidence")
    assert "Not available to you" in staff.page.inner_text("main")
    assert "nordvpn.com" not in staff.page.content()
    staff.go(f"/bans/{ids['sam']}")
    assert staff.page.get_by_label("Supervising member of staff").input_value() == STAFF[1]
    staff.page.get_by_label("Minutes").fill("20")
    staff.page.click("button:has-text('Open supervised access')")
    main = staff.page.inner_text("main")
    assert "Supervised access is open until" in main and f"supervised by {STAFF[1]}" in main
    staff.shot("bans-06-supervised")
    staff.go("/bans/")
    assert f"by {STAFF[1]} until" in staff.page.inner_text("table.list")
    now = listed(cli)[ids["sam"]]
    assert now["state"] == "confirmed"
    assert now["supervised"] is not None and now["supervised"]["staff_name"] == STAFF[1]
    until = datetime.fromisoformat(now["supervised"]["until"].replace("Z", "+00:00"))
    assert timedelta(minutes=19) < until - datetime.now(UTC) <= timedelta(minutes=20)

    # The headteacher lifts the other ban as a false positive
    head.go(f"/bans/{ids['bea']}/evidence")
    assert "cloudflare-dns.com" in head.page.inner_text("table.list")
    head.page.fill("form[action$='/lift'] textarea[name=reason]", "Bea's tablet was set up with this by a parent.")
    head.page.check("input[name=false_positive]")
    head.shot("bans-07-lift")
    head.page.click("button:has-text('Lift')")
    main = head.page.inner_text("main")
    assert "Ban lifted" in main and "false positive" in main
    head.shot("bans-08-lifted")
    current = listed(cli)
    assert set(current) == {ids["sam"]}
    lifted = listed(cli, "--all")[ids["bea"]]
    assert lifted["state"] == "lifted" and lifted["false_positive"] is True
    assert lifted["lifted_by"] == HEAD[0] and lifted["lift_reason"] == "Bea's tablet was set up with this by a parent."
    head.go("/bans/")
    assert "Bea Pupil" not in head.page.inner_text("main")
    head.go("/")
    assert "1 pupil or device currently banned" in text(head, "section.tiles")
    head.shot("bans-09-dashboard-after")
    # Each look at the evidence is in the audit log, under the headteacher's name; the staff member's 403 is not
    head.go("/audit/?action=ban.evidence_view")
    audit_rows = [[cell.strip() for cell in row.locator("td").all_inner_texts()]
                  for row in head.page.locator("table.audit tbody tr").all()]
    # `bans list --json` above prints the evidence too, so each of its runs is an entry of its own
    web_rows = [row for row in audit_rows if row[3] != "bans list --json"]
    assert sorted(row[3] for row in web_rows) == sorted([f"ban #{ids['sam']}", f"ban #{ids['bea']}"])
    assert all(row[1] == HEAD[0] for row in web_rows), web_rows
    assert len(audit_rows) > len(web_rows), audit_rows  # and the command's listings are there too
    for person in (head, staff):
        person.close()
