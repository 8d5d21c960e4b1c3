"""End to end: a sinkhole listening on `[::]` (dual stack) sees an IPv4 client as `::ffff:a.b.c.d`; it must
still be that device, in its group, in the log under its IPv4 address, and banned like any other.

Real `schoolgate dns` and `schoolgate scheduler` processes on loopback, one SQLite database; the pupil's
device is 127.0.0.5, registered with its MAC address (so its UDP look-ups are its own evidence).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import dns.rdatatype
import pytest

from tests.conftest import ROOT, Cli
from tests.dns_block.stub import Stub
from tests.e2e.dnsserver import DnsProcess, free_port, wait_until

BLOCK_PAGE = "127.0.0.100"
PUPIL = "127.0.0.5"
VPN_NAMES = ("nordvpn.com", "expressvpn.com", "protonvpn.com", "cyberghostvpn.com")
HEAD = ("ann.head@school.test", "Ann Head", "head password 1")
ICT = ("ian.tech@school.test", "Ian Tech", "ict password 12")


def _has_ipv6_loopback() -> bool:
    return Path("/proc/net/if_inet6").exists() and "00000000000000000000000000000001" in Path(
        "/proc/net/if_inet6").read_text()


pytestmark = pytest.mark.skipif(not _has_ipv6_loopback(), reason="needs IPv6 on loopback for a [::] listener")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Cli, DnsProcess, int]]:
    with Stub() as stub:
        port = free_port()
        db_path = tmp_path / "var" / "schoolgate.db"
        config = tmp_path / "schoolgate.toml"
        config.write_text(
            f'[database]\nurl = "sqlite:///{db_path}"\n\n'
            f'[network]\nblock_page_ipv4 = "{BLOCK_PAGE}"\n\n'
            f'[gateway]\ndns_bypass_listen = "127.0.0.1:{free_port()}"\n'
            f'dot_catch_listen = "127.0.0.1:{free_port()}"\nport_catch_listen = "127.0.0.1:{free_port()}"\n\n'
            f'[dns]\nlisten = ["[::]:{port}"]\nupstreams = ["127.0.0.1:{stub.port}"]\n', encoding="utf-8")
        cli = Cli(config, tmp_path)
        cli("init", "--headteacher", HEAD[0], "--headteacher-name", HEAD[1], "--ict", ICT[0], "--ict-name",
            ICT[1], "--password-stdin", input=f"{HEAD[2]}\n{ICT[2]}\n")
        out = cli("devices", "add", "--ip", PUPIL, "--mac", "02:00:00:00:00:05", "--name", "Sam's iPad",
                  "--group", "pupils", "--person", "Sam Pupil").stdout
        device_id = int(out.split("#", 1)[1].split()[0])
        server = DnsProcess(config, tmp_path, port).start()
        log = open(tmp_path / "scheduler.log", "wb")  # noqa: SIM115 - closed below, after the process
        scheduler = subprocess.Popen([sys.executable, "-m", "deploy.cli", "--config", str(config), "scheduler"],
                                     cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT,
                                     env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})
        try:
            assert wait_until(lambda: "circumvention watcher" in (tmp_path / "scheduler.log").read_text(
                errors="replace") or scheduler.poll() is not None, 30)
            assert scheduler.poll() is None, (tmp_path / "scheduler.log").read_text(errors="replace")
            yield cli, server, device_id
        finally:
            scheduler.terminate()
            scheduler.wait(timeout=20)
            log.close()
            assert server.stop() == 0, server.log()


def addresses(reply: object) -> list[str]:
    return [item.address for rrset in reply.answer for item in rrset  # type: ignore[attr-defined]
            if rrset.rdtype == dns.rdatatype.A]


def test_an_ipv4_client_of_a_dual_stack_listener_is_its_device_logged_and_banned(
        world: tuple[Cli, DnsProcess, int]) -> None:
    cli, server, device_id = world
    assert addresses(server.ask("www.allowed.example", source=PUPIL)) != [BLOCK_PAGE]
    for index, name in enumerate(VPN_NAMES):  # UDP and TCP alike reach the [::] socket
        assert addresses(server.ask(name, source=PUPIL, tcp=index % 2 == 1)) == [BLOCK_PAGE]

    def banned() -> list[dict[str, object]]:
        out = cli("bans", "list", "--json").stdout
        return [ban for line in out.splitlines() if line.strip() and (ban := json.loads(line))]

    bans = wait_until(banned, 15, interval=0.2)
    assert bans, server.log()
    assert [(ban["device_id"], ban["state"]) for ban in bans] == [(device_id, "active")]
    # the ban is enforced on the [::] listener: the device is found again by its IPv4 address
    assert wait_until(lambda: addresses(server.ask("www.allowed.example", source=PUPIL)) == [BLOCK_PAGE], 5)

    def logged() -> tuple[str, list[dict[str, object]]]:
        out = cli("logs", "--json", "--client", PUPIL).stdout
        return out, [json.loads(line) for line in out.splitlines() if line.strip()]

    # the event writer drains in batches (about every 0.5 s): the last answer's event may not be written yet
    assert wait_until(lambda: len(logged()[1]) >= 6, 10)
    out, events = logged()
    assert len(events) >= 6
    assert {(e["client_ip"], e["device"]) for e in events} == {(PUPIL, "Sam's iPad")}
    assert {e["transport"] for e in events} == {"udp", "tcp"}
    assert "::ffff:" not in out and "::ffff:" not in cli("logs", "--json").stdout
