"""The gateway in three network namespaces: a pupil's device, the gateway, and "the internet".

    pupil (eth0 198.18.1.10, staff address 198.18.1.200)
      |  veth
    gateway (lan0 198.18.1.1 | wan0 198.19.0.1), ip_forward on, the ruleset `schoolgate gateway nftables` printed
      |  veth
    internet (eth0 198.19.0.2, and .3 and .4 for the real services' origins): resolvers, web servers,
    DoT/DoQ and QUIC listeners that record every hit

Two kinds of test. With small stand-in listeners in the gateway namespace (they answer with their name and
the original destination read with SO_ORIGINAL_DST, as mitmproxy's transparent mode does): what the ruleset
itself redirects, drops and counts. With the real `schoolgate dns` and `schoolgate proxy`: what a pupil's
device with no proxy setting meets. Addresses come from 198.18.0.0/15 only; IPv6 is switched off on every
link so nothing else leaves. Everything made here is removed at the end,
even on failure; without root or network namespaces the tests skip and say why.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import Cli

pytestmark = pytest.mark.root

GATEWAY_LAN, GATEWAY_WAN, INTERNET = "198.18.1.1", "198.19.0.1", "198.19.0.2"
PUPIL, STAFF = "198.18.1.10", "198.18.1.200"
CONFIG = """
[database]
url = "sqlite:///{var}/schoolgate.db"
[network]
block_page_ipv4 = "198.18.1.1"
client_networks = ["198.18.1.0/24"]
[gateway]
lan_interfaces = ["lan0"]
staff_networks = ["198.18.1.128/25"]
dns_bypass_listen = "0.0.0.0:5354"
dot_catch_listen = "0.0.0.0:5853"
port_catch_listen = "0.0.0.0:5855"
allowed_egress = ["tcp/8443"]
lease_files = []
[dns]
listen = ["0.0.0.0:5353"]
upstreams = ["198.19.0.2:53"]
[proxy]
listen = "0.0.0.0:8080"
mode = "transparent"
[web]
listen = "0.0.0.0:8000"
"""

# One small server for every stand-in: listeners from a JSON list of [proto, host, port, label]; each answers
# "label|original destination" and prints "hit proto port label" for the test to read afterwards.
LISTENER = r"""
import json, selectors, socket, struct, sys
SO_ORIGINAL_DST = 80
def original(sock):
    try:
        raw = sock.getsockopt(socket.SOL_IP, SO_ORIGINAL_DST, 16)
    except OSError:
        return "-"
    port, = struct.unpack("!H", raw[2:4])
    return f"{socket.inet_ntoa(raw[4:8])}:{port}"
