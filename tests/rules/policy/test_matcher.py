"""The domain table: suffix matching by whole labels, tags, and a table that never grows."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rules.policy.matcher import DomainTable

TABLE = DomainTable.build([("facebook.com", 1), ("t.co", 1), ("ads.example.org", 2), ("example.org", 4)], 4)


@pytest.mark.parametrize(("host", "tags", "listed"), [
    ("facebook.com", 1, "facebook.com"),
    ("m.facebook.com", 1, "facebook.com"),
    ("notfacebook.com", 0, None),
    ("facebook.com.example.org", 4, "example.org"),
    ("facebook.co", 0, None),
    ("t.co", 1, "t.co"),
    ("ads.example.org", 6, "ads.example.org"),
    ("x.ads.example.org", 6, "ads.example.org"),
    ("com", 0, None),
])
def test_match(host: str, tags: int, listed: str | None) -> None:
    assert TABLE.match(host) == (tags, listed)


def test_repeated_domain_ors_its_tags() -> None:
    table = DomainTable.build([("a.example", 1), ("a.example", 8)], 2)
    assert table.get("a.example") == 9 and len(table) == 1


def test_full_table_refuses_more() -> None:
    table = DomainTable(capacity=2)
    table._add("a.example", 1)
    table._add("b.example", 1)
    with pytest.raises(OverflowError):
        for i in range(10):
            table._add(f"c{i}.example", 1)


labels = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12)
names = st.lists(labels, min_size=2, max_size=5).map(".".join)


@given(st.lists(names, max_size=60, unique=True), names)
def test_agrees_with_a_plain_set(listed: list[str], host: str) -> None:
    table = DomainTable.build(((name, 1) for name in listed), len(listed))
    parents = [host[i + 1:] for i, ch in enumerate(host) if ch == "."]
    expected = any(p in set(listed) for p in [host, *parents] if "." in p)
    assert bool(table.match(host)[0]) == expected


def test_a_table_never_leaves_its_process() -> None:
    """Its keys are hash(str), salted per process: read back elsewhere it would match nothing (fail open)."""
    import pickle

    import pytest

    table = DomainTable.build([("facebook.com", 1)], 1)
    with pytest.raises(TypeError):
        pickle.dumps(table)
