"""Egress in three network namespaces, IPv4 and IPv6: the gateway forwards nothing from the LAN but
allowed_egress, records each refused attempt for the device, and no device can act as another.

    pupil (eth0 198.18.1.10, 2001:db8:1::10)    a classmate (198.18.1.20, 2001:db8:1::20) is registered with its MAC
      |  veth
    gateway (lan0 198.18.1.1, 2001:db8:1::1 | wan0 198.19.0.1, 2001:db8:2::1), forwarding on, the generated
      |  veth                                  ruleset loaded, the real `schoolgate dns` (with its catchers)
    internet (eth0 198.19.0.2, 2001:db8:2::2): listeners on TCP 22, 8443, 993 and UDP 51820, 1194, 123 that
    answer and print each hit

Addresses come from 198.18.0.0/15 and 2001:db8::/32 only. Everything made here is removed at the end, even on
failure; without root or network namespaces the test skips and says why.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Cli
from tests.e2e.test_gateway_netns import Lab, cannot_make_namespaces, sh, start_in, stop_group, wait_listening

pytestmark = pytest.mark.root

GATEWAY_LAN, GATEWAY_WAN, INTERNET = "198.18.1.1", "198.19.0.1", "198.19.0.2"
GATEWAY_LAN6, GATEWAY_WAN6, INTERNET6 = "2001:db8:1::1", "2001:db8:2::1", "2001:db8:2::2"
PUPIL, PUPIL6, CLASSMATE, OFF_NET = "198.18.1.10", "2001:db8:1::10", "198.18.1.20", "198.18.7.7"
CLASSMATE6, OFF_NET6 = "2001:db8:1::20", "2001:db8:9::9"
CLASSMATE_MAC = "02:00:00:00:00:20"
CATCH_PORT = 5855
REFUSED = [("tcp", 22), ("tcp", 8443), ("udp", 51820), ("udp", 1194)]
ALLOWED = [("tcp", 993), ("udp", 123)]
SPOOFED_PORTS = (22, 1080, 9050, 3128)
FLOW_PORT = 4444
CONFIG = f"""
[database]
url = "sqlite:///{{var}}/schoolgate.db"
[network]
block_page_ipv4 = "{GATEWAY_LAN}"
client_networks = ["198.18.1.0/24", "2001:db8:1::/64"]
[gateway]
lan_interfaces = ["lan0"]
staff_networks = ["198.18.1.128/25"]
dns_bypass_listen = "{GATEWAY_LAN}:5354"
dot_catch_listen = "{GATEWAY_LAN}:5853"
port_catch_listen = "[::]:{CATCH_PORT}"
allowed_egress = ["tcp/993", "udp/123"]
lease_files = []
[dns]
listen = ["{GATEWAY_LAN}:5353"]
upstreams = ["{INTERNET}:53"]
[proxy]
listen = "{GATEWAY_LAN}:8080"
mode = "transparent"
[web]
listen = "0.0.0.0:8000"
"""

# Dual-stack listeners on [::]: a TCP connection gets "label", a datagram gets "label" back; each hit printed.
LISTENER = r"""
import json, selectors, socket, sys
sel = selectors.DefaultSelector()
for proto, port in json.loads(sys.argv[1]):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("::", port))
    if proto == "tcp":
        s.listen(16)
    sel.register(s, selectors.EVENT_READ, (proto, port))
print("ready", flush=True)
while True:
    for key, _ in sel.select():
        proto, port = key.data
        if proto == "udp":
            _, peer = key.fileobj.recvfrom(2048)
            print("hit", proto, port, peer[0].removeprefix("::ffff:"), flush=True)
            key.fileobj.sendto(f"{proto}/{port}".encode(), peer)
            continue
        conn, peer = key.fileobj.accept()
        print("hit", proto, port, peer[0].removeprefix("::ffff:"), flush=True)
        conn.sendall(f"{proto}/{port}".encode())
        conn.close()
