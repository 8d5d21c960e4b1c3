"""`schoolgate concerns list`, `safeguarding import|test|mark` as an operator runs them (real subprocesses)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from sqlalchemy import select

from rules.safeguarding.watcher import ConcernWatcher
from rules.store.db import Database
from rules.store.models import AccessEvent, Device, utcnow
from tests.conftest import Cli


def _db(cli: Cli) -> Database:
    return Database(f"sqlite:///{cli.cwd}/var/schoolgate.db")


def test_import_is_all_or_nothing_with_line_numbers(initialised_cli: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("phrase,category,severity,why\nblue bandana crew,weapons_violence,high,A local gang\n"
                   "red cap,nonsense,high,x\nno why,extremism,low,\n", encoding="utf-8")
    result = initialised_cli("safeguarding", "import", str(bad), check=False)
    assert result.returncode != 0
    assert "line 3: unknown category 'nonsense'" in result.stderr and "line 4:" in result.stderr
    assert "nothing imported" in result.stderr
    before = initialised_cli("safeguarding", "test", "blue bandana crew", "--json")
    assert json.loads(before.stdout)["raises"] is False
    good = tmp_path / "good.csv"
    good.write_text("blue bandana crew,weapons_violence,high,A local gang the police warned us about\n"
                    "shooting hoops,innocent,,Basketball\n", encoding="utf-8")
    out = initialised_cli("safeguarding", "import", str(good)).stdout
    assert "imported 2 row(s)" in out
    after = json.loads(initialised_cli("safeguarding", "test", "blue bandana crew", "--json").stdout)
    assert after["raises"] and after["matches"][0]["origin"] == "school"
    with sqlite3.connect(cli_db_path(initialised_cli)) as conn:
        assert conn.execute("SELECT count(*) FROM audit_log WHERE action = 'safeguarding.import'").fetchone() == (1,)


def cli_db_path(cli: Cli) -> Path:
    return cli.cwd / "var" / "schoolgate.db"


def test_concerns_list_prints_open_ones_as_json_lines_and_is_audited(initialised_cli: Cli) -> None:
    cli = initialised_cli
    cli("devices", "add", "--ip", "10.0.0.5", "--name", "Sam's iPad", "--group", "pupils", "--person", "Sam Pupil")
    db = _db(cli)
    watcher = ConcernWatcher(db)
    watcher.poll_once()
    with db.session() as session:
        device_id = session.scalars(select(Device.id).where(Device.name == "Sam's iPad")).one()
        session.add(AccessEvent(ts=utcnow(), client_ip="10.0.0.5", device_id=device_id, source="proxy",
                                host="www.google.com", url="http://www.google.com/search?q=how+to+kill+myself",
                                action="allow", search_term="how to kill myself"))
    watcher.poll_once()
    db.dispose()
    lines = [json.loads(line) for line in cli("concerns", "list", "--json").stdout.splitlines()]
    [row] = lines
    assert {k: row[k] for k in ("device", "person", "category", "severity", "matched", "source", "state",
                                "routed_to")} == {
        "device": "Sam's iPad", "person": "Sam Pupil", "category": "suicide_self_harm", "severity": "high",
        "matched": "how to kill myself", "source": "search", "state": "open", "routed_to": "dsl"}
    assert row["id"] >= 1 and row["opened"].endswith("Z")
    table = cli("concerns", "list").stdout
    assert "Sam Pupil" in table and "suicide_self_harm" in table
    with sqlite3.connect(cli_db_path(cli)) as conn:
        assert conn.execute("SELECT count(*) FROM audit_log WHERE action = 'concern.list'").fetchone() == (2,)
        conn.execute("UPDATE concerns SET state = 'record_made'")
    assert cli("concerns", "list", "--json").stdout == ""
    assert len(cli("concerns", "list", "--json", "--all").stdout.splitlines()) == 1


def test_mark_a_site_category_as_safeguarding(initialised_cli: Cli, tmp_path: Path) -> None:
    listing = tmp_path / "sites.txt"
    listing.write_text("forum.example.net\n", encoding="utf-8")
    initialised_cli("lists", "import", str(listing), "--category", "selfharm_sites")
    assert "raise a safeguarding concern" in initialised_cli("safeguarding", "mark", "selfharm_sites").stdout
    missing = initialised_cli("safeguarding", "mark", "no_such", check=False)
    assert missing.returncode != 0 and "no category 'no_such'" in missing.stderr
    with sqlite3.connect(cli_db_path(initialised_cli)) as conn:
        assert conn.execute("SELECT safeguarding FROM categories WHERE name = 'selfharm_sites'").fetchone() == (1,)
    initialised_cli("safeguarding", "mark", "selfharm_sites", "--off")
    with sqlite3.connect(cli_db_path(initialised_cli)) as conn:
        assert conn.execute("SELECT safeguarding FROM categories WHERE name = 'selfharm_sites'").fetchone() == (0,)


def test_safeguarding_test_creates_no_database(cli: Cli) -> None:
    assert json.loads(cli("safeguarding", "test", "how to kill myself", "--json").stdout)["raises"]
    assert not cli_db_path(cli).exists()
