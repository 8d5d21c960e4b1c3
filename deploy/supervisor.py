"""Run several schoolgate services as child processes, restart any that dies, stop all on Ctrl-C."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("schoolgate.run")

# The services `schoolgate run` starts, in order; each is also a `schoolgate NAME` command.
SERVICES: dict[str, str] = {
    "dns": "DNS sinkhole",
    "proxy": "filter proxy",
    "web": "admin web",
    "scheduler": "expiry, retention, list refresh, device discovery, weekly report, nightly self-test",
}
RESTART_DELAY_MAX = 30.0
# Told (service, exit status, seconds it was up) each time a service is restarted, e.g. to audit it.
RestartHook = Callable[[str, int, float], None]


class Supervisor:
    """Starts `schoolgate NAME` for each service and keeps it running."""

    def __init__(self, config_path: Path | None, names: list[str], on_restart: RestartHook | None = None) -> None:
        self.config_path = config_path
        self.on_restart = on_restart
        self.names = names
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.delays: dict[str, float] = {name: 1.0 for name in names}
        self.started_at: dict[str, float] = {}
        self._stopping = False

    def command(self, name: str) -> list[str]:
        cmd = [sys.executable, "-m", "deploy.cli"]
        if self.config_path is not None:
            cmd += ["--config", str(self.config_path)]
        return cmd + [name]

    def start(self, name: str) -> None:
        self.children[name] = subprocess.Popen(self.command(name), env=os.environ.copy())
        self.started_at[name] = time.monotonic()
        log.info("started %s (pid %d): %s", name, self.children[name].pid, SERVICES.get(name, ""))

    def run(self) -> None:
        if not self.names:
            log.error("no services to run")
            return
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        for name in self.names:
            self.start(name)
        try:
            while not self._stopping:
                time.sleep(0.5)
                for name, child in list(self.children.items()):
                    code = child.poll()
                    if code is None or self._stopping:
                        continue
                    up = time.monotonic() - self.started_at[name]
                    self.delays[name] = 1.0 if up > 60 else min(self.delays[name] * 2, RESTART_DELAY_MAX)
                    log.error("%s stopped with status %s after %.0f s; restarting in %.0f s",
                              name, code, up, self.delays[name])
                    time.sleep(self.delays[name])
                    if not self._stopping:
                        self.start(name)
                        log.warning("restarted %s (pid %d) after it stopped with status %s",
                                    name, self.children[name].pid, code)
                        self._report(name, code, up)
        finally:
            self.stop_all()

    def _report(self, name: str, code: int, up: float) -> None:
        if self.on_restart is None:
            return
        try:
            self.on_restart(name, code, up)
        except Exception as exc:  # reporting must never stop the supervision
            log.error("could not record the restart of %s: %s", name, exc)

    def _on_signal(self, signum: int, _frame: object) -> None:
        self._stopping = True

    def stop_all(self) -> None:
        for child in self.children.values():
            if child.poll() is None:
                child.terminate()
        deadline = time.monotonic() + 10
        for name, child in self.children.items():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop; killing it", name)
                child.kill()
        log.info("all services stopped")
