"""`schoolgate dns` also listens on `[gateway] dot_catch_listen`, where the gateway's firewall sends DNS over TLS
(TCP 853) and DNS over QUIC (UDP 853): a connection is closed at once, a datagram never answered, and each
attempt from a client network is one access event (source "gateway", signal "dot"), at most one per client and
protocol every 10 s. On loopback, a real server; the client at 127.0.0.5 is a registered device."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from tests.conftest import Cli
from tests.e2e.dnsserver import DnsProcess, free_port, write_config

DEVICE, DEVICE_IP, STRANGER_IP = "Class 3 iPad 07", "127.0.0.5", "127.0.0.6"


def tcp_attempt(port: int, source: str) -> type[BaseException] | bytes:
    """Connect as a DoT client would and read: what the catcher did (it must close, not answer)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(3)
        sock.bind((source, 0))
        try:
            # the catcher may accept and reset before connect() has looked at the socket again: a reset then
            # surfaces from connect() itself (a refusal, nothing listening, would be ConnectionRefusedError)
            sock.connect(("127.0.0.1", port))
            return sock.recv(1024)
        except OSError as exc:
            return type(exc)


def udp_attempt(port: int, source: str) -> type[BaseException] | bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.5)
        sock.bind((source, 0))
        sock.sendto(b"\x00" * 1200, ("127.0.0.1", port))  # the size of a QUIC Initial
        try:
            return sock.recv(2048)
        except OSError as exc:
            return type(exc)


def test_dot_and_doq_are_closed_and_recorded_once_per_client(tmp_path: Path) -> None:
    port = free_port()
    dot = free_port()
    while dot == port:
        dot = free_port()
    config = write_config(tmp_path / "schoolgate.toml", f"sqlite:///{tmp_path}/var/schoolgate.db", port, [],
                          f'\n[network]\nclient_networks = ["127.0.0.1/32", "{DEVICE_IP}/32"]\n', dot_port=dot)
    cli = Cli(config, tmp_path)
    cli("init")
    cli("devices", "add", "--ip", DEVICE_IP, "--mac", "02:00:00:00:00:07", "--name", DEVICE, "--group", "pupils")
    server = DnsProcess(config, tmp_path, port).start()
    try:
        # twice each: the second within 10 s of the first is closed all the same, but not recorded again
        tcp = [tcp_attempt(dot, DEVICE_IP), tcp_attempt(dot, DEVICE_IP)]
        udp = [udp_attempt(dot, DEVICE_IP), udp_attempt(dot, DEVICE_IP)]
        # a stranger (outside the client networks) is closed too, and never recorded
        stranger = [tcp_attempt(dot, STRANGER_IP), udp_attempt(dot, STRANGER_IP)]
    finally:
        code = server.stop()  # SIGTERM: every event is written before it exits
    assert code == 0, server.log()
    assert f"DNS over TLS/QUIC caught on 127.0.0.1:{dot}" in server.log()
    # closed at once with a reset (SO_LINGER 0), never answered
    assert tcp == [ConnectionResetError, ConnectionResetError]
    assert udp == [TimeoutError, TimeoutError]
    assert stranger == [ConnectionResetError, TimeoutError]
    assert "2 attempts recorded, 2 more within 10 s of the last not recorded" in server.log()

    out = cli("logs", "--json", "--limit", "1000").stdout  # the server has stopped: every event is written
    caught = [json.loads(line) for line in out.splitlines()]
    caught = [e for e in caught if e["host"] != "use-application-dns.net"]  # DnsProcess.start()'s probe
    # (no original destination on loopback: nothing was redirected; the netns test reads it)
    assert [(e["client_ip"], e["device"], e["source"], e["qtype"], e["host"], e["action"], e["category"],
             e["rule"], e["reason"], e["signal"]) for e in caught] == [
        (DEVICE_IP, DEVICE, "gateway", "DoT", "", "block", None, "DNS over TLS refused", None, "dot"),
        (DEVICE_IP, DEVICE, "gateway", "DoQ", "", "block", None, "DNS over QUIC refused", None, "dot")]


@pytest.mark.parametrize("other", ["dns", "bypass"])
def test_the_dot_catcher_must_have_its_own_port(tmp_path: Path, other: str) -> None:
    port, bypass = free_port(), free_port()
    while bypass == port:
        bypass = free_port()
    config = write_config(tmp_path / "schoolgate.toml", f"sqlite:///{tmp_path}/var/schoolgate.db", port, [],
                          bypass_port=bypass, dot_port=port if other == "dns" else bypass)
    cli = Cli(config, tmp_path)
    cli("init")
    result = cli("dns", check=False)
    assert result.returncode != 0
    name = "dns.listen" if other == "dns" else "gateway.dns_bypass_listen"
    assert "'gateway.dot_catch_listen'" in result.stderr and f"another port than {name}" in result.stderr, \
        result.stderr