"""

# One attempt from inside a namespace, IPv4 or IPv6, optionally from a given source address and with a
# payload (hex): prints {"reply": ...} or {"error": "timeout" | "refused" | ...}.
PROBE = r"""
import json, socket, sys
proto, host, port, source, payload = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
family = socket.AF_INET6 if ":" in host else socket.AF_INET
s = socket.socket(family, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
s.settimeout(1.5)
try:
    if source != "-":
        s.bind((source, 0))
    s.connect((host, port))
    s.send(bytes.fromhex(payload) if payload != "-" else b"probe")
    print(json.dumps({"reply": s.recv(2048).hex() if payload != "-" else s.recv(2048).decode()}))
except socket.timeout:
    print(json.dumps({"error": "timeout"}))
except (ConnectionRefusedError, ConnectionResetError):
    print(json.dumps({"error": "refused"}))
except OSError as exc:
    print(json.dumps({"error": str(exc)}))
finally:
    s.close()
"""

# Several datagrams of one UDP flow (one socket): only the first passes the nat rule that marks its port.
UDP_FLOW = r"""
import socket, sys, time
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
    for _ in range(int(sys.argv[3])):
        s.sendto(b"flow", (sys.argv[1], int(sys.argv[2])))
        time.sleep(0.05)
print("sent")
"""

# A hand-built IPv4/UDP datagram with any source address, sent through a raw socket (IP_HDRINCL): what a
# pupil's tool does to speak as someone else without even configuring the address.
RAW_SEND = r"""
import socket, struct, sys
source, destination, dport, payload = sys.argv[1], sys.argv[2], int(sys.argv[3]), bytes.fromhex(sys.argv[4])
sport = int(sys.argv[5]) if len(sys.argv) > 5 else 40053
def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF
src, dst = socket.inet_aton(source), socket.inet_aton(destination)
udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
pseudo = src + dst + struct.pack("!BBH", 0, socket.IPPROTO_UDP, len(udp))
udp = udp[:6] + struct.pack("!H", checksum(pseudo + udp) or 0xFFFF) + udp[8:]
header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0x1234, 0, 64, socket.IPPROTO_UDP, 0, src, dst)
header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW) as raw:
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    for _ in range(3):
        raw.sendto(header + udp, (destination, 0))
