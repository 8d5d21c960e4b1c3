"""End to end: a post naming a pupil whose image consent was withdrawn cannot be approved; after removing the
pupil it can. The real `schoolgate web` process and real headless Chromium: a poster submits, the office manager
approves. The pupils, their consent and the school account are written straight into the database (the pupils
import and the account screens are built elsewhere). Screenshots go to test-output/screenshots/.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from rules.store.db import Database
from rules.store.models import AuditEntry, SocialPost
from tests.conftest import Cli
from tests.e2e.web_support import CHROMIUM, Person, web_process
from tests.fixtures.post_school import days_ago, taccount, tconsent, tposter, tpupil

sync_api = pytest.importorskip("playwright.sync_api")  # the whole file drives Chromium
expect = sync_api.expect
HEAD = ("ann.head@school.test", "Ann Head", "head password 1")
ICT = ("ian.tech@school.test", "Ian Tech", "ict password 12")
POSTER = ("sam.staff@school.test", "Sam Staff", "staff password 1")
OFFICE = ("olive.office@school.test", "Olive Office", "office password 1")

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium at /usr/bin/chromium")


@pytest.fixture
def school(cli: Cli, tmp_path: Path) -> Iterator[Database]:
    """A school whose 4B has Amy (consent for images and videos) and Cara (the same, but a withdrawal recorded
    today and dated three days ago), a Facebook account, and Sam Staff authorised to post on it."""
    cli("init", "--headteacher", HEAD[0], "--headteacher-name", HEAD[1], "--ict", ICT[0], "--ict-name", ICT[1],
        "--password-stdin", input=f"{HEAD[2]}\n{ICT[2]}\n")
    cli("users", "add", POSTER[0], "--name", POSTER[1], "--role", "staff", "--password-stdin", input=POSTER[2] + "\n")
    cli("users", "add", OFFICE[0], "--name", OFFICE[1], "--role", "office_manager", "--password-stdin",
        input=OFFICE[2] + "\n")
    db = Database(f"sqlite:///{tmp_path}/var/schoolgate.db")
    with db.session() as session:
        amy, cara = tpupil(session, "Amy Able"), tpupil(session, "Cara Cole")
        tpupil(session, "Finn Ford", "5C")
        tconsent(session, amy, images=True, videos=True)
        tconsent(session, cara, images=True, videos=True)
        tconsent(session, cara, images=False, videos=False, change="withdrawn", effective_on=days_ago(3))
        tposter(session, taccount(session), POSTER[0])
    yield db
    db.dispose()


@pytest.fixture
def web(school: Database, cli: Cli, tmp_path: Path) -> Iterator[str]:
    with web_process(cli, tmp_path) as base:
        yield base


def test_a_withdrawn_pupil_blocks_approval_until_removed(school: Database, web: str, browser: object) -> None:
    poster = Person(browser, web, POSTER)
    poster.page.click("text=Submit a post for a school account")
    page = poster.page
    page.get_by_label("School account").select_option(label="St Mary's Facebook")
    page.get_by_label("Text of the post").fill("Sports day: a wonderful afternoon for Class 4B!")
    page.get_by_label("The post has images").check()
    page.get_by_label("Search the on-roll pupils").fill("cara")  # the search hides everyone else
    # the filter runs on the input event: wait for it (up to 5 s) rather than read the page at once
    expect(page.get_by_label("Amy Able (4B)")).to_be_hidden(timeout=5000)
    expect(page.get_by_label("Finn Ford (5C)")).to_be_hidden(timeout=5000)
    page.get_by_label("Cara Cole (4B)").check()
    page.get_by_label("Search the on-roll pupils").fill("")
    page.get_by_label("4B (2 pupils)").check()
    poster.shot("posts-01-submit")
    page.click("button:has-text('Send for approval')")
    page.wait_for_url("**/posts/*")
    post_path = page.url.removeprefix(web)
    assert "Waiting for approval" in page.inner_text("h1")
    assert "Amy Able" in page.inner_text("#pupils") and "Cara Cole" in page.inner_text("#pupils")

    office = Person(browser, web, OFFICE)
    office.page.click("text=waiting for approval")
    office.page.click(f"a[href='{post_path}'] >> nth=0")
    page = office.page
    flagged = page.inner_text("tr.flagged")
    assert "Cara Cole" in flagged and f"consent withdrawn on {days_ago(3):%d %b %Y}" in flagged
    assert "Amy Able" not in flagged
    approve = page.locator("button:has-text('Approve the post')")
    assert approve.is_disabled()
    for box in page.locator("form.post-checklist input[type=checkbox]").all():
        box.check()
    office.shot("posts-02-flagged")
    # the server refuses even when the disabled button is forced
    approve.evaluate("button => { button.disabled = false; }")
    approve.click()
    page.wait_for_load_state()
    assert "The post was not approved: remove the 1 pupil without consent first: Cara Cole" in page.inner_text("main")
    with school.session() as session:
        assert session.scalars(select(SocialPost.status)).one() == "submitted"

    page.get_by_role("button", name="Remove Cara Cole from the post").click()
    page.wait_for_load_state()
    assert "The pupil was removed from the post." in page.inner_text("main")
    assert page.locator("tr.flagged").count() == 0 and "Cara Cole" not in page.inner_text("#pupils")
    assert approve.is_enabled()
    for box in page.locator("form.post-checklist input[type=checkbox]").all():
        box.check()
    office.shot("posts-03-ready")
    approve.click()
    page.wait_for_load_state()
    assert "Approved" in page.inner_text("h1")
    office.shot("posts-04-approved")

    poster.go(post_path)
    assert "Approved by olive.office@school.test" in poster.page.inner_text("main")
    with school.session() as session:
        actions = list(session.scalars(select(AuditEntry.action).where(AuditEntry.action.like("post.%"))
                                       .order_by(AuditEntry.id)))
    assert actions == ["post.submit", "post.remove_pupil", "post.approve"]
    for person in (poster, office):
        person.close()
