"""The ICT technician's changes to categories, lists and groups: each reaches the policy and the audit log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from rules.policy.compile import Compiler, read_version
from rules.policy.decide import decide
from rules.policy.decision import Client
from rules.store.db import Database
from rules.store.models import AuditEntry, Category, Group, ListSource, User
from rules.workflows.catalogue_admin import RegistryError, import_list_file, save_category, save_group

ICT = "ict@school.example"


@pytest.fixture
def ict(db: Database) -> int:
    with db.session() as session:
        user = User(email=ICT, name="Ict", roles="ict")
        session.add(user)
        session.flush()
        return user.id


def audits(db: Database, action: str) -> list[tuple[str, dict[str, object] | None, dict[str, object] | None]]:
    with db.session() as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id))
        return [(e.target, json.loads(e.before) if e.before else None, json.loads(e.after) if e.after else None)
                for e in rows if e.actor == ICT]


def group_id(db: Database, name: str) -> int:
    with db.session() as session:
        return session.scalars(select(Group.id).where(Group.name == name)).one()


def blocked_for(db: Database, host: str, group: str) -> bool:
    return decide(Compiler(db).compile(), Client(ip="10.0.0.7", group=group), host).blocked


def test_a_new_category_blocked_for_one_group_reaches_the_policy_and_the_audit_log(db: Database, ict: int,
                                                                                    tmp_path: Path) -> None:
    pupils = group_id(db, "pupils")
    before = read_version(db)
    with db.session() as session:
        category = save_category(session, session.get(User, ict), None, name=" Games ",
                                 description=" online games ", locked=False, block_everyone=False, group_ids=[pupils])
        assert (category.name, category.description) == ("games", "online games")
        category_id = category.id
    assert read_version(db) > before  # the enforcers will pick the change up
    lst = tmp_path / "games.txt"
    lst.write_text("0.0.0.0 games.example\n||play.example^\nplain.example\nnot a name!\n", encoding="utf-8")
    with db.session() as session:
        outcome = import_list_file(session, session.get(User, ict), lst, "teacher list", category_id)
    assert (outcome.category, outcome.entries, outcome.skipped, outcome.format) == ("games", 3, 1, "mixed")
    assert outcome.summary.endswith("1 skipped")
    assert blocked_for(db, "play.example", "pupils") and blocked_for(db, "games.example", "pupils")
    assert not blocked_for(db, "play.example", "staff")
    [(target, before_state, after_state)] = audits(db, "category.create")
    assert target == "category games" and before_state is None
    assert after_state == {"name": "games", "description": "online games", "locked": False, "block_everyone": False,
                           "blocked_groups": ["pupils"], "safeguarding": False}
    [(target, _, imported)] = audits(db, "list.import")
    assert target == "category games" and imported is not None
    assert (imported["entries"], imported["skipped"], imported["source"]) == (3, 1, "teacher list")


def test_importing_again_from_the_same_source_replaces_its_entries(db: Database, ict: int, tmp_path: Path) -> None:
    with db.session() as session:
        category_id = save_category(session, session.get(User, ict), None, name="extra", description="",
                                    locked=False, block_everyone=True, group_ids=[]).id
    lst = tmp_path / "list.txt"
    for content in ("old.example\n", "new.example\n"):
        lst.write_text(content, encoding="utf-8")
        with db.session() as session:
            import_list_file(session, session.get(User, ict), lst, "mine", category_id, fmt="domains")
    assert blocked_for(db, "new.example", "staff") and not blocked_for(db, "old.example", "staff")
    with db.session() as session:
        assert session.scalars(select(ListSource.entries).where(ListSource.category_id == category_id)).all() == [1]


def test_changing_a_category_records_before_and_after_and_a_builtin_keeps_its_name(db: Database, ict: int) -> None:
    with db.session() as session:
        builtin = session.scalars(select(Category).where(Category.builtin.is_(True))).first()
        assert builtin is not None
        name, builtin_id = builtin.name, builtin.id
        with pytest.raises(RegistryError, match="keeps its name"):
            save_category(session, session.get(User, ict), builtin_id, name="renamed", description="",
                          locked=False, block_everyone=True, group_ids=[])
    with db.session() as session:
        save_category(session, session.get(User, ict), builtin_id, name=name, description="changed",
                      locked=True, block_everyone=True, group_ids=[])
    [(target, before_state, after_state)] = audits(db, "category.update")
    assert target == f"category {name}" and before_state is not None and after_state is not None
    assert (after_state["description"], after_state["locked"]) == ("changed", True)
    assert before_state["description"] != "changed"


@pytest.mark.parametrize("name, says", [("Bad Name!", "lower-case letters"), ("", "lower-case letters")])
def test_a_bad_category_name_is_refused(db: Database, ict: int, name: str, says: str) -> None:
    with db.session() as session, pytest.raises(RegistryError, match=says):
        save_category(session, session.get(User, ict), None, name=name, description="",
                      locked=False, block_everyone=True, group_ids=[])


def test_two_categories_cannot_share_a_name(db: Database, ict: int) -> None:
    with db.session() as session:
        existing = session.scalars(select(Category.name)).first()
        assert existing is not None
        with pytest.raises(RegistryError, match="already a category"):
            save_category(session, session.get(User, ict), None, name=existing.upper(), description="",
                          locked=False, block_everyone=True, group_ids=[])


def test_an_import_needs_a_category_a_known_format_and_a_readable_file(db: Database, ict: int,
                                                                         tmp_path: Path) -> None:
    lst = tmp_path / "gone.txt"  # e.g. the upload's temporary file was cleaned away
    with db.session() as session:
        category_id = session.scalars(select(Category.id)).first()
        assert category_id is not None
        me = session.get(User, ict)
        assert me is not None
        with pytest.raises(RegistryError, match="choose the category"):
            import_list_file(session, me, lst, "x", 99999)
        with pytest.raises(RegistryError, match="format"):
            import_list_file(session, me, lst, "x", category_id, fmt="ut1")
        with pytest.raises(RegistryError, match="could not be read"):
            import_list_file(session, me, lst, "x", category_id)


def test_groups_are_created_and_changed_with_audit_entries(db: Database, ict: int) -> None:
    with db.session() as session:
        me = session.get(User, ict)
        assert me is not None
        group = save_group(session, me, None, name="sixth-form", description=" years 12 and 13 ", safesearch=False,
                           circumvention_mode="alert")
        created_id = group.id
    with db.session() as session:
        me = session.get(User, ict)
        assert me is not None
        save_group(session, me, created_id, name="sixth-form", description="", safesearch=True,
                   circumvention_mode="ban")
        with pytest.raises(RegistryError, match="ban or an alert"):
            save_group(session, me, None, name="x", description="", safesearch=True, circumvention_mode="ignore")
        with pytest.raises(RegistryError, match="already a group"):
            save_group(session, me, None, name="pupils", description="", safesearch=True, circumvention_mode="ban")
    snapshot = Compiler(db).compile()
    assert snapshot.groups["sixth-form"].safesearch is True
    [(_, none, created)] = audits(db, "group.create")
    [(target, before_state, after_state)] = audits(db, "group.update")
    assert none is None and created == {"name": "sixth-form", "description": "years 12 and 13", "safesearch": False,
                                        "circumvention_mode": "alert"}
    assert target == "group sixth-form" and before_state == created
    assert after_state == {"name": "sixth-form", "description": "", "safesearch": True, "circumvention_mode": "ban"}
