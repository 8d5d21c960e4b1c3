"""Changing your own password: the current one is proved, a wrong one is a failed sign-in the throttle slows, and
every other session of the account ends."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import func, select

from rules.store.models import AuditEntry
from rules.workflows.signin_throttle import PAIR_FREE
from tests.admin_web.conftest import ACCOUNTS, PASSWORD, csrf_token, sign_in


def change(client: object, current: str, new: str, repeat: str | None = None) -> object:
    return client.post("/password", data={"current_password": current, "new_password": new,  # type: ignore[attr-defined]
                                          "repeat": new if repeat is None else repeat,
                                          "csrf_token": csrf_token(client, "/password")})  # type: ignore[arg-type]


def test_a_wrong_current_password_counts_as_a_failed_sign_in(sqlite_app: Flask) -> None:
    ict = sign_in(sqlite_app.test_client(), "ict")
    answers = [change(ict, f"guess {n}", "a brand new password") for n in range(PAIR_FREE + 1)]
    assert [a.status_code for a in answers] == [400] * PAIR_FREE + [429]  # type: ignore[attr-defined]
    assert "Wait" in answers[-1].get_data(as_text=True)  # type: ignore[attr-defined]
    with sqlite_app.extensions["schoolgate_db"].session(read_only=True) as session:
        failed = session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "signin.failed", AuditEntry.target == ACCOUNTS["ict"][0]))
    assert failed == PAIR_FREE


def test_the_new_password_signs_in_and_other_sessions_end(sqlite_app: Flask) -> None:
    other_browser = sign_in(sqlite_app.test_client(), "ict")
    ict = sign_in(sqlite_app.test_client(), "ict")
    assert change(ict, PASSWORD, "short").status_code == 400  # type: ignore[attr-defined]
    assert change(ict, PASSWORD, "a brand new password", "another").status_code == 400  # type: ignore[attr-defined]
    done = change(ict, PASSWORD, "a brand new password")
    assert done.status_code == 302  # type: ignore[attr-defined]
    assert ict.get("/").status_code == 200  # this browser stays signed in
    assert other_browser.get("/").status_code == 302  # the other is signed out
    fresh = sqlite_app.test_client()
    answer = fresh.post("/signin", data={"email": ACCOUNTS["ict"][0], "password": "a brand new password",
                                         "csrf_token": csrf_token(fresh)})
    assert answer.status_code == 302
    with sqlite_app.extensions["schoolgate_db"].session(read_only=True) as session:
        changed = session.scalars(select(AuditEntry).where(AuditEntry.action == "user.password_change")).one()
    assert changed.actor == ACCOUNTS["ict"][0] and "a brand new password" not in (changed.after or "")
