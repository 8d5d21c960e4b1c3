"""Running a real `schoolgate dns` for end-to-end tests: free ports, start, wait until it answers, stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import dns.exception
import dns.message
import dns.query
import dns.rcode

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free port")


def write_config(path: Path, database_url: str, port: int, upstreams: list[int], extra: str = "",
                 bypass_port: int | None = None, dot_port: int | None = None, catch_port: int | None = None) -> Path:
    """A config listening on 127.0.0.1:`port`, for DNS to other resolvers on `bypass_port` and for DNS over
    TLS/QUIC on `dot_port` and for blocked ports on `catch_port` (default: free ports; `schoolgate dns` always
    opens all four). `extra` continues the [dns] section."""
    ups = ", ".join(f'"127.0.0.1:{p}"' for p in upstreams)
    if bypass_port is None:
        bypass_port = free_port()
        while bypass_port == port:
            bypass_port = free_port()
    if dot_port is None:
        dot_port = free_port()
        while dot_port in (port, bypass_port):
            dot_port = free_port()
    if catch_port is None:
        catch_port = free_port()
        while catch_port in (port, bypass_port, dot_port):
            catch_port = free_port()
    path.write_text(f'[database]\nurl = "{database_url}"\n\n'
                    f'[gateway]\ndns_bypass_listen = "127.0.0.1:{bypass_port}"\n'
                    f'dot_catch_listen = "127.0.0.1:{dot_port}"\n'
                    f'port_catch_listen = "127.0.0.1:{catch_port}"\n\n'
                    f'[dns]\nlisten = ["127.0.0.1:{port}"]\nupstreams = [{ups}]\n{extra}', encoding="utf-8")
    return path


class DnsProcess:
    """`python -m deploy.cli --config X dns` in a subprocess, its log in a file."""

    def __init__(self, config: Path, cwd: Path, port: int, extra_args: tuple[str, ...] = ()) -> None:
        self.config, self.cwd, self.port = config, cwd, port
        self.extra_args = extra_args
        self.log_path = cwd / f"dns-{port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> DnsProcess:
        env = {k: v for k, v in os.environ.items() if k not in ("SCHOOLGATE_CONFIG", "SCHOOLGATE_DATABASE_URL")}
        env["PYTHONPATH"] = str(ROOT)
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "deploy.cli", "--config", str(self.config), "dns",
                                          *self.extra_args],
                                         cwd=self.cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        probe = dns.message.make_query("use-application-dns.net", "A")
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"schoolgate dns exited ({self.proc.returncode}):\n{self.log()}")
            try:
                dns.query.udp(probe, "127.0.0.1", port=self.port, timeout=0.2)
                return self
            except (TimeoutError, dns.exception.Timeout, OSError):
                time.sleep(0.05)
        self.stop()
        raise AssertionError(f"schoolgate dns did not answer within {timeout} s:\n{self.log()}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def ask(self, name: str, qtype: str = "A", tcp: bool = False, source: str = "127.0.0.1",
            edns: bool = True, timeout: float = 3.0) -> dns.message.Message:
        query = dns.message.make_query(name, qtype, use_edns=0 if edns else False)
        if tcp:
            return dns.query.tcp(query, "127.0.0.1", port=self.port, timeout=timeout, source=source)
        return dns.query.udp(query, "127.0.0.1", port=self.port, timeout=timeout, source=source,
                             ignore_trailing=True)

    def dig(self, *args: str) -> str:
        result = subprocess.run(["dig", "@127.0.0.1", "-p", str(self.port), "+time=3", "+tries=1", *args],
                                capture_output=True, text=True, timeout=30)
        return result.stdout


def wait_until(check, timeout: float, interval: float = 0.05):
    """Poll `check()` until it returns something true; return it, or the last value after `timeout`."""
    deadline = time.monotonic() + timeout
    value = check()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = check()
    return value
