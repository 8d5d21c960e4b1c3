"""The process manager behind `schoolgate run` and `--workers`: restart with backoff, stop whole groups."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from deploy.processes import RESTART_DELAY_MIN, Child, ProcessManager, schoolgate_command

STUBBORN = """
import os, signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
ignore = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
helper = subprocess.Popen([sys.executable, "-c", ignore])
open(sys.argv[1], "w").write(str(helper.pid))
time.sleep(60)
"""


class Scripted(ProcessManager):
    """Runs a Python snippet per child instead of `schoolgate`, to test the manager alone."""

    def __init__(self, scripts: dict[str, list[str]], **kwargs: object) -> None:
        super().__init__(None, [Child(name, args) for name, args in scripts.items()], **kwargs)  # type: ignore[arg-type]

    def command(self, name: str) -> list[str]:
        return [sys.executable, "-c", *self.specs[name].args]


def test_the_command_runs_the_cli_with_the_same_configuration() -> None:
    assert schoolgate_command("/etc/schoolgate.toml", "dns", "--worker", "1")[1:] == [
        "-m", "deploy.cli", "--config", "/etc/schoolgate.toml", "dns", "--worker", "1"]
    assert schoolgate_command(None, "web")[-3:] == ["-m", "deploy.cli", "web"]


def test_a_dead_child_is_restarted_after_a_growing_pause_and_reported() -> None:
    restarts: list[tuple[str, int, float]] = []
    manager = Scripted({"quick": ["raise SystemExit(3)"]}, on_restart=lambda *a: restarts.append(a))
    manager.start("quick")
    manager.children["quick"].wait()
    manager._watch()
    when, code, _ = manager.restart_due["quick"]
    assert code == 3 and manager.delays["quick"] == 2 * RESTART_DELAY_MIN
    assert when - time.monotonic() > RESTART_DELAY_MIN  # not restarted at once
    manager.restart_due["quick"] = (time.monotonic(), code, 0.0)
    first = manager.children["quick"].pid
    manager._watch()
    assert manager.children["quick"].pid != first and restarts == [("quick", 3, 0.0)]
    manager.children["quick"].wait()
    manager._watch()
    assert manager.delays["quick"] == 4 * RESTART_DELAY_MIN
    manager.stop_all()


def test_a_child_that_ignores_sigterm_is_killed_with_its_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "helper.pid"
    manager = Scripted({"stubborn": [STUBBORN, str(pid_file)], "calm": ["import time; time.sleep(60)"]},
                       stop_timeout=1.0)
    for name in manager.specs:
        manager.start(name)
    deadline = time.monotonic() + 10
    while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    helper = int(pid_file.read_text())
    manager.stop_all()
    assert manager.children["calm"].returncode == -15
    assert manager.children["stubborn"].returncode == -9
    deadline = time.monotonic() + 5
    while _alive(helper) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(helper)  # the helper the child started went with its group


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return not status.exists() or "zombie" not in status.read_text()
