"""`schoolgate scheduler`: the jobs stored in the database; `schoolgate run` restarts and reports a dead service."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select, text

from deploy import scheduler as scheduler_module
from deploy.config import load_config
from deploy.scheduler import JOBS, build_scheduler, run_job
from rules.store.db import Database
from rules.store.models import AuditEntry
from tests.conftest import Cli


def test_jobs_are_stored_in_the_database_once(sqlite_db: Database) -> None:
    config = load_config(None)
    for _restart in range(2):
        scheduler = build_scheduler(config, sqlite_db, BackgroundScheduler)
        scheduler.start(paused=True)
        try:
            assert sorted(job.id for job in scheduler.get_jobs()) == sorted(JOBS)
            assert all(job.next_run_time is not None for job in scheduler.get_jobs())
        finally:
            scheduler.shutdown(wait=False)
    with sqlite_db.engine.connect() as conn:
        stored = sorted(conn.execute(text("SELECT id FROM apscheduler_jobs")).scalars())
    # Only the trust-wide jobs are stored; each gateway keeps its own jobs' timetable in memory.
    assert stored == sorted(name for name, spec in JOBS.items() if not spec.per_gateway)
    assert "devices_sync" not in stored and "self_test" not in stored


def test_run_job_calls_the_job_with_this_process_context(sqlite_db: Database,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scheduler_module, "_context", (load_config(None), sqlite_db))
    run_job("self_test")
    with sqlite_db.session(read_only=True) as session:
        assert session.scalar(select(AuditEntry.action).where(AuditEntry.actor == "self-test")) == "self_test.pass"


def test_scheduler_command_lists_and_runs_one_job(initialised_cli: Cli) -> None:
    listing = initialised_cli("scheduler", "--list").stdout.splitlines()
    assert [line.split()[0] for line in listing] == list(JOBS)
    out = initialised_cli("scheduler", "--run", "self_test").stdout
    assert out.startswith("self_test: SelfTestResult(checked=15,") and "failures=[]" in out
    out = initialised_cli("scheduler", "--run", "purge_events").stdout
    assert out.strip() == "purge_events: 0"


def test_run_restarts_a_dead_service_and_reports_it(initialised_cli: Cli, tmp_path: Path) -> None:
    env = {**os.environ, "SCHOOLGATE_CONFIG": str(initialised_cli.config)}
    env.pop("SCHOOLGATE_DATABASE_URL", None)
    log_path = tmp_path / "run.log"
    with open(log_path, "wb") as log:
        run = subprocess.Popen([sys.executable, "-m", "deploy.cli", "run", "--only", "scheduler"], cwd=tmp_path,
                               env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        first = wait_for(log_path, r"started scheduler \(pid (\d+)\)")
        wait_for(log_path, r"scheduler started with \d+ jobs")
        os.kill(int(first.group(1)), signal.SIGKILL)
        again = wait_for(log_path, r"restarted scheduler \(pid (\d+)\) after it stopped with status -9")
        assert again.group(1) != first.group(1)
        wait_for(log_path, r"(?s)scheduler started with \d+ jobs.*scheduler started with \d+ jobs")
        run.send_signal(signal.SIGINT)
        assert run.wait(timeout=30) == 0
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    output = log_path.read_text()
    assert "scheduler stopped with status -9" in output and "all services stopped" in output
    assert "did not stop" not in output and "stopping (signal 15)" in output  # ends on SIGTERM by itself
    with Database(load_config(initialised_cli.config).database.url).session(read_only=True) as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "service.restarted")).one()
    assert entry.actor == "supervisor" and entry.target == "scheduler" and '"exit_status": -9' in (entry.after or "")
    # Both scheduler processes are gone.
    for pid in (first.group(1), again.group(1)):
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()


def wait_for(path: Path, pattern: str, timeout: float = 30) -> re.Match[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = re.search(pattern, path.read_text(errors="replace"))
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"{pattern!r} not in the log:\n{path.read_text(errors='replace')}")
