"""A real `schoolgate dns` on a free port, a stand-in upstream (plus a dead one first in line), queried with
dig and dnspython over UDP and TCP."""

from __future__ import annotations

import json
import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import dns.edns
import dns.message
import dns.rcode
import dns.rdatatype
import pytest

from tests.conftest import Cli
from tests.dns_block.stub import Stub
from tests.e2e.dnsserver import DnsProcess, free_port, wait_until, write_config

BLOCK_V4, BLOCK_V6 = "198.18.0.1", "2001:db8::1"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DnsProcess, Stub, Cli]]:
    """One server for the module: clients are 127.0.0.1 and 127.0.0.3 (127.0.0.2 is a stranger)."""
    tmp = tmp_path_factory.mktemp("dns")
    with Stub(silent=True) as dead, Stub() as live:
        port = free_port()
        config = write_config(tmp / "schoolgate.toml", f"sqlite:///{tmp}/var/schoolgate.db", port,
                              [dead.port, live.port],
                              'rate_limit_qps = 200\nmax_cache_ttl = 200\n\n'
                              f'[network]\nblock_page_ipv4 = "{BLOCK_V4}"\n'
                              f'block_page_ipv6 = "{BLOCK_V6}"\nclient_networks = ["127.0.0.1/32", "127.0.0.3/32"]\n')
        cli = Cli(config, tmp)
        cli("init")
        (tmp / "blocked.txt").write_text("badsite.test\nevil.example\n", encoding="utf-8")
        cli("lists", "import", str(tmp / "blocked.txt"), "--category", "testcat")
        server = DnsProcess(config, tmp, port).start()
        try:
            yield server, live, cli
        finally:
            code = server.stop()
            assert code == 0, server.log()
            assert "listening on 127.0.0.1:" in server.log()


def rdatas(message: dns.message.Message) -> list[str]:
    return [rd.to_text() for rrset in message.answer for rd in rrset]


def ede_codes(message: dns.message.Message) -> list[int]:
    return [opt.code for opt in message.options if isinstance(opt, dns.edns.EDEOption)]


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_blocked_and_allowed_with_dig(world, tcp: bool) -> None:
    server, live, _ = world
    proto = ["+tcp"] if tcp else ["+notcp"]
    out = server.dig("BadSite.TEST", "A", *proto)
    assert "status: NOERROR" in out and f"BadSite.TEST.\t\t10\tIN\tA\t{BLOCK_V4}" in out, out
    assert "EDE: 15 (Blocked)" in out and "testcat" in out, out
    out = server.dig("www.evil.example", "AAAA", *proto)
    assert f"AAAA\t{BLOCK_V6}" in out and "EDE: 15 (Blocked)" in out, out
    out = server.dig("allowed.example.org", "A", *proto)
    assert "status: NOERROR" in out and "198.18.0.10" in out, out
    assert not {"badsite.test", "www.evil.example"} & live.names()  # never sent upstream


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
@pytest.mark.parametrize("qtype", ["A", "AAAA", "HTTPS", "SVCB", "MX", "TXT", "CNAME", "ANY"])
def test_every_type_of_a_blocked_name(world, qtype: str, tcp: bool) -> None:
    server, live, _ = world
    reply = server.ask("WwW.BadSite.Test", qtype, tcp=tcp)
    assert reply.rcode() == dns.rcode.NOERROR
    assert reply.question[0].name.to_text() == "WwW.BadSite.Test."  # echoed exactly as asked
    expected = {"A": [BLOCK_V4], "AAAA": [BLOCK_V6]}.get(qtype, [])
    assert rdatas(reply) == expected
    assert ede_codes(reply) == [15]
    assert "www.badsite.test" not in live.names()


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_allowed_types_forwarded_with_edns_kept(world, tcp: bool) -> None:
    server, _, _ = world
    a = server.ask("Mixed.Example.ORG", "A", tcp=tcp)
    assert rdatas(a) == ["198.18.0.10"] and a.question[0].name.to_text() == "Mixed.Example.ORG."
    assert a.edns == 0  # EDNS in, EDNS out
    assert rdatas(server.ask("mixed.example.org", "AAAA", tcp=tcp)) == ["2001:db8::10"]
    assert rdatas(server.ask("mixed.example.org", "TXT", tcp=tcp)) == ['"stub"']
    nx = server.ask("nx.example.test", tcp=tcp)
    assert nx.rcode() == dns.rcode.NXDOMAIN and nx.authority


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_max_cache_ttl_caps_the_ttl_clients_are_told(world, tcp: bool) -> None:
    """The stand-in upstream says 300 s; `[dns] max_cache_ttl = 200` here: first answer and cached one."""
    server, _, _ = world
    for _ in range(2):
        reply = server.ask(f"ttl-cap-{int(tcp)}.example.org", tcp=tcp)
        assert rdatas(reply) == ["198.18.0.10"]
        assert 190 <= reply.answer[0].ttl <= 200


