"""`schoolgate dns`: the DNS sinkhole, one service as its systemd unit runs it."""

from __future__ import annotations

import click

from deploy.config import ConfigError
from deploy.context import CommandError, pass_app
from deploy.processes import run_workers
from deploy.root import serve_dns
from deploy.site import SiteUnknown


@click.command()
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Worker processes sharing the listen addresses (SO_REUSEPORT); one per core.")
@click.option("--worker", "worker_index", type=click.IntRange(0, 63), default=None, hidden=True,
              help="Serve as worker N of several (what each worker runs).")
@pass_app
def dns(app, workers: int, worker_index: int | None) -> None:
    """The DNS sinkhole: answer the school's devices, block what the policy blocks, log every query."""
    config = app.config
    if workers > 1 and worker_index is None:
        config_path = str(config.path) if config.path is not None else None
        run_workers(config_path, "dns", [["--worker", str(i)] for i in range(workers)])
        return
    name = "dns" if worker_index is None else f"dns-{worker_index}"
    try:
        serve_dns(config, name, reuse_port=worker_index is not None)
    except OSError as exc:
        raise CommandError(f"cannot start the DNS sinkhole: {exc}") from None
    except ConfigError as exc:
        raise CommandError(f"bad configuration: {exc}") from None
    except SiteUnknown as exc:
        raise CommandError(str(exc)) from None


COMMANDS = [dns]
