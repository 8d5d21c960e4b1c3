"""Proxy bench, one run: schoolgate proxy vs bare mitmdump vs squid (same blocklist), against a local origin.

Measures, per proxy: new HTTPS connections/s through CONNECT (pass-through, `ab -X`), plain-HTTP
requests/s (new connection each, `ab -X`), bulk HTTPS MB/s (curl, one stream), and CPU seconds of the
proxy processes per thousand connections (/proc/PID/stat utime+stime before and after). Then
schoolgate with 1..N workers on consecutive ports, one `ab` per worker port, to show whether CPU per
connection stays flat as workers are added. Not part of pytest: `python bench/proxy/run.py`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
BIN = Path(sys.executable).parent
TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listening on {port}")


def tree(pid: int) -> list[int]:
    """`pid` and its descendants."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICKS


def ab(proxy_port: int, url: str, seconds: int, concurrency: int) -> subprocess.Popen[str]:
    return subprocess.Popen(["ab", "-q", "-t", str(seconds), "-n", "10000000", "-c", str(concurrency), "-X",
                             f"127.0.0.1:{proxy_port}", url], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def ab_result(process: subprocess.Popen[str]) -> tuple[int, int, float]:
    out, _ = process.communicate()
    done = re.search(r"Complete requests:\s+(\d+)", out)
    failed = re.search(r"Failed requests:\s+(\d+)", out)
    non2xx = re.search(r"Non-2xx responses:\s+(\d+)", out)
    taken = re.search(r"Time taken for tests:\s+([\d.]+)", out)
    if not (done and taken):
        raise SystemExit(f"ab failed:\n{out}")
    bad = int(failed.group(1) if failed else 0) + int(non2xx.group(1) if non2xx else 0)
    return int(done.group(1)), bad, float(taken.group(1))


def load(ports: list[int], pids: list[int], url: str, seconds: int, concurrency: int) -> dict[str, float]:
    """Run one `ab` per proxy port at once; rate, failures and proxy CPU per 1000 connections."""
    before = cpu_seconds(pids)
    runs = [ab(port, url, seconds, max(1, concurrency // len(ports))) for port in ports]
    results = [ab_result(run) for run in runs]
    cpu = cpu_seconds(pids) - before
    done = sum(r[0] for r in results)
    return {"per_s": round(sum(r[0] / r[2] for r in results), 1), "requests": done,
            "failed": sum(r[1] for r in results), "cpu_s": round(cpu, 2),
            "cpu_s_per_1000": round(cpu / max(done, 1) * 1000, 3)}


def bulk(proxy_port: int, url: str, cafile: Path, pids: list[int]) -> dict[str, float]:
    before = cpu_seconds(pids)
    out = subprocess.run(["curl", "-sS", "-x", f"http://127.0.0.1:{proxy_port}", "--cacert", str(cafile), "-o",
                          "/dev/null", "-w", "%{speed_download} %{size_download}", url],
                         capture_output=True, text=True, check=True).stdout.split()
    return {"MB_per_s": round(float(out[0]) / 1e6, 1), "bytes": int(out[1]),
            "cpu_s": round(cpu_seconds(pids) - before, 2)}


def measure(name: str, ports: list[int], pids: list[int], args: argparse.Namespace, origin: dict[str, object],
            with_bulk: bool = True) -> dict[str, object]:
    https_url = f"https://localhost:{origin['https']}/small"
    http_url = f"http://localhost:{origin['http']}/small"
    result: dict[str, object] = {"proxy": name, "workers": len(ports)}
    result["https_connect"] = load(ports, pids, https_url, args.seconds, args.concurrency)
    result["http"] = load(ports, pids, http_url, args.seconds, args.concurrency)
    if with_bulk:
        result["bulk_https"] = bulk(ports[0], f"https://localhost:{origin['https']}/bulk?mb={args.bulk_mb}",
                                    origin["cert"], pids)  # type: ignore[arg-type]
    print(json.dumps(result), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--bulk-mb", type=int, default=1024)
    parser.add_argument("--blocklist", type=int, default=10_000, help="names in the shared blocklist")
    parser.add_argument("--max-workers", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sg-proxy-bench-"))
    os.chmod(work, 0o777)
    started: list[subprocess.Popen[bytes]] = []

    def spawn(cmd: list[str], **kw: object) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(work / "stderr.log", "ab"), **kw)  # type: ignore[call-overload]
        started.append(process)
        return process

    try:
        cert, key = work / "origin.pem", work / "origin-key.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
                        "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
        origin: dict[str, object] = {"https": free_port(), "http": free_port(), "cert": cert}
        for _ in range(2):  # two processes per origin (SO_REUSEPORT), so the origin is not the limit
            spawn([sys.executable, str(HERE / "origin.py"), str(origin["https"]), str(cert), str(key)])
            spawn([sys.executable, str(HERE / "origin.py"), str(origin["http"])])
        wait_port(int(origin["https"]))  # type: ignore[call-overload]
        wait_port(int(origin["http"]))  # type: ignore[call-overload]

        names = [f"blocked-{i}.example" for i in range(args.blocklist)]
        (work / "blocked.txt").write_text("\n".join(names) + "\n")
        (work / "squid-blocked.txt").write_text("".join(f".{n}\n" for n in names))

        # schoolgate
        port = free_port()
        while any(_busy(port + i) for i in range(args.max_workers)):
            port = free_port()
        config = work / "schoolgate.toml"
        config.write_text(f'[database]\nurl = "sqlite:///{work}/var/schoolgate.db"\n'
                          f'[proxy]\nlisten = "127.0.0.1:{port}"\n'
                          # the origins run on this machine: open loopback and their TLS port, as a school
                          # opens an intranet server (by default the proxy connects to neither)
                          f'internal_destinations = ["127.0.0.0/8"]\nconnect_ports = [443, {origin["https"]}]\n')
        env = {**os.environ, "SCHOOLGATE_CONFIG": str(config)}
        schoolgate = [str(BIN / "schoolgate")]
        subprocess.run([*schoolgate, "init"], env=env, check=True, capture_output=True, cwd=work)
        subprocess.run([*schoolgate, "lists", "import", str(work / "blocked.txt"), "--category", "bench"], env=env,
                       check=True, capture_output=True, cwd=work)
        results = []
        for workers in range(1, args.max_workers + 1):
            proc = spawn([*schoolgate, "proxy", "--workers", str(workers)], env=env, cwd=work)
            for i in range(workers):
                wait_port(port + i)
            time.sleep(1)
            results.append(measure("schoolgate", [port + i for i in range(workers)], tree(proc.pid), args, origin,
                                   with_bulk=workers == 1))
            proc.terminate()
            proc.wait(timeout=30)

        # bare mitmdump, same pass-through, no decision
        mport = free_port()
        proc = spawn([str(BIN / "mitmdump"), "-q", "--listen-host", "127.0.0.1", "-p", str(mport), "--set",
                      "connection_strategy=lazy", "--set", f"confdir={work}/mitm-bare", "-s",
                      str(HERE / "passthrough.py")])
        wait_port(mport)
        time.sleep(1)
        results.append(measure("mitmdump", [mport], [proc.pid], args, origin))
        proc.terminate()
        proc.wait(timeout=30)

        # squid with the same blocklist
        if shutil.which("squid"):
            sport = free_port()
            (work / "squid.conf").write_text(f"""http_port 127.0.0.1:{sport}
acl blocked dstdomain "{work}/squid-blocked.txt"
acl SSL_ports port 1-65535
acl CONNECT method CONNECT
http_access deny blocked
http_access allow localhost
http_access deny all
cache deny all
cache_mem 8 MB
access_log none
cache_log {work}/squid-cache.log
pid_filename {work}/squid.pid
coredump_dir {work}
shutdown_lifetime 0 seconds
workers 1
""")
            proc = spawn(["squid", "-N", "-f", str(work / "squid.conf")])
            wait_port(sport)
            time.sleep(1)
            results.append(measure("squid", [sport], tree(proc.pid), args, origin))
            proc.terminate()
        (HERE / "last-run.json").write_text(json.dumps(results, indent=1) + "\n")
        summarise(results)
    finally:
        for process in started:
            if process.poll() is None:
                process.terminate()
        for process in started:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(work, ignore_errors=True)


def _busy(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def summarise(results: list[dict[str, object]]) -> None:
    by = {(r["proxy"], r["workers"]): r for r in results}
    sg, bare, squid = by.get(("schoolgate", 1)), by.get(("mitmdump", 1)), by.get(("squid", 1))
    print("\nproxy        workers  HTTPS conn/s  CPU s/1000  HTTP req/s  CPU s/1000  bulk MB/s")
    for r in results:
        h, p = r["https_connect"], r["http"]  # type: ignore[index]
        b = r.get("bulk_https", {})  # type: ignore[union-attr]
        print(f"{r['proxy']:<12} {r['workers']:>7}  {h['per_s']:>12}  {h['cpu_s_per_1000']:>10}  "  # type: ignore[index]
              f"{p['per_s']:>10}  {p['cpu_s_per_1000']:>10}  {b.get('MB_per_s', '-'):>9}")  # type: ignore[index]
    if sg and bare:
        for kind in ("https_connect", "http"):
            ratio = sg[kind]["cpu_s_per_1000"] / bare[kind]["cpu_s_per_1000"]  # type: ignore[index]
            print(f"addon CPU per connection over bare mitmdump ({kind}): {100 * (ratio - 1):+.1f}% (goal <= +10%)")
    if sg and squid:
        ratio = sg["bulk_https"]["MB_per_s"] / squid["bulk_https"]["MB_per_s"]  # type: ignore[index]
        print(f"bulk throughput schoolgate/squid: {ratio:.2f} (goal >= 0.8)")


if __name__ == "__main__":
    main()
