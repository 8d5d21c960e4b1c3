"""`schoolgate proxy` as a real process, driven by curl: block pages, CONNECT, pass-through, events, reloads."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from rules.monitoring.signals import SignalKind
from tests.conftest import Cli
from tests.e2e.proxy_support import (
    Origin,
    ProxyProcess,
    curl,
    fingerprint,
    free_port,
    raw_http,
    self_signed,
    served_certificate,
)


@dataclass
class Env:
    cli: Cli
    folder: Path
    proxy: ProxyProcess
    origin: Origin  # HTTPS, on localhost, with its own self-signed certificate
    plain: Origin  # HTTP
    origin_cert: Path

    def events(self) -> list[dict[str, object]]:
        out = self.cli("logs", "--json", "--limit", "10000").stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]


def _environment(folder: Path, intercept: bool, internal: list[str] | None = None,
                 web_listen: str | None = None) -> tuple[Cli, ProxyProcess, Origin, Origin, Path]:
    """The proxy with its local origins. The origins listen on 127.0.0.1, which the proxy refuses unless
    `internal` lists it (`[proxy] internal_destinations`, the school's own escape hatch); their ports (and
    the admin web's) are in `connect_ports` beside 443, so that a CONNECT there is not refused for its port."""
    port = free_port()
    cert = self_signed(folder, ["localhost", "www.google.com"])
    origin, plain = Origin(cert), Origin()
    internal = ["127.0.0.0/8"] if internal is None else internal
    ports = [443, origin.port, plain.port] + ([int(web_listen.rsplit(":", 1)[1])] if web_listen else [])
    config = folder / "schoolgate.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{folder}/var/schoolgate.db"\n'
                      f'[proxy]\nlisten = "127.0.0.1:{port}"\nintercept_tls = {str(intercept).lower()}\n'
                      f'connect_ports = {json.dumps(ports)}\n'
                      f'internal_destinations = {json.dumps(internal)}\n'
                      '[web]\npublic_url = "https://school.example/admin"\n'
                      + (f'listen = "{web_listen}"\n' if web_listen else ""), encoding="utf-8")
    cli = Cli(config, folder)
    cli("init")
    blocklist = folder / "blocked.txt"
    blocklist.write_text("blocked.test\ntiktok.com\n", encoding="utf-8")
    cli("lists", "import", str(blocklist), "--category", "social_test")
    proxy = ProxyProcess(config, folder, port, env={"SCHOOLGATE_PROXY_UPSTREAM_CA": str(cert[0])})
    return cli, proxy, origin, plain, cert[0]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    folder = tmp_path_factory.mktemp("proxy")
    cli, proxy, origin, plain, cert = _environment(folder, intercept=False)
    yield Env(cli, folder, proxy, origin, plain, cert)
    status = proxy.stop()
    origin.close()
    plain.close()
    assert status == 0, proxy.output()


def test_plain_http_block_page_is_escaped(env: Env) -> None:
    answer = raw_http(env.proxy.port, b"GET http://blocked.test/<script>alert(1)</script> HTTP/1.1\r\n"
                                      b"Host: blocked.test\r\nConnection: close\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 403")
    page = body.decode()
    assert "<script>" not in page
    assert "http://blocked.test/&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'id="category">social_test<' in page
    assert "https://school.example/admin/requests/new?url=http%3A%2F%2Fblocked.test%2F%3Cscript%3E" in page


def test_plain_http_allowed_reaches_the_origin(env: Env) -> None:
    result = curl("-x", env.proxy.url, f"http://localhost:{env.plain.port}/hello")
    assert result.stdout == "hello from the origin\n", result.stderr


def test_connect_to_a_blocked_host_is_refused(env: Env) -> None:
    result = curl("-x", env.proxy.url, "-w", "%{http_connect}", "-o", "/dev/null", "https://www.tiktok.com/")
    assert result.stdout == "403"
    assert result.returncode != 0  # no tunnel


def test_allowed_https_passes_through_with_the_origins_own_certificate(env: Env) -> None:
    result = curl("-x", env.proxy.url, "--cacert", str(env.origin_cert), f"https://localhost:{env.origin.port}/")
    assert result.returncode == 0 and result.stdout == "hello from the origin\n", result.stderr
    served = served_certificate(env.proxy.port, "localhost", env.origin.port, env.origin_cert)
    assert fingerprint(served) == fingerprint(env.origin_cert.read_bytes())


def test_blocked_sni_inside_an_allowed_tunnel_never_reaches_the_origin(env: Env) -> None:
    time.sleep(0.3)  # the origin counts a connection after its TLS handshake: let earlier ones land
    before = env.origin.connections
    result = curl("-x", env.proxy.url, "--cacert", str(env.origin_cert),
                  "--connect-to", f"blocked.test:{env.origin.port}:localhost:{env.origin.port}",
                  f"https://blocked.test:{env.origin.port}/")
    assert result.returncode != 0 and "hello" not in result.stdout
    time.sleep(0.3)
    assert env.origin.connections == before


