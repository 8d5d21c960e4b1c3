"""Create or upgrade the database with Alembic, and seed what every school starts with."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import select
from sqlalchemy.orm import Session

from rules.lists.importer import BUILTIN_LOCATION, import_list_file
from rules.monitoring.states import CircumventionMode
from rules.policy.catalogue import builtin_categories
from rules.sites import DEFAULT_SITE_ID
from rules.store.db import Database
from rules.store.models import Category, Group, PolicyState

MIGRATIONS = Path(__file__).parent / "migrations"

DEFAULT_GROUPS = (
    ("pupils", "Pupils' devices: the strictest filtering; circumvention leads to a ban.", True,
     CircumventionMode.BAN),
    ("staff", "Staff devices: the same blocked sites; circumvention raises an alert only.", False,
     CircumventionMode.ALERT),
    ("guests", "Visitors on the guest network.", False, CircumventionMode.ALERT),
)


def alembic_config(db: Database) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", db.url.replace("%", "%%"))
    return config


def upgrade(db: Database, revision: str = "head") -> None:
    """Bring the schema to `revision` (by default the newest), keeping every row already stored."""
    config = alembic_config(db)
    with db.engine.connect() as connection:
        # On SQLite a migration that changes a table rebuilds it (copy, drop, rename: Alembic's batch mode), and
        # with foreign keys on, dropping the old table fires its children's ON DELETE actions (0009 emptied
        # device_addresses and took every device's group). SQLite ignores this pragma inside a transaction, so
        # it is set on the driver's connection before the migration's transaction begins, and set back after.
        driver = connection.connection.driver_connection if connection.dialect.name == "sqlite" else None
        if driver is not None:
            driver.execute("PRAGMA foreign_keys=OFF")
        try:
            with connection.begin():
                config.attributes["connection"] = connection
                command.upgrade(config, revision)
        finally:
            if driver is not None:
                driver.execute("PRAGMA foreign_keys=ON")


def current_revision(db: Database) -> str | None:
    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision(db: Database) -> str | None:
    return ScriptDirectory.from_config(alembic_config(db)).get_current_head()


def seed(db: Database, actor: str = BUILTIN_LOCATION, site_id: int = DEFAULT_SITE_ID) -> list[str]:
    """Add the default groups (of the school `site_id`) and the built-in categories (the trust's) that are
    missing; say what was added.

    Built-in lists are refreshed from the catalogue shipped with this version on every `init`,
    so an upgrade brings the newest curated domains (audited as `actor`, only when they changed); a
    category's settings are left as the school set them.
    """
    added: list[str] = []
    with db.session() as session:
        if session.get(PolicyState, 1) is None:
            session.add(PolicyState(id=1, version=1))
        added += seed_groups(session, site_id)
    for builtin in builtin_categories():
        with db.session() as session:
            outcome = import_list_file(session, actor, builtin.path, builtin.name, fmt="domains",
                                       source_name="built-in catalogue", location=BUILTIN_LOCATION,
                                       locked=builtin.locked if _missing(session, builtin.name) else None,
                                       description=builtin.description, builtin=True, keep_if_unchanged=True,
                                       by_person=False)
        if outcome.created_category:
            added.append(f"category {builtin.name} ({outcome.entries} domains)")
    return added


def seed_groups(session: Session, site_id: int) -> list[str]:
    """The default groups of one school, those that are missing (a new school of a trust starts with them)."""
    added: list[str] = []
    groups = set(session.scalars(select(Group.name).where(Group.site_id == site_id)))
    for name, description, is_default, mode in DEFAULT_GROUPS:
        if name not in groups:
            session.add(Group(name=name, description=description, is_default=is_default,
                              circumvention_mode=mode, site_id=site_id))
            added.append(f"group {name}")
    return added


def _missing(session: Session, category_name: str) -> bool:
    return session.scalar(select(Category.id).where(Category.name == category_name)) is None
