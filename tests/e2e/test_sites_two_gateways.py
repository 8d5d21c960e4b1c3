"""End to end: two schools of a trust, each with its own gateway (`schoolgate dns` and `schoolgate proxy`), on one
PostgreSQL database.

School "north" and school "south" each have a pupil's iPad at the SAME address, 127.0.0.5 (schools' private
ranges overlap); 127.0.0.6 is a device neither school registered. The trust blocks games.test and classroom.test (a
trust-wide category, imported from north's command line with --trust-wide); south adds a category of its own.
North has approved an exception for both names and banned its iPad; south has neither. Clients are real:
`dig -b` and `curl --interface` from those loopback addresses. The stand-in upstream resolver answers
classroom.test with the local origin's address, so that a proxy has somewhere to connect when it allows it.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

import tests.dns_block.stub as stub_answers
from rules.store.db import Database
from rules.store.models import Ban, Rule
from tests.conftest import PG_ADMIN_URL, Cli, postgres_available
from tests.dns_block.stub import DEFAULT_A, Stub
from tests.e2e.dnsserver import DnsProcess, free_port, wait_until
from tests.e2e.proxy_support import Origin, ProxyProcess, curl

BLOCK_PAGE = "127.0.0.100"
IPAD, STRANGER = "127.0.0.5", "127.0.0.6"
ORIGIN_BODY = "hello from the origin\n"
CLASSROOM = "classroom.test"  # upstream answers 127.0.0.1, where the origin listens

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(subprocess.run(["which", "dig"], capture_output=True).returncode != 0
                       or subprocess.run(["which", "curl"], capture_output=True).returncode != 0,
                       reason="needs dig and curl"),
]


@dataclass
class Gateway:
    """One school's gateway: its configuration, command line, DNS and proxy."""

    school: str
    cli: Cli
    dns: DnsProcess
    proxy: ProxyProcess
    site_id: int = 0
    ipad_id: int = 0

    def dig(self, source: str, name: str) -> list[str]:
        result = subprocess.run(["dig", "-b", source, "@127.0.0.1", "-p", str(self.dns.port), "+short", "+time=2",
                                 "+tries=1", name, "A"], capture_output=True, text=True, timeout=10)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout.split()

    def fetch(self, source: str, url: str) -> tuple[int, str]:
        result = curl("--interface", source, "-x", f"http://127.0.0.1:{self.proxy.port}", "-o", "-", "-w",
                      "\n%{http_code}", url)
        assert result.returncode == 0, result.stderr
        body, _, status = result.stdout.rpartition("\n")
        return int(status), body

    def json_lines(self, *args: str) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.cli(*args, "--json").stdout.splitlines() if line.strip()]

    def logs(self) -> str:
        return f"--- {self.school} dns ---\n{self.dns.log()[-3000:]}\n--- {self.school} proxy ---\n" \
               f"{self.proxy.output()[-3000:]}"


@dataclass
class Trust:
    url: str
    north: Gateway
    south: Gateway
    origin: Origin

    def rows(self, sql: str, *args: object) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.url.replace("+psycopg", "")) as conn:
            return list(conn.execute(sql, args))


@pytest.fixture(scope="module")
def pg_trust_url() -> Iterator[str]:
    """A fresh PostgreSQL database for the module's two gateways, dropped afterwards (as `pg_url` does)."""
    reason = postgres_available()
    if reason:
        pytest.skip(reason)
    name = f"sg_test_{uuid.uuid4().hex[:12]}"
    admin = PG_ADMIN_URL.replace("+psycopg", "")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _ports(count: int) -> list[int]:
    """`count` different free ports (a port just freed may be handed out again)."""
    found: list[int] = []
    while len(found) < count:
        port = free_port()
        if port not in found:
            found.append(port)
    return found


