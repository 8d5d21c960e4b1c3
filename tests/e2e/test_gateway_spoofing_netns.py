"""What a pupil with a laptop can do against the real gateway with forged link-layer claims and ICMP, in the
dual-stack lab of test_gateway_egress_netns (pupil / gateway / internet namespaces, the generated ruleset
loaded, the real `schoolgate dns`, `schoolgate devices sync` and `schoolgate scheduler`).

- One ARP request may carry any address and any MAC: the gateway's neighbour table then says the classmate's
  MAC holds an unused address. The device sync must not give that address to the classmate, or the pupil
  (claiming it back, speaking from it) would act as the classmate.
- Ping to the internet stays the technician's check, but a ping tunnel (large or many echo requests) does not
  get through.

Addresses come from 198.18.0.0/15 and 2001:db8::/32 only; the lab fixture removes everything it made.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import Cli
from tests.e2e.test_gateway_egress_netns import (
    CATCH_PORT,
    CLASSMATE,
    CLASSMATE6,
    CLASSMATE_MAC,
    CONFIG,
    GATEWAY_LAN,
    INTERNET,
    PUPIL,
    PUPIL6,
    lab,
)
from tests.e2e.test_gateway_netns import Lab, sh, start_in, stop_group, wait_listening

pytestmark = pytest.mark.root
__all__ = ["lab"]  # the lab fixture, reused

UNUSED = "198.18.1.30"  # a LAN address no device uses
VPN_PORTS_TCP = (22, 1080, 9050, 3128)  # SSH, SOCKS, Tor, a web proxy: 3 points each

# One ARP request, broadcast from the interface's own MAC, whose payload says SENDER_IP is at SENDER_MAC.
ARP_CLAIM = r"""
import socket, struct, sys
iface, sender_mac, sender_ip, target_ip = sys.argv[1:5]
with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as s:
    s.bind((iface, 0))
    own = s.getsockname()[4][:6]
    arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, bytes.fromhex(sender_mac.replace(":", "")),
                      socket.inet_aton(sender_ip), b"\0" * 6, socket.inet_aton(target_ip))
    s.send(b"\xff" * 6 + own + b"\x08\x06" + arp)
print("sent")
"""

# TCP connections from a given source address: each one completed (the catcher accepts, then resets).
TCP_FROM = r"""
import socket, sys
source, host = sys.argv[1], sys.argv[2]
for port in map(int, sys.argv[3].split(",")):
    with socket.socket() as s:
        s.settimeout(2)
        s.bind((source, 0))
        try:
            s.connect((host, port))
            s.send(b"x")
            s.recv(10)
        except OSError:
            pass
print("done")
"""

# COUNT ICMP echo requests of SIZE payload bytes to HOST, one every INTERVAL seconds; prints how many were
# answered (a raw socket: the lab has no ping binary, and this needs no setuid).
PING = r"""
import os, select, socket, struct, sys, time
host, count, size, interval = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
def csum(d):
    if len(d) % 2:
        d += b"\0"
    s = sum(struct.unpack(f"!{len(d) // 2}H", d))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF
ident = os.getpid() & 0xFFFF
answered = set()
with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP) as s:
    def drain(until):
        while (left := until - time.monotonic()) > 0 and select.select([s], [], [], left)[0]:
            data = s.recv(65535)
            icmp = data[(data[0] & 0x0F) * 4:]
            kind, _, _, rid, seq = struct.unpack("!BBHHH", icmp[:8])
            if kind == 0 and rid == ident:
                answered.add(seq)
    for seq in range(count):
        header = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
        payload = b"\xa5" * size
        s.sendto(struct.pack("!BBHHH", 8, 0, csum(header + payload), ident, seq) + payload, (host, 0))
        drain(time.monotonic() + interval)
    drain(time.monotonic() + 1.0)
print(len(answered))
"""


def mac_of(lab: Lab, ns: str, dev: str) -> str:
    return str(json.loads(lab.run_in(ns, "ip", "-j", "link", "show", dev))[0]["address"])


def setup_gateway(lab: Lab, cli: Cli, tmp_path: Path) -> tuple[dict[str, str], str]:
    """The egress lab's configuration, the pupil and the classmate registered with their MACs, the ruleset
    loaded and the address-to-MAC sets filled, as on a gateway. Returns the services' environment and the
    pupil's MAC."""
    var = tmp_path / "var"
    cli.config.write_text(CONFIG.format(var=var), encoding="utf-8")
    cli("init")
    env = {**os.environ, "SCHOOLGATE_CONFIG": str(cli.config)}
    env.pop("SCHOOLGATE_DATABASE_URL", None)
    mac = mac_of(lab, lab.pupil, "eth0")
    for ip in (PUPIL, PUPIL6):
        cli("devices", "add", "--ip", ip, "--mac", mac, "--name", "Pupil laptop", "--group", "pupils")
    for ip in (CLASSMATE, CLASSMATE6):
        cli("devices", "add", "--ip", ip, "--mac", CLASSMATE_MAC, "--name", "Classmate iPad", "--group", "pupils")
    lab.run_in(lab.gateway, "nft", "-f", "-", input=cli("gateway", "nftables").stdout)
    synced = lab.run_in(lab.gateway, "env", f"SCHOOLGATE_CONFIG={cli.config}", sys.executable, "-m", "deploy.cli",
                        "devices", "sync", "--no-neigh")
    assert "4 addresses bound" in synced, synced
    return env, mac


