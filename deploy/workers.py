"""Run one service as several worker processes, so that every core is used; stop all when one stops.

DNS workers share their listen addresses (SO_REUSEPORT: the kernel spreads clients over them); proxy
workers serve consecutive ports (the gateway's nftables `numgen` rule spreads connections). Each worker
has its own event spool folder, so no two processes ever replay the same file.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import time

log = logging.getLogger("schoolgate.workers")


class WorkerStopped(Exception):
    """A worker stopped by itself; the others were stopped too (the supervisor restarts the service)."""


def run_workers(config_path: str | None, service: str, per_worker_args: list[list[str]]) -> None:
    """Start `schoolgate SERVICE ARGS` once per entry; wait; stop them all on a signal or when one stops."""
    stopping = False

    def on_signal(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    prefix = [sys.executable, "-m", "deploy.cli"] + (["--config", config_path] if config_path else [])
    children = [subprocess.Popen([*prefix, service, *args]) for args in per_worker_args]
    log.info("%d %s workers started", len(children), service)
    try:
        while not stopping and all(child.poll() is None for child in children):
            time.sleep(0.2)
    finally:
        for child in children:
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
    if not stopping:
        raise WorkerStopped(f"a {service} worker stopped; stopped the others too")
