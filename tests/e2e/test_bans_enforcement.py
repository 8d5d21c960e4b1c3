"""End to end: circumvention signals produced for real, the ban, its enforcement, supervised access and the lift.

Real `schoolgate dns`, `schoolgate proxy` and `schoolgate scheduler` processes (the scheduler runs the
circumvention watcher) share one SQLite database; a stand-in upstream resolver answers every allowed name
with 198.18.0.10 (only ever read in dig's output, never connected to) and a local aiosmtpd server takes
the headteacher's email. Devices are loopback addresses: pupil A 127.0.0.5, pupil B 127.0.0.6, a staff
laptop 127.0.0.7. The tests run in order in one world: pupil A's ban is supervised, then lifted.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from mitmproxy import tls

from rules.monitoring.signals import SignalKind
from rules.monitoring.states import BanState
from tests.conftest import ROOT, Cli
from tests.dns_block.stub import DEFAULT_A, Stub
from tests.e2e.dnsserver import DnsProcess, free_port
from tests.e2e.proxy_support import Origin, ProxyProcess, curl, self_signed
from tests.mailbox import Inbox

BLOCK_PAGE = "127.0.0.100"  # [network] block_page_ipv4: what a blocked (or banned) A query answers
PUPIL_A, PUPIL_B, STAFF_LAPTOP = "127.0.0.5", "127.0.0.6", "127.0.0.7"
BARE_IP = "127.0.0.9"  # a CONNECT target given as an address (nothing listens there; nothing is sent)
HEAD = ("ann.head@school.test", "Ann Head", "head password 1")
ICT = ("ian.tech@school.test", "Ian Tech", "ict password 12")
ENFORCE_WITHIN = 2.0  # seconds: DNS and the proxy follow a ban, a session's end and a lift this fast
VPN_NAMES = ("nordvpn.com", "expressvpn.com", "protonvpn.com", "cyberghostvpn.com")

pytestmark = pytest.mark.skipif(subprocess.run(["which", "dig"], capture_output=True).returncode != 0
                                or subprocess.run(["which", "curl"], capture_output=True).returncode != 0,
                                reason="needs dig and curl")


@dataclass
class World:
    folder: Path
    cli: Cli
    dns: DnsProcess
    proxy: ProxyProcess
    scheduler: subprocess.Popen[bytes]
    origin: Origin  # plain HTTP, on localhost
    tls_origin: Origin  # HTTPS, on localhost
    inbox: Inbox
    stub: Stub
    db_path: Path
    device_ids: dict[str, int] = field(default_factory=dict)

    # -- what the processes wrote --------------------------------------------------------------------

    def query(self, sql: str, *args: object) -> list[tuple[Any, ...]]:
        with sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=5) as conn:
            return list(conn.execute(sql, args))

    def bans(self) -> list[dict[str, Any]]:
        """`schoolgate bans list --json`: the current bans."""
        out = self.cli("bans", "list", "--json").stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def events(self, client_ip: str) -> list[dict[str, Any]]:
        out = self.cli("logs", "--json", "--client", client_ip, "--limit", "10000").stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def logs(self) -> str:
        scheduler_log = (self.folder / "scheduler.log").read_text(errors="replace")
        return (f"--- dns ---\n{self.dns.log()[-3000:]}\n--- proxy ---\n{self.proxy.output()[-3000:]}\n"
                f"--- scheduler ---\n{scheduler_log[-3000:]}")

    # -- acting as a device ----------------------------------------------------------------------------

    def dig(self, source: str, name: str) -> list[str]:
        """The A records DNS answers `source` for `name` (dig +short)."""
        result = subprocess.run(["dig", "-b", source, "@127.0.0.1", "-p", str(self.dns.port), "+short", "+time=2",
                                 "+tries=1", name, "A"], capture_output=True, text=True, timeout=10)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout.split()

    def fetch(self, source: str, path: str = "/") -> tuple[int, str]:
        """Plain HTTP through the proxy from `source`: (status, body)."""
        result = curl("--interface", source, "-x", self.proxy.url, "-o", "-", "-w", "\n%{http_code}",
                      f"http://localhost:{self.origin.port}{path}")
        assert result.returncode == 0, result.stderr
        body, _, status = result.stdout.rpartition("\n")
        return int(status), body

    def connect(self, source: str, target: str) -> socket.socket:
        """A CONNECT through the proxy from `source`; the socket once the proxy answered 200."""
        sock = socket.socket()
        sock.settimeout(10)
        sock.bind((source, 0))
        sock.connect(("127.0.0.1", self.proxy.port))
        sock.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(1)
            assert chunk, f"the proxy closed the CONNECT to {target}: {answer!r}"
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 200"), answer
        return sock


def clienthello_record(sni: str, extra: list[tuple[int, bytes]]) -> bytes:
    """A TLS record holding a minimal TLS 1.3-style ClientHello naming `sni`, with `extra` extensions."""
    name = sni.encode("ascii")
    entry = b"\x00" + struct.pack("!H", len(name)) + name
    extensions = [(0x0000, struct.pack("!H", len(entry)) + entry),
                  (0x002B, b"\x02\x03\x04"),  # supported_versions: TLS 1.3
                  *extra]
    ext_bytes = b"".join(struct.pack("!HH", kind, len(body)) + body for kind, body in extensions)
    body = (b"\x03\x03" + bytes(range(32)) + b"\x00" + struct.pack("!H", 2) + b"\x13\x01" + b"\x01\x00"
            + struct.pack("!H", len(ext_bytes)) + ext_bytes)
    handshake = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + struct.pack("!H", len(handshake)) + handshake


def wait_for(check: Callable[[], Any], timeout: float, what: str, world: World | None = None,
             interval: float = 0.05) -> Any:
    """Poll `check()` until it returns something true; fail the test (with the processes' logs) after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            pytest.fail(f"not within {timeout} s: {what}" + (f"\n{world.logs()}" if world else ""))
        time.sleep(interval)


def enforced_within(check: Callable[[], bool], since: float, what: str, world: World) -> float:
    """Poll `check()` until true; assert it became true within ENFORCE_WITHIN seconds of `since` (wall clock)."""
    wait_for(check, ENFORCE_WITHIN + 3, what, world, interval=0.02)
    elapsed = time.time() - since
    assert elapsed <= ENFORCE_WITHIN, f"{what} took {elapsed:.2f} s (more than {ENFORCE_WITHIN} s)"
    return elapsed


def ban_rows(world: World, device_id: int) -> list[tuple[int, str, str]]:
    """(id, state, created_at) of the device's current bans, straight from the database (fast to poll)."""
    return world.query("SELECT id, state, created_at FROM bans WHERE device_id = ? AND state IN "
                       "('active', 'confirmed')", device_id)


def utc_seconds(text: str) -> float:
    moment = datetime.fromisoformat(text)
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("bans")
    stack = ExitStack()
    stub = stack.enter_context(Stub())
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    origin, tls_origin = Origin(), Origin(self_signed(folder, ["localhost"]))
    dns_port, proxy_port = free_port(), free_port()
    db_path = folder / "var" / "schoolgate.db"
    config = folder / "schoolgate.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{db_path}"\n\n'
        f'[network]\nblock_page_ipv4 = "{BLOCK_PAGE}"\n\n'
        f'[dns]\nlisten = ["127.0.0.1:{dns_port}"]\nupstreams = ["127.0.0.1:{stub.port}"]\n\n'
        # The origins are on loopback, which the proxy refuses unless a school lists it (as here), and
        # on ports of their own, which a CONNECT may use only when listed.
        f'[proxy]\nlisten = "127.0.0.1:{proxy_port}"\nconnect_ports = [443, {tls_origin.port}]\n'
        'internal_destinations = ["127.0.0.0/8"]\n\n'
        f'[web]\npublic_url = "https://127.0.0.1:{free_port()}"\n\n'
        f'[bans]\nallowlist = ["learning.example"]\n\n'
        # a local test server without TLS: what is tested here is who is told, not how mail travels
        f'[smtp]\nhost = "127.0.0.1"\nport = {smtp.port}\nfrom_address = "filter@school.test"\ntls = "none"\n',
        encoding="utf-8")
    cli = Cli(config, folder)
    cli("init", "--headteacher", HEAD[0], "--headteacher-name", HEAD[1], "--ict", ICT[0], "--ict-name", ICT[1],
        "--password-stdin", input=f"{HEAD[2]}\n{ICT[2]}\n")
    device_ids = {}
    for ip, name, group, person in ((PUPIL_A, "Sam's iPad", "pupils", "Sam Pupil"),
                                    (PUPIL_B, "Class 4 laptop 12", "pupils", "Bea Pupil"),
                                    (STAFF_LAPTOP, "Staff laptop 3", "staff", "Tom Teacher")):
        out = cli("devices", "add", "--ip", ip, "--name", name, "--group", group, "--person", person).stdout
        device_ids[ip] = int(out.split("#", 1)[1].split()[0])
    dns = DnsProcess(config, folder, dns_port)
    proxy: ProxyProcess | None = None
    scheduler: subprocess.Popen[bytes] | None = None
    try:
        dns.start()
        proxy = ProxyProcess(config, folder, proxy_port)
        with open(folder / "scheduler.log", "wb") as log:
            scheduler = subprocess.Popen([sys.executable, "-m", "deploy.cli", "--config", str(config), "scheduler"],
                                         cwd=folder, stdout=log, stderr=subprocess.STDOUT,
                                         env={**_clean_env(), "PYTHONPATH": str(ROOT)})
        wait_for(lambda: "circumvention watcher" in (folder / "scheduler.log").read_text(errors="replace")
                 or scheduler.poll() is not None, 30, "the scheduler starts")
        assert scheduler.poll() is None, (folder / "scheduler.log").read_text(errors="replace")
        yield World(folder, cli, dns, proxy, scheduler, origin, tls_origin, inbox, stub, db_path, device_ids)
    finally:
        statuses = {"dns": dns.stop(), "proxy": proxy.stop() if proxy else 0}
        if scheduler is not None:
            scheduler.terminate()
            try:
                statuses["scheduler"] = scheduler.wait(timeout=20)
            except subprocess.TimeoutExpired:
                scheduler.kill()
                statuses["scheduler"] = scheduler.wait()
        origin.close()
        tls_origin.close()
        smtp.stop()
        stack.close()
    assert statuses == {"dns": 0, "proxy": 0, "scheduler": 0}, statuses


