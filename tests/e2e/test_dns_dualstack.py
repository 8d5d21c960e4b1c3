"""A `schoolgate dns` listening on `[::]:PORT` (one dual-stack listener) serves IPv4 clients too, and knows
each by its plain IPv4 address: the client check, the device registered at that address and the access
log's client_ip all see 127.0.0.1, never ::ffff:127.0.0.1."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import dns.message
import dns.query

from tests.conftest import Cli
from tests.dns_block.stub import Stub
from tests.e2e.dnsserver import DnsProcess, free_port, write_config


def free_dual_port() -> int:
    """A port free on [::] (so on every IPv4 address too) for both UDP and TCP."""
    for _ in range(50):
        port = free_port()
        try:
            for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                with socket.socket(socket.AF_INET6, kind) as sock:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
                    sock.bind(("::", port))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port")


def test_a_dual_stack_listener_knows_ipv4_clients_by_their_ipv4_address(tmp_path: Path) -> None:
    with Stub() as live:
        port = free_dual_port()
        config = write_config(tmp_path / "schoolgate.toml", f"sqlite:///{tmp_path}/var/schoolgate.db", port,
                              [live.port], '\n[network]\nclient_networks = ["127.0.0.1/32"]\n')
        text = config.read_text(encoding="utf-8").replace(f'listen = ["127.0.0.1:{port}"]', f'listen = ["[::]:{port}"]')
        config.write_text(text, encoding="utf-8")
        cli = Cli(config, tmp_path)
        cli("init")
        cli("devices", "add", "--ip", "127.0.0.1", "--name", "Dual stack laptop", "--group", "staff")
        server = DnsProcess(config, tmp_path, port).start()  # its probe asks over 127.0.0.1: IPv4 answered
        try:
            answers = []
            for i, tcp in enumerate((False, True)):
                query = dns.message.make_query(f"dual-{i}.example.org", "A")
                send = dns.query.tcp if tcp else dns.query.udp
                reply = send(query, "127.0.0.1", port=port, timeout=3)
                answers.append([rd.to_text() for rrset in reply.answer for rd in rrset])
        finally:
            code = server.stop()
        assert code == 0, server.log()
        assert f"listening on [::]:{port}" in server.log()
    assert answers == [["198.18.0.10"], ["198.18.0.10"]]
    out = cli("logs", "--json", "--limit", "1000").stdout
    logged = {e["host"]: e for e in map(json.loads, out.splitlines()) if e["host"].startswith("dual-")}
    assert set(logged) == {"dual-0.example.org", "dual-1.example.org"}
    for event in logged.values():  # a stranger would have been refused: ::ffff:127.0.0.1 is not in 127.0.0.1/32
        assert event["client_ip"] == "127.0.0.1" and event["device"] == "Dual stack laptop", event

