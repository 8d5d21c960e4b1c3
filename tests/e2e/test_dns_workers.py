"""`schoolgate dns --workers 2`: two processes share the port; every query is answered and logged once."""

from __future__ import annotations

import json
import re
import socket
import time

import dns.message
import dns.rcode

from tests.conftest import Cli
from tests.dns_block.stub import Stub
from tests.e2e.dnsserver import DnsProcess, free_port, write_config


def test_two_workers_share_the_port_and_log_every_query(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with Stub() as upstream:
        port = free_port()
        config = write_config(tmp_path / "schoolgate.toml", f"sqlite:///{tmp_path}/var/schoolgate.db", port,
                              [upstream.port], "rate_limit_qps = 0\n")
        cli = Cli(config, tmp_path)
        cli("init")
        server = DnsProcess(config, tmp_path, port, ("--workers", "2")).start()
        try:
            deadline = time.monotonic() + 30
            while server.log().count("DNS sinkhole listening") < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            answers = []
            for n in range(40):  # a new source port per query: the kernel spreads them over both workers
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                    sock.bind(("127.0.0.1", 0))
                    query = dns.message.make_query("www.facebook.com" if n % 2 else f"site{n}.example.org", "A")
                    sock.sendto(query.to_wire(), ("127.0.0.1", port))
                    sock.settimeout(3)
                    reply = dns.message.from_wire(sock.recv(4096))
                    answers.append((n, reply.rcode(), [rd.to_text() for rr in reply.answer for rd in rr]))
            assert all(rcode == dns.rcode.NOERROR for _, rcode, _ in answers)
            assert all(rdata == ["127.0.0.1"] for n, _, rdata in answers if n % 2)
        finally:
            assert server.stop() == 0, server.log()
        written = [int(n) for n in re.findall(r"stopped; (\d+) access events written", server.log())]
        assert len(written) == 2 and all(n > 0 for n in written), server.log()  # both workers answered
        logged = [json.loads(line) for line in cli("logs", "--json").stdout.splitlines()]
        events = [e for e in logged if e["source"] == "dns" and e["host"] != "use-application-dns.net"]
        assert len(events) == 40
        assert sum(1 for e in events if e["action"] == "block" and e["category"] == "social_media") == 20
