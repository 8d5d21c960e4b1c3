"""`schoolgate proxy` as a real process, driven by curl: block pages, CONNECT, pass-through, events, reloads."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

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


def _environment(folder: Path, intercept: bool) -> tuple[Cli, ProxyProcess, Origin, Origin, Path]:
    port = free_port()
    config = folder / "schoolgate.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{folder}/var/schoolgate.db"\n'
                      f'[proxy]\nlisten = "127.0.0.1:{port}"\nintercept_tls = {str(intercept).lower()}\n'
                      '[web]\npublic_url = "https://school.example/admin"\n', encoding="utf-8")
    cli = Cli(config, folder)
    cli("init")
    blocklist = folder / "blocked.txt"
    blocklist.write_text("blocked.test\ntiktok.com\n", encoding="utf-8")
    cli("lists", "import", str(blocklist), "--category", "social_test")
    cert = self_signed(folder, ["localhost", "www.google.com"])
    origin, plain = Origin(cert), Origin()
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
