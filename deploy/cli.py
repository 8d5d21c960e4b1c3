"""`schoolgate`: the operator's command, the one entry point for everything an operator types.

This module only declares the command tree; each command's work lives in a `commands_*` module, and
the policy logic itself in `rules/`. The commands are loaded lazily: `schoolgate check HOST` imports
the policy commands and nothing of mitmproxy, Flask or Alembic, which cost over a second to import and
which an operator typing `check` at a terminal should not wait for.
"""

from __future__ import annotations

import importlib
import logging
import sys

import click

# name -> (module under deploy/, attribute, short help). The short help is here, and not read from the
# command, so that `schoolgate --help` can list every command without importing any of them; a test
# checks it against the `commands_*` modules' COMMANDS lists and the commands' own docstrings.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "bans": ("commands_admin", "bans", "Bans from school computing equipment."),
    "check": ("commands_policy", "check", "The decision for HOST and the rule behind it, explained."),
    "concerns": ("commands_concerns", "concerns", "Safeguarding concerns raised by monitoring or by staff."),
    "data": ("commands_data", "data",
             "Personal data held about a person: export it (subject access), or erase it."),
    "devices": ("commands_admin", "devices", "The device registry."),
    "dns": ("commands_dns", "dns",
            "The DNS sinkhole: answer the school's devices, block what the policy blocks, log every query."),
    "gateway": ("commands_gateway", "gateway",
                "What a gateway needs besides the services: nftables rules and systemd units."),
    "init": ("commands_policy", "init",
             "Create or upgrade the database, seed the built-in lists, create the first accounts."),
    "lists": ("commands_lists", "lists", "The block lists: import them into categories."),
    "logs": ("commands_policy", "logs", "The access log: what each device asked for and what was decided."),
    "proxy": ("commands_proxy", "proxy", "The filter proxy: blocks by host, URL and TLS server name, with block "
              "pages; never breaks allowed HTTPS."),
    "pupils": ("commands_pupils", "pupils", "Pupils from the MIS's CSV export (for the consent record)."),
    "run": ("commands_services", "run", "Everything on one machine: each service in its own process, restarted if "
            "it dies; Ctrl-C stops all."),
    "safeguarding": ("commands_safeguarding", "safeguarding",
                     "Safeguarding monitoring: what a search or a site would raise, and why; the school's own "
                     "phrases."),
    "scheduler": ("commands_scheduler", "scheduler",
                  "Run the scheduled jobs (the whole database's on one leader per trust; never inside the web "
                  "workers)."),
    "users": ("commands_admin", "users", "Staff accounts for the admin web."),
    "web": ("commands_web", "web", "The admin web: forms, approvals, access logs and audit."),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported only when one is run (click's documented lazy-loading pattern)."""

    def __init__(self, *args: object, lazy_commands: dict[str, tuple[str, str, str]], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lazy_commands = lazy_commands

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_commands and cmd_name not in self.commands:
            module_name, attribute, _ = self.lazy_commands[cmd_name]
            command = getattr(importlib.import_module(f"deploy.{module_name}"), attribute)
            if not isinstance(command, click.Command):
                raise TypeError(f"deploy.{module_name}.{attribute} is not a click command")
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The listing from the table, so that help imports nothing (click's own would import every command)."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            if name in self.lazy_commands:
                stand_in = click.Command(name, help=self.lazy_commands[name][2])  # shortened as click shortens
                rows.append((name, stand_in.get_short_help_str(limit)))
            elif (command := super().get_command(ctx, name)) is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, lazy_commands=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", envvar="SCHOOLGATE_CONFIG", type=click.Path(dir_okay=False),
              help="The TOML configuration file (default: built-in defaults on loopback).")
@click.option("-v", "--verbose", is_flag=True, help="Log more (debug level).")
@click.version_option(package_name="schoolgate")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, verbose: bool) -> None:
    """schoolgate: the school's web filter and monitor on the network gateway."""
    from deploy.context import AppContext  # here, not at the top: `--help` needs neither it nor SQLAlchemy

    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s", stream=sys.stderr)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    ctx.obj = AppContext(config_path)


def main() -> None:
    cli(prog_name="schoolgate")


if __name__ == "__main__":
    main()
