"""SafeSearch: answer the search engines' names with their SafeSearch addresses, as each provider
documents for networks that enforce it:

- Google: `www.google.<tld>` and `google.<tld>` -> CNAME `forcesafesearch.google.com`;
- Bing: `www.bing.com`, `bing.com` -> CNAME `strict.bing.com`;
- DuckDuckGo: `duckduckgo.com` and its `www`, `start`, `html` names -> CNAME `safe.duckduckgo.com`;
- YouTube: `www.youtube.com`, `m.youtube.com`, `youtubei.googleapis.com`, `youtube.googleapis.com`,
  `www.youtube-nocookie.com` -> CNAME `restrict.youtube.com` (Strict Restricted Mode; Google's other
  choice, `restrictmoderate.youtube.com`, is Moderate).

On by default, per group (`snapshot.groups[name].safesearch`). It runs after the decision (a blocked
search engine stays blocked) and answers CNAME + the target's records, resolved upstream.
"""

from __future__ import annotations

from rules.policy.snapshot import PolicySnapshot

GOOGLE = "forcesafesearch.google.com"
BING = "strict.bing.com"
DUCKDUCKGO = "safe.duckduckgo.com"
YOUTUBE_STRICT = "restrict.youtube.com"

GOOGLE_TLDS = (
    "com", "co.uk", "ie", "fr", "de", "es", "it", "nl", "be", "pt", "pl", "se", "no", "dk", "fi", "ch", "at",
    "ca", "com.au", "co.nz", "co.in", "co.za", "com.br", "com.mx", "com.ar", "co.jp", "co.kr", "com.hk",
    "com.sg", "ru", "com.tr", "gr", "cz", "hu", "ro", "ae", "com.sa", "com.eg", "com.ng", "co.ke", "com.pk",
)


def _targets(youtube: str) -> dict[str, str]:
    names: dict[str, str] = {}
    for tld in GOOGLE_TLDS:
        names[f"google.{tld}"] = GOOGLE
        names[f"www.google.{tld}"] = GOOGLE
    for name in ("bing.com", "www.bing.com"):
        names[name] = BING
    for name in ("duckduckgo.com", "www.duckduckgo.com", "start.duckduckgo.com", "html.duckduckgo.com"):
        names[name] = DUCKDUCKGO
    for name in ("www.youtube.com", "m.youtube.com", "youtubei.googleapis.com", "youtube.googleapis.com",
                 "www.youtube-nocookie.com"):
        names[name] = youtube
    return names


class SafeSearch:
    """`target(snapshot, group, host)` -> the SafeSearch name to answer with, or None."""

    def __init__(self, youtube: str = YOUTUBE_STRICT) -> None:
        self.names = _targets(youtube)

    def target(self, snapshot: PolicySnapshot, group: str, host: str) -> str | None:
        target = self.names.get(host)
        if target is None:
            return None
        info = snapshot.groups.get(group)
        if info is not None and not info.safesearch:
            return None
        return target
