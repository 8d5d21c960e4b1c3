"""Byte-level helpers for DNS messages, for the places where a full dnslib parse costs too much or
cannot be trusted: error replies to packets dnslib cannot parse, truncation, and TTL bookkeeping
for the answer cache. Everything here is defensive: hostile input raises `ValueError` or returns
an empty reply, never anything else.
"""

from __future__ import annotations

import struct

HEADER_SIZE = 12
NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED = 0, 1, 2, 3, 4, 5
OPT = 41
MIN_UDP_SIZE = 512
MAX_UDP_SIZE = 4096
MAX_NAME = 255  # bytes of a name in wire form, its labels' length bytes and the root included (RFC 1035 2.3.4)


def skip_name(data: bytes, pos: int) -> int:
    """Return the offset just past the (possibly compressed) name at `pos`; raise ValueError if malformed."""
    end = len(data)
    while True:
        if pos >= end:
            raise ValueError("name runs past the end of the message")
        length = data[pos]
        if length == 0:
            return pos + 1
        if length & 0xC0 == 0xC0:
            if pos + 2 > end:
                raise ValueError("truncated compression pointer")
            return pos + 2
        if length > 63:
            raise ValueError("reserved label type")
        pos += length + 1


def question_end(data: bytes) -> int:
    """The offset just past the one question of a message, or -1 when it has not exactly one readable
    (uncompressed) question."""
    if len(data) < HEADER_SIZE + 5 or data[4:6] != b"\x00\x01":
        return -1
    pos = HEADER_SIZE
    end = len(data)
    while pos < end:
        length = data[pos]
        if length == 0:
            stop = pos + 5
            return stop if stop <= end else -1
        if length > 63:
            return -1
        pos += length + 1
    return -1


def error_reply(query: bytes, rcode: int, question: bool = True) -> bytes:
    """A reply carrying only `rcode` (and the question, when it is readable), built from the raw query.

    Returns b"" for anything that is not a query (too short, or a response: never answer a response,
    which would let two servers ping-pong forever)."""
    if len(query) < HEADER_SIZE or query[2] & 0x80:
        return b""
    # the question is echoed for QUERY only: other opcodes (UPDATE, ...) give the sections other meanings
    qend = question_end(query) if question and not query[2] & 0x78 else -1
    flags = bytes((0x80 | (query[2] & 0x79), 0x80 | rcode))  # QR, opcode and RD copied; RA; rcode
    if qend < 0:
        return query[:2] + flags + b"\x00" * 8
    return query[:2] + flags + b"\x00\x01\x00\x00\x00\x00\x00\x00" + query[HEADER_SIZE:qend]


def truncated(response: bytes) -> bytes:
    """The header and question of `response` with TC set: tells a UDP client to ask again over TCP."""
    qend = question_end(response)
    flags = bytes((response[2] | 0x02, response[3]))
    if qend < 0:
        return response[:2] + flags + b"\x00" * 8
    return response[:2] + flags + b"\x00\x01\x00\x00\x00\x00\x00\x00" + response[HEADER_SIZE:qend]


def rcode(message: bytes) -> int:
    return message[3] & 0x0F


def is_truncated(message: bytes) -> bool:
    return bool(message[2] & 0x02)


def ttl_fields(message: bytes) -> tuple[int, list[tuple[int, int]]]:
    """The lowest TTL of the records in `message` (-1 when it has none) and, for each record other
    than EDNS's OPT, the offset of its TTL field and the TTL: what the cache needs to count TTLs down."""
    if len(message) < HEADER_SIZE:
        raise ValueError("message shorter than a header")
    qd, an, ns, ar = struct.unpack_from("!4H", message, 4)
    pos = HEADER_SIZE
    for _ in range(qd):
        pos = skip_name(message, pos) + 4
    fields: list[tuple[int, int]] = []
    for _ in range(an + ns + ar):
        pos = skip_name(message, pos)
        if pos + 10 > len(message):
            raise ValueError("record header runs past the end of the message")
        rtype, _rclass, ttl, rdlength = struct.unpack_from("!HHIH", message, pos)
        if rtype != OPT:
            fields.append((pos + 4, ttl))
        pos += 10 + rdlength
    if pos > len(message):
        raise ValueError("record data runs past the end of the message")
    lowest = min((ttl for _, ttl in fields), default=-1)
    return lowest, fields


def aged(message: bytes, fields: list[tuple[int, int]], age: int) -> bytes:
    """`message` with every TTL in `fields` lowered by `age` seconds (never below zero)."""
    out = bytearray(message)
    for offset, ttl in fields:
        struct.pack_into("!I", out, offset, max(0, ttl - age))
    return bytes(out)


def cap_ttls(message: bytes, cap: int) -> bytes:
    """`message` with every TTL above `cap` lowered to `cap` (`[dns] max_cache_ttl`); a message that
    cannot be walked is returned as it is (it is not cached either: `ttl_fields` refuses it there)."""
    try:
        _lowest, fields = ttl_fields(message)
    except (ValueError, struct.error):
        return message
    over = [(offset, ttl) for offset, ttl in fields if ttl > cap]
    if not over:
        return message
    out = bytearray(message)
    for offset, _ttl in over:
        struct.pack_into("!I", out, offset, cap)
    return bytes(out)


def max_udp_size(query: bytes) -> int:
    """The largest UDP reply this query's sender accepts: 512, or its EDNS payload size (RFC 6891)."""
    try:
        qd, an, ns, ar = struct.unpack_from("!4H", query, 4)
        if not ar:
            return MIN_UDP_SIZE
        pos = HEADER_SIZE
        for _ in range(qd):
            pos = skip_name(query, pos) + 4
        for _ in range(an + ns + ar):
            pos = skip_name(query, pos)
            rtype, rclass, _ttl, rdlength = struct.unpack_from("!HHIH", query, pos)
            if rtype == OPT:
                return min(max(rclass, MIN_UDP_SIZE), MAX_UDP_SIZE)
            pos += 10 + rdlength
    except (ValueError, struct.error):
        pass
    return MIN_UDP_SIZE
