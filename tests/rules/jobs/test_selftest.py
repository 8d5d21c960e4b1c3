"""The nightly self-test: locked and social-media categories blocked for every group, recorded."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from rules.jobs.selftest import run_self_test
from rules.lists.importer import import_list
from rules.store.db import Database
from rules.store.models import AuditEntry, Category, ListEntry, Rule


def recorded(db: Database) -> list[tuple[str, str, dict[str, object]]]:
    with db.session(read_only=True) as session:
        return [(a.actor, a.action, json.loads(a.after or "{}"))
                for a in session.scalars(select(AuditEntry).where(AuditEntry.actor == "self-test"))]


def test_self_test_passes_on_a_fresh_install(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "iwf.txt"
    path.write_text("abuse-one.example\nabuse-two.example\n")
    import_list(db, path, "iwf", locked=True, actor="tests")
    result = run_self_test(db)
    assert result.passed, result.failures
    assert result.categories == ["iwf", "social_media"] and result.groups == ["guests", "pupils", "staff"]
    assert result.checked == 3 * (2 + 5)
    [(actor, action, details)] = recorded(db)
    assert (actor, action) == ("self-test", "self_test.pass") and details["checked"] == 21


def test_an_exception_that_opens_social_media_fails_the_self_test(db: Database) -> None:
    with db.session() as session:
        first = session.scalar(select(ListEntry.domain).join(Category).where(Category.name == "social_media")
                               .order_by(ListEntry.id).limit(1))
        assert first is not None
        session.add(Rule(action="allow", domain=first, scope="everyone", reason="marketing"))
    result = run_self_test(db)
    assert not result.passed
    assert len(result.failures) == 3 and all(f.startswith(f"{first} (social_media) is allowed for group")
                                             for f in result.failures)
    [(_, action, details)] = recorded(db)
    assert action == "self_test.fail" and details["failures"] == result.failures


def test_an_empty_locked_category_fails(sqlite_db: Database) -> None:
    with sqlite_db.session() as session:
        session.add(Category(name="iwf", locked=True))
    result = run_self_test(sqlite_db)
    assert result.failures == ["category iwf has no entries: it blocks nothing"]