print("sent")
"""


def dns_query(name: str) -> str:
    """A DNS question for `name` (type A), as hex, for the probe."""
    import dns.message

    return dns.message.make_query(name, "A").to_wire().hex()


@pytest.fixture
def lab() -> Iterator[Lab]:
    reason = cannot_make_namespaces()
    if reason:
        pytest.skip(reason)
    tag = uuid.uuid4().hex[:6]
    made = Lab(f"sg10gw-pupil-{tag}", f"sg10gw-gw-{tag}", f"sg10gw-net-{tag}")
    names = [made.pupil, made.gateway, made.internet]
    try:
        for ns in names:
            sh("ip", "netns", "add", ns)
            # IPv6 on, but no router advertisements or autoconfiguration: only the addresses given here.
            made.run_in(ns, "sysctl", "-qw", "net.ipv6.conf.all.accept_ra=0", "net.ipv6.conf.default.accept_ra=0",
                        "net.ipv6.conf.all.autoconf=0", "net.ipv6.conf.default.autoconf=0")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "link", "add", "name", "eth0", "netns", made.pupil, "type", "veth", "peer", "name", "lan0",
           "netns", made.gateway)
        sh("ip", "link", "add", "name", "eth0", "netns", made.internet, "type", "veth", "peer", "name", "wan0",
           "netns", made.gateway)
        for ns, dev, addresses in [(made.pupil, "eth0", [f"{PUPIL}/24", f"{PUPIL6}/64"]),
                                   (made.gateway, "lan0", [f"{GATEWAY_LAN}/24", f"{GATEWAY_LAN6}/64"]),
                                   (made.gateway, "wan0", [f"{GATEWAY_WAN}/24", f"{GATEWAY_WAN6}/64"]),
                                   (made.internet, "eth0", [f"{INTERNET}/24", f"{INTERNET6}/64"])]:
            for address in addresses:
                sh("ip", "-n", ns, "addr", "add", address, "dev", dev, *(["nodad"] if ":" in address else []))
            sh("ip", "-n", ns, "link", "set", dev, "up")
        sh("ip", "-n", made.pupil, "route", "add", "default", "via", GATEWAY_LAN)
        sh("ip", "-n", made.pupil, "-6", "route", "add", "default", "via", GATEWAY_LAN6)
        sh("ip", "-n", made.internet, "route", "add", "198.18.0.0/15", "via", GATEWAY_WAN)
        sh("ip", "-n", made.internet, "-6", "route", "add", "2001:db8:1::/64", "via", GATEWAY_WAN6)
        made.run_in(made.gateway, "sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1")
        yield made
    finally:
        made.stop()
        for ns in names:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
        assert not set(names) & set(sh("ip", "netns", "list").split()), "a namespace was left behind"


def probe(lab: Lab, proto: str, host: str, port: int, source: str = "-", payload: str = "-") -> dict[str, str]:
    return json.loads(lab.run_in(lab.pupil, sys.executable, "-c", PROBE, proto, host, str(port), source, payload))  # type: ignore[no-any-return]


def test_default_deny_records_each_port_and_no_device_can_borrow_another_identity(
        lab: Lab, cli: Cli, tmp_path: Path) -> None:
    var = tmp_path / "var"
    cli.config.write_text(CONFIG.format(var=var), encoding="utf-8")
    cli("init")
    env = {**os.environ, "SCHOOLGATE_CONFIG": str(cli.config)}
    env.pop("SCHOOLGATE_DATABASE_URL", None)
    mac = json.loads(lab.run_in(lab.pupil, "ip", "-j", "link", "show", "eth0"))[0]["address"]
    cli("devices", "add", "--ip", PUPIL, "--mac", mac, "--name", "Pupil laptop", "--group", "pupils")
    cli("devices", "add", "--ip", PUPIL6, "--mac", mac, "--name", "Pupil laptop", "--group", "pupils")
    cli("devices", "add", "--ip", CLASSMATE, "--mac", CLASSMATE_MAC, "--name", "Classmate iPad", "--group", "pupils")
    cli("devices", "add", "--ip", CLASSMATE6, "--mac", CLASSMATE_MAC, "--name", "Classmate iPad", "--group",
        "pupils")

    ruleset = cli("gateway", "nftables").stdout
    lab.run_in(lab.gateway, "nft", "-f", "-", input=ruleset)
    # the ruleset carries the address-to-MAC bindings (no empty window after loading it); the device sync (as
    # the scheduler runs it) finds them current
    synced = lab.run_in(lab.gateway, "env", f"SCHOOLGATE_CONFIG={cli.config}", sys.executable, "-m", "deploy.cli",
                        "devices", "sync", "--no-neigh")
    assert "address-to-MAC sets unchanged: 4 addresses bound" in synced, synced
    bound = json.loads(lab.run_in(lab.gateway, "nft", "-j", "list", "set", "inet", "schoolgate", "binding_v4"))
    assert {"concat": [CLASSMATE, CLASSMATE_MAC]} in bound["nftables"][1]["set"]["elem"]

    internet = subprocess.Popen(["ip", "netns", "exec", lab.internet, sys.executable, "-c", LISTENER,
                                 json.dumps(REFUSED + ALLOWED)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
    lab.processes.append(internet)
    assert internet.stdout is not None and internet.stdout.readline().strip() == "ready"

    log = tmp_path / "dns.log"
    dns = start_in(lab, lab.gateway, [sys.executable, "-m", "deploy.cli", "dns"], log, env, tmp_path)
    try:
        wait_listening(lab, [dns], [log], {f"tcp:*:{CATCH_PORT}", f"udp:*:{CATCH_PORT}",  # ss: [::] dual-stack
                                           f"udp:{GATEWAY_LAN}:5353"})
        counters = lab.counters()
        outcomes = {}
        for host in (INTERNET, INTERNET6):
            for proto, port in REFUSED + ALLOWED:
                outcomes[(host, proto, port)] = probe(lab, proto, host, port)
        # only allowed_egress arrives, over IPv4 and IPv6; TCP elsewhere is reset at once, UDP never answered
        for (host, proto, port), answer in outcomes.items():
            if (proto, port) in ALLOWED:
                assert answer == {"reply": f"{proto}/{port}"}, (host, proto, port, answer)
            elif proto == "tcp":
                assert answer in ({"error": "refused"}, {"reply": ""}), (host, proto, port, answer)
            else:
                assert answer == {"error": "timeout"}, (host, proto, port, answer)
        assert lab.counters()["blocked_port"] - counters["blocked_port"] >= 2 * len(REFUSED)
        # a UDP flow's later datagrams reach the catcher with their port too (the connection's mark): were it
        # lost, the catcher would record them once more, without a port
        assert lab.run_in(lab.pupil, sys.executable, "-c", UDP_FLOW, INTERNET, str(FLOW_PORT), "5").strip() == "sent"

        # The pupil's own DNS is answered (the probe works) ...
        assert "reply" in probe(lab, "udp", GATEWAY_LAN, 53, PUPIL, dns_query("use-application-dns.net"))
        # ... but not with the classmate's address as an alias, over UDP or TCP: dropped before the sinkhole.
        before = lab.counters()
        sh("ip", "-n", lab.pupil, "addr", "add", f"{CLASSMATE}/32", "dev", "eth0")
        assert probe(lab, "udp", GATEWAY_LAN, 53, CLASSMATE, dns_query("alias.example")) == {"error": "timeout"}
        # connections to SSH, SOCKS, Tor and a web proxy: enough to ban the classmate, were they taken as theirs
        for port in SPOOFED_PORTS:
            assert probe(lab, "tcp", INTERNET, port, CLASSMATE) == {"error": "timeout"}, port
        sh("ip", "-n", lab.pupil, "addr", "del", f"{CLASSMATE}/32", "dev", "eth0")
        after_alias = lab.counters()
        assert after_alias["spoof_dropped"] > before["spoof_dropped"]
        # ... nor with a hand-made packet from a raw socket (3 copies)
        assert lab.run_in(lab.pupil, sys.executable, "-c", RAW_SEND, CLASSMATE, GATEWAY_LAN, "53",
                          dns_query("raw.example")).strip() == "sent"
        after_raw = lab.counters()
        assert after_raw["spoof_dropped"] >= after_alias["spoof_dropped"] + 3
        # an address that does not belong on the LAN at all: the reverse-path check drops it
        assert lab.run_in(lab.pupil, sys.executable, "-c", RAW_SEND, OFF_NET, GATEWAY_LAN, "53",
                          dns_query("offnet.example")).strip() == "sent"
        assert lab.counters()["rpf_dropped"] >= before["rpf_dropped"] + 3
        # IPv6 too: the classmate's address as an alias is spoofed, an address from another network forged
        before6 = lab.counters()
        for address in (CLASSMATE6, OFF_NET6):
            sh("ip", "-n", lab.pupil, "addr", "add", f"{address}/128", "dev", "eth0", "nodad")
            assert probe(lab, "tcp", INTERNET6, 22, address) == {"error": "timeout"}, address
            sh("ip", "-n", lab.pupil, "addr", "del", f"{address}/128", "dev", "eth0")
        after6 = lab.counters()
        assert after6["spoof_dropped"] > before6["spoof_dropped"] and after6["rpf_dropped"] > before6["rpf_dropped"]
        # DHCP before a device has an address (from 0.0.0.0, broadcast) is neither dropped nor caught
        before_dhcp = lab.counters()
        assert lab.run_in(lab.pupil, sys.executable, "-c", RAW_SEND, "0.0.0.0", "255.255.255.255", "67",
                          "01" * 240, "68").strip() == "sent"
        after_dhcp = lab.counters()
        assert [after_dhcp[name] - before_dhcp[name] for name in ("rpf_dropped", "spoof_dropped", "blocked_port")] \
            == [0, 0, 0]
        # the neighbour table may have seen the pupil's MAC with the classmate's address: the sync ignores it
        synced = lab.run_in(lab.gateway, "env", f"SCHOOLGATE_CONFIG={cli.config}", sys.executable, "-m",
                            "deploy.cli", "devices", "sync")
        assert "moved" not in synced.replace("0 moved", ""), synced
    finally:
        code = stop_group(dns)  # SIGTERM: the events are written first
    assert code == 0, log.read_text()

    internet.terminate()
    seen, _ = internet.communicate(timeout=10)
    lab.processes.remove(internet)
    hits = sorted(set(seen.splitlines()))
    assert hits == sorted(f"hit {proto} {port} {source}" for proto, port in ALLOWED for source in (PUPIL, PUPIL6)), \
        seen

    # The real scheduler's circumvention watcher reads the log: the pupil's own attempts (TCP connections, and
    # UDP from an address bound to its MAC) ban the pupil's laptop; the classmate is never banned nor alerted.
    scheduler_log = tmp_path / "scheduler.log"
    scheduler = start_in(lab, lab.gateway, [sys.executable, "-m", "deploy.cli", "scheduler"], scheduler_log, env,
                         tmp_path)
    try:
        deadline = time.monotonic() + 30
        while not (bans := [json.loads(line) for line in cli("bans", "list", "--json").stdout.splitlines()]):
            assert scheduler.poll() is None and time.monotonic() < deadline, scheduler_log.read_text()
            time.sleep(0.5)
    finally:
        assert stop_group(scheduler) == 0, scheduler_log.read_text()
    assert [ban["device"] for ban in bans] == ["Pupil laptop"], bans
    evidence = json.loads(bans[0]["evidence"])
    # (the IPv4 attempts come first and suffice: SSH over a TCP connection, WireGuard and OpenVPN over UDP from
    # the address bound to the laptop's MAC)
    assert {(item["client_ip"], item["kind"], item["host"], item["proof"]) for item in evidence} >= {
        (PUPIL, "vpn_port", f"{INTERNET} TCP port 22 (SSH)", "connection"),
        (PUPIL, "vpn_port", "UDP port 51820 (WireGuard)", "mac"),
        (PUPIL, "vpn_port", "UDP port 1194 (OpenVPN)", "mac")}, evidence
    with sqlite3.connect(var / "schoolgate.db") as db:
        classmate = db.execute("SELECT id FROM devices WHERE name = 'Classmate iPad'").fetchone()[0]
        alerts = db.execute("SELECT action, target FROM audit_log WHERE target = ?", (f"device #{classmate}",))
        assert [row for row in alerts if row[0].startswith(("circumvention", "ban"))] == []

    events = [json.loads(line) for line in cli("logs", "--json", "--limit", "1000").stdout.splitlines()]
    caught = {(e["client_ip"], e["transport"], e["port"]) for e in events if e["signal"] == "blocked_port"}
    assert caught == {(ip, proto, port) for ip in (PUPIL, PUPIL6) for proto, port in REFUSED} | {
        (PUPIL, "udp", FLOW_PORT)}, events
    for e in events:
        if e["signal"] == "blocked_port":
            assert (e["source"], e["action"], e["qtype"], e["device"], e["mac"]) == (
                "gateway", "block", e["transport"].upper(), "Pupil laptop", mac), e
            # TCP carries where the pupil meant to go; UDP cannot (the port rides in the packet mark)
            assert e["host"] == ((INTERNET if e["client_ip"] == PUPIL else INTERNET6) if e["transport"] == "tcp"
                                 else ""), e
    # nothing was ever recorded as the classmate, nor for the off-LAN address
    assert not [e for e in events if e["client_ip"] in (CLASSMATE, OFF_NET, CLASSMATE6, OFF_NET6)
                or e["device"] == "Classmate iPad"]
    devices = {d["name"]: d for d in map(json.loads, cli("devices", "list", "--json").stdout.splitlines())}
    assert devices["Classmate iPad"]["addresses"] == [CLASSMATE, CLASSMATE6]
