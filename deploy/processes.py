"""Child processes of `schoolgate`: start them, restart one that dies, stop them all on SIGTERM or Ctrl-C.

Both `schoolgate run` (one child per service) and `--workers N` (N copies of one service) use this one
manager, so a crash, a restart and a shutdown look and behave the same wherever they happen:

- each child runs `python -m deploy.cli [--config PATH] ARGS...` in its own session (process group), so
  a Ctrl-C on the terminal reaches the manager only, which then stops the children in order;
- a child that dies is restarted after a pause that doubles on each quick death (up to
  RESTART_DELAY_MAX) and goes back to one second once it has run for a minute, so a service that
  cannot start does not spin, and one that crashed once comes back at once;
- SIGTERM or SIGINT to the manager sends SIGTERM to every child's group; a group still there after
  the stop timeout is killed (SIGKILL), so helpers a child started cannot outlive it.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

RESTART_DELAY_MAX = 30.0
RESTART_DELAY_MIN = 1.0
STABLE_AFTER = 60.0  # seconds up after which a death is not counted as a quick one
POLL = 0.2
# Told (child name, exit status, seconds it was up) each time a child is restarted, e.g. to audit it.
RestartHook = Callable[[str, int, float], None]


def schoolgate_command(config_path: str | os.PathLike[str] | None, *args: str) -> list[str]:
    """The command line that runs `schoolgate ARGS` with this interpreter and the same configuration."""
    prefix = [sys.executable, "-m", "deploy.cli"]
    if config_path is not None:
        prefix += ["--config", str(config_path)]
    return [*prefix, *args]


@dataclass(frozen=True)
class Child:
    """One process to keep running: its name in the log, its arguments to `schoolgate`, what it is."""

    name: str
    args: Sequence[str]
    description: str = ""


class ProcessManager:
    """Keeps every child running until told to stop, then stops them all."""

    def __init__(self, config_path: str | os.PathLike[str] | None, children: Sequence[Child], *,
                 what: str = "services", on_restart: RestartHook | None = None, stop_timeout: float = 15.0,
                 log: logging.Logger | None = None) -> None:
        self.config_path = config_path
        self.specs = {child.name: child for child in children}
        self.what = what
        self.on_restart = on_restart
        self.stop_timeout = stop_timeout
        self.log = log or logging.getLogger("schoolgate.processes")
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.started_at: dict[str, float] = {}
        self.delays: dict[str, float] = {name: RESTART_DELAY_MIN for name in self.specs}
        self.restart_due: dict[str, tuple[float, int, float]] = {}  # name: (when, exit status, seconds up)
        self._stopping = False

    def command(self, name: str) -> list[str]:
        return schoolgate_command(self.config_path, *self.specs[name].args)

    def start(self, name: str) -> None:
        # A session of its own: the terminal's Ctrl-C goes to the manager, which stops children in order.
        child = subprocess.Popen(self.command(name), env=os.environ.copy(), start_new_session=True)
        self.children[name] = child
        self.started_at[name] = time.monotonic()
        description = self.specs[name].description
        self.log.info("started %s (pid %d)%s", name, child.pid, f": {description}" if description else "")

    def run(self) -> None:
        """Start every child and watch them until SIGTERM or SIGINT; always leaves no child running."""
        if not self.specs:
            self.log.error("no %s to run", self.what)
            return
        previous = {signum: signal.signal(signum, self._on_signal) for signum in (signal.SIGTERM, signal.SIGINT)}
        try:
            for name in self.specs:
                self.start(name)
            while not self._stopping:
                time.sleep(POLL)
                self._watch()
        finally:
            self.stop_all()
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def stop(self) -> None:
        """Ask `run` to stop all children and return (what a SIGTERM or SIGINT does)."""
        self._stopping = True

    def _watch(self) -> None:
        now = time.monotonic()
        for name, child in list(self.children.items()):
            if name in self.restart_due:
                continue
            code = child.poll()
            if code is None:
                continue
            up = now - self.started_at[name]
            delay = RESTART_DELAY_MIN if up > STABLE_AFTER else min(self.delays[name] * 2, RESTART_DELAY_MAX)
            self.delays[name] = delay
            self.log.error("%s stopped with status %s after %.0f s; restarting in %.0f s", name, code, up, delay)
            self.restart_due[name] = (now + delay, code, up)
        for name, (when, code, up) in list(self.restart_due.items()):
            if self._stopping or when > now:
                continue
            del self.restart_due[name]
            self.start(name)
            self.log.warning("restarted %s (pid %d) after it stopped with status %s",
                             name, self.children[name].pid, code)
            self._report(name, code, up)

    def _report(self, name: str, code: int, up: float) -> None:
        if self.on_restart is None:
            return
        try:
            self.on_restart(name, code, up)
        except Exception as exc:  # reporting must never stop the supervision
            self.log.error("could not record the restart of %s: %s", name, exc)

    def _on_signal(self, signum: int, _frame: object) -> None:
        self.stop()

    def stop_all(self) -> None:
        """SIGTERM every child's process group, wait for them, kill the groups that do not stop."""
        for child in self.children.values():
            if child.poll() is None:
                _signal_group(child.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        for name, child in self.children.items():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.log.warning("%s did not stop; killing it", name)
                _signal_group(child.pid, signal.SIGKILL)
                child.wait()
        self.log.info("all %s stopped", self.what)


def _signal_group(pid: int, signum: int) -> None:
    try:
        os.killpg(pid, signum)  # the child leads its own group (start_new_session)
    except ProcessLookupError:
        pass


def run_workers(config_path: str | os.PathLike[str] | None, service: str, per_worker_args: list[list[str]]) -> None:
    """Run `schoolgate SERVICE ARGS` once per entry (worker N is named SERVICE-N) until SIGTERM or SIGINT.

    DNS workers share their listen addresses (SO_REUSEPORT: the kernel spreads clients over them); proxy
    workers serve consecutive ports (the gateway's nftables `numgen` rule spreads connections); each has
    its own event spool folder, so no two processes replay the same file. A worker that dies is
    restarted on its own, like a service under `schoolgate run`; the stop timeout
    is shorter than the one `run` gives this process, so the workers are stopped before `run` gives up.
    """
    workers = [Child(f"{service}-{n}", [service, *args]) for n, args in enumerate(per_worker_args)]
    ProcessManager(config_path, workers, what=f"{service} workers", stop_timeout=10.0,
                   log=logging.getLogger("schoolgate.workers")).run()