def bans_after_scheduler(lab: Lab, cli: Cli, env: dict[str, str], tmp_path: Path,
                         wait: float = 20) -> list[dict[str, str]]:
    """Run the real scheduler (its circumvention watcher) for up to `wait` seconds, or until a ban is written."""
    log = tmp_path / "scheduler.log"
    scheduler = start_in(lab, lab.gateway, [sys.executable, "-m", "deploy.cli", "scheduler"], log, env, tmp_path)
    try:
        deadline = time.monotonic() + wait
        while not (bans := [json.loads(line) for line in cli("bans", "list", "--json").stdout.splitlines()]):
            assert scheduler.poll() is None, log.read_text()
            if time.monotonic() > deadline:
                break
            time.sleep(0.5)
    finally:
        assert stop_group(scheduler) == 0, log.read_text()
    return bans


def test_arp_claim_does_not_give_the_classmate_an_address(lab: Lab, cli: Cli, tmp_path: Path) -> None:
    """One ARP request whose payload names the classmate's MAC for an unused address makes the gateway's
    neighbour table say so; the device sync must not give that address to the classmate's device. The pupil
    then claims the address back with its own MAC, adds it as an alias and opens TCP connections to SSH,
    SOCKS, Tor and proxy ports: none of it may be recorded as the classmate's, nor ban them."""
    env, mac = setup_gateway(lab, cli, tmp_path)
    log = tmp_path / "dns.log"
    dns = start_in(lab, lab.gateway, [sys.executable, "-m", "deploy.cli", "dns"], log, env, tmp_path)
    try:
        wait_listening(lab, [dns], [log], {f"tcp:*:{CATCH_PORT}", f"udp:{GATEWAY_LAN}:5353"})
        lab.run_in(lab.pupil, sys.executable, "-c", ARP_CLAIM, "eth0", CLASSMATE_MAC, UNUSED, GATEWAY_LAN)
        neighbours = lab.run_in(lab.gateway, "ip", "neigh", "show", UNUSED)
        assert CLASSMATE_MAC in neighbours, neighbours  # the forged claim reached the neighbour table
        synced = lab.run_in(lab.gateway, "env", f"SCHOOLGATE_CONFIG={cli.config}", sys.executable, "-m",
                            "deploy.cli", "devices", "sync")  # as the scheduler does every 30 s
        assert f"ignored (neighbour table): {UNUSED} from {CLASSMATE_MAC}" in synced, synced
        # the pupil takes the address back, with its own MAC, and speaks from it
        lab.run_in(lab.pupil, sys.executable, "-c", ARP_CLAIM, "eth0", mac, UNUSED, GATEWAY_LAN)
        sh("ip", "-n", lab.pupil, "addr", "add", f"{UNUSED}/32", "dev", "eth0")
        lab.run_in(lab.pupil, sys.executable, "-c", TCP_FROM, UNUSED, INTERNET, ",".join(map(str, VPN_PORTS_TCP)))
        sh("ip", "-n", lab.pupil, "addr", "del", f"{UNUSED}/32", "dev", "eth0")
        time.sleep(1.5)
    finally:
        assert stop_group(dns) == 0, log.read_text()
    devices = {d["name"]: d for d in map(json.loads, cli("devices", "list", "--json").stdout.splitlines())}
    events = [json.loads(line) for line in cli("logs", "--json", "--limit", "1000").stdout.splitlines()]
    framed = [(e["client_ip"], e["transport"], e["port"]) for e in events if e["device"] == "Classmate iPad"]
    from_unused = [e for e in events if e["client_ip"] == UNUSED]
    assert from_unused, events  # the attempts were recorded, for whoever holds the address (nobody)
    bans = bans_after_scheduler(lab, cli, env, tmp_path)
    classmate_bans = [ban["device"] for ban in bans if ban["device"] == "Classmate iPad"]
    assert (sorted(devices["Classmate iPad"]["addresses"]), framed, classmate_bans) == (
        sorted([CLASSMATE, CLASSMATE6]), [], []), (synced, framed, bans)


def test_ordinary_ping_works_and_a_ping_tunnel_does_not(lab: Lab, cli: Cli, tmp_path: Path) -> None:
    """`ping -c 3` to the internet is answered; 1400-byte echo requests (a tunnel's) never pass, and a fast
    stream of small ones gets at most the burst and the rate through; the rest is counted as ping_dropped."""
    setup_gateway(lab, cli, tmp_path)

    def ping(count: int, size: int, interval: float) -> int:
        return int(lab.run_in(lab.pupil, sys.executable, "-c", PING, INTERNET, str(count), str(size),
                              str(interval)).strip())

    assert ping(3, 56, 0.3) == 3
    before = lab.counters()["ping_dropped"]
    assert ping(50, 1400, 0.005) == 0
    assert lab.counters()["ping_dropped"] - before == 50
    time.sleep(2.5)  # the bucket refills
    started = time.monotonic()
    through = ping(100, 56, 0.005)
    elapsed = time.monotonic() - started
    assert 10 <= through <= 10 + 5 * elapsed + 1, (through, elapsed)
    assert lab.counters()["ping_dropped"] - before == 50 + 100 - through
