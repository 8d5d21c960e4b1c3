"""End to end, as a pupil: a request whose logged fields PostgreSQL refuses must not stop a school's logging.

A pupil searches through the proxy for `a%00b`: the search term is logged decoded, with a NUL character in it,
which PostgreSQL's text type cannot hold. The writer's batch holding it was refused, and because the writer
starts again from the spool's marks after a refusal, the same batch was refused for ever: every later event of
that proxy (every pupil's) stayed in the spool and never reached the log, the concern watcher or the reports.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

import tests.dns_block.stub as stub_answers
from tests.conftest import Cli
from tests.dns_block.stub import Stub
from tests.e2e.dnsserver import wait_until
from tests.e2e.proxy_support import Origin, ProxyProcess, curl
from tests.e2e.test_sites_two_gateways import _config, _ports, pg_trust_url

__all__ = ["pg_trust_url"]
PUPIL = "127.0.0.7"

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(subprocess.run(["which", "curl"], capture_output=True).returncode != 0, reason="needs curl"),
]


@pytest.fixture
def proxy(tmp_path: Path, pg_trust_url: str) -> Iterator[tuple[ProxyProcess, Origin]]:
    with pytest.MonkeyPatch.context() as patch, Stub() as stub:
        for name in ("www.google.com", "after.test"):
            patch.setitem(stub_answers.FIXED_A, name, "127.0.0.1")
        origin = Origin()
        ports = _ports(6)
        cli = Cli(_config(tmp_path / "north", pg_trust_url, "north", stub.port, ports), tmp_path / "north")
        cli("init")
        process = ProxyProcess(cli.config, tmp_path / "north", ports[1])
        try:
            yield process, origin
        finally:
            process.stop()
            origin.close()


def test_a_search_for_a_nul_character_does_not_stop_the_schools_event_log(
        proxy: tuple[ProxyProcess, Origin], pg_trust_url: str) -> None:
    process, origin = proxy
    via = ("--interface", PUPIL, "-x", process.url, "-o", "/dev/null")
    assert curl(*via, f"http://www.google.com:{origin.port}/search?q=a%00b").returncode == 0
    # Another request after it, once the writer has had its batch with the NUL (a batch is about every 50 ms).
    wait_until(lambda: False, timeout=1, interval=0.5)
    assert curl(*via, f"http://after.test:{origin.port}/").returncode == 0

    def hosts() -> dict[str, str | None]:
        with psycopg.connect(pg_trust_url.replace("+psycopg", "")) as conn:
            return dict(conn.execute("SELECT host, search_term FROM access_events WHERE client_ip = %s", (PUPIL,)))

    assert wait_until(lambda: set(hosts()) == {"www.google.com", "after.test"}, timeout=15, interval=0.3), \
        (hosts(), process.output()[-3000:])
    assert hosts()["www.google.com"] == "a\ufffdb"  # kept, with the character PostgreSQL cannot hold replaced
