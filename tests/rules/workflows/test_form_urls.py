"""The URLs people type into the forms: only http(s) with a real host gets stored or linked."""

from __future__ import annotations

import pytest

from rules.workflows.form_urls import MAX_URL_LENGTH, BadURL, parse_web_url, parse_web_urls, safe_href


def test_a_web_address_gives_its_host_in_normal_form_and_a_rule_prefix() -> None:
    url = parse_web_url("  https://WWW.Example.ORG/Games/Play?x=1  ")
    assert url.text == "https://WWW.Example.ORG/Games/Play?x=1"
    assert url.host == "www.example.org"
    assert url.prefix == "www.example.org/Games/Play"
    assert parse_web_url("http://example.org").prefix == "example.org/"


@pytest.mark.parametrize("raw, says", [
    ("", "enter the full address"),
    ("javascript:alert(1)", "not a web address"),
    ("ftp://example.org/file", "not a web address"),
    ("example.org/page", "not a web address"),
    ("https://exa mple.org/", "spaces or control characters"),
    ("https://example.org/\x00", "spaces or control characters"),
    ("https://" + "a" * MAX_URL_LENGTH + ".org/", "longer than"),
])
def test_anything_else_is_refused_with_what_to_type(raw: str, says: str) -> None:
    with pytest.raises(BadURL, match=says):
        parse_web_url(raw)


def test_a_host_that_is_not_a_name_is_refused() -> None:
    with pytest.raises(BadURL):
        parse_web_url("https://bad_host!.example/")


def test_several_addresses_one_a_line_blank_lines_ignored_and_a_limit() -> None:
    urls = parse_web_urls("https://a.example/x\n\n  \nhttp://b.example/\n")
    assert [u.host for u in urls] == ["a.example", "b.example"]
    with pytest.raises(BadURL, match="at least one"):
        parse_web_urls(" \n ")
    with pytest.raises(BadURL, match="at most 3"):
        parse_web_urls("\n".join(f"https://s{i}.example/" for i in range(4)), limit=3)
    with pytest.raises(BadURL):
        parse_web_urls("https://good.example/\njavascript:alert(1)")  # one bad line refuses the lot


def test_only_web_addresses_become_links() -> None:
    assert safe_href("https://example.org/a") == "https://example.org/a"
    assert safe_href("javascript:alert(document.cookie)") is None
    assert safe_href("data:text/html,<script>") is None
    assert safe_href(None) is None and safe_href("") is None
