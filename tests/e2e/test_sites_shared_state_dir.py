"""End to end: two schools' gateways on ONE host, each its own configuration, both run from the same folder.

On PostgreSQL the state folder is `var` under the working directory (the systemd unit's `WorkingDirectory`),
so two schools' services started from one folder share it. Their DNS workers' spools were both
`var/spool/dns-0`, and whichever writer held that folder's lock stored every segment in it, with ITS school:
one school's lookups landed in the other school's log (and its concerns, its reports).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import psycopg
import pytest

from tests.conftest import Cli
from tests.dns_block.stub import Stub
from tests.e2e.dnsserver import DnsProcess, wait_until
from tests.e2e.test_sites_two_gateways import _config, _ports, pg_trust_url

__all__ = ["pg_trust_url"]
PUPIL = "127.0.0.8"

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(subprocess.run(["which", "dig"], capture_output=True).returncode != 0, reason="needs dig"),
]


@pytest.fixture
def two_dns(tmp_path: Path, pg_trust_url: str) -> Iterator[dict[str, DnsProcess]]:
    shared = tmp_path / "shared"  # both services' working directory, so both state folders are shared/var
    shared.mkdir()
    with ExitStack() as stack:
        stub = stack.enter_context(Stub())
        found: dict[str, DnsProcess] = {}
        for school in ("north", "south"):
            ports = _ports(6)
            cli = Cli(_config(tmp_path / school, pg_trust_url, school, stub.port, ports), shared)
            cli("init")
            found[school] = DnsProcess(cli.config, shared, ports[0]).start()
            stack.callback(found[school].stop)
        yield found


def test_two_schools_run_from_one_folder_keep_their_own_events(two_dns: dict[str, DnsProcess],
                                                               pg_trust_url: str) -> None:
    for round_ in range(5):
        for school, dns in two_dns.items():
            result = subprocess.run(["dig", "-b", PUPIL, "@127.0.0.1", "-p", str(dns.port), "+short", "+time=2",
                                     "+tries=1", f"{school}-{round_}.example", "A"], capture_output=True, text=True)
            assert result.returncode == 0, result.stderr

    def schools() -> dict[str, set[str]]:
        with psycopg.connect(pg_trust_url.replace("+psycopg", "")) as conn:
            rows = conn.execute("SELECT s.name, e.host FROM access_events e JOIN sites s ON s.id = e.site_id "
                                "WHERE e.client_ip = %s", (PUPIL,)).fetchall()
        found: dict[str, set[str]] = {}
        for school, host in rows:
            found.setdefault(host.split("-", 1)[0], set()).add(school)
        return found

    assert wait_until(lambda: sum(1 for _ in schools()) == 2 and len(_all(pg_trust_url)) == 10, timeout=15,
                      interval=0.3), schools()
    assert schools() == {"north": {"north"}, "south": {"south"}}


def _all(url: str) -> list[tuple[str]]:
    with psycopg.connect(url.replace("+psycopg", "")) as conn:
        return conn.execute("SELECT host FROM access_events WHERE client_ip = %s", (PUPIL,)).fetchall()