def test_every_decision_is_an_access_event(env: Env) -> None:
    marker = f"http://blocked.test/events-{time.time_ns()}"
    curl("-x", env.proxy.url, marker)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        events = env.events()
        if any(e["url"] == marker for e in events):
            break
        time.sleep(0.3)
    mine = [e for e in events if e["url"] == marker]
    assert mine and mine[0]["source"] == "proxy" and mine[0]["action"] == "block"
    assert mine[0]["category"] == "social_test" and mine[0]["rule"] == "social_test: blocked.test"
    assert any(e["host"] == "www.tiktok.com" and e["qtype"] == "CONNECT" and e["action"] == "block" for e in events)
    assert any(e["host"] == "localhost" and e["action"] == "allow" for e in events)
    assert any(e["host"] == "blocked.test" and e["signal"] == "sni_mismatch" for e in events)


def test_a_policy_change_is_in_force_within_two_seconds(env: Env) -> None:
    url = "http://later.test/"  # allowed: the proxy tries the name and answers 502 (no such host here)
    assert curl("-x", env.proxy.url, "-o", "/dev/null", "-w", "%{http_code}", url).stdout == "502"
    listing = env.folder / "later.txt"
    listing.write_text("later.test\n", encoding="utf-8")
    env.cli("lists", "import", str(listing), "--category", "later_test")
    changed = time.monotonic()
    code = ""
    while time.monotonic() - changed < 5:
        code = curl("-x", env.proxy.url, "-o", "/dev/null", "-w", "%{http_code}", url).stdout
        if code == "403":
            break
        time.sleep(0.1)
    elapsed = time.monotonic() - changed
    assert code == "403" and elapsed <= 2.0, f"{code} after {elapsed:.2f} s"


@pytest.fixture(scope="module")
def intercepting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    folder = tmp_path_factory.mktemp("proxy-intercept")
    cli, proxy, origin, plain, cert = _environment(folder, intercept=True)
    yield Env(cli, folder, proxy, origin, plain, cert)
    status = proxy.stop()
    origin.close()
    plain.close()
    assert status == 0, proxy.output()


def test_intercept_tls_serves_the_block_page_inside_https(intercepting: Env) -> None:
    from filter_proxy.ca import ca_certificate_path

    school_ca = ca_certificate_path(intercepting.folder / "var", create=False)
    assert school_ca.is_file()
    before = intercepting.origin.connections
    result = curl("-x", intercepting.proxy.url, "--cacert", str(school_ca), "-w", "\n%{http_code}",
                  "--connect-to", f"blocked.test:{intercepting.origin.port}:localhost:{intercepting.origin.port}",
                  f"https://blocked.test:{intercepting.origin.port}/page")
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith("\n403")
    assert "Blocked by the school" in result.stdout and "social_test" in result.stdout
    assert intercepting.origin.connections == before


def test_intercepted_search_is_recorded_and_upstream_is_verified(intercepting: Env) -> None:
    from filter_proxy.ca import ca_certificate_path

    school_ca = ca_certificate_path(intercepting.folder / "var", create=False)
    port = intercepting.origin.port
    result = curl("-x", intercepting.proxy.url, "--cacert", str(school_ca),
                  "--connect-to", f"www.google.com:{port}:localhost:{port}",
                  f"https://www.google.com:{port}/search?q=volcano+facts")
    assert result.returncode == 0 and result.stdout == "hello from the origin\n", result.stderr
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        terms = [e["search_term"] for e in intercepting.events() if e["search_term"]]
        if terms:
            break
        time.sleep(0.3)
    assert terms == ["volcano facts"]


# -- where the proxy connects ------------------------------------------------------------------------------


def wait_for_event(env: Env, **fields: object) -> dict[str, object]:
    """The first access event with these values (the writer spools them; give it a moment)."""
    deadline = time.monotonic() + 5
    while True:
        for event in env.events():
            if all(event.get(k) == v for k, v in fields.items()):
                return event
        assert time.monotonic() < deadline, f"no event with {fields}"
        time.sleep(0.3)


def connect_status(proxy: ProxyProcess, target: str) -> bytes:
    """The proxy's status line for `CONNECT target`."""
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as sock:
        sock.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
        answer = b""
        while b"\r\n" not in answer and (chunk := sock.recv(4096)):
            answer += chunk
    return answer.split(b"\r\n", 1)[0]


@dataclass
class Strict:
    """A proxy with the defaults a school starts with: internal_destinations empty. `admin` stands for the
    admin web on 127.0.0.1 ([web] listen points at it)."""

    env: Env
    admin: Origin


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Strict]:
    folder = tmp_path_factory.mktemp("proxy-strict")
    admin = Origin(body=b"ADMIN-WEB-SIGN-IN\n")
    cli, proxy, origin, plain, cert = _environment(folder, intercept=False, internal=[],
                                                   web_listen=f"127.0.0.1:{admin.port}")
    yield Strict(Env(cli, folder, proxy, origin, plain, cert), admin)
    status = proxy.stop()
    for server in (origin, plain, admin):
        server.close()
    assert status == 0, proxy.output()


