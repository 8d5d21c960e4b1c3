"""End to end: the headteacher's policy review and abuse log in the real admin web (`schoolgate web` + headless
Chromium), and the annual review pack printed to PDF by Chromium's own print-to-PDF.

The school's database holds pupils with consents, bans naming pupils, a rule and a request whose reasons name
pupils, and concerns about named pupils (`tests.rules.review.school`). The PDF's text (read with pypdf) holds the
counts and no pupil's name. Screenshots go to test-output/screenshots/review-*.png, the PDF beside them.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from rules.store.db import Database
from tests.conftest import Cli
from tests.e2e.web_support import CHROMIUM, SHOTS, Person, web_process
from tests.rules.review.school import CHILDREN, STAFF_NAME, populate
from tests.rules.school_media.images import png

pytest.importorskip("playwright.sync_api")  # the whole file drives Chromium
pypdf = pytest.importorskip("pypdf")
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium at /usr/bin/chromium")

HEAD = ("ann.head@school.test", "Ann Head", "head password 1")
ICT = ("ian.tech@school.test", "Ian Tech", "ict password 12")
MEETING = ("required to attend a meeting with the headteacher, and may have their ability to interact with the "
           "social media websites removed")


@pytest.fixture
def school(cli: Cli, tmp_path: Path) -> Cli:
    cli("init", "--headteacher", HEAD[0], "--headteacher-name", HEAD[1], "--ict", ICT[0], "--ict-name", ICT[1],
        "--password-stdin", input=f"{HEAD[2]}\n{ICT[2]}\n")
    db = Database(f"sqlite:///{tmp_path}/var/schoolgate.db")
    try:
        populate(db)
    finally:
        db.dispose()
    return cli


def pdf_text(data: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() or "" for page in reader.pages)


def test_the_review_date_is_set_and_the_pack_prints_to_pdf_naming_no_child(school: Cli, tmp_path: Path,
                                                                           browser: object) -> None:
    with web_process(school, tmp_path) as web:
        head = Person(browser, web, HEAD)
        page = head.page
        assert "No date is set for the next review of the social media policy." in page.inner_text("main")
        page.click("nav a:has-text('Policy review')")
        page.wait_for_url("**/review/")
        page.fill("input[name=next_review_on]", "23/09/26")
        page.click("button:has-text('Record')")
        assert "Recorded. The next review date is now in force." in page.inner_text("main")
        assert "23/09/2026" in page.inner_text(".review-status")
        assert "overdue: it was due on 23/09/2026" in page.inner_text(".review-status")
        head.shot("review-01-policy-review")
        head.go("/")
        assert "overdue" in page.inner_text(".review-tile")

        head.go("/review/")
        page.click("a:has-text('The annual review pack')")
        page.wait_for_url("**/review/pack")
        assert page.is_visible("button[data-print]")
        head.shot("review-02-pack")
        pdf = page.pdf(format="A4", print_background=False)
        SHOTS.mkdir(parents=True, exist_ok=True)
        (SHOTS / "review-pack.pdf").write_bytes(pdf)
        assert pdf.startswith(b"%PDF")
        text = pdf_text(pdf)
        flat = " ".join(text.split())
        squeezed = "".join(text.split()).casefold()
        for name in CHILDREN:
            assert "".join(name.split()).casefold() not in squeezed, name
            for part in name.split():
                assert not re.search(rf"(?<!\w){re.escape(part)}(?!\w)", flat, re.IGNORECASE), part
        assert "[pupil]" in flat and STAFF_NAME in flat
        assert "Social media policy: annual review pack" in flat
        assert "Runs in the period: 4 — passed 3, failed 1." in flat
        assert re.search(r"Exceptions granted in the period: 1 — for everyone 1", flat)
        assert re.search(r"Bans made: 2 ", flat) and re.search(r"of which false positives: 1", flat)
        assert re.search(r"4B 2 2 1 0", flat) and re.search(r"5A 2 0 0 1", flat)  # on roll, images, videos, none
        assert re.search(r"Bullying and abuse 1 1", flat) and re.search(r"Suicide and self-harm 1 0", flat)
        assert re.search(r"St Mary's Facebook Facebook active 2 3 1 1", flat)
        assert "Print" not in flat.split("Social media policy: annual review pack")[0]  # the toolbar is not printed
        head.close()


def test_the_headteacher_logs_abuse_with_a_screenshot_that_shows_as_an_image(school: Cli, tmp_path: Path,
                                                                            browser: object) -> None:
    shot = tmp_path / "comment.png"
    shot.write_bytes(png(40, 20))
    fake = tmp_path / "invoice.png"
    fake.write_bytes(b"MZ\x90\x00" + b"\x00" * 64)
    with web_process(school, tmp_path) as web:
        head = Person(browser, web, HEAD)
        page = head.page
        page.click("nav a:has-text('Abuse log')")
        page.click("a:has-text('Log a comment or abuse')")
        page.fill("input[name=occurred_on]", "20/11/26")
        page.select_option("select[name=platform]", "facebook")
        page.fill("input[name=account_text]", "St Mary's Parents group")
        page.fill("textarea[name=posted_text]", "<img src=x onerror=alert(1)> the head is useless")
        page.check("input[name=posted_by_kind][value=parent]")
        page.check("input[name=actions][value=meeting]")
        page.set_input_files("input[name=screenshot]", str(fake))
        page.click("button:has-text('Save')")
        assert "not a PNG, JPEG, GIF or WebP image" in page.inner_text("main")
        assert page.input_value("input[name=account_text]") == "St Mary's Parents group"
        page.set_input_files("input[name=screenshot]", str(shot))
        page.click("button:has-text('Save')")
        assert "was added to the log" in page.inner_text("main")
        assert MEETING in page.inner_text(".policy-words")
        assert "<img src=x onerror=alert(1)> the head is useless" in page.inner_text("main")
        image = page.locator("figure.screenshot img")
        image.wait_for()
        assert page.evaluate("img => img.naturalWidth", image.element_handle()) == 40
        page.fill("input[name=due_on]", "01/12/2026")
        page.fill("input[name=note]", "Meet the parent")
        page.click("button:has-text('Add a follow-up')")
        assert "01/12/2026" in page.inner_text("main")
        head.shot("review-03-abuse-entry")
        head.close()