sel = selectors.DefaultSelector()
for proto, host, port, label in json.loads(sys.argv[1]):
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    s = socket.socket(socket.AF_INET, kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    if proto == "tcp":
        s.listen(16)
    sel.register(s, selectors.EVENT_READ, (proto, port, label))
print("ready", flush=True)
while True:
    for key, _ in sel.select():
        proto, port, label = key.data
        if proto == "udp":
            data, peer = key.fileobj.recvfrom(2048)
            print("hit", proto, port, label, flush=True)
            key.fileobj.sendto(f"{label}|-".encode(), peer)
            continue
        conn, peer = key.fileobj.accept()
        print("hit", proto, port, label, flush=True)
        conn.settimeout(2)
        try:
            conn.recv(2048)
            conn.sendall(f"{label}|{original(conn)}".encode())
        except OSError:
            pass
        conn.close()
"""

# One probe from inside a namespace: prints {"reply": ...} or {"error": "timeout" | "refused" | ...}.
PROBE = r"""
import json, socket, sys
proto, host, port, source = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
s.settimeout(1.0)
try:
    if source != "-":
        s.bind((source, 0))
    s.connect((host, port))
    s.send(b"probe")
    print(json.dumps({"reply": s.recv(2048).decode()}))
except socket.timeout:
    print(json.dumps({"error": "timeout"}))
except ConnectionRefusedError:
    print(json.dumps({"error": "refused"}))
except ConnectionResetError:
    print(json.dumps({"error": "refused"}))
except OSError as exc:
    print(json.dumps({"error": str(exc)}))
finally:
    s.close()
"""


def cannot_make_namespaces() -> str | None:
    if sys.platform != "linux":
        return "network namespaces need Linux"
    if os.geteuid() != 0:
        return "network namespaces need root"
    for tool in ("ip", "nft", "setpriv"):
        if shutil.which(tool) is None:
            return f"`{tool}` is not installed"
    probe = f"sg-probe-{uuid.uuid4().hex[:6]}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True, check=False)
    if made.returncode != 0:
        return f"cannot create a network namespace here: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True, check=False)
    return None


def sh(*args: str, input: str | None = None) -> str:
    result = subprocess.run(args, capture_output=True, text=True, input=input, check=False, timeout=30)
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed: {result.stderr}")
    return result.stdout


@dataclass
class Lab:
    """The three namespaces, and every process started in them (stopped and removed by the fixture)."""

    pupil: str
    gateway: str
    internet: str
    processes: list[subprocess.Popen[str]] = field(default_factory=list)

    def run_in(self, ns: str, *args: str, input: str | None = None) -> str:
        return sh("ip", "netns", "exec", ns, *args, input=input)

    def listen(self, ns: str, listeners: list[tuple[str, str, int, str]],
               unprivileged: bool = False) -> subprocess.Popen[str]:
        """Start listeners in `ns`; `unprivileged`: as nobody with no capabilities at all, as the units run."""
        command = [sys.executable]
        if unprivileged:
            # /root (where this venv's Python may live) is closed to nobody; the listener needs the stdlib only.
            command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
                       "--bounding-set=-all", "--", shutil.which("python3", path="/usr/bin:/bin") or "python3"]
        process = subprocess.Popen(["ip", "netns", "exec", ns, *command, "-c", LISTENER, json.dumps(listeners)],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.processes.append(process)
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.strip() == "ready", process.stderr.read() if process.stderr else line
        return process

    def probe(self, ns: str, proto: str, host: str, port: int, source: str = "-") -> dict[str, str]:
        out = self.run_in(ns, sys.executable, "-c", PROBE, proto, host, str(port), source)
        return json.loads(out)  # type: ignore[no-any-return]

    def counters(self) -> dict[str, int]:
        data = json.loads(self.run_in(self.gateway, "nft", "-j", "list", "counters", "table", "inet", "schoolgate"))
        return {item["counter"]["name"]: item["counter"]["packets"] for item in data["nftables"]
                if "counter" in item}

    def stop(self) -> list[str]:
        """Stop every process; return what each printed (the hits)."""
        outputs = []
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
            try:
                out, _ = process.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                out, _ = process.communicate()
            outputs.append(out or "")
        self.processes.clear()
        return outputs


@pytest.fixture
def lab() -> Iterator[Lab]:
    reason = cannot_make_namespaces()
    if reason:
        pytest.skip(reason)
    tag = uuid.uuid4().hex[:6]
    made = Lab(f"sg-pupil-{tag}", f"sg-gw-{tag}", f"sg-net-{tag}")
    names = [made.pupil, made.gateway, made.internet]
    try:
        for ns in names:
            sh("ip", "netns", "add", ns)
            # IPv4 in 198.18.0.0/15 only: no IPv6 (no link-local chatter, no router solicitations).
            made.run_in(ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "link", "add", "name", "eth0", "netns", made.pupil, "type", "veth", "peer", "name", "lan0",
           "netns", made.gateway)
        sh("ip", "link", "add", "name", "eth0", "netns", made.internet, "type", "veth", "peer", "name", "wan0",
           "netns", made.gateway)
        for ns, dev, addresses in [(made.pupil, "eth0", [f"{PUPIL}/24", f"{STAFF}/24"]),
                                   (made.gateway, "lan0", [f"{GATEWAY_LAN}/24"]),
                                   (made.gateway, "wan0", [f"{GATEWAY_WAN}/24"]),
                                   (made.internet, "eth0", [f"{INTERNET}/24"])]:
            for address in addresses:
                sh("ip", "-n", ns, "addr", "add", address, "dev", dev)
            sh("ip", "-n", ns, "link", "set", dev, "up")
        sh("ip", "-n", made.pupil, "route", "add", "default", "via", GATEWAY_LAN)
        sh("ip", "-n", made.internet, "route", "add", "198.18.1.0/24", "via", GATEWAY_WAN)
        made.run_in(made.gateway, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        yield made
    finally:
        made.stop()
        for ns in names:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
        assert not set(names) & set(sh("ip", "netns", "list").split()), "a namespace was left behind"


@pytest.fixture
def gateway_cli(cli: Cli, tmp_path: Path) -> Cli:
    cli.config.write_text(CONFIG.format(var=tmp_path / "var"), encoding="utf-8")
    return cli


def load_ruleset(lab: Lab, gateway_cli: Cli) -> str:
    ruleset = gateway_cli("gateway", "nftables", "--workers", "2").stdout
    lab.run_in(lab.gateway, "nft", "-f", "-", input=ruleset)
    return ruleset


def test_ruleset_redirects_drops_and_counts_with_stand_ins(lab: Lab, gateway_cli: Cli) -> None:
    load_ruleset(lab, gateway_cli)
    lab.listen(lab.gateway, [("udp", "0.0.0.0", 5353, "sinkhole"), ("tcp", "0.0.0.0", 5353, "sinkhole"),
                             ("udp", "0.0.0.0", 5354, "bypass"), ("tcp", "0.0.0.0", 5354, "bypass"),
                             ("udp", "0.0.0.0", 5853, "dotcatch"), ("tcp", "0.0.0.0", 5853, "dotcatch"),
                             ("udp", "0.0.0.0", 5855, "portcatch"), ("tcp", "0.0.0.0", 5855, "portcatch"),
                             ("tcp", "0.0.0.0", 8080, "proxy0"), ("tcp", "0.0.0.0", 8081, "proxy1"),
                             ("tcp", "0.0.0.0", 8000, "web")], unprivileged=True)
    internet = lab.listen(lab.internet, [
        ("udp", INTERNET, 53, "resolver"), ("tcp", INTERNET, 53, "resolver"),
        ("tcp", INTERNET, 80, "internet"), ("tcp", INTERNET, 443, "internet"), ("tcp", INTERNET, 8443, "other"),
        ("udp", INTERNET, 80, "quic"), ("udp", INTERNET, 443, "quic"),
        ("tcp", INTERNET, 853, "dot"), ("udp", INTERNET, 853, "doq"),
        ("tcp", INTERNET, 22, "ssh"), ("udp", INTERNET, 51820, "wireguard")])
    assert all(value == 0 for value in lab.counters().values())

    def reply(proto: str, host: str, port: int, source: str = "-", ns: str | None = None) -> str:
        answer = lab.probe(ns or lab.pupil, proto, host, port, source)
        return answer.get("reply") or f"error: {answer['error']}"

    # DNS to the gateway: the sinkhole; DNS to any other resolver: the sinkhole's second port.
    assert reply("udp", GATEWAY_LAN, 53) == "sinkhole|-"
    assert reply("tcp", GATEWAY_LAN, 53) == f"sinkhole|{GATEWAY_LAN}:53"
    assert reply("udp", INTERNET, 53) == "bypass|-"
    assert reply("tcp", INTERNET, 53) == f"bypass|{INTERNET}:53"
    # Web traffic: the proxy, which can still read where the pupil meant to go (SO_ORIGINAL_DST, read here
    # by a listener with no capability at all, as the proxy's unit runs); two workers share it.
    ports = (80, 443, 443, 80)
    proxied = [reply("tcp", INTERNET, port).split("|") for port in ports]
    assert [destination for _, destination in proxied] == [f"{INTERNET}:{port}" for port in ports]
    assert {worker for worker, _ in proxied} == {"proxy0", "proxy1"}
    # Web to the block page's address (the gateway's own, where DNS sends a blocked name) goes to the proxy too.
    assert reply("tcp", GATEWAY_LAN, 80).endswith(f"|{GATEWAY_LAN}:80")
    assert reply("tcp", GATEWAY_LAN, 443).endswith(f"|{GATEWAY_LAN}:443")
    # QUIC goes nowhere; DoT and DoQ go to the DoT catcher, which can still read where the pupil meant to go.
    assert reply("udp", INTERNET, 443) == "error: timeout"
    assert reply("udp", INTERNET, 80) == "error: timeout"
    assert reply("tcp", INTERNET, 853) == f"dotcatch|{INTERNET}:853"
    assert reply("udp", INTERNET, 853) == "dotcatch|-"
    assert reply("tcp", GATEWAY_LAN, 853) == f"dotcatch|{GATEWAY_LAN}:853"  # the gateway's own address too
    # What allowed_egress lists is forwarded untouched (the gateway is not simply dropping everything) ...
    assert reply("tcp", INTERNET, 8443) == "other|-"
    # ... any other port goes to the port catcher, which can still read where the pupil meant to go (TCP).
    assert reply("tcp", INTERNET, 22) == f"portcatch|{INTERNET}:22"
    assert reply("udp", INTERNET, 51820) == "portcatch|-"
    # The admin web: refused to a pupil's address, open to the staff network.
    assert reply("tcp", GATEWAY_LAN, 8000, PUPIL) == "error: refused"
    assert reply("tcp", GATEWAY_LAN, 8000, STAFF) == f"web|{GATEWAY_LAN}:8000"
    # The gateway's own traffic is exempt: its DNS, HTTPS and DoT reach the internet.
    assert reply("udp", INTERNET, 53, ns=lab.gateway) == "resolver|-"
    assert reply("tcp", INTERNET, 443, ns=lab.gateway) == "internet|-"
    assert reply("tcp", INTERNET, 853, ns=lab.gateway) == "dot|-"

    counters = lab.counters()
    assert counters["dns_gateway"] >= 2 and counters["dns_bypass"] >= 2
    assert counters["web_proxied"] >= 4 and counters["quic_dropped"] >= 2
    assert counters["dot_rejected"] >= 1 and counters["doq_rejected"] >= 1 and counters["web_refused"] >= 1
    assert counters["blocked_port"] >= 2
    prerouting = lab.run_in(lab.gateway, "nft", "list", "chain", "inet", "schoolgate", "prerouting")
    assert prerouting.count('log prefix "schoolgate-dot "') == 2

    lab.processes.remove(internet)
    lab.processes.append(internet)  # stop the internet's listener last so it reports every hit
    hits = lab.stop()[-1].split("\n")
    internet_hits = sorted({line for line in hits if line.startswith("hit")})
    # Only the gateway's own traffic and the allowed port reached the internet: nothing from the pupil
    # on 53, 80, 443, 853, 22 or 51820.
    assert internet_hits == ["hit tcp 443 internet", "hit tcp 8443 other", "hit tcp 853 dot",
                             "hit udp 53 resolver"]


def test_ruleset_is_replaced_not_doubled_on_reload(lab: Lab, gateway_cli: Cli) -> None:
    load_ruleset(lab, gateway_cli)
    load_ruleset(lab, gateway_cli)
    tables = lab.run_in(lab.gateway, "nft", "list", "tables")
    assert tables.split("\n").count("table inet schoolgate") == 1



# The real services' lab: two origins in the internet namespace besides its resolver, and the names they answer.
FACEBOOK, LEARN = "198.19.0.3", "198.19.0.4"
FACEBOOK_NAME, LEARN_NAME = "www.facebook.com", "learn.example.org"
IPAD = "Class 3 iPad 07"

# "The internet": a resolver (UDP and TCP 53) that knows the two names, and per origin address HTTP on 80,
# HTTPS on 443 with the origin's own certificate, and listeners on UDP 443 (QUIC) and TCP/UDP 853 (DoT/DoQ).
# It prints "dns NAME" for each question and "conn PROTO ADDRESS PORT" for each connection or datagram.
INTERNET_SERVICES = r"""
import json, socket, ssl, struct, sys, threading
from dnslib import QTYPE, RCODE, RR, A, DNSRecord
spec = json.loads(sys.argv[1])
lock = threading.Lock()
def out(*words):
    with lock:
        print(*words, flush=True)
def answer(data):
    query = DNSRecord.parse(data)
    reply = query.reply()
    name = str(query.q.qname).rstrip(".").lower()
    out("dns", name)
    if name not in spec["names"]:
        reply.header.rcode = RCODE.NXDOMAIN
    elif query.q.qtype == QTYPE.A:
        reply.add_answer(RR(query.q.qname, QTYPE.A, rdata=A(spec["names"][name]), ttl=60))
    return reply.pack()
def exactly(conn, size):
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data
def dns_tcp(conn, _address, _port, _context):
    with conn:
        while True:
            (length,) = struct.unpack("!H", exactly(conn, 2))
            reply = answer(exactly(conn, length))
            conn.sendall(struct.pack("!H", len(reply)) + reply)
def web(conn, address, _port, context):
    with conn:
        if context is not None:
            conn = context.wrap_socket(conn, server_side=True)
        request = b""
        while b"\r\n\r\n" not in request:
            chunk = conn.recv(4096)
            if not chunk:
                return
            request += chunk
        body = f"origin {spec['origins'][address]['name']}\n".encode()
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n"
                     + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
def handle(handler, conn, address, port, context):
    conn.settimeout(5)
    try:
        handler(conn, address, port, context)
    except (OSError, EOFError):
        pass
def tcp(address, port, handler, context=None):
    server = socket.create_server((address, port), reuse_port=False)
    def loop():
        while True:
            conn, _ = server.accept()
            out("conn", "tcp", address, port)
            threading.Thread(target=handle, args=(handler, conn, address, port, context), daemon=True).start()
    threading.Thread(target=loop, daemon=True).start()
def udp(address, port, dns=False):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((address, port))
    def loop():
        while True:
            data, peer = sock.recvfrom(4096)
            if dns:
                sock.sendto(answer(data), peer)
            else:
                out("conn", "udp", address, port)
    threading.Thread(target=loop, daemon=True).start()
udp(spec["resolver"], 53, dns=True)
tcp(spec["resolver"], 53, dns_tcp)
for address, origin in spec["origins"].items():
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(origin["cert"], origin["key"])
    tcp(address, 80, web)
    tcp(address, 443, web, context)
    tcp(address, 853, web)
    udp(address, 443)
    udp(address, 853)
print("ready", flush=True)
threading.Event().wait()
"""

# What the pupil's device does, one act per run: prints a JSON result (or {"error": "Type: message"}).
PUPIL_CLIENT = r"""
import hashlib, json, socket, ssl, sys
import dns.message, dns.query, dns.rcode
def read_all(sock):
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data
def http_answer(data):
    head, _, body = data.partition(b"\r\n\r\n")
    return {"status": int(head.split()[1]), "body": body.decode(errors="replace")}
def act(kind, *args):
    if kind == "dns":
        name, server, proto = args
        ask = dns.query.tcp if proto == "tcp" else dns.query.udp
        reply = ask(dns.message.make_query(name, "A"), server, timeout=3)
        return {"rcode": dns.rcode.to_text(reply.rcode()),
                "answers": [rd.to_text() for rrset in reply.answer for rd in rrset]}
    address, host = args[0], args[1]
    request = f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
    if kind == "http":
        with socket.create_connection((address, 80), timeout=5) as sock:
            sock.sendall(request)
            return http_answer(read_all(sock))
    cafile = args[2]
    if cafile == "-":  # trust anything: a handshake that fails was refused, not distrusted
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    else:
        context = ssl.create_default_context(cafile=cafile)
    with socket.create_connection((address, 443), timeout=5) as raw, \
            context.wrap_socket(raw, server_hostname=host) as tls:
        der = tls.getpeercert(binary_form=True)
        tls.sendall(request)
        return {"cert_sha256": hashlib.sha256(der).hexdigest(), **http_answer(read_all(tls))}
try:
    result = act(*sys.argv[1:])
except Exception as exc:
    result = {"error": f"{type(exc).__name__}: {exc}"}
print(json.dumps(result))
"""


def real_config(var: Path) -> str:
    """The lab's configuration with every service on the gateway's LAN address, where `redirect` sends."""
    return (CONFIG.format(var=var)
            .replace('dns_bypass_listen = "0.0.0.0:5354"', f'dns_bypass_listen = "{GATEWAY_LAN}:5354"')
            .replace('dot_catch_listen = "0.0.0.0:5853"', f'dot_catch_listen = "{GATEWAY_LAN}:5853"')
            .replace('listen = ["0.0.0.0:5353"]', f'listen = ["{GATEWAY_LAN}:5353"]')
            .replace('listen = "0.0.0.0:8080"', f'listen = "{GATEWAY_LAN}:8080"'))


def start_in(lab: Lab, ns: str, args: list[str], log: Path, env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    """A process in `ns`, its own process group (so its workers can be stopped with it), output to `log`."""
    with open(log, "w", encoding="utf-8") as out:
        process = subprocess.Popen(["ip", "netns", "exec", ns, *args], cwd=cwd, env=env, text=True,
                                   stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    lab.processes.append(process)
    return process


def stop_group(process: subprocess.Popen[str]) -> int:
    """SIGTERM to the process (it stops its workers and writes its events first); when it has not ended
    within 20 s, SIGKILL to its whole process group (the leader not yet reaped, so the group is surely ours)."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
    return process.wait()


def closed_at_once(answer: dict[str, str]) -> bool:
    """The probe's view of a connection the server accepted and closed unread: reset (on recv, or on the
    probe's send when the reset came first), or an empty read; never a reply, never a timeout."""
    return answer in ({"error": "refused"}, {"reply": ""}) or answer.get("error", "").startswith("[Errno 32]")


def wait_listening(lab: Lab, services: list[subprocess.Popen[str]], logs: list[Path],
                   wanted: set[str], timeout: float = 40) -> None:
    """Poll the gateway's sockets until every "proto:address:port" in `wanted` is listening."""
    deadline = time.monotonic() + timeout
    while True:
        for process, log in zip(services, logs, strict=True):
            assert process.poll() is None, f"{log.name} exited ({process.returncode}):\n{log.read_text()}"
        listening = set()
        for proto, flag in (("tcp", "-Hltn"), ("udp", "-Hlun")):
            for line in lab.run_in(lab.gateway, "ss", flag).splitlines():
                listening.add(f"{proto}:{line.split()[3]}")
        if wanted <= listening:
            return
        assert time.monotonic() < deadline, (f"not listening after {timeout} s: {sorted(wanted - listening)}\n"
                                             + "\n".join(log.read_text() for log in logs))
        time.sleep(0.2)


def test_real_sinkhole_and_proxy_behind_the_ruleset(lab: Lab, gateway_cli: Cli, tmp_path: Path) -> None:
    """What a pupil meets: the real `schoolgate dns` and `schoolgate proxy` (two workers) behind the ruleset."""
    from tests.e2e.proxy_support import fingerprint, self_signed

    var = tmp_path / "var"
    gateway_cli.config.write_text(real_config(var), encoding="utf-8")
    gateway_cli("init")
    env = {**os.environ, "SCHOOLGATE_CONFIG": str(gateway_cli.config)}
    env.pop("SCHOOLGATE_DATABASE_URL", None)

    # The internet: its resolver and the two origins, each with a self-signed certificate of its own.
    sh("ip", "-n", lab.internet, "addr", "add", f"{FACEBOOK}/24", "dev", "eth0")
    sh("ip", "-n", lab.internet, "addr", "add", f"{LEARN}/24", "dev", "eth0")
    certs = {}
    for address, name in ((FACEBOOK, FACEBOOK_NAME), (LEARN, LEARN_NAME)):
        folder = tmp_path / name
        folder.mkdir()
        certs[address] = self_signed(folder, [name])
    spec = {"resolver": INTERNET, "names": {FACEBOOK_NAME: FACEBOOK, LEARN_NAME: LEARN},
            "origins": {address: {"name": name, "cert": str(certs[address][0]), "key": str(certs[address][1])}
                        for address, name in ((FACEBOOK, FACEBOOK_NAME), (LEARN, LEARN_NAME))}}
    internet = subprocess.Popen(["ip", "netns", "exec", lab.internet, sys.executable, "-c", INTERNET_SERVICES,
                                 json.dumps(spec)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lab.processes.append(internet)
    assert internet.stdout is not None
    assert internet.stdout.readline().strip() == "ready", internet.stderr.read() if internet.stderr else ""

    # The pupil's iPad, registered at an old address by its MAC; the DHCP server's lease tells `devices sync`
    # (run on the gateway) where it is now. (The neighbour table, which any device writes, never moves a
    # registered device.)
    mac = json.loads(lab.run_in(lab.pupil, "ip", "-j", "link", "show", "eth0"))[0]["address"]
    gateway_cli("devices", "add", "--ip", "198.18.1.99", "--mac", mac, "--name", IPAD, "--group", "pupils")
    assert lab.probe(lab.pupil, "tcp", GATEWAY_LAN, 5353) == {"error": "refused"}  # nothing listens yet
    leases = tmp_path / "dnsmasq.leases"
    leases.write_text(f"{int(time.time()) + 3600} {mac} {PUPIL} ipad *\n", encoding="utf-8")
    synced = lab.run_in(lab.gateway, "env", f"SCHOOLGATE_CONFIG={gateway_cli.config}", sys.executable, "-m",
                        "deploy.cli", "devices", "sync", "--leases", str(leases)).strip()
    assert f"moved: {IPAD}: 198.18.1.99 -> {PUPIL}" in synced, synced
    devices = [json.loads(line) for line in gateway_cli("devices", "list", "--json").stdout.splitlines()]
    # (the address `devices add` gave is the technician's static one: it stays, the learnt one is added)
    assert [(d["name"], d["mac"], d["ip"], d["addresses"]) for d in devices] == [
        (IPAD, mac, PUPIL, [PUPIL, "198.18.1.99"])]

    ruleset = load_ruleset(lab, gateway_cli)  # two proxy workers, on 8080 and 8081
    assert "redirect to :5354" in ruleset and "redirect to :5853" in ruleset
    assert "redirect to : numgen inc mod 2 map { 0 : 8080, 1 : 8081 }" in ruleset
    logs = [tmp_path / "dns.log", tmp_path / "proxy.log"]
    services = [
        start_in(lab, lab.gateway, [sys.executable, "-m", "deploy.cli", "dns"], logs[0], env, tmp_path),
        start_in(lab, lab.gateway, [sys.executable, "-m", "deploy.cli", "proxy", "--workers", "2"], logs[1],
                 {**env, "SCHOOLGATE_PROXY_UPSTREAM_CA": str(certs[LEARN][0])}, tmp_path),
    ]
    try:
        wait_listening(lab, services, logs, {f"{proto}:{GATEWAY_LAN}:{port}" for proto in ("tcp", "udp")
                                             for port in (5353, 5354, 5853)}
                       | {f"tcp:{GATEWAY_LAN}:8080", f"tcp:{GATEWAY_LAN}:8081"})

        def pupil(*args: str) -> dict[str, object]:
            return json.loads(lab.run_in(lab.pupil, sys.executable, "-c", PUPIL_CLIENT, *args))  # type: ignore[no-any-return]

        # DNS to the gateway: the blocked name resolves to the block page; the allowed one to its origin.
        blocked_answer = {"rcode": "NOERROR", "answers": [GATEWAY_LAN]}
        assert pupil("dns", FACEBOOK_NAME, GATEWAY_LAN, "udp") == blocked_answer
        assert pupil("dns", LEARN_NAME, GATEWAY_LAN, "udp") == {"rcode": "NOERROR", "answers": [LEARN]}
        # DNS to the internet's resolver: answered by the sinkhole all the same (the real resolver would
        # have said FACEBOOK), over UDP and TCP.
        assert pupil("dns", FACEBOOK_NAME, INTERNET, "udp") == blocked_answer
        assert pupil("dns", FACEBOOK_NAME, INTERNET, "tcp") == blocked_answer
        assert pupil("dns", LEARN_NAME, INTERNET, "tcp") == {"rcode": "NOERROR", "answers": [LEARN]}

        # HTTP to the blocked site: the proxy's block page, at the address DNS gave and at the site's own.
        for address in (GATEWAY_LAN, FACEBOOK):
            page = pupil("http", address, FACEBOOK_NAME)
            assert page.get("status") == 403 and "social_media" in str(page.get("body")), (address, page)
        assert pupil("http", LEARN, LEARN_NAME) == {"status": 200, "body": f"origin {LEARN_NAME}\n"}
        # HTTPS with the blocked name as SNI, at the address DNS gave and at the site's own: closed, though
        # the client would trust any certificate at all (so no TLS server answered).
        for address in (GATEWAY_LAN, FACEBOOK):
            refused = pupil("https", address, FACEBOOK_NAME, "-")
            assert str(refused.get("error", "")).startswith(("SSLEOFError", "ConnectionResetError")), refused
        # The allowed HTTPS site arrives with its own certificate, untouched.
        allowed = pupil("https", LEARN, LEARN_NAME, str(certs[LEARN][0]))
        assert allowed == {"cert_sha256": fingerprint(certs[LEARN][0].read_bytes()), "status": 200,
                           "body": f"origin {LEARN_NAME}\n"}, allowed
        # QUIC goes nowhere; DoT is closed at once (a reset, or the end of the stream) and DoQ never answered:
        # the DoT catcher records both.
        assert lab.probe(lab.pupil, "udp", LEARN, 443) == {"error": "timeout"}
        assert closed_at_once(lab.probe(lab.pupil, "tcp", LEARN, 853))
        assert lab.probe(lab.pupil, "udp", LEARN, 853) == {"error": "timeout"}
    finally:
        codes = [stop_group(process) for process in services]  # SIGTERM: the events are written first
    assert codes == [0, 0], "\n".join(log.read_text() for log in logs)

    internet.terminate()
    seen, _ = internet.communicate(timeout=10)
    lab.processes.remove(internet)
    # The internet saw the sinkhole's questions for the allowed name only, and connections to the allowed
    # origin only: never the blocked name, nothing to the blocked origin, no QUIC, DoT or DoQ.
    assert sorted(set(seen.splitlines())) == [f"conn tcp {LEARN} 443", f"conn tcp {LEARN} 80",
                                              f"dns {LEARN_NAME}"], seen

    events = [json.loads(line) for line in gateway_cli("logs", "--json", "--limit", "1000").stdout.splitlines()]
    mine = [e for e in events if e["client_ip"] == PUPIL]
    summary = [(e["source"], e["host"], e["action"], e["category"], e["signal"]) for e in mine]
    assert all(e["device"] == IPAD for e in mine), summary
    fb = ("block", "social_media")
    assert [s for s in summary if s[0] == "dns"] == [
        ("dns", FACEBOOK_NAME, *fb, None), ("dns", LEARN_NAME, "allow", None, None),
        ("dns", FACEBOOK_NAME, *fb, "dns_other_resolver"), ("dns", FACEBOOK_NAME, *fb, "dns_other_resolver"),
        ("dns", LEARN_NAME, "allow", None, "dns_other_resolver")], summary
    # the DoT catcher's: one event per protocol, the TCP one with the address the pupil's device meant to reach
    assert [s for s in summary if s[0] == "gateway"] == [
        ("gateway", LEARN, "block", None, "dot"), ("gateway", "", "block", None, "dot")], summary
    assert [e["qtype"] for e in mine if e["source"] == "gateway"] == ["DoT", "DoQ"]
    # the proxy's: HTTP and TLS to the blocked site at two addresses, to the allowed one at one (two workers
    # write them, so in either order)
    assert sorted(s for s in summary if s[0] == "proxy") == sorted(
        [("proxy", FACEBOOK_NAME, *fb, None)] * 4 + [("proxy", LEARN_NAME, "allow", None, None)] * 2), summary
    # The MAC itself is in every one of the pupil's events (the log's JSON shows the name; the table has both).
    import sqlite3

    with sqlite3.connect(var / "schoolgate.db") as db:
        macs = {row[0] for row in db.execute("SELECT mac FROM access_events WHERE client_ip = ?", (PUPIL,))}
    assert macs == {mac}
