"""Shared fixtures: databases on SQLite and on the local PostgreSQL, a configuration, the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from rules.store import schema
from rules.store.db import Database

PG_ADMIN_URL = os.environ.get("SCHOOLGATE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
ROOT = Path(__file__).resolve().parent.parent


def postgres_available() -> str | None:
    """None when the PostgreSQL server answers, else the reason it cannot be used."""
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL.replace("+psycopg", ""), connect_timeout=3):
            return None
    except Exception as exc:  # pragma: no cover - depends on the machine
        return f"PostgreSQL at {PG_ADMIN_URL} is not reachable: {str(exc).splitlines()[0]}"


@pytest.fixture(scope="session")
def pg_reason() -> str | None:
    return postgres_available()


@pytest.fixture
def pg_url(pg_reason: str | None) -> Iterator[str]:
    """A throwaway PostgreSQL database, dropped afterwards."""
    if pg_reason:
        pytest.skip(pg_reason)
    import psycopg

    name = f"sg_test_{uuid.uuid4().hex[:12]}"
    admin = PG_ADMIN_URL.replace("+psycopg", "")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty database: once on SQLite, once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/schoolgate.db"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    """An initialised database (schema at head, default groups and the built-in catalogue)."""
    database = Database(db_url)
    schema.upgrade(database)
    schema.seed(database)
    yield database
    database.dispose()


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path}/schoolgate.db")
    schema.upgrade(database)
    schema.seed(database)
    yield database
    database.dispose()


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    """A configuration whose database lives in the test's own folder."""
    path = tmp_path / "schoolgate.toml"
    path.write_text(f'[database]\nurl = "sqlite:///{tmp_path}/var/schoolgate.db"\n', encoding="utf-8")
    return path


class Cli:
    """Runs the real `schoolgate` command in a subprocess, as an operator would."""

    def __init__(self, config: Path, cwd: Path) -> None:
        self.config = config
        self.cwd = cwd

    def __call__(self, *args: str, input: str | None = None, check: bool = True,
                 env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        full_env = {**os.environ, "SCHOOLGATE_CONFIG": str(self.config), **(env or {})}
        full_env.pop("SCHOOLGATE_DATABASE_URL", None) if "SCHOOLGATE_DATABASE_URL" not in (env or {}) else None
        result = subprocess.run([sys.executable, "-m", "deploy.cli", *args], cwd=self.cwd, env=full_env,
                                input=input if input is not None else "", capture_output=True, text=True,
                                timeout=300)
        if check and result.returncode != 0:
            raise AssertionError(f"schoolgate {' '.join(args)} failed ({result.returncode}):\n"
                                 f"{result.stdout}\n{result.stderr}")
        return result


@pytest.fixture
def cli(config_file: Path, tmp_path: Path) -> Cli:
    return Cli(config_file, tmp_path)


@pytest.fixture
def initialised_cli(cli: Cli) -> Cli:
    cli("init")
    return cli
