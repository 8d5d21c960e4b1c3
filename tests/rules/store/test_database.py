"""The database on SQLite and on PostgreSQL: migrations, the policy version, imports, compiling, writers."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from rules.devices.registry import register_device
from rules.lists.importer import import_list
from rules.policy.compile import Compiler, read_version
from rules.policy.decide import decide
from rules.policy.decision import Action, Reason
from rules.store import schema
from rules.store.db import Database
from rules.store.models import AuditEntry, Category, Device, Group, ListEntry, Rule


def test_migrations_upgrade_an_empty_database(db_url: str) -> None:
    database = Database(db_url)
    assert schema.current_revision(database) is None
    schema.upgrade(database)
    assert schema.current_revision(database) == schema.head_revision(database)
    schema.upgrade(database)  # again: nothing to do, no error
    database.dispose()


def test_migrations_upgrade_a_database_with_data_losing_nothing(db_url: str, tmp_path: Path) -> None:
    database = Database(db_url)
    schema.upgrade(database, "0001")
    with database.engine.begin() as conn:
        conn.execute(text("INSERT INTO policy_state (id, version, updated_at) VALUES (1, 41, CURRENT_TIMESTAMP)"))
        conn.execute(text("INSERT INTO groups (name, description, is_default, safesearch, circumvention_mode) "
                          "VALUES ('pupils', 'kept', true, true, 'ban')"))
        conn.execute(text("INSERT INTO devices (name, status, notes, first_seen) "
                          "VALUES ('Class 3 iPad 07', 'registered', '', CURRENT_TIMESTAMP)"))
    schema.upgrade(database)
    schema.seed(database)
    with database.session() as session:
        assert session.scalar(select(Group.description).where(Group.name == "pupils")) == "kept"
        assert session.scalar(select(Device.name)) == "Class 3 iPad 07"
        assert {g.name for g in session.scalars(select(Group))} == {"pupils", "staff", "guests"}
    assert read_version(database) >= 41
    database.dispose()


def test_a_populated_school_upgraded_to_the_trust_schema_keeps_its_devices_addresses_and_bans(db_url: str) -> None:
    """Migration 0009 rebuilds the tables it adds `site_id` to on SQLite (copy, drop, rename). With foreign keys
    on, dropping the old `groups` and `devices` fired their ON DELETE actions: every device lost its group, every
    address was deleted, every ban lost its device. A single school upgrading must notice nothing."""
    database = Database(db_url)
    schema.upgrade(database, "0008")
    with database.engine.begin() as conn:
        conn.execute(text("INSERT INTO groups (id, name, description, is_default, safesearch, circumvention_mode) "
                          "VALUES (7, 'pupils', '', true, true, 'ban')"))
        conn.execute(text("INSERT INTO devices (id, name, status, notes, first_seen, group_id, mac) VALUES "
                          "(3, 'Class 3 iPad 07', 'registered', '', CURRENT_TIMESTAMP, 7, 'aa:bb:cc:dd:ee:07')"))
        conn.execute(text("INSERT INTO device_addresses (device_id, ip, source, updated_at) "
                          "VALUES (3, '10.1.0.7', 'manual', CURRENT_TIMESTAMP)"))
        conn.execute(text("INSERT INTO bans (device_id, state, reason, evidence, created_by, created_at, "
                          "false_positive) VALUES (3, 'active', 'vpn', '', 'test', CURRENT_TIMESTAMP, false)"))
    schema.upgrade(database)
    with database.engine.connect() as conn:
        assert conn.execute(text("SELECT name, group_id, site_id FROM devices")).all() == [("Class 3 iPad 07", 7, 1)]
        assert conn.execute(text("SELECT device_id, ip, site_id FROM device_addresses")).all() == [(3, "10.1.0.7", 1)]
        assert conn.execute(text("SELECT device_id, reason, site_id FROM bans")).all() == [(3, "vpn", 1)]
        if conn.dialect.name == "sqlite":  # and the foreign keys are on again for what runs next on the pool
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    database.dispose()


def test_seed_is_idempotent(db: Database) -> None:
    before = _count(db, ListEntry)
    assert schema.seed(db) == []
    assert _count(db, ListEntry) == before


def test_every_policy_write_bumps_the_version(db: Database) -> None:
    version = read_version(db)
    with db.session() as session:
        session.add(Rule(action="block", domain="bad.example", reason="test"))
    assert read_version(db) == version + 1
    with db.session() as session:
        session.add(AuditEntry(actor="t", action="not policy"))
    assert read_version(db) == version + 1
    with db.session() as session:
        rule = session.scalar(select(Rule))
        assert rule is not None
        rule.enabled = False
    assert read_version(db) == version + 2


def test_import_then_compile_then_decide(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "social.hosts"
    path.write_text("127.0.0.1 localhost\n0.0.0.0 chat.example\n0.0.0.0 s.example\n0.0.0.0 chat.example\njunk\n")
    result = import_list(db, path, "test_social", actor="tests")
    assert result.entries == 2 and result.created_category
    assert result.report.skipped_total == 2
    snapshot = Compiler(db).compile()
    client = snapshot.identify("10.0.0.5")
    assert decide(snapshot, client, "m.chat.example").action is Action.BLOCK
    assert decide(snapshot, client, "localhost").action is Action.ALLOW
    assert decide(snapshot, client, "notchat.example").action is Action.ALLOW
    # Re-importing the same file replaces its entries: a domain dropped from the file is unblocked.
    path.write_text("0.0.0.0 s.example\n")
    import_list(db, path, "test_social", actor="tests")
    snapshot = Compiler(db).compile()
    assert decide(snapshot, client, "chat.example").action is Action.ALLOW
    assert decide(snapshot, client, "s.example").action is Action.BLOCK


def test_compiler_reuses_the_table_while_lists_are_unchanged(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "l.txt"
    path.write_text("listed.example\n")
    import_list(db, path, "c1", actor="tests")
    compiler = Compiler(db)
    first = compiler.compile()
    with db.session() as session:
        session.add(Rule(action="allow", domain="listed.example", scope="everyone"))
    second = compiler.compile()
    assert second.version > first.version and second.table is first.table
    assert decide(second, second.identify("10.0.0.1"), "listed.example").reason is Reason.EXCEPTION
    import_list(db, path, "c2", actor="tests")
    assert compiler.compile().table is not first.table


def test_locked_category_cannot_be_opened(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "iwf.txt"
    path.write_text("abuse.example\n")
    import_list(db, path, "child_abuse", locked=True, actor="tests")
    with db.session() as session:
        session.add(Rule(action="allow", domain="abuse.example", scope="everyone"))
    snapshot = Compiler(db).compile()
    assert decide(snapshot, snapshot.identify("10.0.0.1"), "abuse.example").reason is Reason.LOCKED_CATEGORY


def test_devices_and_group_only_categories(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "games.txt"
    path.write_text("games.example\n")
    import_list(db, path, "games", actor="tests")
    with db.session() as session:
        games = session.scalar(select(Category).where(Category.name == "games"))
        pupils = session.scalar(select(Group).where(Group.name == "pupils"))
        assert games is not None and pupils is not None
        games.block_everyone = False
        games.blocked_groups.append(pupils)
        register_device(session, ip="10.0.0.8", name="Staff laptop", group="staff", mac="02-00-00-00-00-08",
                        actor="test")
    snapshot = Compiler(db).compile()
    assert decide(snapshot, snapshot.identify("10.0.0.8"), "games.example").action is Action.ALLOW
    assert decide(snapshot, snapshot.identify("10.0.0.99"), "games.example").action is Action.BLOCK
    assert snapshot.identify("10.0.0.8").device.mac == "02:00:00:00:00:08"  # type: ignore[union-attr]


def test_device_keeps_its_identity_when_its_address_changes(db: Database) -> None:
    with db.session() as session:
        first = register_device(session, ip="10.0.0.5", mac="02:00:00:00:00:05", name="iPad", group="pupils",
                                actor="t")
    with db.session() as session:
        second = register_device(session, ip="10.0.0.6", mac="02:00:00:00:00:05", name="iPad", group="pupils",
                                 actor="t")
    assert first.device.id == second.device.id and not second.created
    snapshot = Compiler(db).compile()
    assert snapshot.identify("10.0.0.6").device is not None
    assert snapshot.identify("10.0.0.5").device is not None  # still on record until the lease moves


def test_concurrent_writers_never_fail(db: Database) -> None:
    """Many threads writing policy at once: every write lands (BEGIN IMMEDIATE + busy timeout on SQLite)."""
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(15):
                with db.session() as session:
                    version = session.scalar(text("SELECT version FROM policy_state WHERE id = 1"))
                    session.add(Rule(action="block", domain=f"w{n}-{i}.example", reason=str(version)))
        except BaseException as exc:  # pragma: no cover - the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert _count(db, Rule) == 90


def _count(db: Database, model: type) -> int:
    with db.session(read_only=True) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.mark.parametrize("name", ["social_media", "circumvention"])
def test_builtin_catalogue_is_seeded(db: Database, name: str) -> None:
    with db.session(read_only=True) as session:
        category = session.scalar(select(Category).where(Category.name == name))
        assert category is not None and category.builtin
        count = session.scalar(select(func.count()).select_from(ListEntry).where(ListEntry.category_id == category.id))
        assert count and count > 20
