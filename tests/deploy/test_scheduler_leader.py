"""Two gateways' schedulers on one PostgreSQL: the trust-wide jobs run on one of them at a time, once per due time;
each runs its own gateway's jobs; when the leader is killed the other takes over."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from deploy.scheduler import JOBS
from tests.conftest import Cli

TRUST_JOBS = sorted(name for name, spec in JOBS.items() if not spec.per_gateway)


def runs(log: Path, job: str) -> int:
    return len(re.findall(rf"schoolgate\.scheduler INFO running {job}\n", log.read_text(errors="replace")))


def wait_for(log: Path, pattern: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if re.search(pattern, log.read_text(errors="replace")):
            return
        time.sleep(0.2)
    raise AssertionError(f"{pattern!r} not in {log.name}:\n{log.read_text(errors='replace')}")


def start(cli: Cli, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SCHOOLGATE_CONFIG": str(cli.config)}
    env.pop("SCHOOLGATE_DATABASE_URL", None)
    with open(log, "wb") as out:
        return subprocess.Popen([sys.executable, "-m", "deploy.cli", "scheduler"], cwd=cli.cwd, env=env,
                                stdout=out, stderr=subprocess.STDOUT)


def test_two_schedulers_run_each_trust_job_once_and_the_follower_takes_over(pg_url: str, tmp_path: Path) -> None:
    config = tmp_path / "schoolgate.toml"
    config.write_text(f'[database]\nurl = "{pg_url}"\n', encoding="utf-8")
    cli = Cli(config, tmp_path)
    cli("init")
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    first = start(cli, first_log)
    second: subprocess.Popen[bytes] | None = None
    try:
        wait_for(first_log, r"leading: running the trust-wide jobs", 60)
        second = start(cli, second_log)
        wait_for(second_log, r"following: another scheduler leads", 60)
        # `expire` is due every minute: the leader runs it, the follower never does; both sync their own devices.
        wait_for(first_log, r"running expire\n", 90)
        wait_for(second_log, r"running devices_sync\n", 60)
        wait_for(first_log, r"running devices_sync\n", 60)
        assert runs(first_log, "expire") == 1
        assert all(runs(second_log, job) == 0 for job in TRUST_JOBS)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
        # The leader's session ends with it, its lock with the session: the follower leads within a few seconds,
        # and runs `expire` at its stored due time (or at once, if that passed while nobody led).
        wait_for(second_log, r"leading: running the trust-wide jobs", 30)
        wait_for(second_log, r"running expire\n", 90)
        assert runs(second_log, "expire") == 1
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=30) == 0
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
    assert "Traceback" not in second_log.read_text()


def test_a_leader_whose_lock_session_ends_stops_at_once(pg_url: str, tmp_path: Path) -> None:
    """A leader cut off from its lock (the server ended its session: a restart, a network break) may already have
    a successor: it must not run one more trust-wide job, so it exits for the process manager to restart it."""
    import psycopg

    config = tmp_path / "schoolgate.toml"
    config.write_text(f'[database]\nurl = "{pg_url}"\n', encoding="utf-8")
    cli = Cli(config, tmp_path)
    cli("init")
    log = tmp_path / "leader.log"
    leader = start(cli, log)
    try:
        wait_for(log, r"leading: running the trust-wide jobs", 60)
        with psycopg.connect(pg_url.replace("+psycopg", ""), autocommit=True) as conn:
            ended = conn.execute("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
                                 "AND granted AND database = (SELECT oid FROM pg_database "
                                 "WHERE datname = current_database())").fetchall()
        assert ended == [(True,)]  # the one session holding the lead
        assert leader.wait(timeout=30) == 3
    finally:
        if leader.poll() is None:
            leader.kill()
            leader.wait()
    assert "lost the lead: stopping" in log.read_text()


def test_the_one_scheduler_on_sqlite_leads(initialised_cli: Cli, tmp_path: Path) -> None:
    log = tmp_path / "scheduler.log"
    scheduler = start(initialised_cli, log)
    try:
        wait_for(log, r"leading: running the trust-wide jobs and the watchers", 60)
        wait_for(log, r'Added job "expire" to job store "trust"', 30)
    finally:
        scheduler.send_signal(signal.SIGTERM)
        assert scheduler.wait(timeout=30) == 0
