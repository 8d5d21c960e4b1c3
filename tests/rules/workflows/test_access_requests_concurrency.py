"""Approval happens once, in one transaction, even when two headteachers press the button together."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from rules.store.db import Database
from rules.store.models import AccessRequest, Rule, User
from rules.workflows.access_requests import Approval, RequestError, decide_request, file_request
from rules.workflows.accounts import create_user


def test_two_simultaneous_approvals_make_one_exception(db: Database) -> None:
    with db.session() as session:
        staff = create_user(session, email="t@school.example", name="Tom Teacher", roles=["staff"], password=None,
                            actor="t")
        for n in (1, 2):
            create_user(session, email=f"head{n}@school.example", name=f"Head {n}", roles=["headteacher"],
                        password=None, actor="t")
        request_id = file_request(session, staff, full_url="https://www.videosite.test/lesson/42",
                                  site_content="A volcano video", reasons="Geography", risks="Teacher-led").id
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def approve(email: str) -> None:
        barrier.wait()  # both start together (SQLite then queues the second writer; PostgreSQL runs both)
        with db.session() as session:
            user = session.scalar(select(User).where(User.email == email))
            assert user is not None
            try:
                decide_request(session, request_id, user, approved=True, reasons="Good lesson plan",
                               approval=Approval("everyone", None, None, datetime.now(UTC) + timedelta(days=7)))
                outcomes.append("approved")
            except RequestError as exc:
                outcomes.append(f"refused: {exc}")

    threads = [threading.Thread(target=approve, args=(f"head{n}@school.example",)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(o.split(":")[0] for o in outcomes) == ["approved", "refused"], outcomes
    with db.session(read_only=True) as session:
        assert session.scalar(select(func.count()).select_from(Rule).where(Rule.source == "request")) == 1
        req = session.get(AccessRequest, request_id)
        assert req is not None and req.status == "approved" and req.rule_id is not None
