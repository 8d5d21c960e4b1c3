"""End to end, in real Chromium against `schoolgate web`: unlocking a locked category takes two people, and the
access log's export is a form (POST with its token) that downloads the CSV.

The ICT technician unticks "locked" on a child-abuse list that an approved exception names: `schoolgate check`
still blocks it (locked category). The headteacher confirms on the unlock page, and only then does the
exception apply. Screenshots go to test-output/screenshots/unlock-*.png.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from rules.store.db import Database
from rules.store.models import Rule
from tests.conftest import Cli
from tests.e2e.web_support import CHROMIUM, Person, web_process

pytest.importorskip("playwright.sync_api")  # the whole file drives Chromium
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium at /usr/bin/chromium")

HEAD = ("ann.head@school.test", "Ann Head", "head password 1")
ICT = ("ian.tech@school.test", "Ian Tech", "ict password 12")
HOST = "listed.test"


@pytest.fixture
def school(cli: Cli, tmp_path: Path) -> Cli:
    cli("init", "--headteacher", HEAD[0], "--headteacher-name", HEAD[1], "--ict", ICT[0], "--ict-name", ICT[1],
        "--password-stdin", input=f"{HEAD[2]}\n{ICT[2]}\n")
    listing = tmp_path / "iwf.txt"
    listing.write_text(f"{HOST}\n", encoding="utf-8")
    cli("lists", "import", str(listing), "--category", "child_abuse", "--locked")
    db = Database(f"sqlite:///{tmp_path}/var/schoolgate.db")
    try:
        with db.session() as session:  # an exception approved for the site, which a locked category overrides
            session.add(Rule(action="allow", domain=HOST, scope="everyone", source="request", reason="test"))
    finally:
        db.dispose()
    return cli


@pytest.fixture
def web(school: Cli, tmp_path: Path) -> Iterator[str]:
    with web_process(school, tmp_path) as base:
        yield base


def checked(cli: Cli) -> tuple[str, str]:
    result = json.loads(cli("check", HOST, "--client", "198.18.0.10", "--json").stdout)
    return result["action"], result["reason"]


def test_unlocking_takes_the_technician_and_the_headteacher(school: Cli, web: str, browser: object) -> None:
    assert checked(school) == ("block", "locked_category")
    ict = Person(browser, web, ICT)
    ict.go("/categories/")
    ict.page.click("a:text-is('child_abuse')")
    assert "does not unlock the category" in ict.page.inner_text("main")
    ict.page.uncheck("input[name=locked]")
    ict.page.fill("textarea[name=unlock_reason]", "The supplier replaced this list with its new one.")
    ict.shot("unlock-01-proposal")
    ict.page.click("button:has-text('Save')")
    assert "still locked: unlocking it needs the headteacher" in ict.page.inner_text("main")
    assert "(unlock proposed)" in ict.page.inner_text("table.list")
    assert checked(school) == ("block", "locked_category")  # the exception still cannot open it
    ict.go("/unlocks/")
    assert ict.page.locator("button:has-text('Confirm')").count() == 0  # not the technician's to confirm

    head = Person(browser, web, HEAD)
    head.page.click("a.tile:has-text('proposed for unlocking')")
    head.page.wait_for_url("**/unlocks/")
    assert "The supplier replaced this list with its new one." in head.page.inner_text("table.unlocks")
    head.page.fill("textarea[name$='-reason']", "Agreed with the DSL.")
    head.shot("unlock-02-confirm")
    head.page.click("button:has-text('Confirm: unlock it')")
    assert "child_abuse is no longer locked" in head.page.inner_text("main")
    assert f"Confirmed by {HEAD[0]}" in head.page.inner_text("table.unlocks")
    head.shot("unlock-03-confirmed")
    assert checked(school) == ("allow", "exception")

    head.go("/audit/?action=category.unlock")
    rows = head.page.locator("table.audit tbody tr")
    assert [(rows.nth(i).locator("td").nth(1).inner_text(), rows.nth(i).locator("td").nth(2).inner_text())
            for i in range(rows.count())] == [(HEAD[0], "category.unlock_confirm"),
                                              (ICT[0], "category.unlock_propose")]
    for person in (ict, head):
        person.close()


def test_the_technician_cannot_empty_a_locked_list_by_importing_it_again(school: Cli, web: str, browser: object,
                                                                        tmp_path: Path) -> None:
    """"Importing the same file again replaces what it brought last time": on a locked category, an iwf.txt
    holding anything else would take the child-abuse list out of the filter with nobody else asked."""
    assert checked(school) == ("block", "locked_category")
    ict = Person(browser, web, ICT)
    ict.go("/categories/")
    upload = tmp_path / "upload" / "iwf.txt"
    upload.parent.mkdir()
    upload.write_text("harmless.test\n", encoding="utf-8")
    ict.page.select_option("select[name=category_id]", label="child_abuse")
    ict.page.set_input_files("input[name=file]", str(upload))
    ict.page.click("button:has-text('Import')")
    ict.page.wait_for_selector("text=Not imported")
    assert "child_abuse is locked, and taking sites out of it would open them" in ict.page.inner_text("main")
    ict.shot("unlock-04-reimport-refused")
    assert checked(school) == ("block", "locked_category")
    ict.close()


def test_a_headteacher_cannot_be_both_people_with_an_account_she_made(school: Cli, web: str, browser: object) -> None:
    """The headteacher makes an ICT technician's account (she types its password), proposes the unlock signed in as
    it, then confirms it as herself: one person, two accounts. Refused until the technician has chosen their own
    password and proposed again."""
    helper = ("ivy.helper@school.test", "Ivy Helper", "a password ann typed")
    head = Person(browser, web, HEAD)
    head.go("/accounts/new")
    head.page.fill("input[name=email]", helper[0])
    head.page.fill("input[name=name]", helper[1])
    head.page.check("input[name=roles][value=ict]")
    head.page.fill("input[name=password]", helper[2])
    head.page.click("button:has-text('Save')")
    assert "Account saved" in head.page.inner_text("main")

    def propose(person: Person) -> None:
        person.go("/categories/")
        person.page.click("a:text-is('child_abuse')")
        person.page.uncheck("input[name=locked]")
        person.page.fill("textarea[name=unlock_reason]", "Replaced by the supplier's new list.")
        person.page.click("button:has-text('Save')")
        assert "still locked" in person.page.inner_text("main")

    as_helper = Person(browser, web, helper)
    propose(as_helper)
    head.go("/unlocks/")
    head.page.click("button:has-text('Confirm: unlock it')")
    assert f"you set the password of {helper[0]}" in head.page.inner_text("main")
    head.shot("unlock-05-own-account-refused")
    assert checked(school) == ("block", "locked_category")
    head.page.click("button:has-text('Refuse: keep it locked')")

    # The technician chooses a password only they know, and proposes again: now it is two people.
    as_helper.page.click("a:has-text('Change password')")
    as_helper.page.fill("input[name=current_password]", helper[2])
    as_helper.page.fill("input[name=new_password]", "only ivy knows this one")
    as_helper.page.fill("input[name=repeat]", "only ivy knows this one")
    as_helper.page.click("button:has-text('Change password')")
    assert "Your password is changed" in as_helper.page.inner_text("main")
    propose(as_helper)
    head.go("/unlocks/")
    head.page.click("button:has-text('Confirm: unlock it')")
    assert "child_abuse is no longer locked" in head.page.inner_text("main")
    assert checked(school) == ("allow", "exception")
    for person in (as_helper, head):
        person.close()


def test_the_export_button_posts_and_downloads_the_csv(web: str, browser: object, tmp_path: Path) -> None:
    head = Person(browser, web, HEAD)
    head.go("/logs/?action=block")
    with head.page.expect_download() as download_info:
        head.page.click("button:has-text('Download these entries as CSV')")
    saved = tmp_path / "export.csv"
    download_info.value.save_as(saved)
    assert saved.read_text(encoding="utf-8").startswith("time_utc,client_ip,device,source,action")
    with sqlite3.connect(tmp_path / "var" / "schoolgate.db") as db:
        exports = db.execute("SELECT actor, after FROM audit_log WHERE action = 'access_log.export'").fetchall()
    assert [(actor, json.loads(after)) for actor, after in exports] == [(HEAD[0], {"action": "block"})]
    head.close()
