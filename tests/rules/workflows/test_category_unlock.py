"""Unlocking a locked category takes two people; until a headteacher confirms, no exception opens it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from rules.lists.importer import ListImportError, import_list
from rules.policy.compile import Compiler, read_version
from rules.policy.decide import decide
from rules.policy.decision import Action, Reason
from rules.store.db import Database
from rules.store.models import AuditEntry, Category, CategoryUnlock, Rule, User
from rules.workflows.catalogue_admin import RegistryError, save_category
from rules.workflows.category_unlock import UnlockError, decide_unlock, open_proposal

HOST = "listed.example"
PEOPLE = {"ict": ("ict@school.example", "ict"), "head": ("head@school.example", "headteacher"),
          "both": ("both@school.example", "ict,headteacher"), "head2": ("deputy@school.example", "headteacher")}
type School = tuple[Database, dict[str, int], int]  # the database, user ids by PEOPLE key, the category's id


@pytest.fixture
def school(db: Database, tmp_path: Path) -> School:
    """A locked category holding HOST, an approved exception for HOST (which must not open it), four people."""
    path = tmp_path / "iwf.txt"
    path.write_text(f"{HOST}\n")
    import_list(db, path, "child_abuse", locked=True, actor="tests")
    with db.session() as session:
        session.add(Rule(action="allow", domain=HOST, scope="everyone", source="request"))
        users = {key: User(email=email, name=key, roles=roles) for key, (email, roles) in PEOPLE.items()}
        session.add_all(users.values())
        session.flush()
        category_id = session.scalars(select(Category.id).where(Category.name == "child_abuse")).one()
        return db, {key: user.id for key, user in users.items()}, category_id


def decision(db: Database) -> tuple[Action, Reason]:
    snapshot = Compiler(db).compile()
    result = decide(snapshot, snapshot.identify("10.0.0.1"), HOST)
    return result.action, result.reason


def untick(db: Database, user_id: int, category_id: int, reason: str = "The supplier's list now covers this") -> None:
    with db.session() as session:
        save_category(session, session.get(User, user_id), category_id, name="child_abuse",
                      description="changed by the technician", locked=False, block_everyone=True, group_ids=[],
                      unlock_reason=reason)


def actions(db: Database) -> list[tuple[str, str]]:
    with db.session(read_only=True) as session:
        return [(e.actor, e.action) for e in session.scalars(
            select(AuditEntry).where(AuditEntry.action.startswith("category.unlock")).order_by(AuditEntry.id))]


def test_unticking_locked_only_proposes_and_the_headteachers_confirmation_unlocks(school: School) -> None:
    db, ids, category_id = school
    assert decision(db) == (Action.BLOCK, Reason.LOCKED_CATEGORY)
    version = read_version(db)
    untick(db, ids["ict"], category_id)
    with db.session(read_only=True) as session:
        category = session.get(Category, category_id)
        assert category is not None and category.locked and category.description == "changed by the technician"
        proposal = open_proposal(session, category_id)
        assert proposal is not None
        assert (proposal.proposed_by, proposal.reason) == (PEOPLE["ict"][0], "The supplier's list now covers this")
        proposal_id = proposal.id
    assert decision(db) == (Action.BLOCK, Reason.LOCKED_CATEGORY)  # the exception still cannot open it
    assert read_version(db) > version  # the description changed; the lock did not

    with db.session() as session, pytest.raises(UnlockError, match="only a headteacher"):
        decide_unlock(session, proposal_id, session.get(User, ids["ict"]), confirm=True, reason="")
    with db.session() as session:
        decide_unlock(session, proposal_id, session.get(User, ids["head"]), confirm=True, reason="Agreed with DSL")
    assert decision(db) == (Action.ALLOW, Reason.EXCEPTION)  # now an ordinary category the exception opens
    with db.session(read_only=True) as session:
        proposal = session.get(CategoryUnlock, proposal_id)
        assert proposal is not None and (proposal.state, proposal.decided_by) == ("confirmed", PEOPLE["head"][0])
        confirmed = session.scalars(select(AuditEntry).where(AuditEntry.action == "category.unlock_confirm")).one()
        assert json.loads(confirmed.after or "") == {"locked": False, "proposal": proposal_id}
        assert confirmed.reason == "Agreed with DSL" and confirmed.target == "category child_abuse"
    assert actions(db) == [(PEOPLE["ict"][0], "category.unlock_propose"),
                           (PEOPLE["head"][0], "category.unlock_confirm")]
    with db.session() as session, pytest.raises(UnlockError, match="already confirmed"):
        decide_unlock(session, proposal_id, session.get(User, ids["head2"]), confirm=False, reason="")


def test_the_proposer_cannot_confirm_their_own_proposal_even_holding_both_roles(school: School) -> None:
    db, ids, category_id = school
    untick(db, ids["both"], category_id)
    with db.session(read_only=True) as session:
        proposal = open_proposal(session, category_id)
        assert proposal is not None
        proposal_id = proposal.id
    with db.session() as session, pytest.raises(UnlockError, match="another headteacher must confirm"):
        decide_unlock(session, proposal_id, session.get(User, ids["both"]), confirm=True, reason="")
    assert decision(db) == (Action.BLOCK, Reason.LOCKED_CATEGORY)
    with db.session() as session:  # but may withdraw it (refusing keeps it locked: the safe way)
        decide_unlock(session, proposal_id, session.get(User, ids["both"]), confirm=False, reason="Withdrawn")
    assert decision(db) == (Action.BLOCK, Reason.LOCKED_CATEGORY)
    with db.session(read_only=True) as session:
        category = session.get(Category, category_id)
        assert category is not None and category.locked and open_proposal(session, category_id) is None
    assert actions(db) == [(PEOPLE["both"][0], "category.unlock_propose"),
                           (PEOPLE["both"][0], "category.unlock_refuse")]


def test_a_proposal_needs_a_reason_and_only_one_waits_at_a_time(school: School) -> None:
    db, ids, category_id = school
    with pytest.raises(RegistryError, match="say why"):
        untick(db, ids["ict"], category_id, reason="  ")
    with db.session(read_only=True) as session:  # nothing at all was saved
        category = session.get(Category, category_id)
        assert category is not None and category.description != "changed by the technician"
    untick(db, ids["ict"], category_id)
    with pytest.raises(RegistryError, match="already proposed"):
        untick(db, ids["ict"], category_id)
    assert len(actions(db)) == 1


def test_locking_is_immediate_and_the_command_line_cannot_unlock(school: School, tmp_path: Path) -> None:
    db, ids, category_id = school
    with db.session() as session:
        games = save_category(session, session.get(User, ids["ict"]), None, name="games", description="",
                              locked=False, block_everyone=True, group_ids=[])
        games_id = games.id
    with db.session() as session:
        save_category(session, session.get(User, ids["ict"]), games_id, name="games", description="", locked=True,
                      block_everyone=True, group_ids=[])
    with db.session(read_only=True) as session:
        games = session.get(Category, games_id)
        assert games is not None and games.locked and open_proposal(session, games_id) is None
    path = tmp_path / "iwf.txt"
    with pytest.raises(ListImportError, match="locked; unlocking it takes two people"):
        import_list(db, path, "child_abuse", locked=False, actor="tests")
    assert decision(db) == (Action.BLOCK, Reason.LOCKED_CATEGORY)


def test_saving_the_category_locked_again_withdraws_the_proposal(school: School) -> None:
    """The technician changes their mind (ticks "Locked" again and saves): the headteacher can no longer confirm
    the old proposal, so the category is never opened against the last thing its technician said."""
    db, people, category_id = school
    untick(db, people["ict"], category_id)
    with db.session() as session:
        proposal = open_proposal(session, category_id)
        assert proposal is not None
        proposal_id = proposal.id
        save_category(session, session.get(User, people["ict"]), category_id, name="child_abuse",
                      description="locked again", locked=True, block_everyone=True, group_ids=[])
    with db.session() as session:
        assert open_proposal(session, category_id) is None
        with pytest.raises(UnlockError, match="already withdrawn"):
            decide_unlock(session, proposal_id, session.get(User, people["head"]), confirm=True, reason="yes")
    assert decision(db) == (Action.BLOCK, Reason.LOCKED_CATEGORY)
    assert actions(db)[-1] == (PEOPLE["ict"][0], "category.unlock_withdraw")
