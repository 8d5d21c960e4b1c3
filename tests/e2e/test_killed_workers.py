"""A DNS or proxy worker killed with SIGKILL under load loses no access event for an answer it sent more than
100 ms before it died, and no event is stored twice, even when the writer process itself is killed.

Each query (request) is for a name (URL) of its own, so its event can be found; the client notes when each
answer arrived, the test notes when it sent SIGKILL, and after the writer has finished it counts the events in
the database.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from collections import Counter
from pathlib import Path

from rules.store.event_spool import SEGMENT_GLOB
from tests.conftest import Cli
from tests.dns_block.stub import Stub
from tests.e2e.dnsserver import DnsProcess, free_port, wait_until, write_config
from tests.e2e.load import DnsLoad, HttpLoad, wait_for_writer, writer_pids
from tests.e2e.proxy_support import ProxyProcess

RATE = 3000  # queries a second
MARGIN = 0.1  # an answer received this long before the kill must have its event


def stored(database: Path, like: str) -> Counter[str]:
    """How many times each host (or URL) matching `like` is in access_events."""
    with sqlite3.connect(database) as conn:
        column = "url" if like.startswith("http") else "host"
        return Counter(row[0] for row in conn.execute(f"SELECT {column} FROM access_events WHERE {column} LIKE ?",
                                                      (like,)))


def dns_server(tmp_path: Path, upstream: int) -> tuple[DnsProcess, Path]:
    port = free_port()
    database = tmp_path / "var" / "schoolgate.db"
    config = write_config(tmp_path / "schoolgate.toml", f"sqlite:///{database}", port, [upstream],
                          "rate_limit_qps = 0\n")
    cli = Cli(config, tmp_path)
    cli("init")
    (tmp_path / "kill.txt").write_text("kill.test\n", encoding="utf-8")
    cli("lists", "import", str(tmp_path / "kill.txt"), "--category", "killtest")  # answered without upstream
    return DnsProcess(config, tmp_path, port).start(), database


def test_a_dns_worker_killed_under_load_loses_no_event_answered_100_ms_before(tmp_path: Path) -> None:
    with Stub() as upstream:
        server, database = dns_server(tmp_path, upstream.port)
        assert server.proc is not None
        names = [f"q{i}.kill.test" for i in range(RATE * 5)]
        load = DnsLoad(server.port, names, RATE).start()
        try:
            time.sleep(3)
            killed_at = time.time()
            os.kill(server.proc.pid, signal.SIGKILL)
            server.proc.wait()
            time.sleep(0.3)
        finally:
            load.stop()
            server.stop()
        spool = tmp_path / "var" / "spool" / "dns"
        wait_for_writer(spool)  # the writer outlives the worker, stores what it had appended, and exits

    due = [name for name, arrived in load.answered.items() if arrived < killed_at - MARGIN]
    assert len(due) > 2 * RATE, f"the load was too light to mean anything: {len(due)} answers"
    counts = stored(database, "%.kill.test")
    missing = [name for name in due if counts[name] == 0]
    assert missing == [], f"{len(missing)} of {len(due)} answered queries have no event, e.g. {missing[:5]}"
    assert max(counts.values()) == 1, "an event was stored twice"
    assert not list(spool.glob(SEGMENT_GLOB)), "the writer left stored segments behind"


def test_events_are_stored_once_when_the_writer_process_is_killed_twice(tmp_path: Path) -> None:
    """The writer's mark is committed with the rows: a writer killed at any point, started again by the worker,
    goes on from the last frame it stored."""
    with Stub() as upstream:
        server, database = dns_server(tmp_path, upstream.port)
        assert server.proc is not None
        names = [f"w{i}.kill.test" for i in range(RATE * 5)]
        load = DnsLoad(server.port, names, RATE).start()
        try:
            for _ in range(2):
                time.sleep(1.2)
                writers = wait_until(lambda: writer_pids(server.proc.pid), timeout=10)  # type: ignore[union-attr]
                assert len(writers) == 1, server.log()
                os.kill(writers[0], signal.SIGKILL)
            wait_until(lambda: load.sent == len(names), timeout=10)
            time.sleep(0.5)
        finally:
            load.stop()
            assert server.stop() == 0, server.log()
    log = server.log()
    assert log.count("the event writer for") >= 2 and "starting it again" in log, log
    counts = stored(database, "%.kill.test")
    missing = [name for name in load.answered if counts[name] == 0]
    assert len(load.answered) > 3 * RATE
    assert missing == [], f"{len(missing)} of {len(load.answered)} answered queries have no event"
    assert max(counts.values()) == 1, f"stored twice: {[n for n, c in counts.items() if c > 1][:5]}"


def test_a_proxy_worker_killed_under_load_loses_no_event_answered_100_ms_before(tmp_path: Path) -> None:
    port = free_port()
    database = tmp_path / "var" / "schoolgate.db"
    config = tmp_path / "schoolgate.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{database}"\n[proxy]\nlisten = "127.0.0.1:{port}"\n'
                      '[web]\npublic_url = "https://school.example/admin"\n', encoding="utf-8")
    cli = Cli(config, tmp_path)
    cli("init")
    (tmp_path / "kill.txt").write_text("kill.test\n", encoding="utf-8")
    cli("lists", "import", str(tmp_path / "kill.txt"), "--category", "killtest")  # a block page, no origin needed
    proxy = ProxyProcess(config, tmp_path, port)
    urls = [f"http://www.kill.test/page/{i}" for i in range(50_000)]
    load = HttpLoad(port, urls, connections=4).start()
    try:
        time.sleep(4)
        killed_at = time.time()
        os.kill(proxy.process.pid, signal.SIGKILL)
        proxy.process.wait()
        time.sleep(0.3)
    finally:
        load.stop()
        proxy.stop()
    spool = tmp_path / "var" / "spool" / f"proxy-{port}"
    wait_for_writer(spool)

    due = [url for url, arrived in load.answered.items() if arrived < killed_at - MARGIN]
    assert len(due) > 200, f"the load was too light to mean anything: {len(due)} answers\n{proxy.output()}"
    counts = stored(database, "http://www.kill.test/%")
    missing = [url for url in due if counts[url] == 0]
    assert missing == [], f"{len(missing)} of {len(due)} answered requests have no event, e.g. {missing[:5]}"
    assert max(counts.values()) == 1, "an event was stored twice"
    assert not list(spool.glob(SEGMENT_GLOB)), "the writer left stored segments behind"
