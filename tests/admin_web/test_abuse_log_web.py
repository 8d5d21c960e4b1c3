"""The abuse log through the Flask test client (SQLite and PostgreSQL): the headteacher logs, uploads, follows
up; screenshots are refused by size and type and served back only as the image they are."""

from __future__ import annotations

import io
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from rules.school_media.screenshots import MAX_BYTES
from rules.store.models import AbuseFollowUp, AbuseLogEntry, AbuseScreenshot, AuditEntry
from tests.admin_web.conftest import ACCOUNTS, csrf_token, sign_in
from tests.rules.school_media.images import GIF, PNG, WEBP, declared_png

ENTRY = {"occurred_on": "20/11/26", "account_id": "0", "platform": "facebook",
         "account_text": "St Mary's Parents group", "posted_text": "<script>alert('head')</script> is useless",
         "posted_by_kind": "parent", "posted_by_name": "Mr Angry", "actions": ["reported", "meeting"],
         "action_notes": "Asked the parent in"}
MEETING = ("required to attend a meeting with the headteacher, and may have their ability to interact with the "
           "social media websites removed")


def send(client: FlaskClient, path: str, data: dict[str, object], form_page: str) -> object:
    return client.post(path, data={**data, "csrf_token": csrf_token(client, form_page)},
                       content_type="multipart/form-data")


def new_entry(client: FlaskClient, **changes: object) -> object:
    return send(client, "/abuse-log/new", {**ENTRY, **changes}, "/abuse-log/new")


def entry_id_of(response: object) -> int:
    assert response.status_code == 302, response.get_data(as_text=True)  # type: ignore[attr-defined]
    return int(response.headers["Location"].rsplit("/", 1)[1])  # type: ignore[attr-defined]


def count(app: Flask, model: type) -> int:
    with app.extensions["schoolgate_db"].session(read_only=True) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_the_headteacher_logs_a_parent_comment_with_a_screenshot_and_sees_the_policy_words(app: Flask) -> None:
    head = sign_in(app.test_client(), "headteacher")
    entry_id = entry_id_of(new_entry(head, screenshot=(io.BytesIO(PNG), "comment.png")))
    page = head.get(f"/abuse-log/{entry_id}").get_data(as_text=True)
    assert "20/11/2026" in page and "Reported to the platform, Meeting with parent" in page
    assert MEETING in page
    assert "&lt;script&gt;alert(&#39;head&#39;)&lt;/script&gt;" in page and "<script>alert" not in page
    [shot_id] = [int(i) for i in re.findall(r"/abuse-log/screenshots/(\d+)", page)[:1]]
    image = head.get(f"/abuse-log/screenshots/{shot_id}")
    assert image.status_code == 200 and image.data == PNG
    assert image.headers["Content-Type"] == "image/png"
    assert image.headers["X-Content-Type-Options"] == "nosniff"
    assert image.headers["Content-Disposition"] == f'inline; filename="abuse-{entry_id}-screenshot-{shot_id}.png"'
    with app.extensions["schoolgate_db"].session(read_only=True) as session:
        audited = session.scalars(select(AuditEntry.action).where(AuditEntry.action.like("abuse.%"))
                                  .order_by(AuditEntry.id)).all()
    assert audited == ["abuse.create", "abuse.screenshot", "abuse.screenshot_view"]


def test_no_meeting_words_for_the_public_or_without_a_meeting(app: Flask) -> None:
    head = sign_in(app.test_client(), "headteacher")
    public = entry_id_of(new_entry(head, posted_by_kind="public"))
    assert MEETING not in head.get(f"/abuse-log/{public}").get_data(as_text=True)
    removed = entry_id_of(new_entry(head, actions=["removed"]))
    assert MEETING not in head.get(f"/abuse-log/{removed}").get_data(as_text=True)


@pytest.mark.parametrize(("upload", "words"), [
    ((b"MZ\x90\x00" + b"\x00" * 100, "photo.png"), "not a PNG, JPEG, GIF or WebP image"),
    ((b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "logo.svg"), "not a PNG, JPEG, GIF"),
    ((PNG + b"\x00" * MAX_BYTES, "huge.png"), "a screenshot may be at most 5 MB"),
    ((declared_png(60_000, 60_000), "bomb.png"), "the image says it is 60,000 by 60,000 pixels"),
])
def test_a_refused_screenshot_says_why_and_keeps_what_was_typed(app: Flask, upload: tuple[bytes, str],
                                                                 words: str) -> None:
    head = sign_in(app.test_client(), "headteacher")
    response = new_entry(head, screenshot=(io.BytesIO(upload[0]), upload[1]))
    page = response.get_data(as_text=True)  # type: ignore[attr-defined]
    assert response.status_code == 200 and words in page  # type: ignore[attr-defined]
    assert "St Mary&#39;s Parents group" in page and "20/11/26" in page  # nothing typed is lost
    assert count(app, AbuseLogEntry) == 0 and count(app, AbuseScreenshot) == 0


