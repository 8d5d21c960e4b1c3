"""`run` and the one-service commands that the systemd units start."""

from __future__ import annotations

import logging

import click

from deploy.config import ConfigError
from deploy.context import CommandError, pass_app
from deploy.processes import Child, ProcessManager
from deploy.root import web_tls_files
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
    descriptions = dict(SERVICES)
    if "web" in names:
        try:
            web_tls_files(config)  # a web that cannot start would only be restarted over and over: stop here
        except ConfigError as exc:
            raise CommandError(f"bad configuration: {exc}") from None
        descriptions["web"] = f"admin web on {config.web.public_url}"

    def record_restart(name: str, code: int, up: float) -> None:
        with db.session() as session:
            audit(session, "supervisor", "service.restarted", name,
                  after={"exit_status": code, "seconds_up": round(up, 1)})

    children = [Child(name, [name], descriptions[name]) for name in names]
    ProcessManager(config.path, children, on_restart=record_restart, log=logging.getLogger("schoolgate.run")).run()


COMMANDS = [run]
