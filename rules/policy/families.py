"""The four services the policy names, each as the family of domains its pages need.

A page on one of them loads its images and videos from the service's CDN and API hosts: opening only
`www.tiktok.com` gives a page without its videos. So an exception for "the whole service" (an approved access
request, or a school social media account) opens the family, never the whole `social_media` category: Threads,
Douyin and the look-alike misspellings belong to no family and are never opened this way.

Every domain here is in the built-in `social_media` catalogue (`builtin_lists/social_media.txt`, which says why
each is there); `tests/rules/policy/test_families.py` keeps the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass

from rules.policy.names import parent_domains


@dataclass(frozen=True, slots=True)
class Family:
    """One service: its key (stored in the database), the name staff know it by, and its domains."""

    key: str
    label: str
    domains: tuple[str, ...]


FAMILIES: dict[str, Family] = {
    family.key: family
    for family in (
        Family("facebook", "Facebook", (
            "facebook.com", "fb.com", "fbcdn.net", "fbcdn.com", "fbsbx.com", "fbsbx.net", "facebook.net",
            "thefacebook.com", "fbcdn-a.akamaihd.net", "fb.me", "fb.watch", "fbwat.ch", "m.me", "fburl.com",
            "fb.gg", "messenger.com", "fbmessenger.com",
        )),
        # Instagram's web pages load images and video from fbcdn.net as well as its own CDNs.
        Family("instagram", "Instagram", (
            "instagram.com", "cdninstagram.com", "igcdn.com", "igsonar.com", "instagr.am", "ig.me", "igtv.com",
            "fbcdn.net", "facebook.net",
        )),
        Family("x", "X (Twitter)", (
            "x.com", "twitter.com", "twimg.com", "twvid.com", "t.co", "twttr.com", "tweetdeck.com",
        )),
        Family("tiktok", "TikTok", (
            "tiktok.com", "tiktokcdn.com", "tiktokcdn-us.com", "tiktokcdn-eu.com", "tiktokrow-cdn.com",
            "tiktokv.com", "tiktokv.us", "tiktokv.eu", "tiktokw.us", "ttwstatic.com", "ttlivecdn.com",
            "byteoversea.com", "byteimg.com", "ibyteimg.com", "ibytedtos.com", "bytefcdn-oversea.com",
            "bytegoofy.com", "bytescm.com", "bytedapm.com", "pstatp.com", "snssdk.com", "zijieapi.com",
            "bdurl.com", "bytedance.map.fastly.net", "p16-tiktokcdn-com.akamaized.net",
        )),
    )
}


def family(key: str) -> Family:
    """The family for a stored key; KeyError for an unknown one."""
    return FAMILIES[key]


def family_of(host: str) -> Family | None:
    """The family this host belongs to (`www.tiktok.com`, `vm.tiktok.com`, `pbs.twimg.com` -> TikTok, X), else None.

    A domain two families share (`fbcdn.net`: Facebook and Instagram) names neither: a request for a shared CDN
    address does not say which service the page was on."""
    for name in parent_domains(host):
        owners = _OWNERS.get(name)
        if owners is not None:
            return owners[0] if len(owners) == 1 else None
    return None


def _owners() -> dict[str, tuple[Family, ...]]:
    found: dict[str, list[Family]] = {}
    for candidate in FAMILIES.values():
        for domain in candidate.domains:
            found.setdefault(domain, []).append(candidate)
    return {domain: tuple(owners) for domain, owners in found.items()}


_OWNERS = _owners()
