from __future__ import annotations

import pytest
from dnslib import QTYPE, RCODE, RR, A, DNSRecord

from dns_block import wire
from tests.dns_block.helpers import query


def test_error_reply_echoes_id_question_and_rd() -> None:
    data = query("Example.ORG", "AAAA", ident=777)
    reply = DNSRecord.parse(wire.error_reply(data, wire.REFUSED))
    assert reply.header.id == 777
    assert reply.header.rcode == RCODE.REFUSED
    assert reply.header.qr == 1 and reply.header.rd == 1
    assert str(reply.q.qname) == "Example.ORG." and reply.q.qtype == QTYPE.AAAA


@pytest.mark.parametrize("data", [b"", b"\x00" * 11, DNSRecord.question("a.test").reply().pack()])
def test_error_reply_never_answers_short_packets_or_responses(data: bytes) -> None:
    assert wire.error_reply(data, wire.FORMERR) == b""


def test_error_reply_to_unreadable_question_is_header_only() -> None:
    data = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x0c"  # a pointer in the question
    reply = wire.error_reply(data, wire.FORMERR)
    assert len(reply) == 12 and reply[:2] == b"\x12\x34" and reply[3] & 0x0F == wire.FORMERR


def test_truncated_keeps_question_and_sets_tc() -> None:
    reply = DNSRecord.question("big.test").reply()
    for i in range(50):
        reply.add_answer(RR("big.test", QTYPE.A, rdata=A(f"198.18.0.{i}"), ttl=60))
    cut = DNSRecord.parse(wire.truncated(reply.pack()))
    assert cut.header.tc == 1 and not cut.rr and str(cut.q.qname) == "big.test."


def test_ttl_fields_and_aged_count_down_but_skip_opt() -> None:
    reply = DNSRecord.question("a.test").reply()
    reply.add_answer(RR("a.test", QTYPE.A, rdata=A("198.18.0.1"), ttl=300))
    reply.add_answer(RR("a.test", QTYPE.A, rdata=A("198.18.0.2"), ttl=60))
    data = reply.pack()
    lowest, fields = wire.ttl_fields(data)
    assert lowest == 60 and len(fields) == 2
    older = DNSRecord.parse(wire.aged(data, fields, 100))
    assert [rr.ttl for rr in older.rr] == [200, 0]


@pytest.mark.parametrize("data", [b"\x00" * 5, query("a.test")[:-3] + b"\x00\x29\x00"])
def test_ttl_fields_rejects_garbage(data: bytes) -> None:
    with pytest.raises(ValueError):
        wire.ttl_fields(data)


def test_max_udp_size() -> None:
    assert wire.max_udp_size(query("a.test", edns=False)) == 512
    assert wire.max_udp_size(query("a.test")) == 1232
    assert wire.max_udp_size(b"garbage") == 512
