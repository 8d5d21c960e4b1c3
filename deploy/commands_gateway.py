"""`gateway nftables` and `gateway systemd DIR`: the gateway's firewall rules and service units."""

from __future__ import annotations

from pathlib import Path

import click

from deploy.bindings import current_bindings, wanted_sets
from deploy.context import CommandError, pass_app
from deploy.nftables import RulesetError, render_ruleset
from deploy.systemd import CONFIG_PATH, EXECUTABLE, render_units, write_units
from rules.devices.sync import read_sightings


@click.group()
def gateway() -> None:
    """What a gateway needs besides the services: nftables rules and systemd units."""


@gateway.command("nftables")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Proxy workers on consecutive ports from [proxy] listen; connections are spread over them.")
@pass_app
def gateway_nftables(app, workers: int) -> None:
    """Print the ruleset (table inet schoolgate) for `nft -f`, with the current address-to-MAC bindings."""
    bindings, missing = None, ""
    try:
        sightings = read_sightings(app.config.gateway.lease_files, (), neighbours=False).sightings
        bindings = wanted_sets(current_bindings(app.ready_database(), sightings, app.site_id))
    except Exception as exc:  # noqa: BLE001 - the ruleset must still be written; the comment says why
        missing = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    try:
        click.echo(render_ruleset(app.config, workers, bindings, missing), nl=False)
    except RulesetError as exc:
        where = app.config.path or "the defaults"
        raise CommandError(f"cannot write the nftables ruleset from {where}: {exc}") from None


@gateway.command("systemd")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--executable", default=EXECUTABLE, show_default=True, help="The installed schoolgate command.")
@click.option("--unit-config", default=CONFIG_PATH, show_default=True,
              help="The configuration file the units pass to --config.")
@pass_app
def gateway_systemd(app, directory: Path, executable: str, unit_config: str) -> None:
    """Write hardened units for dns, proxy, web and scheduler into DIRECTORY."""
    try:
        written = write_units(directory, render_units(app.config, executable, unit_config))
    except OSError as exc:
        raise CommandError(f"cannot write units into {directory}: {exc.strerror or exc}") from None
    for path in written:
        click.echo(f"wrote {path}")
    if not written:
        click.echo(f"units in {directory} are up to date")


COMMANDS = [gateway]