def test_a_host_header_naming_another_host_is_refused(env: Env) -> None:
    result = curl("-x", env.proxy.url, "-o", "/dev/null", "-w", "%{http_code}", "http://www.facebook.com/",
                  "-H", "Host: allowed.example")
    assert result.stdout == "400", result.stderr
    event = wait_for_event(env, host="www.facebook.com", signal=SignalKind.HOST_MISMATCH)
    assert (event["action"], event["reason"], event["url"]) == ("block", "host_mismatch", "http://www.facebook.com/")
    # the same trick pointing at the reachable local origin is refused too: nothing reaches it
    before = env.plain.connections
    result = curl("-x", env.proxy.url, "-o", "/dev/null", "-w", "%{http_code}",
                  f"http://localhost:{env.plain.port}/", "-H", "Host: blocked.test")
    assert result.stdout == "400"
    assert env.plain.connections == before


def test_the_admin_web_is_not_reachable_through_the_proxy(strict: Strict) -> None:
    env, port = strict.env, strict.admin.port
    result = curl("-x", env.proxy.url, "-o", "-", "-w", "\n%{http_code}", f"http://127.0.0.1:{port}/")
    assert result.stdout.endswith("\n403") and "Blocked by the school" in result.stdout, result.stdout
    assert "ADMIN-WEB-SIGN-IN" not in result.stdout
    assert connect_status(env.proxy, f"127.0.0.1:{port}").startswith(b"HTTP/1.1 403")
    result = curl("-x", env.proxy.url, "-w", "%{http_connect}", "-o", "/dev/null", f"https://127.0.0.1:{port}/")
    assert result.stdout == "403" and result.returncode != 0
    assert strict.admin.connections == 0
    event = wait_for_event(env, host="127.0.0.1", qtype="CONNECT")
    assert (event["action"], event["reason"]) == ("block", "internal_address")


@pytest.mark.parametrize("host", ["127.0.0.1", "2130706433", "0x7f.1", "0x7f000001", "0177.0.0.1", "localhost"])
def test_loopback_in_any_form_is_refused_for_http(strict: Strict, host: str) -> None:
    env = strict.env
    before = env.plain.connections
    result = curl("-x", env.proxy.url, "-o", "-", "-w", "\n%{http_code}", f"http://{host}:{env.plain.port}/{host}")
    assert result.stdout.endswith("\n403"), result.stdout + result.stderr
    assert "hello from the origin" not in result.stdout
    # curl may rewrite a numeric host before sending; the raw request line carries it exactly as typed
    answer = raw_http(env.proxy.port, f"GET http://{host}:{env.plain.port}/raw HTTP/1.1\r\n"
                                      f"Host: {host}:{env.plain.port}\r\nConnection: close\r\n\r\n".encode())
    assert answer.startswith(b"HTTP/1.1 403"), answer[:200]
    assert env.plain.connections == before
    logged = "localhost" if host == "localhost" else "127.0.0.1"
    event = wait_for_event(env, url=f"http://{host}:{env.plain.port}/raw")
    assert (event["host"], event["action"], event["reason"]) == (logged, "block", "internal_address")
    if host != "localhost":
        assert event["signal"] == "bare_ip"


def test_a_name_that_resolves_to_loopback_is_refused_for_connect(strict: Strict) -> None:
    env = strict.env
    assert connect_status(env.proxy, f"localhost:{env.origin.port}").startswith(b"HTTP/1.1 403")
    result = curl("-x", env.proxy.url, "--cacert", str(env.origin_cert), f"https://localhost:{env.origin.port}/")
    assert result.returncode != 0 and "hello" not in result.stdout


def test_connect_only_to_the_configured_ports(strict: Strict) -> None:
    env = strict.env
    assert connect_status(env.proxy, "198.18.0.10:22").startswith(b"HTTP/1.1 403")
    assert connect_status(env.proxy, "localhost:22").startswith(b"HTTP/1.1 403")
    assert connect_status(env.proxy, "198.18.0.10:443").startswith(b"HTTP/1.1 200")  # lazy: nothing sent yet
    event = wait_for_event(env, host="198.18.0.10", qtype="CONNECT", reason="port")
    assert event["action"] == "block"


def test_listing_loopback_in_internal_destinations_opens_the_local_origin(strict: Strict, env: Env) -> None:
    refused = curl("-x", strict.env.proxy.url, "-o", "/dev/null", "-w", "%{http_code}",
                   f"http://127.0.0.1:{strict.env.plain.port}/")
    assert refused.stdout == "403"
    opened = curl("-x", env.proxy.url, f"http://127.0.0.1:{env.plain.port}/")  # env lists 127.0.0.0/8
    assert opened.stdout == "hello from the origin\n", opened.stderr
    numeric = curl("-x", env.proxy.url, f"http://2130706433:{env.plain.port}/")
    assert numeric.stdout == "hello from the origin\n", numeric.stderr
