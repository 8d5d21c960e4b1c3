"""Safeguarding end to end: real `schoolgate proxy` (regular mode, plain HTTP search URLs), `schoolgate dns`
and `schoolgate scheduler` (its concern watcher), and a real SMTP server (aiosmtpd).

A pupil's registered device searches for a high-severity phrase: within 10 s there is a concern routed to the
DSL, and the DSL's email arrives with neither the pupil's name nor the search in its subject line. The same
from a staff laptop goes to the headteacher. A list of innocent searches, full of the trigger words inside
other words and contexts, raises nothing. A DNS lookup of a site in a safeguarding site category raises a
concern too, blocked as it is.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import pytest
from aiosmtpd.controller import Controller

from tests.conftest import ROOT, Cli
from tests.dns_block.stub import Stub
from tests.e2e.dnsserver import DnsProcess, free_port
from tests.e2e.proxy_support import ProxyProcess
from tests.mailbox import Inbox

PUPIL, STAFF = "127.0.0.5", "127.0.0.7"
DSL = ("dee.dsl@school.test", "Dee Dsl")
HEAD = ("hal.head@school.test", "Hal Head")
WITHIN = 10.0
INNOCENT = ["how to kill a python process", "scunthorpe united results", "essex weather", "cocktail sausages",
            "shooting stars meteor shower", "isis river oxford", "killer whale habitat", "assassins creed map",
            "the hanging gardens of babylon", "cut and paste shortcut", "drugs in sport ks3", "sussex university",
            "therapist near me", "skills for life", "bomb calorimeter experiment"]

pytestmark = pytest.mark.skipif(subprocess.run(["which", "dig"], capture_output=True).returncode != 0,
                                reason="needs dig")


@dataclass
class World:
    folder: Path
    cli: Cli
    dns: DnsProcess
    proxy: ProxyProcess
    inbox: Inbox

    def concerns(self) -> list[dict[str, Any]]:
        out = self.cli("concerns", "list", "--json", "--all").stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def search(self, source: str, term: str) -> None:
        """A plain HTTP Google search through the proxy from `source` (nothing answers upstream: the search
        is recorded as the request passes)."""
        url = f"http://www.google.com/search?q={quote_plus(term)}"
        with socket.create_connection(("127.0.0.1", self.proxy.port), timeout=10, source_address=(source, 0)) as sock:
            sock.sendall(f"GET {url} HTTP/1.1\r\nHost: www.google.com\r\nConnection: close\r\n\r\n".encode())
            while sock.recv(65536):
                pass

    def dig(self, source: str, name: str) -> None:
        subprocess.run(["dig", "-b", source, "@127.0.0.1", "-p", str(self.dns.port), "+short", "+time=2",
                        "+tries=1", name, "A"], capture_output=True, text=True, timeout=10, check=True)


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout} s: {what}")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("safeguarding")
    stack = ExitStack()
    stub = stack.enter_context(Stub())
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    dns_port, proxy_port = free_port(), free_port()
    config = folder / "schoolgate.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{folder}/var/schoolgate.db"\n\n'
        f'[dns]\nlisten = ["127.0.0.1:{dns_port}"]\nupstreams = ["127.0.0.1:{stub.port}"]\n\n'
        f'[proxy]\nlisten = "127.0.0.1:{proxy_port}"\n\n'
        '[web]\npublic_url = "https://school.example/admin"\n\n'
        '[safeguarding]\nchair_of_governors_email = "chair@governors.test"\n\n'
        f'[smtp]\nhost = "127.0.0.1"\nport = {smtp.port}\nfrom_address = "filter@school.test"\ntls = "none"\n',
        encoding="utf-8")
    cli = Cli(config, folder)
    cli("init")
    cli("users", "add", DSL[0], "--name", DSL[1], "--role", "dsl")
    cli("users", "add", HEAD[0], "--name", HEAD[1], "--role", "headteacher")
    cli("devices", "add", "--ip", PUPIL, "--name", "Sam's iPad", "--group", "pupils", "--person", "Sam Pupil")
    cli("devices", "add", "--ip", STAFF, "--name", "Staff laptop 3", "--group", "staff", "--person", "Tom Teacher")
    sites = folder / "selfharm.txt"
    sites.write_text("cutting-forum.example\n", encoding="utf-8")
    cli("lists", "import", str(sites), "--category", "selfharm_sites")
    cli("safeguarding", "mark", "selfharm_sites")
    dns = DnsProcess(config, folder, dns_port)
    proxy: ProxyProcess | None = None
    scheduler: subprocess.Popen[bytes] | None = None
    env = {k: v for k, v in os.environ.items() if k not in ("SCHOOLGATE_CONFIG", "SCHOOLGATE_DATABASE_URL")}
    try:
        dns.start()
        proxy = ProxyProcess(config, folder, proxy_port)
        with open(folder / "scheduler.log", "wb") as log:
            scheduler = subprocess.Popen([sys.executable, "-m", "deploy.cli", "--config", str(config), "scheduler"],
                                         cwd=folder, stdout=log, stderr=subprocess.STDOUT,
                                         env={**env, "PYTHONPATH": str(ROOT)})
        wait_for(lambda: "concern watcher" in (folder / "scheduler.log").read_text(errors="replace")
                 or scheduler.poll() is not None, 30, "the scheduler starts")
        assert scheduler.poll() is None, (folder / "scheduler.log").read_text(errors="replace")
        yield World(folder, cli, dns, proxy, inbox)
    finally:
        statuses = {"dns": dns.stop(), "proxy": proxy.stop() if proxy else 0}
        if scheduler is not None:
            scheduler.terminate()
            try:
                statuses["scheduler"] = scheduler.wait(timeout=20)
            except subprocess.TimeoutExpired:
                scheduler.kill()
                statuses["scheduler"] = scheduler.wait()
        smtp.stop()
        stack.close()
    assert statuses == {"dns": 0, "proxy": 0, "scheduler": 0}, statuses


def _mail_to(world: World, address: str) -> Message | None:
    return next((m for m in world.inbox.messages if m["To"] == address), None)


def test_innocent_searches_raise_nothing(world: World) -> None:
    for term in INNOCENT:
        world.search(PUPIL, term)
    marker = "volcano facts for homework"
    world.search(PUPIL, marker)
    wait_for(lambda: marker in world.cli("logs", "--json", "--client", PUPIL).stdout, WITHIN, "the searches logged")
    time.sleep(3)  # the watcher polls every second: give it time to have read them all
    assert world.concerns() == []


def test_a_pupils_high_search_reaches_the_dsl_within_10_seconds(world: World) -> None:
    started = time.monotonic()
    world.search(PUPIL, "how to kill myself")
    concern = wait_for(lambda: next((c for c in world.concerns() if c["person"] == "Sam Pupil"), None), WITHIN,
                       "the pupil's concern")
    mail = wait_for(lambda: _mail_to(world, DSL[0]), WITHIN - (time.monotonic() - started), "the DSL's email")
    assert (concern["source"], concern["severity"], concern["category"], concern["routed_to"], concern["device"]) \
        == ("search", "high", "suicide_self_harm", "dsl", "Sam's iPad")
    assert concern["matched"] == "how to kill myself"
    subject = mail["Subject"]
    assert f"#{concern['id']}" in subject
    for secret in ("Sam", "iPad", "kill", "myself"):
        assert secret not in subject
    payload = mail.get_payload(decode=True)
    assert isinstance(payload, bytes)
    body = payload.decode()
    assert f"https://school.example/admin/concerns/{concern['id']}" in body


def test_the_same_from_a_staff_laptop_goes_to_the_headteacher(world: World) -> None:
    world.search(STAFF, "how to kill myself")
    concern = wait_for(lambda: next((c for c in world.concerns() if c["device"] == "Staff laptop 3"), None), WITHIN,
                       "the staff concern")
    assert concern["routed_to"] == "headteacher"
    mail = wait_for(lambda: _mail_to(world, HEAD[0]), WITHIN, "the headteacher's email")
    assert "Tom" not in mail["Subject"]
    assert all(m["To"] != DSL[0] or f"#{concern['id']}" not in m["Subject"] for m in world.inbox.messages)


def test_a_dns_lookup_of_a_safeguarding_site_raises_a_concern(world: World) -> None:
    world.dig(PUPIL, "cutting-forum.example")
    concern = wait_for(lambda: next((c for c in world.concerns() if c["category"] == "selfharm_sites"), None),
                       WITHIN, "the site category concern")
    assert (concern["source"], concern["person"], concern["matched"]) == ("site", "Sam Pupil", "cutting-forum.example")
