"""What a text would raise and why, as `schoolgate safeguarding test` (and later the DSL's screen) says it.

`check` explains a block; this explains a concern: each phrase that matched with its category, severity
and why, and each match an exception kept quiet with the exception that did it.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from rules.automatic import is_automatic_lookup
from rules.policy.names import normalize_host
from rules.safeguarding.categories import Severity
from rules.safeguarding.matcher import Match, Matcher

SEARCH = "search"
SITE = "site"


@dataclass(frozen=True, slots=True)
class Explanation:
    """The answer for one text: what it raises (most severe first), what was kept quiet, and why."""

    text: str
    source: str                       # SEARCH or SITE
    raised: tuple[Match, ...]
    suppressed: tuple[Match, ...]
    automatic: bool = False           # a site that is a device's own automatic lookup: never matched

    @property
    def severity(self) -> Severity | None:
        """The most severe of what it raises, or None."""
        return self.raised[0].severity if self.raised else None

    def as_dict(self) -> dict[str, object]:
        return {"text": self.text, "source": self.source, "raises": bool(self.raised),
                "severity": None if self.severity is None else str(self.severity),
                "matches": [m.as_dict() for m in self.raised], "suppressed": [m.as_dict() for m in self.suppressed],
                "automatic": self.automatic}


def split_url(url: str) -> tuple[str, str]:
    """(host in normal form, path with query) of a URL or a bare host; raises `InvalidHost` for a bad host."""
    text = url.strip()
    parts = urlsplit(text if "://" in text else f"http://{text}")
    host = normalize_host(parts.hostname or "")
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return host, path


def explain(text: str, matcher: Matcher, *, site: bool = False) -> Explanation:
    """Match `text` as a search term or, with `site`, as a URL or host; raises `InvalidHost` for a bad one."""
    if site:
        host, path = split_url(text)
        if is_automatic_lookup(host, path or None):
            return Explanation(text, SITE, (), (), automatic=True)
        found = matcher.match_site(host, path, explain=True)
    else:
        found = matcher.match_search(text, explain=True)
    return Explanation(text, SITE if site else SEARCH, tuple(m for m in found if m.suppressed_by is None),
                       tuple(m for m in found if m.suppressed_by is not None))