def test_truncated_upstream_answer_goes_over_tcp(world) -> None:
    server, live, _ = world
    out = server.dig("big.tc.test", "A", "+noedns")  # 40 records: too big for 512 bytes
    assert out.count("\tIN\tA\t198.18.1.") == 40, out
    assert ("big.tc.test", "A", "tcp") in live.asked
    udp = server.ask("big.tc.test", edns=False)
    assert udp.flags & dns.flags.TC  # the client is told to come back over TCP


@pytest.mark.parametrize(("name", "status"), [
    ("use-application-dns.net", "NXDOMAIN"), ("mask.icloud.com", "NXDOMAIN"), ("Mask-H2.iCloud.com", "NXDOMAIN"),
])
def test_canary_names(world, name: str, status: str) -> None:
    server, live, _ = world
    out = server.dig(name, "A")
    assert f"status: {status}" in out and "ANSWER: 0" in out, out
    assert name.lower() not in live.names()


def test_resolver_arpa_is_nodata(world) -> None:
    server, _, _ = world
    reply = server.ask("_dns.resolver.arpa", "SVCB")
    assert reply.rcode() == dns.rcode.NOERROR and not reply.answer


@pytest.mark.parametrize(("name", "target", "address"), [
    ("www.google.com", "forcesafesearch.google.com.", "216.239.38.120"),
    ("www.bing.com", "strict.bing.com.", "204.79.197.220"),
    ("duckduckgo.com", "safe.duckduckgo.com.", "52.142.124.215"),
    ("www.youtube.com", "restrict.youtube.com.", "216.239.38.120"),
])
def test_safesearch(world, name: str, target: str, address: str) -> None:
    server, _, _ = world
    reply = server.ask(name)
    assert [rrset.rdtype for rrset in reply.answer] == [dns.rdatatype.CNAME, dns.rdatatype.A]
    assert rdatas(reply) == [target, address]


def test_strangers_are_refused(world) -> None:
    server, live, _ = world
    out = server.dig("-b", "127.0.0.2", "stranger.example.org")
    assert "status: REFUSED" in out, out
    assert "stranger.example.org" not in live.names()


def test_a_flooding_client_does_not_starve_the_others(world) -> None:
    server, _, _ = world
    query = dns.message.make_query("flood.example.org", "A").to_wire()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.3", 0))
        sock.settimeout(0.5)
        for _ in range(2000):
            sock.sendto(query, ("127.0.0.1", server.port))
        answered = 0
        try:
            while True:
                sock.recv(512)
                answered += 1
        except TimeoutError:
            pass
    assert 0 < answered < 1000  # about 200 (one second's burst); the rest dropped
    assert rdatas(server.ask("other.example.org")) == ["198.18.0.10"]


