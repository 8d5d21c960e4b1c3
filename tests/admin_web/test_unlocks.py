"""The two-person unlock on the web: the ICT technician unticks "locked", the headteacher confirms."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from sqlalchemy import select

from rules.lists.importer import import_list
from rules.store.models import AuditEntry, Category, CategoryUnlock
from tests.admin_web.conftest import ACCOUNTS, csrf_token, post, sign_in


def locked_category(app: Flask, tmp_path: Path) -> int:
    path = tmp_path / "iwf.txt"
    path.write_text("listed.example\n")
    db = app.extensions["schoolgate_db"]
    import_list(db, path, "child_abuse", locked=True, actor="tests")
    with db.session(read_only=True) as session:
        return int(session.scalars(select(Category.id).where(Category.name == "child_abuse")).one())


def state(app: Flask, category_id: int) -> tuple[bool, list[tuple[str, str]]]:
    """Whether the category is locked, and each proposal's (state, proposer)."""
    with app.extensions["schoolgate_db"].session(read_only=True) as session:
        category = session.get(Category, category_id)
        assert category is not None
        proposals = [(p.state, p.proposed_by) for p in session.scalars(select(CategoryUnlock))]
        return category.locked, proposals


def test_the_technician_proposes_and_the_headteacher_confirms(app: Flask, tmp_path: Path) -> None:
    category_id = locked_category(app, tmp_path)
    ict = sign_in(app.test_client(), "ict")
    page = ict.get(f"/categories/{category_id}").get_data(as_text=True)
    assert "does not unlock the category" in page and 'name="unlock_reason"' in page
    form = {"name": "child_abuse", "description": "IWF list", "block_everyone": "y",
            "unlock_reason": "The supplier retired this list"}  # no "locked": unticked
    response = ict.post(f"/categories/{category_id}", data={**form, "csrf_token": csrf_token(ict, "/categories/")},
                        follow_redirects=True)
    assert "still locked: unlocking it needs the headteacher" in response.get_data(as_text=True)
    assert state(app, category_id) == (True, [("open", ACCOUNTS["ict"][0])])
    assert "(unlock proposed)" in ict.get("/categories/").get_data(as_text=True)
    with app.extensions["schoolgate_db"].session(read_only=True) as session:
        proposal_id = session.scalars(select(CategoryUnlock.id)).one()
    assert post(ict, f"/unlocks/{proposal_id}/confirm", {}, "/unlocks/").status_code == 403  # type: ignore[attr-defined]
    assert sign_in(app.test_client(), "staff").get("/unlocks/").status_code == 403
    assert state(app, category_id)[0] is True

    head = sign_in(app.test_client(), "headteacher")
    assert "<strong>1</strong> locked category proposed for unlocking" in head.get("/").get_data(as_text=True)
    listing = head.get("/unlocks/").get_data(as_text=True)
    assert "The supplier retired this list" in listing and "Confirm: unlock it" in listing
    response = post(head, f"/unlocks/{proposal_id}/confirm", {f"p{proposal_id}-reason": "Checked with the DSL"},
                    "/unlocks/")
    assert response.status_code == 302  # type: ignore[attr-defined]
    assert state(app, category_id) == (False, [("confirmed", ACCOUNTS["ict"][0])])
    with app.extensions["schoolgate_db"].session(read_only=True) as session:
        entries = [(e.actor, e.action, e.reason) for e in session.scalars(
            select(AuditEntry).where(AuditEntry.action.startswith("category.unlock")).order_by(AuditEntry.id))]
    assert entries == [(ACCOUNTS["ict"][0], "category.unlock_propose", "The supplier retired this list"),
                       (ACCOUNTS["headteacher"][0], "category.unlock_confirm", "Checked with the DSL")]


def test_unticking_without_a_reason_saves_nothing_and_refusing_keeps_it_locked(sqlite_app: Flask,
                                                                              tmp_path: Path) -> None:
    app = sqlite_app
    category_id = locked_category(app, tmp_path)
    ict = sign_in(app.test_client(), "ict")
    form = {"name": "child_abuse", "description": "changed", "block_everyone": "y"}
    page = ict.post(f"/categories/{category_id}", data={**form, "csrf_token": csrf_token(ict, "/categories/")})
    assert page.status_code == 200 and "say why the category should be unlocked" in page.get_data(as_text=True)
    assert state(app, category_id) == (True, [])
    ict.post(f"/categories/{category_id}", data={**form, "unlock_reason": "Not needed",
                                                  "csrf_token": csrf_token(ict, "/categories/")})
    with app.extensions["schoolgate_db"].session(read_only=True) as session:
        proposal_id = session.scalars(select(CategoryUnlock.id)).one()
    head = sign_in(app.test_client(), "headteacher")
    post(head, f"/unlocks/{proposal_id}/refuse", {}, "/unlocks/")
    assert state(app, category_id) == (True, [("refused", ACCOUNTS["ict"][0])])
    assert "Refused by" in head.get("/unlocks/").get_data(as_text=True)
    assert post(head, "/unlocks/99999/confirm", {}, "/unlocks/").status_code == 404  # type: ignore[attr-defined]
