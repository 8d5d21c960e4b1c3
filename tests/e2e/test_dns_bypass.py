"""`schoolgate dns` also listens on `[gateway] dns_bypass_listen`, where the gateway's firewall sends DNS a
device addressed to another resolver: the same answers as the main port (one cache), and every access event
from it, answered from the cache or not, carries the signal "dns_other_resolver". On loopback, a real server."""

from __future__ import annotations

import json
from pathlib import Path

import dns.message
import dns.query
import pytest

from tests.conftest import Cli
from tests.dns_block.stub import Stub
from tests.e2e.dnsserver import DnsProcess, free_port, write_config

BLOCK_V4 = "198.18.0.1"


def ask(port: int, name: str, tcp: bool) -> list[str]:
    query = dns.message.make_query(name, "A")
    send = dns.query.tcp if tcp else dns.query.udp
    reply = send(query, "127.0.0.1", port=port, timeout=3)
    return [rd.to_text() for rrset in reply.answer for rd in rrset]


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_the_bypass_port_answers_alike_and_records_the_signal(tmp_path: Path, tcp: bool) -> None:
    with Stub() as live:
        port = free_port()
        bypass = free_port()
        while bypass == port:
            bypass = free_port()
        config = write_config(tmp_path / "schoolgate.toml", f"sqlite:///{tmp_path}/var/schoolgate.db", port,
                              [live.port], f'\n[network]\nblock_page_ipv4 = "{BLOCK_V4}"\n'
                              'client_networks = ["127.0.0.1/32"]\n', bypass_port=bypass)
        cli = Cli(config, tmp_path)
        cli("init")
        (tmp_path / "blocked.txt").write_text("badsite.test\n", encoding="utf-8")
        cli("lists", "import", str(tmp_path / "blocked.txt"), "--category", "testcat")
        server = DnsProcess(config, tmp_path, port).start()
        try:
            # Each name asked twice on the bypass port (the second a cache hit), then once on the main port;
            # the last name first on the main port, then on the bypass port (the main port's cached answer).
            asked = [("bypass", "allowed.example.org"), ("bypass", "allowed.example.org"),
                     ("main", "allowed.example.org"),
                     ("bypass", "badsite.test"), ("bypass", "badsite.test"), ("main", "badsite.test"),
                     ("main", "first-main.example.org"), ("bypass", "first-main.example.org")]
            answers = [ask(bypass if where == "bypass" else port, name, tcp) for where, name in asked]
        finally:
            code = server.stop()  # SIGTERM: every event is written before it exits
        assert code == 0, server.log()
        assert f"DNS sent to other resolvers on 127.0.0.1:{bypass}" in server.log()
    assert answers == [["198.18.0.10"]] * 3 + [[BLOCK_V4]] * 3 + [["198.18.0.10"]] * 2
    # one cache for both ports: each allowed name went upstream once, the blocked one never
    assert sorted(name for name, _, _ in live.asked) == ["allowed.example.org", "first-main.example.org"]

    out = cli("logs", "--json", "--limit", "1000").stdout  # the server has stopped: every event is written
    logged = [event for event in map(json.loads, out.splitlines())
              if event["host"] != "use-application-dns.net"]  # DnsProcess.start()'s probe, on the main port
    expected_signal = {"bypass": "dns_other_resolver", "main": None}
    assert [(e["host"], e["action"], e["signal"]) for e in logged] == [
        (name, "block" if name == "badsite.test" else "allow", expected_signal[where]) for where, name in asked]
    assert {e["source"] for e in logged} == {"dns"}


def test_the_bypass_port_must_differ_from_the_main_port(tmp_path: Path) -> None:
    port = free_port()
    config = write_config(tmp_path / "schoolgate.toml", f"sqlite:///{tmp_path}/var/schoolgate.db", port, [],
                          bypass_port=port)
    cli = Cli(config, tmp_path)
    cli("init")
    result = cli("dns", check=False)
    assert result.returncode != 0
    assert "'gateway.dns_bypass_listen'" in result.stderr and "another port" in result.stderr, result.stderr