def test_hostile_packets_never_stop_the_server(world) -> None:
    server, _, _ = world
    good = dns.message.make_query("afterwards.example.org", "A")
    packets = [b"", b"\x00", b"\xff" * 12, b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x0c\x00\x01\x00\x01",
               b"\x12\x34\x01\x00\xff\xff\xff\xff\xff\xff\xff\xff" + b"\x3f" * 300, good.to_wire()[:-3],
               b"\x12\x34\x81\x80" + good.to_wire()[4:], bytes(range(256)) * 4]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for packet in packets:
            sock.sendto(packet, ("127.0.0.1", server.port))
    for payload in (b"\x00\x05abc", b"\xff\xff" + b"x" * 100, struct.pack("!H", 12) + b"\xff" * 12, b"\x00"):
        with socket.create_connection(("127.0.0.1", server.port), timeout=2) as conn:
            conn.sendall(payload)
    reply = server.ask("afterwards.example.org")
    assert rdatas(reply) == ["198.18.0.10"] and server.alive()
    assert rdatas(server.ask("afterwards.example.org", tcp=True)) == ["198.18.0.10"]


def test_a_list_change_is_in_force_within_two_seconds(world, tmp_path: Path) -> None:
    server, live, cli = world
    assert rdatas(server.ask("soon-blocked.example.org")) == ["198.18.0.10"]  # now cached as allowed
    (tmp_path / "new.txt").write_text("soon-blocked.example.org\n", encoding="utf-8")
    cli("lists", "import", str(tmp_path / "new.txt"), "--category", "newcat")
    imported = time.monotonic()
    blocked = wait_until(lambda: rdatas(server.ask("soon-blocked.example.org")) == [BLOCK_V4], timeout=5)
    elapsed = time.monotonic() - imported
    assert blocked and elapsed < 2.0, f"blocked after {elapsed:.2f} s"


def test_every_query_becomes_an_access_event(world) -> None:
    server, _, cli = world
    names = [f"logged-{i}.example.org" for i in range(30)]
    for i, name in enumerate(names):
        server.ask(name, tcp=bool(i % 2))
    server.ask("badsite.test", "HTTPS")

    def events() -> list[dict]:
        out = cli("logs", "--json", "--limit", "100000").stdout
        return [json.loads(line) for line in out.splitlines()]

    def complete() -> list[dict]:
        found = events()
        return found if {e["host"] for e in found} >= {*names, "badsite.test"} else []

    found = wait_until(complete, timeout=10, interval=0.3)
    assert found, "events missing from schoolgate logs"
    logged = [e for e in found if e["host"] in names]
    assert len(logged) == len(names)
    assert all(e["source"] == "dns" and e["action"] == "allow" and e["qtype"] == "A" for e in logged)
    blocked = [e for e in found if e["host"] == "badsite.test" and e["qtype"] == "HTTPS"]
    assert blocked and blocked[-1]["action"] == "block" and blocked[-1]["category"] == "testcat"
    assert blocked[-1]["rule"] == "testcat: badsite.test" and blocked[-1]["client_ip"] == "127.0.0.1"


@pytest.mark.parametrize("qtype", ["HTTPS", "SVCB"])
def test_ech_keys_are_withheld_for_allowed_names(world, qtype: str) -> None:
    """HTTPS/SVCB records (which carry ECH keys) are never fetched; the site stays reachable by A/AAAA."""
    server, live, _ = world
    name = f"ech-{qtype.lower()}.example.org"
    reply = server.ask(name, qtype)
    assert reply.rcode() == dns.rcode.NOERROR and reply.answer == []
    assert not any(asked[0] == name for asked in live.asked)
    assert rdatas(server.ask(name, "A"))  # the A record is still answered from upstream
    assert any(asked[0] == name and asked[1] == "A" for asked in live.asked)


def test_a_name_over_255_bytes_gets_formerr_over_udp_and_tcp_and_no_traceback(world) -> None:
    """It used to get no reply, and a traceback at ERROR in the log for every such packet."""
    server, live, _ = world
    name = b"".join(b"\x3f" + b"x" * 63 for _ in range(4)) + b"\x09overflows\x00"  # 266 bytes
    packet = struct.pack("!6H", 0xBEEF, 0x0100, 1, 0, 0, 0) + name + b"\x00\x01\x00\x01"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(3)
        sock.sendto(packet, ("127.0.0.1", server.port))
        reply = sock.recv(512)
    with socket.create_connection(("127.0.0.1", server.port), timeout=3) as conn:
        conn.sendall(struct.pack("!H", len(packet)) + packet)
        length = struct.unpack("!H", conn.recv(2))[0]
        tcp_reply = conn.recv(length)
    for answer in (reply, tcp_reply):
        assert answer[:2] == b"\xbe\xef" and answer[2] & 0x80 and answer[3] & 0x0F == dns.rcode.FORMERR
    assert "overflows" not in live.names() and server.alive()
    assert rdatas(server.ask("after-long-name.example.org")) == ["198.18.0.10"]
    log = server.log()
    assert "Traceback" not in log and " ERROR " not in log, log


