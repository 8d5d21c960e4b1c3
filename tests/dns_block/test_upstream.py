"""Upstream forwarding against the real stand-in resolver over loopback sockets."""

from __future__ import annotations

import asyncio
import socket
import struct
import time

from dnslib import QTYPE, RCODE, RR, A, DNSRecord

from dns_block import wire
from dns_block.upstream import Upstream, randomize_case, system_upstreams
from tests.dns_block.helpers import query
from tests.dns_block.stub import Stub, answer


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
    assert stub.asked == [("mixed.case.test", "AAAA", "udp")]  # sent in random case (0x20), answered as asked


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


def test_each_query_has_a_fresh_source_port_and_a_mixed_case_name() -> None:
    """One port for every query would let 65,536 forged replies poison a name."""
    names = [f"host{i}.Poison-Check.example.org" for i in range(60)]

    async def go() -> list[bytes | None]:
        upstream = Upstream([("127.0.0.1", stub.port)], udp_timeout=1.0)
        await upstream.start()
        try:
            return [await upstream.query(query(name, ident=i)) for i, name in enumerate(names)]
        finally:
            upstream.close()

    with Stub() as stub:
        replies = asyncio.run(go())
    ports = {port for _, port, _ in stub.received}
    assert len(stub.received) == 60 and len(ports) >= 40, sorted(ports)
    received = [name for name, _, _ in stub.received]
    assert [name.lower() for name in received] == [name.lower() for name in names]
    assert sum(name != original for name, original in zip(received, names, strict=True)) >= 50
    assert any(c.isupper() for name in received for c in name) and any(c.islower() for name in received for c in name)
    for i, (reply, name) in enumerate(zip(replies, names, strict=True)):  # each client sees its own question
        assert reply is not None
        parsed = DNSRecord.parse(reply)
        assert parsed.header.id == i and str(parsed.q.qname) == name + "."


def test_randomize_case_changes_letters_only() -> None:
    data = query("ab-9.Example.ORG", "TXT")
    qend = wire.question_end(data)
    outs = {randomize_case(data, qend) for _ in range(200)}
    assert len(outs) > 100  # 13 letters: 8192 spellings
    for out in outs:
        assert len(out) == len(data) and out.lower() == data.lower() and out[qend - 4:] == data[qend - 4:]
        assert out[:wire.HEADER_SIZE] == data[:wire.HEADER_SIZE] and out[13:17].lower() == b"ab-9"


class Forger(asyncio.DatagramProtocol):
    """An upstream that, before (or instead of) its real answer, sends what an off-path attacker would:
    replies with the wrong ID, the name in the wrong case, another question. Sent from the upstream's own
    address, as a forger spoofing it would."""

    def __init__(self, real: bool = True) -> None:
        self.real = real
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        assert self.transport is not None
        for forged in forgeries(data):
            self.transport.sendto(forged, addr)
        if self.real:
            self.transport.sendto(answer(data, False), addr)


def forgeries(data: bytes) -> list[bytes]:
    """Three answers to `data` that must all be refused: wrong ID, wrong case, another name."""
    qend = wire.question_end(data)
    good = answer(data, False)
    wrong_id = bytes([data[0] ^ 0x5A, data[1]]) + good[2:]
    swapped = data[wire.HEADER_SIZE:qend - 4].swapcase()  # every letter's case flipped
    wrong_case = good[:wire.HEADER_SIZE] + swapped + good[qend - 4:]
    other = DNSRecord.parse(data)
    other.q.qname = "forged.example.org"
    wrong_name = answer(bytes(other.pack()), False)
    forged = [DNSRecord.parse(x) for x in (wrong_id, wrong_case, wrong_name)]
    for record in forged:
        record.header.tc = 0  # a forged answer to a truncated query: complete, so it would be taken
        record.rr = [RR(record.q.qname, QTYPE.A, rdata=A("6.6.6.6"), ttl=86400)]
    return [bytes(record.pack()) for record in forged]


def forged_query(name: str, real: bool, tcp_forger: bool = False, timeout: float = 1.0):
    async def go() -> tuple[bytes | None, int]:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: Forger(real), local_addr=("127.0.0.1", 0))
        port = transport.get_extra_info("sockname")[1]
        server = None
        if tcp_forger:
            async def tcp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
                (length,) = struct.unpack("!H", await reader.readexactly(2))
                data = await reader.readexactly(length)
                for out in [*forgeries(data), answer(data, True)]:
                    writer.write(struct.pack("!H", len(out)) + out)
                await writer.drain()
                await reader.read()
                writer.close()

            server = await asyncio.start_server(tcp, "127.0.0.1", port)
        upstream = Upstream([("127.0.0.1", port)], udp_timeout=timeout, tcp_timeout=2.0)
        try:
            return await upstream.query(query(name, ident=77)), upstream.mismatched
        finally:
            transport.close()
            if server is not None:
                server.close()

    return asyncio.run(go())


def test_forged_replies_are_dropped_and_counted_and_the_real_one_taken() -> None:
    reply, mismatched = forged_query("Spoof-Target.example.org", real=True)
    assert reply is not None and mismatched == 3
    parsed = DNSRecord.parse(reply)
    assert parsed.header.id == 77 and str(parsed.q.qname) == "Spoof-Target.example.org."
    assert [str(rr.rdata) for rr in parsed.rr] == ["198.18.0.10"]  # never the forger's 6.6.6.6


def test_only_forged_replies_end_in_a_timeout_not_an_answer() -> None:
    started = time.monotonic()
    reply, mismatched = forged_query("spoof-target.example.org", real=False, timeout=0.4)
    assert reply is None and mismatched == 3
    assert time.monotonic() - started >= 0.4  # the forgeries did not cut the wait short


def test_forged_replies_over_tcp_are_dropped_too() -> None:
    reply, mismatched = forged_query("Big.Spoof.tc.test", real=True, tcp_forger=True)
    assert reply is not None and mismatched == 6  # three over UDP (before the truncated answer), three over TCP
    parsed = DNSRecord.parse(reply)
    assert len(parsed.rr) == 40 and str(parsed.q.qname) == "Big.Spoof.tc.test."
    assert all(str(rr.rdata).startswith("198.18.1.") for rr in parsed.rr)
