"""The proxy's own look-ups: the hosts file first, then the school's upstream resolvers (a real stub)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from filter_proxy.resolve import UpstreamResolver, read_hosts
from tests.dns_block.stub import DEFAULT_A, DEFAULT_AAAA, Stub


def test_a_name_is_asked_of_the_upstreams_ipv4_first() -> None:
    with Stub() as stub:
        resolver = UpstreamResolver([("127.0.0.1", stub.port)], hosts={})
        assert asyncio.run(resolver("learn.example.org", 443)) == [DEFAULT_A, DEFAULT_AAAA]
        assert sorted(qtype for name, qtype, _ in stub.asked if name == "learn.example.org") == ["A", "AAAA"]


def test_the_hosts_file_is_read_first_and_never_asked_of_the_internet(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts"
    hosts.write_text("# the machine's own names\n127.0.0.1 localhost\n::1 localhost ip6-localhost\n"
                     "not-an-address broken\n10.0.0.5 Intranet.School.Example. # the intranet\n", encoding="utf-8")
    table = read_hosts(hosts)
    assert table == {"localhost": ["127.0.0.1", "::1"], "ip6-localhost": ["::1"],
                     "intranet.school.example": ["10.0.0.5"]}
    with Stub() as stub:
        resolver = UpstreamResolver([("127.0.0.1", stub.port)], hosts=table)
        assert asyncio.run(resolver("LOCALHOST", 80)) == ["127.0.0.1", "::1"]
        assert asyncio.run(resolver("intranet.school.example", 80)) == ["10.0.0.5"]
        assert stub.asked == []
    assert read_hosts(tmp_path / "missing") == {}


def test_no_upstream_answering_is_an_error_not_an_empty_answer() -> None:
    with Stub(silent=True) as stub:
        resolver = UpstreamResolver([("127.0.0.1", stub.port)], hosts={})
        resolver.upstream.udp_timeout = 0.2
        with pytest.raises(OSError):
            asyncio.run(resolver("learn.example.org", 443))