def tcp_query(conn: socket.socket, name: str) -> bytes:
    """One query on an open TCP connection; the reply, or b"" when the server closed the connection."""
    wire = dns.message.make_query(name, "A").to_wire()
    try:
        conn.sendall(struct.pack("!H", len(wire)) + wire)
        prefix = conn.recv(2)
        if len(prefix) < 2:
            return b""
        (length,) = struct.unpack("!H", prefix)
        data = b""
        while len(data) < length:
            chunk = conn.recv(length - len(data))
            if not chunk:
                return b""
            data += chunk
        return data
    except (ConnectionResetError, BrokenPipeError):
        return b""


def connect_from(source: str, port: int) -> socket.socket:
    conn = socket.create_connection(("127.0.0.1", port), timeout=3, source_address=(source, 0))
    return conn


def test_a_stranger_over_tcp_is_closed_without_an_answer(world) -> None:
    server, live, _ = world
    with connect_from("127.0.0.2", server.port) as conn:
        assert tcp_query(conn, "tcp-stranger.example.org") == b""
    assert "tcp-stranger.example.org" not in live.names()


def test_one_client_gets_only_its_share_of_tcp_connections(world) -> None:
    """16 connections per client address: the 17th is closed at once; another client is still served,
    strangers' connections never count, and a slot given back can be taken again."""
    server, _, _ = world
    held: list[socket.socket] = []
    try:
        strangers = [connect_from("127.0.0.2", server.port) for _ in range(20)]  # never count against a cap
        for i in range(16):
            conn = connect_from("127.0.0.3", server.port)
            held.append(conn)
            assert dns.message.from_wire(tcp_query(conn, f"held-{i}.example.org")).answer, i
        for i in range(4):
            with connect_from("127.0.0.3", server.port) as extra:
                assert tcp_query(extra, f"extra-{i}.example.org") == b""
        assert rdatas(server.ask("other-client.example.org", tcp=True)) == ["198.18.0.10"]
        for conn in held[:2]:  # two slots given back...
            conn.close()
        held = held[2:]
        time.sleep(0.3)
        with connect_from("127.0.0.3", server.port) as again:  # ...and one taken again
            assert dns.message.from_wire(tcp_query(again, "again.example.org")).answer
        for conn in held:  # the connections kept open still answer
            assert dns.message.from_wire(tcp_query(conn, "still-held.example.org")).answer
    finally:
        for conn in held + strangers:
            conn.close()


def test_upstream_queries_use_fresh_ports_and_mixed_case(world) -> None:
    """Through the real server: 55 names, each a cache miss, reach the upstream from at least 40
    source ports, with their letters in random case; the clients still see their own question. SafeSearch
    lookups go the same way."""
    server, live, _ = world
    names = [f"Port-Check-{i}.Example.org" for i in range(55)]
    for name in names:
        reply = server.ask(name)
        assert rdatas(reply) == ["198.18.0.10"] and reply.question[0].name.to_text() == name + "."
    wanted = {name.lower() for name in names}
    seen = [(name, port) for name, port, proto in live.received if name.lower() in wanted and proto == "udp"]
    assert len(seen) == 55 and len({port for _, port in seen}) >= 40
    assert sum(name not in names for name, _ in seen) >= 50  # the case was changed on its way out
    for qtype in ("AAAA", "TXT", "MX"):
        assert server.ask("www.bing.com", qtype).rcode() == dns.rcode.NOERROR
    safe = [name for name, _, _ in live.received if name.lower() == "strict.bing.com"]
    assert len(safe) >= 3 and any(name != "strict.bing.com" for name in safe)