def test_screenshots_added_later_follow_ups_and_done_once(app: Flask) -> None:
    head = sign_in(app.test_client(), "headteacher")
    entry_id = entry_id_of(new_entry(head))
    page = f"/abuse-log/{entry_id}"
    for data, name in ((GIF, "a.gif"), (WEBP, "b.webp")):
        assert send(head, f"{page}/screenshots", {"screenshot": (io.BytesIO(data), name)}, page).status_code == 302
    refused = send(head, f"{page}/screenshots", {"screenshot": (io.BytesIO(b"<html>"), "c.png")}, page)
    assert "The screenshot was not added: the file is not a PNG" in head.get(refused.headers["Location"]).get_data(
        as_text=True)
    assert count(app, AbuseScreenshot) == 2
    kinds = {head.get(f"/abuse-log/screenshots/{i}").headers["Content-Type"]
             for i in re.findall(r"/abuse-log/screenshots/(\d+)", head.get(page).get_data(as_text=True))}
    assert kinds == {"image/gif", "image/webp"}

    bad = send(head, f"{page}/follow-ups", {"due_on": "31/02/27", "note": "x"}, page)
    assert "31/02/27 is not a day of the calendar" in head.get(bad.headers["Location"]).get_data(as_text=True)
    send(head, f"{page}/follow-ups", {"due_on": "2026-11-01", "note": "Ring Mr Angry"}, page)
    send(head, f"{page}/follow-ups", {"due_on": "01/01/2099", "note": "Check again"}, page)
    home = head.get("/").get_data(as_text=True)
    assert re.search(r"<strong>1</strong> abuse log follow-up due", home)
    listing = head.get("/abuse-log/").get_data(as_text=True)
    assert "01/11/2026" in listing and "Due" in listing
    with app.extensions["schoolgate_db"].session(read_only=True) as session:
        first = session.scalar(select(AbuseFollowUp.id).where(AbuseFollowUp.due_on == "2026-11-01"))
    done = send(head, f"/abuse-log/follow-ups/{first}/done", {}, page)
    assert "Follow-up marked done." in head.get(done.headers["Location"]).get_data(as_text=True)
    again = send(sign_in(app.test_client(), "head2"), f"/abuse-log/follow-ups/{first}/done", {}, "/")
    assert again.status_code == 302
    assert re.search(r"<strong>0</strong> abuse log follow-ups due", head.get("/").get_data(as_text=True))
    with app.extensions["schoolgate_db"].session(read_only=True) as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry)
                              .where(AuditEntry.action == "abuse.follow_up_done")) == 1


def test_edit_shows_the_dates_as_dd_mm_yyyy_and_refuses_a_future_date(app: Flask) -> None:
    head = sign_in(app.test_client(), "headteacher")
    entry_id = entry_id_of(new_entry(head))
    edit = f"/abuse-log/{entry_id}/edit"
    assert "; changed" not in head.get(f"/abuse-log/{entry_id}").get_data(as_text=True)
    assert 'value="20/11/2026"' in head.get(edit).get_data(as_text=True)
    refused = send(head, edit, {**ENTRY, "occurred_on": "2099-01-01"}, edit)
    assert "is in the future" in refused.get_data(as_text=True)
    saved = send(head, edit, {**ENTRY, "occurred_on": "2026-11-21", "posted_text": "changed"}, edit)
    assert saved.status_code == 302
    assert "; changed" in head.get(f"/abuse-log/{entry_id}").get_data(as_text=True)
    with app.extensions["schoolgate_db"].session(read_only=True) as session:
        entry = session.get(AbuseLogEntry, entry_id)
        assert entry is not None and entry.occurred_on == "2026-11-21" and entry.posted_text == "changed"


# A trust admin may do what a headteacher does, in every school: they reach the log too.
@pytest.mark.parametrize("who", [w for w in ACCOUNTS if w not in ("headteacher", "head2", "trust_admin")])
def test_nobody_else_reaches_an_entry_or_a_screenshot(app: Flask, who: str) -> None:
    head = sign_in(app.test_client(), "headteacher")
    entry_id = entry_id_of(new_entry(head, screenshot=(io.BytesIO(PNG), "comment.png")))
    other = sign_in(app.test_client(), who)
    for path in (f"/abuse-log/{entry_id}", "/abuse-log/screenshots/1", "/abuse-log/"):
        assert other.get(path).status_code == 403
    assert "Abuse log" not in other.get("/").get_data(as_text=True)
    assert app.test_client().get("/abuse-log/screenshots/1").status_code == 302


def test_a_stored_row_that_is_not_an_image_is_never_served(app: Flask) -> None:
    """Whatever a row claims (written by another tool, or an old version), the bytes decide: HTML is not served."""
    head = sign_in(app.test_client(), "headteacher")
    entry_id = entry_id_of(new_entry(head))
    with app.extensions["schoolgate_db"].session() as session:
        row = AbuseScreenshot(entry_id=entry_id, content_type="image/png", size=30, sha256="0" * 64,
                              data=b"<html><script>alert(1)</script>", uploaded_by="someone")
        session.add(row)
        session.flush()
        shot_id = row.id
    assert head.get(f"/abuse-log/screenshots/{shot_id}").status_code == 404
