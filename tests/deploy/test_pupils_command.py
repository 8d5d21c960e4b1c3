"""`schoolgate pupils import FILE` as the office's ICT technician types it, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from rules.store.db import Database
from rules.store.models import AuditEntry, Pupil
from tests.conftest import Cli

SIMS = ("\ufeffAdno;UPN;Legal Surname;Legal Forename;Preferred Forename;Reg Group;Year Group\r\n"
        "1234;A123456789012;Jones;Samuel;Sam;4B;Year 4\r\n"
        "1235;A123456789013;Smith;Beatrice;;4B;Year 4\r\n")
NEXT_YEAR = ("UPN,Legal Forename,Legal Surname,Reg Group,Year Group\n"
             "A123456789012,Samuel,Jones,5B,Year 5\nA123456789099,Ali,Khan,4B,Year 4\n")


def test_import_reimport_and_a_broken_file(cli: Cli, db_url: str, tmp_path: Path) -> None:
    env = {"SCHOOLGATE_DATABASE_URL": db_url}
    cli("init", env=env)
    first = tmp_path / "sims export.csv"
    first.write_text(SIMS, encoding="utf-8")
    out = cli("pupils", "import", str(first), env=env).stdout
    assert out.strip() == "pupils from sims export.csv: 2 added, 0 updated, 0 unchanged, 0 off roll"

    second = tmp_path / "arbor.csv"
    second.write_text(NEXT_YEAR, encoding="utf-8")
    out = cli("pupils", "import", str(second), env=env).stdout
    assert out.strip() == "pupils from arbor.csv: 1 added, 1 updated, 0 unchanged, 1 off roll"

    broken = tmp_path / "broken.csv"
    broken.write_text(NEXT_YEAR + "A123456789012,Sam,Again,5B,Year 5\n", encoding="utf-8")
    result = cli("pupils", "import", str(broken), check=False, env=env)
    assert result.returncode == 1 and result.stdout == "" and "Traceback" not in result.stderr
    assert result.stderr.strip() == (f"schoolgate: error: {broken}: line 4: the id 'A123456789012' is also on "
                                     "line 2 (each pupil once); nothing was imported")
    missing = tmp_path / "missing.csv"
    missing.write_text("UPN,Forename,Surname,Year Group\nA1,Sam,Jones,Year 4\n", encoding="utf-8")
    result = cli("pupils", "import", str(missing), check=False, env=env)
    assert result.returncode == 1 and "the header has no column for the class (Class or Reg Group)" in result.stderr
    absent = cli("pupils", "import", str(tmp_path / "nope.csv"), check=False, env=env)
    assert absent.returncode != 0 and "nope.csv" in absent.stderr and "Traceback" not in absent.stderr

    db = Database(db_url)
    try:
        with db.session(read_only=True) as session:
            got = {p.mis_id: (p.name, p.class_name, p.on_roll) for p in session.scalars(select(Pupil))}
            entries = list(session.scalars(select(AuditEntry).where(AuditEntry.action == "pupils.import")))
    finally:
        db.dispose()
    assert got == {"A123456789012": ("Samuel Jones", "5B", True), "A123456789013": ("Beatrice Smith", "4B", False),
                   "A123456789099": ("Ali Khan", "4B", True)}
    assert [json.loads(e.after or "")["off_roll"] for e in entries] == [0, 1]
    assert all(e.actor.startswith("cli:") for e in entries)


def test_help_documents_the_columns(cli: Cli) -> None:
    text = cli("pupils", "import", "--help").stdout
    for words in ("mis_id", "UPN", "Adno", "Forename and Surname", "Reg Group", "Year Group", "off roll",
                  "separated by , or ;"):
        assert words in text, words
    assert "pupils" in cli("--help").stdout
