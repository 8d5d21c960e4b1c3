"""`schoolgate dns` when things around it fail: every upstream dead, the database gone mid-run."""

from __future__ import annotations

import json
from pathlib import Path

import dns.rcode
import psycopg
import pytest

from rules.store.event_spool import SEGMENT_GLOB
from tests.conftest import PG_ADMIN_URL, Cli
from tests.dns_block.stub import Stub
from tests.e2e.dnsserver import DnsProcess, free_port, wait_until, write_config


def test_all_upstreams_dead_is_servfail_and_blocked_still_answered(tmp_path: Path) -> None:
    with Stub(silent=True) as dead, Stub(silent=True) as dead_too:
        port = free_port()
        config = write_config(tmp_path / "c.toml", f"sqlite:///{tmp_path}/var/sg.db", port, [dead.port, dead_too.port])
        cli = Cli(config, tmp_path)
        cli("init")
        (tmp_path / "b.txt").write_text("badsite.test\n", encoding="utf-8")
        cli("lists", "import", str(tmp_path / "b.txt"), "--category", "testcat")
        server = DnsProcess(config, tmp_path, port).start()
        try:
            reply = server.ask("exists.example.org", timeout=8)
            assert reply.rcode() == dns.rcode.SERVFAIL  # never a made-up NXDOMAIN
            assert {"exists.example.org"} <= dead.names() and {"exists.example.org"} <= dead_too.names()
            blocked = server.ask("badsite.test", tcp=True)
            assert blocked.rcode() == dns.rcode.NOERROR and blocked.answer
            assert "badsite.test" not in dead.names() | dead_too.names()
        finally:
            assert server.stop() == 0


def _set_connections(name: str, allowed: bool) -> None:
    with psycopg.connect(PG_ADMIN_URL.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS {"true" if allowed else "false"}')
        if not allowed:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))


@pytest.mark.postgres
def test_database_down_mid_run_loses_no_event(tmp_path: Path, pg_url: str) -> None:
    name = pg_url.rsplit("/", 1)[1]
    with Stub() as live:
        port = free_port()
        config = write_config(tmp_path / "c.toml", pg_url, port, [live.port])
        cli = Cli(config, tmp_path)
        cli("init")
        (tmp_path / "b.txt").write_text("badsite.test\n", encoding="utf-8")
        cli("lists", "import", str(tmp_path / "b.txt"), "--category", "testcat")
        server = DnsProcess(config, tmp_path, port).start()
        spool = tmp_path / "var" / "spool" / "dns"
        before = [f"before-{i}.example.org" for i in range(10)]
        during = [f"during-{i}.example.org" for i in range(10)]
        try:
            for host in before:
                assert server.ask(host).answer
            _set_connections(name, False)
            try:
                for host in during:
                    assert server.ask(host).answer  # answering goes on without the database
                blocked = server.ask("badsite.test")  # the snapshot it has still blocks
                assert [rd.to_text() for rrset in blocked.answer for rd in rrset] == ["127.0.0.1"]
                # the writer process found the database down and left the events in the spool
                spooled = wait_until(lambda: "spooling to disk" in server.log() and list(spool.glob(SEGMENT_GLOB)),
                                     timeout=10, interval=0.2)
                assert spooled, "events were not spooled while the database was down\n" + server.log()
            finally:
                _set_connections(name, True)

            wanted = {*before, *during, "badsite.test"}

            def logged() -> set[str]:
                out = cli("logs", "--json", "--limit", "100000").stdout
                return {json.loads(line)["host"] for line in out.splitlines()}

            assert wait_until(lambda: wanted <= logged(), timeout=15, interval=0.3), server.log()
            assert wait_until(lambda: not list(spool.glob(SEGMENT_GLOB)), timeout=5)
        finally:
            assert server.stop() == 0
        assert "spooling to disk" in server.log()
