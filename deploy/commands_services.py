"""`run` and the one-service commands that the systemd units start."""

from __future__ import annotations

import logging

import click

from deploy.context import pass_app
from deploy.processes import Child, ProcessManager
from rules.store.audit import audit

# The services `schoolgate run` starts, in order; each is also a `schoolgate NAME` command.
SERVICES: dict[str, str] = {
    "dns": "DNS sinkhole",
    "proxy": "filter proxy",
    "web": "admin web",
    "scheduler": "expiry, retention, list refresh, device discovery, weekly report, nightly self-test",
}


@click.command()
@click.option("--only", multiple=True, type=click.Choice(sorted(SERVICES)), help="Run only these services.")
@pass_app
def run(app, only: tuple[str, ...]) -> None:
    """Everything on one machine: each service in its own process, restarted if it dies; Ctrl-C stops all."""
    config = app.config
    app.ready_database()
    names = list(only) or list(SERVICES)
    db = app.database

    def record_restart(name: str, code: int, up: float) -> None:
        with db.session() as session:
            audit(session, "supervisor", "service.restarted", name,
                  after={"exit_status": code, "seconds_up": round(up, 1)})

    children = [Child(name, [name], SERVICES[name]) for name in names]
    ProcessManager(config.path, children, on_restart=record_restart, log=logging.getLogger("schoolgate.run")).run()


COMMANDS = [run]
