"""The four services' domain families: every domain is one the catalogue blocks, and a host names its family."""

from __future__ import annotations

import pytest

from rules.policy.catalogue import builtin_categories
from rules.policy.families import FAMILIES, family_of


def test_every_family_domain_is_in_the_social_media_catalogue() -> None:
    catalogue = next(c for c in builtin_categories() if c.name == "social_media")
    listed = set(catalogue.domains)
    for family in FAMILIES.values():
        missing = [d for d in family.domains if d not in listed]
        assert not missing, (family.key, missing)


def test_the_four_services_of_the_policy_are_the_families() -> None:
    assert set(FAMILIES) == {"facebook", "instagram", "x", "tiktok"}


@pytest.mark.parametrize(("host", "key"), [
    ("www.tiktok.com", "tiktok"), ("vm.tiktok.com", "tiktok"), ("p16-sign.tiktokcdn.com", "tiktok"),
    ("www.instagram.com", "instagram"), ("scontent.cdninstagram.com", "instagram"),
    ("x.com", "x"), ("pbs.twimg.com", "x"), ("mobile.twitter.com", "x"),
    ("m.facebook.com", "facebook"), ("www.messenger.com", "facebook"),
])
def test_a_host_names_its_family(host: str, key: str) -> None:
    family = family_of(host)
    assert family is not None and family.key == key


@pytest.mark.parametrize("host", [
    "scontent.xx.fbcdn.net",  # shared by Facebook and Instagram: names neither
    "threads.net", "douyin.com", "instagran.com",  # in the category, in no family
    "notfacebook.com", "facebook.com.example.org", "example.org",
])
def test_a_host_outside_one_family_names_none(host: str) -> None:
    assert family_of(host) is None
