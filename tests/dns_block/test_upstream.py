"""Upstream forwarding against the real stand-in resolver over loopback sockets."""

from __future__ import annotations

import asyncio
import socket
import time

from dnslib import QTYPE, RCODE, DNSRecord

from dns_block.upstream import Upstream, system_upstreams
from tests.dns_block.helpers import query
from tests.dns_block.stub import Stub


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def forward(servers: list[tuple[str, int]], data: bytes, timeout: float = 0.5) -> bytes | None:
    async def go() -> bytes | None:
        upstream = Upstream(servers, udp_timeout=timeout, tcp_timeout=2.0)
        await upstream.start()
        try:
            return await upstream.query(data)
        finally:
            upstream.close()

    return asyncio.run(go())


def test_answer_keeps_the_query_id_and_question() -> None:
    with Stub() as stub:
        reply = DNSRecord.parse(forward([("127.0.0.1", stub.port)], query("Mixed.Case.test", "AAAA", ident=321)))
    assert reply.header.id == 321 and str(reply.q.qname) == "Mixed.Case.test."
    assert str(reply.rr[0].rdata) == "2001:db8::10"
    assert any(rr.rtype == QTYPE.OPT for rr in reply.ar)  # EDNS went upstream and came back
    assert stub.asked == [("Mixed.Case.test", "AAAA", "udp")]


def test_truncated_udp_answer_is_retried_over_tcp() -> None:
    with Stub() as stub:
        reply = DNSRecord.parse(forward([("127.0.0.1", stub.port)], query("big.tc.test", edns=False)))
    assert reply.header.tc == 0 and len(reply.rr) == 40
    assert [proto for _, _, proto in stub.asked] == ["udp", "tcp"]


def test_a_dead_upstream_is_skipped_for_the_next() -> None:
    with Stub(silent=True) as dead, Stub() as live:
        started = time.monotonic()
        reply = forward([("127.0.0.1", dead.port), ("127.0.0.1", live.port)], query("good.test"), timeout=0.3)
    assert DNSRecord.parse(reply).header.rcode == RCODE.NOERROR
    assert dead.asked and live.asked and time.monotonic() - started >= 0.3


def test_all_dead_is_none_and_refused_port_fails_fast() -> None:
    with Stub(silent=True) as dead:
        assert forward([("127.0.0.1", dead.port), ("127.0.0.1", free_udp_port())], query("good.test")) is None


def test_system_upstreams_reads_resolv_conf(tmp_path) -> None:
    path = tmp_path / "resolv.conf"
    path.write_text("# comment\nnameserver 198.18.0.53\nsearch x\nnameserver fe80::1%eth0\n")
    assert system_upstreams(path) == [("198.18.0.53", 53), ("fe80::1", 53)]
