"""Bench for the policy engine, in one run:

- decisions per second on one core with 1 thousand and with 1 million domains loaded;
- resident memory of a 1-million-domain snapshot (RSS after compiling it, minus RSS before);
- the time to import a 1-million-line hosts file (`rules.lists.importer.import_list`, the path of
  `schoolgate lists import`).

Each measurement runs in its own process so that one does not inflate the next's memory.
Usage: python bench/decide.py [--domains 1000000] [--queries 1000000]
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * 4096 / 1e6


def make_hosts(path: Path, count: int, seed: int = 7) -> list[str]:
    """A hosts file of `count` random names (two or three labels), as large public lists look."""
    rnd = random.Random(seed)
    tlds = ["com", "net", "org", "co.uk", "info", "io", "xyz", "ru", "de"]
    names = []
    with open(path, "w") as handle:
        handle.write("# bench list\n127.0.0.1 localhost\n")
        for i in range(count):
            name = f"{rnd.choice(['ads', 'trk', 'cdn', 'x', 'promo'])}{i}-{rnd.randrange(1 << 24):x}.{rnd.choice(tlds)}"
            names.append(name)
            handle.write(f"0.0.0.0 {name}\n")
    return names


def query_mix(listed: list[str], count: int, seed: int = 11) -> list[str]:
    """Mostly allowed names of three or four labels, a fifth blocked (a listed name or a subdomain of one)."""
    rnd = random.Random(seed)
    allowed = [f"{rnd.choice(['www', 'static', 'api', 'img'])}.site{i}.example.{rnd.choice(['com', 'org', 'co.uk'])}"
               for i in range(50_000)]
    out = []
    for _ in range(count):
        roll = rnd.random()
        if roll < 0.10:
            out.append(rnd.choice(listed))
        elif roll < 0.20:
            out.append("www." + rnd.choice(listed))
        else:
            out.append(rnd.choice(allowed))
    return out


def run_import(args: argparse.Namespace) -> dict[str, float]:
    """Child process 1: write the hosts file and import it, as `schoolgate lists import` does."""
    from rules.lists.importer import import_list
    from rules.store import schema
    from rules.store.db import Database

    work = Path(args.work)
    hosts = work / f"list-{args.domains}.hosts"
    make_hosts(hosts, args.domains)
    db = Database(f"sqlite:///{work}/bench-{args.domains}.db")
    schema.upgrade(db)
    schema.seed(db)
    started = time.perf_counter()
    result = import_list(db, hosts, "bench", actor="bench")
    seconds = time.perf_counter() - started
    assert result.entries == args.domains, result.entries
    return {"import_s": seconds}


def run_decide(args: argparse.Namespace) -> dict[str, float]:
    """Child process 2, fresh: compile the snapshot (measuring its memory), then decide on one core."""
    from rules.policy.compile import Compiler
    from rules.policy.decide import decide
    from rules.store.db import Database

    work = Path(args.work)
    db = Database(f"sqlite:///{work}/bench-{args.domains}.db")
    compiler = Compiler(db)
    gc.collect()
    before = rss_mb()
    started = time.perf_counter()
    snapshot = compiler.compile()
    compile_seconds = time.perf_counter() - started
    gc.collect()
    snapshot_mb = rss_mb() - before
    with open(work / f"list-{args.domains}.hosts") as handle:
        listed = [line.split()[1] for line in handle if line.startswith("0.0.0.0")]
    queries = query_mix(listed, args.queries)
    del listed
    client = snapshot.identify("10.0.0.7")
    blocked = 0
    started = time.perf_counter()
    for host in queries:
        if decide(snapshot, client, host).action != "allow":
            blocked += 1
    seconds = time.perf_counter() - started
    return {
        "domains": args.domains, "queries": len(queries), "blocked_share": blocked / len(queries),
        "decisions_per_s": len(queries) / seconds, "snapshot_rss_mb": snapshot_mb,
        "table_mb": snapshot.table.nbytes() / 1e6, "compile_s": compile_seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--domains", type=int, nargs="*", default=[1_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=1_000_000)
    parser.add_argument("--child", choices=["import", "decide"], help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.domains = args.domains[0]
        print(json.dumps(run_import(args) if args.child == "import" else run_decide(args)))
        return
    rows = []
    with tempfile.TemporaryDirectory(prefix="sg-bench-") as work:
        for count in args.domains:
            row: dict[str, float] = {}
            for step in ("import", "decide"):
                out = subprocess.run([sys.executable, __file__, "--child", step, "--work", work, "--domains",
                                      str(count), "--queries", str(args.queries)],
                                     check=True, capture_output=True, text=True)
                row.update(json.loads(out.stdout.strip().splitlines()[-1]))
            rows.append(row)
    print(f"{'domains':>9} {'decisions/s':>12} {'blocked':>8} {'snapshot RSS MB':>16} {'table MB':>9} "
          f"{'import s':>9} {'compile s':>10}")
    for r in rows:
        print(f"{r['domains']:>9} {r['decisions_per_s']:>12,.0f} {r['blocked_share']:>8.1%} "
              f"{r['snapshot_rss_mb']:>16.1f} {r['table_mb']:>9.1f} {r['import_s']:>9.2f} {r['compile_s']:>10.2f}")
    if len(rows) >= 2:
        print(f"decisions/s ratio, {rows[-1]['domains']:,} vs {rows[0]['domains']:,} domains: "
              f"{rows[-1]['decisions_per_s'] / rows[0]['decisions_per_s']:.2f}")


if __name__ == "__main__":
    main()