def _config(folder: Path, url: str, school: str, upstream: int, ports: list[int]) -> Path:
    dns_port, proxy_port, bypass, dot, catch, web = ports
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "schoolgate.toml"
    path.write_text(
        f'[database]\nurl = "{url}"\n\n[site]\nname = "{school}"\n\n'
        f'[network]\nblock_page_ipv4 = "{BLOCK_PAGE}"\n\n'
        f'[gateway]\ndns_bypass_listen = "127.0.0.1:{bypass}"\ndot_catch_listen = "127.0.0.1:{dot}"\n'
        f'port_catch_listen = "127.0.0.1:{catch}"\n\n'
        f'[dns]\nlisten = ["127.0.0.1:{dns_port}"]\nupstreams = ["127.0.0.1:{upstream}"]\n\n'
        f'[proxy]\nlisten = "127.0.0.1:{proxy_port}"\ninternal_destinations = ["127.0.0.0/8"]\n\n'
        # not 127.0.0.1: the admin web's host is on the ban allowlist, and the origin is reached by that address
        f'[web]\npublic_url = "https://admin.{school}.test:{web}"\n', encoding="utf-8")
    return path


def _device(cli: Cli, name: str) -> int:
    out = cli("devices", "add", "--ip", IPAD, "--name", name, "--group", "pupils").stdout
    return int(out.split("#", 1)[1].split()[0])


@pytest.fixture(scope="module")
def trust(tmp_path_factory: pytest.TempPathFactory, pg_trust_url: str) -> Iterator[Trust]:
    root = tmp_path_factory.mktemp("trust")
    stack = ExitStack()
    patch = stack.enter_context(pytest.MonkeyPatch.context())
    patch.setitem(stub_answers.FIXED_A, CLASSROOM, "127.0.0.1")
    stub = stack.enter_context(Stub())
    origin = Origin()
    stack.callback(origin.close)
    clis: dict[str, Cli] = {}
    free = _ports(12)
    ports = {"north": free[:6], "south": free[6:]}
    for school in ("north", "south"):
        config = _config(root / school, pg_trust_url, school, stub.port, ports[school])
        clis[school] = Cli(config, root / school)
        clis[school]("init")
    ipads = {"north": _device(clis["north"], "North iPad 5"), "south": _device(clis["south"], "South iPad 5")}
    (root / "trust.txt").write_text(f"games.test\n{CLASSROOM}\n", encoding="utf-8")
    clis["north"]("lists", "import", str(root / "trust.txt"), "--category", "trust-games", "--trust-wide")
    (root / "south.txt").write_text("southonly.test\n", encoding="utf-8")
    clis["south"]("lists", "import", str(root / "south.txt"), "--category", "south-own")
    gateways: dict[str, Gateway] = {}
    try:
        for school, (dns_port, proxy_port, *_) in ports.items():
            dns = DnsProcess(clis[school].config, root / school, dns_port).start()
            stack.callback(dns.stop)
            proxy = ProxyProcess(clis[school].config, root / school, proxy_port)
            stack.callback(proxy.stop)
            gateways[school] = Gateway(school, clis[school], dns, proxy, ipad_id=ipads[school])
        world = Trust(pg_trust_url, gateways["north"], gateways["south"], origin)
        for gateway in gateways.values():
            [(gateway.site_id,)] = world.rows("SELECT id FROM sites WHERE name = %s", gateway.school)
        # What north's staff approved on the web: an exception for the trust-blocked names, and a ban on its iPad.
        db = Database(pg_trust_url)
        with db.session() as session:
            for domain in ("games.test", CLASSROOM):
                session.add(Rule(site_id=world.north.site_id, action="allow", domain=domain, scope="everyone",
                                 created_by="test"))
            session.add(Ban(site_id=world.north.site_id, device_id=world.north.ipad_id, reason="test ban",
                            created_by="test"))
        db.dispose()
        yield world
    finally:
        stack.close()


