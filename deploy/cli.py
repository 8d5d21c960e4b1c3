"""`schoolgate`: the operator's command (DESIGN.md, "What the operator types").

This module only declares the command tree; each command's work lives in a `commands_*` module, and
the policy logic itself in `rules/`.
"""

from __future__ import annotations

import logging
import sys

import click

from deploy import (
    commands_admin,
    commands_dns,
    commands_gateway,
    commands_lists,
    commands_policy,
    commands_proxy,
    commands_scheduler,
    commands_services,
    commands_web,
)
from deploy.context import AppContext


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", envvar="SCHOOLGATE_CONFIG", type=click.Path(dir_okay=False),
              help="The TOML configuration file (default: built-in defaults on loopback).")
@click.option("-v", "--verbose", is_flag=True, help="Log more (debug level).")
@click.version_option(package_name="schoolgate")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, verbose: bool) -> None:
    """schoolgate: the school's web filter and monitor on the network gateway."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s", stream=sys.stderr)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    ctx.obj = AppContext(config_path)


for module in (commands_policy, commands_lists, commands_admin, commands_services, commands_dns, commands_proxy,
               commands_web, commands_gateway, commands_scheduler):
    for command in module.COMMANDS:
        cli.add_command(command)


def main() -> None:
    cli(prog_name="schoolgate")


if __name__ == "__main__":
    main()
