"""The search term of a Google, Bing, DuckDuckGo or YouTube search the proxy can read.

The DfE filtering and monitoring standard asks for search terms to be logged. Only requests the
proxy sees in the clear reach this (plain HTTP, or HTTPS intercepted for managed devices).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs

# (host pattern, path pattern, query parameter), for hosts in normal form.
ENGINES: tuple[tuple[re.Pattern[str], re.Pattern[str], str], ...] = (
    (re.compile(r"^(?:www\.)?google\.(?:com|[a-z]{2,3}|co\.[a-z]{2}|com\.[a-z]{2})$"), re.compile(r"^/search$"), "q"),
    (re.compile(r"^(?:www\.|cn\.)?bing\.com$"), re.compile(r"^/search$"), "q"),
    (re.compile(r"^(?:html\.|lite\.)?duckduckgo\.com$"), re.compile(r"^/(?:html/?|lite/?)?$"), "q"),
    (re.compile(r"^(?:www\.|m\.)?youtube\.com$"), re.compile(r"^/results$"), "search_query"),
)
SEARCH_HOSTS = re.compile(r"(?:^|\.)(?:google\.[a-z.]+|bing\.com|duckduckgo\.com|youtube\.com)$")
MAX_LENGTH = 500


def is_search_host(host: str) -> bool:
    """Whether `host` (normal form) belongs to a search engine whose terms we record."""
    return SEARCH_HOSTS.search(host) is not None


def search_term(host: str, path: str) -> str | None:
    """The search term in `path` (with its query string) on `host`, or None if this is not a search."""
    route, _, query = path.partition("?")
    if not query:
        return None
    for host_pattern, path_pattern, parameter in ENGINES:
        if host_pattern.match(host) and path_pattern.match(route):
            values = parse_qs(query).get(parameter)
            if values and values[0].strip():
                return values[0].strip()[:MAX_LENGTH]
            return None
    return None
