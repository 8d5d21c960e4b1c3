"""An allowed site whose server refuses the connection: one INFO line says so; mitmproxy's own
per-connection lines only with `schoolgate proxy -v`."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Cli
from tests.e2e.proxy_support import Origin, ProxyProcess, curl, free_port

# mitmproxy's own lines for one connection (its logger is mitmproxy.proxy.server).
MITMPROXY_CONNECTION_LINES = re.compile(r"mitmproxy\.proxy\.server INFO .*(client connect|client disconnect|"
                                        r"server connect|error establishing server connection)")


def _proxy(folder: Path, closed: int, open_port: int, *args: str) -> ProxyProcess:
    """The proxy with 127.0.0.0/8 opened (`internal_destinations`) and both local ports in `connect_ports`."""
    port = free_port()
    config = folder / "schoolgate.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{folder}/var/schoolgate.db"\n'
                      f'[proxy]\nlisten = "127.0.0.1:{port}"\n'
                      f'connect_ports = {json.dumps([443, closed, open_port])}\n'
                      'internal_destinations = ["127.0.0.0/8"]\n', encoding="utf-8")
    Cli(config, folder)("init")
    return ProxyProcess(config, folder, port, args=args)


@pytest.fixture(scope="module")
def origin() -> Iterator[Origin]:
    server = Origin()
    yield server
    server.close()


def _stopped_output(proxy: ProxyProcess) -> str:
    time.sleep(0.3)  # the log line is written as the hook runs; give a loaded machine a moment
    status = proxy.stop()
    out = proxy.output()
    assert status == 0, out
    return out


def _failure_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if "upstream connection failed" in line]


def test_a_refused_upstream_is_one_info_line_naming_client_host_address_error(tmp_path: Path,
                                                                            origin: Origin) -> None:
    closed = free_port()  # bound and closed again: nothing listens there
    proxy = _proxy(tmp_path, closed, origin.port)
    try:
        plain = curl("-x", proxy.url, "-o", "/dev/null", "-w", "%{http_code}", f"http://localhost:{closed}/")
        assert plain.stdout == "502", plain
        ok = curl("-x", proxy.url, f"http://localhost:{origin.port}/")
        assert ok.stdout == "hello from the origin\n", ok.stderr
    finally:
        out = _stopped_output(proxy)
    lines = _failure_lines(out)
    assert len(lines) == 1, out
    assert re.search(rf"schoolgate\.proxy INFO upstream connection failed: client 127\.0\.0\.1, host localhost, "
                     rf"address 127\.0\.0\.1:{closed}: .*(refused|Connect call failed)", lines[0]), lines[0]
    assert not MITMPROXY_CONNECTION_LINES.search(out), out


def test_a_refused_upstream_through_a_tunnel_is_logged_too(tmp_path: Path, origin: Origin) -> None:
    closed = free_port()
    proxy = _proxy(tmp_path, closed, origin.port)
    try:
        result = curl("-x", proxy.url, "-o", "/dev/null", f"https://localhost:{closed}/")
        assert result.returncode != 0  # the tunnel opens (lazily), then the server cannot be reached
    finally:
        out = _stopped_output(proxy)
    lines = _failure_lines(out)
    assert len(lines) == 1, out
    assert f"host localhost, address 127.0.0.1:{closed}: " in lines[0], lines[0]


def test_a_refused_connection_is_not_an_upstream_failure(tmp_path: Path, origin: Origin) -> None:
    """A destination our own hooks refuse was never tried: no "upstream connection failed" line."""
    closed = free_port()
    proxy = _proxy(tmp_path, closed, origin.port)
    try:
        refused = curl("-x", proxy.url, "-o", "/dev/null", "-w", "%{http_code}", "http://10.255.0.1:81/")
        assert refused.stdout == "403", refused
    finally:
        out = _stopped_output(proxy)
    assert _failure_lines(out) == [], out


def test_verbose_shows_mitmproxys_connection_lines(tmp_path: Path, origin: Origin) -> None:
    closed = free_port()
    proxy = _proxy(tmp_path, closed, origin.port, "-v")
    try:
        curl("-x", proxy.url, "-o", "/dev/null", f"http://localhost:{closed}/")
        ok = curl("-x", proxy.url, f"http://localhost:{origin.port}/")
        assert ok.stdout == "hello from the origin\n", ok.stderr
    finally:
        out = _stopped_output(proxy)
    assert len(_failure_lines(out)) == 1, out
    for what in ("client connect", "client disconnect", "server connect", "error establishing server connection"):
        assert re.search(rf"mitmproxy\.proxy\.server INFO .*{what}", out), (what, out)
