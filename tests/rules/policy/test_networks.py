"""`plain_ip`: one client, one address, however a dual-stack listener saw it."""

from __future__ import annotations

import pytest

from rules.policy.networks import ClientNetworks, plain_ip


@pytest.mark.parametrize(("text", "plain"), [
    ("::ffff:10.0.3.17", "10.0.3.17"), ("::FFFF:10.0.3.17", "10.0.3.17"),
    ("0:0:0:0:0:ffff:10.0.3.17", "10.0.3.17"), ("10.0.3.17", "10.0.3.17"), ("2001:db8::1", "2001:db8::1"),
    ("::1", "::1"), ("64:ff9b::10.0.3.17", "64:ff9b::10.0.3.17"), ("fe80::1%eth0", "fe80::1%eth0"),
    ("::ffff:1.2", "::ffff:1.2"), ("", ""),
])
def test_plain_ip(text: str, plain: str) -> None:
    assert plain_ip(text) == plain


def test_a_mapped_client_is_in_the_ipv4_network() -> None:
    networks = ClientNetworks(["10.0.0.0/8"])
    assert networks.contains(plain_ip("::ffff:10.0.3.17")) and not networks.contains(plain_ip("::ffff:11.0.0.1"))
