"""What every command needs: the configuration and the database, opened once, with clear errors."""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import click

from deploy.config import Config, ConfigError, load_config

if TYPE_CHECKING:  # SQLAlchemy is imported when a command opens the database, not before (`check` may not)
    from rules.store.db import Database


class CommandError(click.ClickException):
    """An error the operator can act on: printed as one line, exit status 1, no traceback."""

    def show(self, file: object = None) -> None:
        click.echo(f"schoolgate: error: {self.format_message()}", err=True)


@dataclass
class AppContext:
    config_path: str | None
    _config: Config | None = field(default=None, init=False)

    @property
    def config(self) -> Config:
        if self._config is None:
            try:
                self._config = load_config(self.config_path)
            except ConfigError as exc:
                raise CommandError(f"bad configuration: {exc}") from None
        return self._config

    @cached_property
    def database(self) -> Database:
        from rules.store.db import Database

        try:
            return Database(self.config.database.url)
        except Exception as exc:
            raise CommandError(f"cannot open the database {self.config.database.url}: {exc}") from None

    def ready_database(self) -> Database:
        """The database, checked to be initialised (else a message that says to run init)."""
        from sqlalchemy import inspect

        db = self.database
        try:
            with db.engine.connect() as conn:
                present = inspect(conn).has_table("policy_state")
        except Exception as exc:
            first = str(exc).splitlines()[0]
            raise CommandError(f"cannot reach the database {self.config.database.url}: {first}") from None
        if not present:
            raise CommandError("the database is not initialised: run `schoolgate init` first")
        return db

    @cached_property
    def site_id(self) -> int:
        """The id of this gateway's school (`[site] name`): every command acts for it alone."""
        from deploy.site import SiteUnknown, resolve_site

        try:
            return resolve_site(self.config, self.ready_database())
        except SiteUnknown as exc:
            raise CommandError(str(exc)) from None

    @property
    def actor(self) -> str:
        """Who runs the command, for the audit log: the account the process runs as (its real user id), never
        $LOGNAME or $USER, which anyone sets (`LOGNAME=ann.head schoolgate ...` put the headteacher's name on
        another person's change); under sudo, who ran sudo as well."""
        try:
            user = pwd.getpwuid(os.getuid()).pw_name
        except KeyError:
            user = f"uid {os.getuid()}"
        invoker = os.environ.get("SUDO_USER") if os.getuid() == 0 else None  # set by sudo; only root could forge it
        return f"cli:{user}" + (f" (sudo by {invoker})" if invoker and invoker != user else "")


pass_app = click.make_pass_decorator(AppContext)
