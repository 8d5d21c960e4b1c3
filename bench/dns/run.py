#!/usr/bin/env python3
"""Benchmark `schoolgate dns` against dnsmasq with dnsperf: same blocklist, same upstream, same queries.

For each blocklist size (100k and 1M names by default) it starts the stand-in upstream
(tests/dns_block/stub.py), imports the list into schoolgate (`schoolgate lists import`) and writes it as an
addn-hosts file for dnsmasq, then runs dnsperf against each server in turn (a short warm-up, then the
measured run) and prints queries/s, latency, lost queries and the ratio. schoolgate runs with per-device
logging on (every query becomes an access event in SQLite); the script counts the events stored for its
queries against the queries dnsperf saw answered.

Usage: .venv/bin/python bench/dns/run.py [--sizes 100000,1000000] [--seconds 20] [--clients 4]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.e2e.dnsserver import DnsProcess, free_port, write_config  # noqa: E402

ALLOWED_NAMES = 1000
BLOCKED_SHARE = 0.2
QUERY_LINES = 100_000


def blocked_name(i: int) -> str:
    return f"ads{i}.tracker{i % 5000}.example"


def write_lists(folder: Path, size: int) -> tuple[Path, Path]:
    plain = folder / f"block-{size}.txt"
    hosts = folder / f"hosts-{size}.txt"
    with open(plain, "w") as p, open(hosts, "w") as h:
        for i in range(size):
            name = blocked_name(i)
            p.write(name + "\n")
            h.write(f"0.0.0.0 {name}\n")
    return plain, hosts


def write_queries(folder: Path, size: int) -> Path:
    """Mostly repeats of a thousand allowed names (A and AAAA), plus a share of blocked names (A)."""
    rng = random.Random(size)
    allowed = [f"www.site{i}.example.org" for i in range(ALLOWED_NAMES)]
    blocked = [blocked_name(rng.randrange(size)) for _ in range(2000)]
    path = folder / f"queries-{size}.txt"
    with open(path, "w") as out:
        for _ in range(QUERY_LINES):
            if rng.random() < BLOCKED_SHARE:
                out.write(f"{rng.choice(blocked)} A\n")
            else:
                out.write(f"{rng.choice(allowed)} {'A' if rng.random() < 0.7 else 'AAAA'}\n")
    return path


def dnsperf(port: int, queries: Path, seconds: int, clients: int) -> dict[str, float]:
    out = subprocess.run(["dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d", str(queries), "-c", str(clients),
                          "-l", str(seconds), "-q", "200", "-t", "2"], capture_output=True, text=True).stdout
    figures: dict[str, float] = {}
    for key, pattern in (("sent", r"Queries sent:\s+(\d+)"), ("completed", r"Queries completed:\s+(\d+)"),
                         ("lost", r"Queries lost:\s+(\d+)"), ("qps", r"Queries per second:\s+([\d.]+)"),
                         ("latency_ms", r"Average Latency \(s\):\s+([\d.]+)"),
                         ("stddev_ms", r"Latency StdDev \(s\):\s+([\d.]+)")):
        match = re.search(pattern, out)
        if match is None:
            raise RuntimeError(f"cannot read dnsperf's output:\n{out}")
        figures[key] = float(match.group(1)) * (1000 if key.endswith("_ms") else 1)
    return figures


def stored_events(database: Path) -> int:
    """The access events in schoolgate's database for the bench's own queries (not the readiness probes)."""
    with sqlite3.connect(database) as conn:
        return int(conn.execute("SELECT count(*) FROM access_events WHERE host NOT IN "
                                "('probe.example.org', 'use-application-dns.net')").fetchone()[0])


def wait_answering(port: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = subprocess.run(["dig", "@127.0.0.1", "-p", str(port), "+time=1", "+tries=1", "probe.example.org"],
                                capture_output=True, text=True)
        if "status: NOERROR" in result.stdout:
            return
        time.sleep(0.2)
    raise RuntimeError(f"nothing answers on port {port}")


def run_size(folder: Path, size: int, upstream_port: int, seconds: int, clients: int,
             workers: list[int]) -> dict[str, dict]:
    plain, hosts = write_lists(folder, size)
    queries = write_queries(folder, size)
    results: dict[str, dict] = {}

    # schoolgate: SQLite, every query logged; the rate limit on but far above what one dnsperf client sends
    work = folder / f"schoolgate-{size}"
    work.mkdir()
    port = free_port()
    config = write_config(work / "schoolgate.toml", f"sqlite:///{work}/var/schoolgate.db", port, [upstream_port],
                          "rate_limit_qps = 100000000\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cli = [sys.executable, "-m", "deploy.cli", "--config", str(config)]
    subprocess.run([*cli, "init"], cwd=work, env=env, check=True, capture_output=True)
    started = time.monotonic()
    subprocess.run([*cli, "lists", "import", str(plain), "--category", "bench"], cwd=work, env=env, check=True,
                   capture_output=True)
    print(f"  [{size}] schoolgate lists import: {time.monotonic() - started:.1f} s", flush=True)
    database = work / "var" / "schoolgate.db"
    for count in workers:
        before = stored_events(database)
        server = DnsProcess(config, work, port, ("--workers", str(count)) if count > 1 else ())
        started = time.monotonic()
        server.start(timeout=300)
        wait_answering(port)
        print(f"  [{size}] schoolgate dns ({count} worker{'s' if count > 1 else ''}) ready in "
              f"{time.monotonic() - started:.1f} s", flush=True)
        warm = dnsperf(port, queries, 3, clients)
        figures = dnsperf(port, queries, seconds, clients)
        server.stop()  # returns once every worker's event writer has made its last pass
        figures["events_written"] = float(stored_events(database) - before)
        figures["events_expected"] = warm["completed"] + figures["completed"]
        results["schoolgate" if count == 1 else f"schoolgate x{count}"] = figures

    # dnsmasq: the same list as an addn-hosts file, the same upstream, a cache as large as it allows; once
    # without logging, once logging every query to a file (the nearest it comes to per-device logging)
    for name, logging_args in (("dnsmasq", []), ("dnsmasq+log", ["--log-queries", f"--log-facility={folder}/dq.log"])):
        port = free_port()
        started = time.monotonic()
        dnsmasq = subprocess.Popen(["dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts",
                                    "--bind-interfaces", "--listen-address=127.0.0.1", f"--port={port}",
                                    f"--server=127.0.0.1#{upstream_port}", f"--addn-hosts={hosts}",
                                    "--cache-size=10000", "--pid-file=", "--user=root",
                                    *(logging_args or ["--log-facility=-"])],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_answering(port)
            print(f"  [{size}] {name} ready in {time.monotonic() - started:.1f} s", flush=True)
            dnsperf(port, queries, 3, clients)
            results[name] = dnsperf(port, queries, seconds, clients)
        finally:
            dnsmasq.send_signal(signal.SIGTERM)
            dnsmasq.wait(10)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description="schoolgate dns vs dnsmasq under dnsperf")
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", default="1,2", help="schoolgate dns worker counts to measure, e.g. 1,2")
    args = parser.parse_args()
    for tool in ("dnsperf", "dnsmasq", "dig"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed")
    folder = Path(tempfile.mkdtemp(prefix="sg-bench-dns-"))
    upstream_port = free_port()
    stub = subprocess.Popen([sys.executable, "-m", "tests.dns_block.stub", "--port", str(upstream_port)], cwd=ROOT,
                            stdout=subprocess.DEVNULL)
    rows = []
    try:
        for size in (int(s) for s in args.sizes.split(",")):
            print(f"blocklist of {size:,} names", flush=True)
            results = run_size(folder, size, upstream_port, args.seconds, args.clients,
                               [int(w) for w in args.workers.split(",")])
            for name, f in results.items():
                rows.append((size, name, f))
    finally:
        stub.terminate()
        stub.wait(10)
        shutil.rmtree(folder, ignore_errors=True)
    print(f"\n{'blocklist':>10} {'server':<14} {'queries/s':>10} {'avg ms':>7} {'sd ms':>7} {'sent':>9} "
          f"{'lost':>6} {'events':>18}")
    for size, name, f in rows:
        events = f"{int(f['events_written'])}/{int(f['events_expected'])}" if "events_written" in f else "-"
        print(f"{size:>10,} {name:<14} {f['qps']:>10,.0f} {f['latency_ms']:>7.3f} {f['stddev_ms']:>7.3f} "
              f"{int(f['sent']):>9} {int(f['lost']):>6} {events:>18}")
    by = {(size, name): f for size, name, f in rows}
    for size in sorted({s for s, _, _ in rows}):
        ours = [name for s, name, _ in rows if s == size and name.startswith("schoolgate")]
        for peer in ("dnsmasq", "dnsmasq+log"):
            for name in ours:
                if (size, peer) in by:
                    ratio = by[(size, name)]["qps"] / by[(size, peer)]["qps"]
                    print(f"{size:>10,} {name} / {peer} = {ratio:.2f}")


if __name__ == "__main__":
    main()
