"""Which school this gateway serves, as the id every service and command uses.

`[site] name` is resolved to `sites.id` once at start. `init` makes the school (and its default groups) when it
is new; every other command and service needs it made. The id is also kept in the state folder, so DNS and the
proxy can start and filter with their kept snapshot while the database is down (their events spool with the
right school until it is back).
"""

from __future__ import annotations

from pathlib import Path

from deploy.config import Config
from rules.sites import ensure_site, site_id_by_name
from rules.store.db import Database


class SiteUnknown(LookupError):
    """The configured school is not in the database (and no kept id says which it was)."""


def _kept_path(config: Config) -> Path:
    return config.state_dir / f"site-{config.site.name}.id"


def _keep(config: Config, site_id: int) -> None:
    path = _kept_path(config)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="ascii").strip() != str(site_id):
            tmp = path.with_suffix(".tmp")
            tmp.write_text(f"{site_id}\n", encoding="ascii")
            tmp.replace(path)
    except OSError:
        pass  # only a convenience for starting while the database is down


def create_site(config: Config, db: Database) -> tuple[int, list[str]]:
    """`init`'s step: the school's id, made with its default groups if new; and what was added."""
    from rules.store.schema import seed_groups

    with db.session() as session:
        site_id = ensure_site(session, config.site.name)
    with db.session() as session:
        added = seed_groups(session, site_id)
    _keep(config, site_id)
    return site_id, added


def resolve_site(config: Config, db: Database) -> int:
    """The configured school's id: from the database, else the id kept when it last answered; SiteUnknown when
    the school was never made (the message says to run `schoolgate init`)."""
    name = config.site.name
    try:
        with db.session() as session:
            found = site_id_by_name(session, name)
    except Exception:
        found = None
        try:
            return int(_kept_path(config).read_text(encoding="ascii").strip())
        except (OSError, ValueError):
            raise SiteUnknown(f"cannot reach the database to find the school {name!r} ([site] name), and no "
                              "id was kept from an earlier start") from None
    if found is None:
        raise SiteUnknown(f"the school {name!r} ([site] name) is not in the database {db.url}: "
                          "run `schoolgate init` with this configuration first")
    _keep(config, found)
    return found
