"""Host names in one normal form."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rules.domain import InvalidHost, normalize_host, parent_domains


@pytest.mark.parametrize(("raw", "normal"), [
    ("facebook.com", "facebook.com"),
    ("WWW.FACEBOOK.COM.", "www.facebook.com"),
    ("  m.Facebook.com  ", "m.facebook.com"),
    ("bücher.de", "xn--bcher-kva.de"),
    ("XN--BCHER-KVA.DE", "xn--bcher-kva.de"),
    ("_dmarc.example.org", "_dmarc.example.org"),
    ("localhost", "localhost"),
])
def test_normal_form(raw: str, normal: str) -> None:
    assert normalize_host(raw) == normal


@pytest.mark.parametrize("raw", [
    "", ".", "a..b", "<img src=x onerror=alert(1)>.example", "-bad.example", "bad-.example",
    "x" * 64 + ".com", ("a" * 60 + ".") * 5 + "com", "has space.example", "xn--zz.example", "a/b.example",
    "exa\x00mple.com",
])
def test_invalid_names_raise_a_clear_error(raw: str) -> None:
    with pytest.raises(InvalidHost) as info:
        normalize_host(raw)
    assert str(info.value)
    assert "\n" not in str(info.value)


def test_parents_by_whole_labels() -> None:
    assert parent_domains("a.b.facebook.com") == ["a.b.facebook.com", "b.facebook.com", "facebook.com", "com"]


@given(st.text(max_size=300))
def test_never_anything_but_a_name_or_invalid_host(raw: str) -> None:
    try:
        name = normalize_host(raw)
    except InvalidHost:
        return
    assert name == name.lower() and not name.endswith(".") and name.isascii()
    assert normalize_host(name) == name
