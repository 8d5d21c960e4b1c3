"""`scheduler`: the timed jobs (expiry, retention, lists, devices, reports, self-test) in one process."""

from __future__ import annotations

import click

from deploy.context import CommandError, pass_app
from deploy.scheduler import JOBS, run_forever


@click.command()
@click.option("--run", "run_now", type=click.Choice(sorted(JOBS)), help="Run this one job now, then exit.")
@click.option("--list", "list_jobs", is_flag=True, help="List the jobs and exit.")
@pass_app
def scheduler(app, run_now: str | None, list_jobs: bool) -> None:
    """Run the scheduled jobs (the whole database's on one leader per trust; never inside the web workers).

    Every gateway runs its own jobs (devices sync, self-test); on PostgreSQL one scheduler at a time leads and runs
    the rest. On SQLite run one scheduler."""
    if list_jobs:
        for name, spec in JOBS.items():
            click.echo(f"{name:14} {spec.description}")
        return
    config = app.config
    db = app.ready_database()
    if run_now:
        try:
            outcome = JOBS[run_now].run(config, db)
        except Exception as exc:
            raise CommandError(f"job {run_now} failed: {exc}") from None
        click.echo(f"{run_now}: {outcome}")
        return
    run_forever(config, db)


COMMANDS = [scheduler]
