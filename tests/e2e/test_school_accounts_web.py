"""End to end: the social media site creation approval form in real Chromium, through the marketing officer and
the headteacher, to what the real `schoolgate check` answers for the poster's device and a pupil's.

A member of staff completes the form; the marketing officer then the headteacher approve it, the headteacher
authorising a poster and choosing hours that include now. The poster's staff laptop then gets `allow` for TikTok
and its CDN, with "school account: NAME" as the rule; a pupil's iPad (even one whose person names the poster) still
gets `block`; removing the poster in the web turns the laptop back to `block`.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from rules.localtime import LONDON
from tests.conftest import Cli
from tests.e2e.web_support import CHROMIUM, Person, web_process

pytest.importorskip("playwright.sync_api")
HEAD = ("ann.head@school.test", "Ann Head", "head password 1")
ICT = ("ian.tech@school.test", "Ian Tech", "ict password 12")
STAFF = ("sam.staff@school.test", "Sam Staff", "staff password 1")
POSTER = ("tia.teacher@school.test", "Tia Teacher", "tia password 12")
MARKETING = ("mo.market@school.test", "Mo Market", "marketing pass 1")
POSTER_IP, PUPIL_IP, PUPIL_NAMED_IP = "127.0.0.21", "127.0.0.22", "127.0.0.23"
ACCOUNT = "St Mary's CE Primary"

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium at /usr/bin/chromium")


@pytest.fixture
def school(cli: Cli) -> Cli:
    cli("init", "--headteacher", HEAD[0], "--headteacher-name", HEAD[1], "--ict", ICT[0], "--ict-name", ICT[1],
        "--password-stdin", input=f"{HEAD[2]}\n{ICT[2]}\n")
    for email, name, password, role in (STAFF + ("staff",), POSTER + ("staff",), MARKETING + ("marketing",)):
        cli("users", "add", email, "--name", name, "--role", role, "--password-stdin", input=password + "\n")
    cli("devices", "add", "--ip", POSTER_IP, "--name", "Tia's laptop", "--group", "staff", "--person", POSTER[0])
    cli("devices", "add", "--ip", PUPIL_IP, "--name", "Class 6 iPad 02", "--group", "pupils", "--person", "Pat Pupil")
    cli("devices", "add", "--ip", PUPIL_NAMED_IP, "--name", "Class 6 iPad 03", "--group", "pupils",
        "--person", POSTER[0])
    return cli


def check(cli: Cli, host: str, client: str) -> dict[str, object]:
    return dict(json.loads(cli("check", host, "--client", client, "--json").stdout))


def test_an_approved_school_account_opens_tiktok_for_its_poster_only(school: Cli, tmp_path: Path,
                                                                      browser: object) -> None:
    for ip in (POSTER_IP, PUPIL_IP, PUPIL_NAMED_IP):
        assert check(school, "www.tiktok.com", ip)["action"] == "block"
    with web_process(school, tmp_path) as web:
        staff = Person(browser, web, STAFF)
        staff.page.click("text=Propose a school social media site")
        page = staff.page
        assert page.inner_text("h1") == "Social media site creation approval form"
        page.check("input[name=platform][value=tiktok]")
        page.get_by_label("Name of the account").fill(ACCOUNT)
        page.get_by_label("Address of the account (URL)").fill("https://www.tiktok.com/@stmarysce")
        page.get_by_label("Department", exact=True).fill("School office")
        page.get_by_label("Moderator of site").fill("Tia Teacher")
        page.get_by_label("What are your aims and what do you hope to achieve by setting up this site?").fill(
            "Share the school's good news with families.")
        page.get_by_label("What is the proposed content of the site?").fill("Sports day, performances, closures.")
        page.check("input[name=audience_families]")
        page.check("input[name=audience_pupils]")
        page.fill("input[name=audience_pupils_details]", "4 to 11")
        page.check("input[name=contributors_staff]")
        page.get_by_label(f"{STAFF[1]} ({STAFF[0]})").check()
        page.get_by_label(f"{POSTER[1]} ({POSTER[0]})").check()
        page.get_by_label("Who will vet external contributors? (Please state name and job role)").fill(
            "Olive Office, office manager")
        page.get_by_label("Who will host the site?").fill("TikTok")
        page.get_by_label("Proposed date of going live").fill("2027-01-04")
        page.get_by_label("How do you propose to advertise for contributors?").fill("Staff meeting.")
        page.get_by_label("What security measures will you take", exact=False).fill(
            "Comments off; followers approved by the office.")
        staff.shot("i14-01-site-form")
        page.click("button:has-text('Send the form')")
        page.wait_for_url("**/site-forms/*")
        form_path = page.url.removeprefix(web)
        assert "Waiting for the marketing officer" in page.inner_text("h1")

        head = Person(browser, web, HEAD)
        head.go(form_path)
        assert "The marketing officer must approve the form before the headteacher" in head.page.inner_text("main")
        # hours that include now, whatever the day and time the test runs: every day, from an hour ago to an hour on
        now = datetime.now(LONDON)
        head.go("/school-accounts/")
        head.page.get_by_label("Name (e.g. School hours)").fill("Around now")
        for day in ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"):
            head.page.get_by_label(day, exact=True).check()
        head.page.get_by_label("From").fill((now - timedelta(hours=1)).strftime("%H:%M"))
        head.page.get_by_label("To").fill((now + timedelta(hours=1)).strftime("%H:%M"))
        head.page.click("button:has-text('Add the hours')")
        assert "Hours Around now added" in head.page.inner_text("main")

        marketing = Person(browser, web, MARKETING)
        marketing.go(form_path)
        marketing.page.get_by_label("I approve the aims and content of the proposed site and the use of the school "
                                    "brand and logo.").check()
        marketing.page.click("button:has-text('Sign as the marketing officer')")
        assert "Waiting for the headteacher" in marketing.page.inner_text("h1")

        head.go(form_path)
        main = head.page.inner_text("main")
        assert "tiktokcdn.com" in main and "byteimg.com" in main  # what opens, before signing
        head.page.get_by_label("I approve the aims and content of the proposed site and the use of the school "
                               "brand and logo.").check()
        head.page.get_by_label(f"{POSTER[1]} ({POSTER[0]})").check()
        head.page.select_option("select[name=schedule_id]", label=next(
            o for o in head.page.locator("select[name=schedule_id] option").all_inner_texts() if "Around now" in o))
        head.shot("i14-02-headteacher-approves")
        head.page.click("button:has-text('Sign as the headteacher')")
        head.page.wait_for_url("**/school-accounts/*")
        account_path = head.page.url.removeprefix(web)
        assert f"School account: {ACCOUNT}" in head.page.inner_text("h1")
        head.shot("i14-03-school-account")

        for host in ("www.tiktok.com", "v16.tiktokcdn.com"):
            opened = check(school, host, POSTER_IP)
            assert (opened["action"], opened["rule"]) == ("allow", f"school account: {ACCOUNT}"), opened
            for ip in (PUPIL_IP, PUPIL_NAMED_IP):
                assert check(school, host, ip)["action"] == "block", (host, ip)
        plain = school("check", "www.tiktok.com", "--client", POSTER_IP).stdout
        assert f"school account: {ACCOUNT}" in plain and plain.startswith("allow")

        staff.go(form_path + "/print")
        printed = staff.page.inner_text("body")
        assert "Signed electronically by Mo Market" in printed and "Signed electronically by Ann Head" in printed
        staff.shot("i14-04-site-form-print")

        head.go(account_path)
        head.page.click(f"button[aria-label='Remove {POSTER[1]}']")
        assert "Removed" in head.page.inner_text("main")
        head.shot("i14-05-poster-removed")
        for host in ("www.tiktok.com", "v16.tiktokcdn.com"):
            assert check(school, host, POSTER_IP)["action"] == "block", host
        for person in (staff, head, marketing):
            person.close()