def _clean_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k not in ("SCHOOLGATE_CONFIG", "SCHOOLGATE_DATABASE_URL")}


EVENT_COLUMNS = ("source", "host", "action", "category", "signal")


def event_with(world: World, client_ip: str, **fields: object) -> dict[str, Any] | None:
    """The first access event from `client_ip` with these values, read from the database (fast to poll)."""
    for row in world.query(f"SELECT {', '.join(EVENT_COLUMNS)} FROM access_events WHERE client_ip = ? ORDER BY id",
                           client_ip):
        event = dict(zip(EVENT_COLUMNS, row, strict=True))
        if all(event.get(k) == v for k, v in fields.items()):
            return event
    return None


# -- pupil A: three different signals, then a fourth makes the ban -----------------------------------------------


def test_each_signal_raises_the_score_and_passing_the_threshold_bans(world: World) -> None:
    device_a = world.device_ids[PUPIL_A]
    assert world.dig(PUPIL_A, "www.allowed.example") == [DEFAULT_A]  # normal filtering to start with

    # 1. a VPN service's name (circumvention category, weight 3)
    assert world.dig(PUPIL_A, VPN_NAMES[0]) == [BLOCK_PAGE]
    vpn = wait_for(lambda: event_with(world, PUPIL_A, source="dns", host=VPN_NAMES[0]), 5, "the VPN lookup's event")
    assert vpn["category"] == "circumvention" and vpn["action"] == "block"

    # 2. CONNECT to a bare address (weight 1)
    world.connect(PUPIL_A, f"{BARE_IP}:{world.tls_origin.port}").close()
    wait_for(lambda: event_with(world, PUPIL_A, source="proxy", host=BARE_IP, signal=SignalKind.BARE_IP), 5,
             "the bare-IP CONNECT's event", world)

    # 3. a ClientHello carrying the ECH extension (weight 3), inside a CONNECT to a name
    hello = clienthello_record("localhost", [(0xFE0D, b"\x00\x00\x01\x00\x01\x07" + bytes(16))])
    assert any(kind == 0xFE0D for kind, _ in tls.ClientHello(hello[9:]).extensions)  # what mitmproxy will see
    with world.connect(PUPIL_A, f"localhost:{world.tls_origin.port}") as sock:
        sock.sendall(hello)
        try:
            sock.recv(4096)  # the origin's answer to a hello it cannot finish (or the close)
        except OSError:
            pass
    wait_for(lambda: event_with(world, PUPIL_A, source="proxy", host="localhost", signal=SignalKind.ECH), 5,
             "the ECH ClientHello's event", world)

    # 3 + 1 + 3 = 7 < 10: no ban yet. Give the watcher time to have read every event so far.
    time.sleep(1.5)
    assert world.bans() == []

    # 4. a second VPN name: 10 -> the ban
    before_fourth = time.time()
    assert world.dig(PUPIL_A, VPN_NAMES[1]) == [BLOCK_PAGE]
    rows = wait_for(lambda: ban_rows(world, device_a), 5, "the ban on pupil A", world)
    assert len(rows) == 1
    ban_id, state, created_at = rows[0]
    assert state == BanState.ACTIVE
    since = utc_seconds(created_at)
    assert since >= before_fourth - 0.01  # the fourth signal made it, not the first three

    # DNS and the proxy enforce it within 2 s of the ban being written
    enforced_within(lambda: world.dig(PUPIL_A, "www.allowed.example") == [BLOCK_PAGE], since,
                    "DNS answers the banned device with the block page", world)
    assert world.dig(PUPIL_A, "learning.example") == [DEFAULT_A]  # the allowlist stays open
    assert world.dig(PUPIL_A, "www.learning.example") == [DEFAULT_A]
    enforced_within(lambda: world.fetch(PUPIL_A)[0] == 403, since, "the proxy refuses the banned device", world)
    status, page = world.fetch(PUPIL_A, "/homework")
    assert status == 403
    assert "This device cannot use the internet now" in page and "speak to your teacher" in page
    assert "Sam&#x27;s iPad" in page or "Sam's iPad" in page
    # a CONNECT is refused too
    with socket.create_connection(("127.0.0.1", world.proxy.port), timeout=10, source_address=(PUPIL_A, 0)) as sock:
        sock.sendall(f"CONNECT localhost:{world.tls_origin.port} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
        refusal = b""
        while b"teacher" not in refusal and (chunk := sock.recv(4096)):
            refusal += chunk
        assert refusal.startswith(b"HTTP/1.1 403") and b"speak to your teacher" in refusal, refusal

    # the access log as `schoolgate logs` shows it: each signal on its event
    logged = {(e["source"], e["host"], e["signal"], e["category"]) for e in world.events(PUPIL_A)}
    assert {("dns", VPN_NAMES[0], None, "circumvention"), ("proxy", BARE_IP, "bare_ip", None),
            ("proxy", "localhost", "ech", None), ("dns", VPN_NAMES[1], None, "circumvention")} <= logged

    # the ban as `schoolgate bans list` shows it, with its evidence: the four signals, 10 points
    (listed,) = world.bans()
    assert listed["id"] == ban_id and listed["device"] == "Sam's iPad" and listed["person"] == "Sam Pupil"
    evidence = json.loads(listed["evidence"])
    assert sorted((e["kind"], e["host"]) for e in evidence) == sorted([
        ("circumvention_site", VPN_NAMES[0]), ("bare_ip", BARE_IP), ("ech", "localhost"),
        ("circumvention_site", VPN_NAMES[1])])
    assert sum(e["weight"] for e in evidence) == 10

    # pupil B is unaffected
    assert world.dig(PUPIL_B, "www.allowed.example") == [DEFAULT_A]
    assert world.fetch(PUPIL_B) == (200, "hello from the origin\n")

    # the headteacher was told, by email, naming the device
    wait_for(lambda: world.inbox.messages, 10, "the email to the headteacher", world)
    (mail,) = world.inbox.messages
    assert HEAD[0] in mail["To"]
    assert "Sam's iPad" in mail["Subject"]
    assert f"/bans/{ban_id}" in mail.get_payload()


# -- pupil B: one DNS-over-HTTPS request is enough on its own ------------------------------------------------------


def test_one_doh_request_through_the_proxy_bans(world: World, tmp_path: Path) -> None:
    device_b = world.device_ids[PUPIL_B]
    assert ban_rows(world, device_b) == []
    query = tmp_path / "query.bin"
    query.write_bytes(bytes.fromhex("abcd01000001000000000000076578616d706c6503636f6d0000010001"))  # example.com A
    result = curl("--interface", PUPIL_B, "-x", world.proxy.url, "-o", "/dev/null", "-w", "%{http_code}",
                  "-H", "content-type: application/dns-message", "--data-binary", f"@{query}",
                  f"http://localhost:{world.origin.port}/dns-query")
    assert result.returncode == 0, result.stderr
    wait_for(lambda: event_with(world, PUPIL_B, source="proxy", signal=SignalKind.DOH), 5, "the DoH request's event",
             world)
    rows = wait_for(lambda: ban_rows(world, device_b), 5, "the ban on pupil B", world)
    since = utc_seconds(rows[0][2])
    enforced_within(lambda: world.dig(PUPIL_B, "www.allowed.example") == [BLOCK_PAGE], since,
                    "DNS enforces pupil B's ban", world)
    enforced_within(lambda: world.fetch(PUPIL_B)[0] == 403, since, "the proxy enforces pupil B's ban", world)
    (ban,) = [b for b in world.bans() if b["device_id"] == device_b]
    assert [(e["kind"], e["host"]) for e in json.loads(ban["evidence"])] == [("doh", "localhost")]


# -- the staff laptop: an alert for the headteacher, never a ban ---------------------------------------------------


def test_staff_circumvention_raises_an_alert_and_no_ban(world: World) -> None:
    device = world.device_ids[STAFF_LAPTOP]
    for name in VPN_NAMES:  # 4 x 3 = 12 >= 10
        assert world.dig(STAFF_LAPTOP, name) == [BLOCK_PAGE]
    alerts = wait_for(lambda: world.query("SELECT actor, target, after FROM audit_log WHERE action = "
                                          "'circumvention.alert'"), 5, "the alert in the audit log", world)
    assert len(alerts) == 1
    actor, target, after = alerts[0]
    assert actor == "detector" and target == f"device #{device}"
    assert sorted(e["host"] for e in json.loads(after)["evidence"]) == sorted(VPN_NAMES)
    assert world.query("SELECT id FROM bans WHERE device_id = ?", device) == []
    assert all(b["device_id"] != device for b in world.bans())
    assert world.dig(STAFF_LAPTOP, "www.allowed.example") == [DEFAULT_A]
    assert world.fetch(STAFF_LAPTOP)[0] == 200


# -- supervised access: opens for its time, closes by itself --------------------------------------------------------


def _pupil_a_ban(world: World) -> int:
    rows = ban_rows(world, world.device_ids[PUPIL_A])
    assert len(rows) == 1, "pupil A's ban (made by the first test) is not in force"
    return int(rows[0][0])


def test_a_supervised_session_opens_access_and_closes_by_itself(world: World) -> None:
    from rules.monitoring import bans
    from rules.store.db import Database
    from rules.store.models import User

    ban_id = _pupil_a_ban(world)
    assert world.dig(PUPIL_A, "www.allowed.example") == [BLOCK_PAGE]
    # rules.monitoring.bans.supervise (the web's path: checks, audit) opens it for its minimum of one minute; the same
    # transaction then shortens it to end 6 s from now, so the test sees it close by itself.
    db = Database(f"sqlite:///{world.db_path}")
    try:
        with db.session() as session:
            head = session.query(User).filter_by(email=HEAD[0]).one()
            row = bans.supervise(session, ban_id, head, "Mrs Jones", 1)
            opened = time.time()
            ends = datetime.now(UTC) + timedelta(seconds=6)
            row.ends_at = ends
    finally:
        db.dispose()
    end = ends.timestamp()

    enforced_within(lambda: world.dig(PUPIL_A, "www.allowed.example") == [DEFAULT_A], opened,
                    "DNS lets the supervised device through", world)
    assert world.dig(PUPIL_A, "facebook.com") == [BLOCK_PAGE]  # normal filtering, not no filtering
    enforced_within(lambda: world.fetch(PUPIL_A)[0] == 200, opened, "the proxy lets the supervised device through",
                    world)
    assert time.time() < end - 1, "the session's opening took too long to test its end"
    assert world.dig(PUPIL_A, "www.allowed.example") == [DEFAULT_A]  # still open until the end

    # nobody does anything: at the end the ban is back by itself
    wait_for(lambda: time.time() >= end, 10, "the session's end")
    enforced_within(lambda: world.dig(PUPIL_A, "www.allowed.example") == [BLOCK_PAGE], end,
                    "DNS enforces the ban again after the session", world)
    enforced_within(lambda: world.fetch(PUPIL_A)[0] == 403, end, "the proxy enforces the ban again", world)
    assert world.query("SELECT staff_name FROM supervised_sessions WHERE ban_id = ?", ban_id) == [("Mrs Jones",)]


# -- the lift: normal filtering again ---------------------------------------------------------------------------------


def test_lifting_the_ban_restores_normal_filtering(world: World) -> None:
    from rules.monitoring import bans
    from rules.store.db import Database
    from rules.store.models import User

    ban_id = _pupil_a_ban(world)
    assert world.fetch(PUPIL_A)[0] == 403
    db = Database(f"sqlite:///{world.db_path}")
    try:
        with db.session() as session:
            head = session.query(User).filter_by(email=HEAD[0]).one()
            bans.lift_ban(session, ban_id, head, "Spoke with Sam and the parents.", false_positive=False)
        lifted = time.time()
    finally:
        db.dispose()
    enforced_within(lambda: world.dig(PUPIL_A, "www.allowed.example") == [DEFAULT_A], lifted,
                    "DNS filters the device normally after the lift", world)
    enforced_within(lambda: world.fetch(PUPIL_A) == (200, "hello from the origin\n"), lifted,
                    "the proxy filters the device normally after the lift", world)
    assert world.dig(PUPIL_A, "facebook.com") == [BLOCK_PAGE]
    assert all(b["id"] != ban_id for b in world.bans())
    (state,) = world.query("SELECT state FROM bans WHERE id = ?", ban_id)
    assert state == ("lifted",)
