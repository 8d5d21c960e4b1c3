"""Load for the kill tests: real clients that note when each answer arrived, and the writer's processes.

`DnsLoad` sends one UDP query a name at a steady rate (each name its own, so its access event can be found)
and records the wall-clock time each answer arrived; `HttpLoad` does the same with plain HTTP requests through
the proxy, a few connections at once. `writer_pids` finds the event writer processes a serving process started;
`wait_for_writer` waits until no writer holds a spool folder (everything it could store is stored).
"""

from __future__ import annotations

import fcntl
import http.client
import os
import socket
import struct
import threading
import time
from pathlib import Path

from rules.store.event_drain import LOCK_NAME


def dns_query(query_id: int, name: str) -> bytes:
    """A plain recursive A query, built by hand (dnspython is too slow to send thousands a second)."""
    labels = b"".join(bytes([len(part)]) + part.encode() for part in name.split(".")) + b"\x00"
    return struct.pack(">HHHHHH", query_id, 0x0100, 1, 0, 0, 0) + labels + struct.pack(">HH", 1, 1)


class DnsLoad:
    """`rate` queries a second to 127.0.0.1:`port`, names[i] with ID i (fewer than 65,536 names)."""

    def __init__(self, port: int, names: list[str], rate: int) -> None:
        assert len(names) < 65536
        self.port, self.names, self.rate = port, names, rate
        self.answered: dict[str, float] = {}  # name: when its answer arrived (time.time())
        self.sent = 0
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._send, daemon=True),
                         threading.Thread(target=self._receive, daemon=True)]

    def start(self) -> DnsLoad:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self._sock.close()

    def _send(self) -> None:
        started = time.monotonic()
        for i, name in enumerate(self.names):
            if self._stop.is_set():
                return
            delay = started + i / self.rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self._sock.sendto(dns_query(i, name), ("127.0.0.1", self.port))
            self.sent = i + 1

    def _receive(self) -> None:
        while not self._stop.is_set():
            try:
                data = self._sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            arrived = time.time()
            query_id = struct.unpack_from(">H", data)[0]
            if query_id < len(self.names):
                self.answered.setdefault(self.names[query_id], arrived)


class HttpLoad:
    """Plain HTTP GETs of `urls` through the proxy at 127.0.0.1:`port`, `connections` at a time, each kept alive."""

    def __init__(self, port: int, urls: list[str], connections: int = 4) -> None:
        self.port, self.urls = port, urls
        self.answered: dict[str, float] = {}  # url: when its whole answer had arrived (time.time())
        self._next = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(connections)]

    def start(self) -> HttpLoad:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)

    def _take(self) -> str | None:
        with self._lock:
            if self._next >= len(self.urls) or self._stop.is_set():
                return None
            self._next += 1
            return self.urls[self._next - 1]

    def _run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        while (url := self._take()) is not None:
            try:
                conn.request("GET", url)
                response = conn.getresponse()
                response.read()
                self.answered[url] = time.time()
                if response.getheader("connection", "").lower() == "close":
                    conn.close()
            except (OSError, http.client.HTTPException):
                conn.close()
                if self._stop.is_set():
                    return
                time.sleep(0.01)
        conn.close()


def writer_pids(parent: int) -> list[int]:
    """The event writer processes `parent` started (`python -m rules.store.event_process`)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == parent and b"rules.store.event_process" in command:
            found.append(int(entry.name))
    return found


def wait_for_writer(spool_dir: Path, timeout: float = 60) -> None:
    """Wait until no event writer holds the spool folder: whatever it could store is stored."""
    fd = os.open(spool_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise AssertionError(f"an event writer still holds {spool_dir} after {timeout} s") from None
                time.sleep(0.1)
    finally:
        os.close(fd)