def test_each_gateway_enforces_its_own_schools_exception_and_ban(trust: Trust) -> None:
    north, south = trust.north, trust.south
    assert north.site_id != south.site_id and north.ipad_id != south.ipad_id
    # North follows its own exception (for a device it does not know) and its own ban (on its iPad).
    assert wait_until(lambda: north.dig(STRANGER, "games.test") == [DEFAULT_A], timeout=10, interval=0.2), \
        north.logs()
    assert north.dig(IPAD, "games.test") == [BLOCK_PAGE]  # banned: the ban comes before any exception
    assert north.dig(IPAD, "www.allowed.example") == [BLOCK_PAGE]
    assert north.dig(STRANGER, "southonly.test") == [DEFAULT_A]  # south's own category is not north's
    # South has neither: the same names from the same addresses get south's policy.
    assert south.dig(STRANGER, "games.test") == [BLOCK_PAGE]
    assert south.dig(IPAD, "games.test") == [BLOCK_PAGE]
    assert south.dig(IPAD, "www.allowed.example") == [DEFAULT_A]  # south's iPad is not banned
    assert south.dig(STRANGER, "southonly.test") == [BLOCK_PAGE]

    classroom = f"http://{CLASSROOM}:{trust.origin.port}/"
    by_address = f"http://127.0.0.1:{trust.origin.port}/"
    # The proxy polls the policy as DNS does: wait until north's proxy has the exception and the ban too.
    assert wait_until(lambda: north.fetch(STRANGER, classroom) == (200, ORIGIN_BODY), timeout=10, interval=0.2), \
        north.logs()  # north's exception
    assert wait_until(lambda: north.fetch(IPAD, by_address)[0] == 403, timeout=10, interval=0.2)  # north's ban
    assert south.fetch(STRANGER, classroom)[0] == 403, south.logs()  # the trust's category, no exception
    assert south.fetch(IPAD, by_address) == (200, ORIGIN_BODY)  # not banned at south

    # Every event carries its gateway's school, and the iPad is each school's own device.
    def events() -> dict[tuple[int, str, str], set[int | None]]:
        found: dict[tuple[int, str, str], set[int | None]] = {}
        for site_id, source, client_ip, device_id in trust.rows(
                "SELECT site_id, source, client_ip, device_id FROM access_events WHERE client_ip IN (%s, %s)",
                IPAD, STRANGER):
            found.setdefault((site_id, source, client_ip), set()).add(device_id)
        return found

    wanted = {(north.site_id, "dns", IPAD): {north.ipad_id}, (south.site_id, "dns", IPAD): {south.ipad_id},
              (north.site_id, "proxy", IPAD): {north.ipad_id}, (south.site_id, "proxy", IPAD): {south.ipad_id},
              (north.site_id, "dns", STRANGER): {None}, (south.site_id, "dns", STRANGER): {None},
              (north.site_id, "proxy", STRANGER): {None}, (south.site_id, "proxy", STRANGER): {None}}
    assert wait_until(lambda: events() == wanted, timeout=10, interval=0.2), events()
    blocked_at_south = trust.rows("SELECT site_id, action FROM access_events WHERE host = 'southonly.test'")
    assert sorted(blocked_at_south) == sorted([(north.site_id, "allow"), (south.site_id, "block")])


def test_the_command_line_shows_only_its_own_schools_rows(trust: Trust) -> None:
    north, south = trust.north, trust.south
    north.dig(IPAD, "north-only.example")
    south.dig(IPAD, "south-only.example")
    assert [d["name"] for d in north.json_lines("devices", "list")] == ["North iPad 5"]
    assert [d["name"] for d in south.json_lines("devices", "list")] == ["South iPad 5"]
    assert [b["device"] for b in north.json_lines("bans", "list")] == ["North iPad 5"]
    assert south.json_lines("bans", "list") == []
    assert "no current bans" in south.cli("bans", "list").stdout

    def hosts(gateway: Gateway) -> set[str]:
        return {e["host"] for e in gateway.json_lines("logs", "--limit", "100000")}

    assert wait_until(lambda: "north-only.example" in hosts(north) and "south-only.example" in hosts(south),
                      timeout=10, interval=0.2)
    north_log = north.json_lines("logs", "--limit", "100000")
    assert {e["device"] for e in north_log} <= {"North iPad 5", None}
    assert "south-only.example" not in {e["host"] for e in north_log}
    south_log = south.json_lines("logs", "--limit", "100000")
    assert {e["device"] for e in south_log} <= {"South iPad 5", None}
    assert "north-only.example" not in {e["host"] for e in south_log}
    # `check` answers from the configured school's snapshot: the same device, two decisions.
    north_check = json.loads(north.cli("check", "games.test", "--client", IPAD, "--json").stdout)
    south_check = json.loads(south.cli("check", "games.test", "--client", IPAD, "--json").stdout)
    assert (north_check["device"], north_check["reason"]) == ("North iPad 5", "banned")
    assert (south_check["device"], south_check["reason"]) == ("South iPad 5", "category")
    stranger = json.loads(north.cli("check", "games.test", "--client", STRANGER, "--json").stdout)
    assert stranger["action"] == "allow" and stranger["reason"] == "exception"
