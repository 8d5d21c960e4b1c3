"""`schoolgate dns`: the DNS sinkhole, one service as its systemd unit runs it."""

from __future__ import annotations

import click

from deploy.context import CommandError, pass_app
from deploy.runtime import build_runtime


@click.command()
@pass_app
def dns(app) -> None:
    """The DNS sinkhole: answer the school's devices, block what the policy blocks, log every query."""
    from dns_block.service import serve

    config = app.config
    runtime = build_runtime(config, "dns")
    try:
        serve(config, runtime)
    except OSError as exc:
        raise CommandError(f"cannot start the DNS sinkhole: {exc}") from None


COMMANDS = [dns]
