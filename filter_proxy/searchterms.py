"""The search term of a Google, Bing, DuckDuckGo, YouTube or TikTok search the proxy can read.

The DfE filtering and monitoring standard asks for search terms to be logged. Only requests the
proxy sees in the clear reach this (plain HTTP, or HTTPS intercepted for managed devices).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs

# (host pattern, path pattern, query parameters in the order tried), for hosts in normal form.
ENGINES: tuple[tuple[re.Pattern[str], re.Pattern[str], tuple[str, ...]], ...] = (
    (re.compile(r"^(?:www\.)?google\.(?:com|[a-z]{2,3}|co\.[a-z]{2}|com\.[a-z]{2})$"), re.compile(r"^/search$"),
     ("q",)),
    (re.compile(r"^(?:www\.|cn\.)?bing\.com$"), re.compile(r"^/search$"), ("q",)),
    (re.compile(r"^(?:html\.|lite\.)?duckduckgo\.com$"), re.compile(r"^/(?:html/?|lite/?)?$"), ("q",)),
    # YouTube: /results?search_query= on www. and m. (and the older ?q=), music.youtube.com/search?q=
    (re.compile(r"^(?:www\.|m\.)?youtube\.com$"), re.compile(r"^/results/?$"), ("search_query", "q")),
    (re.compile(r"^music\.youtube\.com$"), re.compile(r"^/search/?$"), ("q",)),
    # TikTok's web search: /search?q=, and its tabs /search/video, /search/user, /search/live?q=
    (re.compile(r"^(?:www\.|m\.)?tiktok\.com$"), re.compile(r"^/search(?:/[a-z]+)?/?$"), ("q",)),
)
SEARCH_HOSTS = re.compile(r"(?:^|\.)(?:google\.[a-z.]+|bing\.com|duckduckgo\.com|youtube\.com|tiktok\.com)$")
MAX_LENGTH = 500


def is_search_host(host: str) -> bool:
    """Whether `host` (normal form) belongs to a search engine whose terms we record."""
    return SEARCH_HOSTS.search(host) is not None


def search_term(host: str, path: str) -> str | None:
    """The search term in `path` (with its query string) on `host`, or None if this is not a search."""
    route, _, query = path.partition("?")
    if not query:
        return None
    for host_pattern, path_pattern, parameters in ENGINES:
        if host_pattern.match(host) and path_pattern.match(route):
            fields = parse_qs(query)
            for parameter in parameters:
                values = fields.get(parameter)
                if values and values[0].strip():
                    return values[0].strip()[:MAX_LENGTH]
            return None
    return None
