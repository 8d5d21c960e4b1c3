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


def test_an_answer_is_kept_for_its_ttl_so_a_connection_is_not_resolved_twice() -> None:
    now = [1000.0]
    with Stub() as stub:
        resolver = UpstreamResolver([("127.0.0.1", stub.port)], hosts={}, clock=lambda: now[0])
        for _ in range(3):  # the decision hook, then server_connect, then the page's next connection
            assert asyncio.run(resolver("learn.example.org", 443)) == [DEFAULT_A, DEFAULT_AAAA]
        assert len([name for name, _, _ in stub.asked if name == "learn.example.org"]) == 2  # A and AAAA, once
        asyncio.run(resolver("short.example.test", 443))  # the stub gives this name a TTL of 1 s
        now[0] += 1.5
        asyncio.run(resolver("short.example.test", 443))
        now[0] += 299  # learn.example.org's TTL (300 s) has passed too
        asyncio.run(resolver("learn.example.org", 443))
        asked = [name for name, _, _ in stub.asked]
        assert asked.count("short.example.test") == 4 and asked.count("learn.example.org") == 4
