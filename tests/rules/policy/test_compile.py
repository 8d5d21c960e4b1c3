"""The compiler's categories and masks, and the test factory that must build snapshots the same way."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select

from rules.lists.importer import replace_source_entries
from rules.policy.compile import CategorySpec, Compiler, category_bits
from rules.store.db import Database
from rules.store.models import Category, Group
from tests.factories import tsnapshot


def test_tsnapshot_builds_what_the_compiler_builds_from_the_same_rows(db: Database) -> None:
    """tsnapshot stands in for the database in hundreds of tests: its masks and table must be the compiler's."""
    lists = {"blocked": ["bad.example"], "games": ["games.example", "bad.example"], "adult": ["adult.example"],
             "social": ["social.example"]}
    with db.session() as session:
        session.execute(delete(Category))
        groups = {g.name: g for g in session.scalars(select(Group))}
        rows = {"blocked": Category(name="blocked"),
                "games": Category(name="games", block_everyone=False, blocked_groups=[groups["pupils"]]),
                "adult": Category(name="adult", locked=True, block_everyone=False),
                "social": Category(name="social", block_everyone=False,
                                   blocked_groups=[groups["pupils"], groups["guests"]])}
        for row in rows.values():  # ids in this order, as tsnapshot numbers its categories
            session.add(row)
            session.flush()
        for name, domains in lists.items():
            replace_source_entries(session, rows[name], "test", "test", "domains", domains, skipped=0)
    compiled = Compiler(db).compile()
    made = tsnapshot(blocked=lists["blocked"], categories={k: v for k, v in lists.items() if k != "blocked"},
                     locked=["adult"], group_only={"games": ["pupils"], "social": ["pupils", "guests"]})
    assert made.category_names == compiled.category_names == ("adult", "blocked", "games", "social")
    assert (made.locked_mask, made.everyone_mask) == (compiled.locked_mask, compiled.everyone_mask)
    assert {g: made.group_masks[g] for g in ("pupils", "staff", "guests")} == \
        {g: compiled.group_masks[g] for g in ("pupils", "staff", "guests")}
    for host in ("bad.example", "www.games.example", "adult.example", "social.example", "fine.example"):
        assert made.table.match(host) == compiled.table.match(host), host


def test_locked_categories_take_the_lowest_bits_and_at_most_63_fit() -> None:
    ordered = category_bits([CategorySpec(3, "c"), CategorySpec(1, "a"), CategorySpec(2, "b", locked=True)])
    assert [c.name for c in ordered] == ["b", "a", "c"]
    with pytest.raises(ValueError, match="63"):
        category_bits(CategorySpec(i, f"c{i}") for i in range(64))
