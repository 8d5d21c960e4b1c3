"""`schoolgate data export|erase` as the operator types them, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
from pathlib import Path

from sqlalchemy import select

from rules.store.db import Database
from rules.store.models import AuditEntry
from tests.conftest import Cli
from tests.rules.privacy.people import HOSTILE, SAM, populate
from tests.rules.privacy.test_export_erase import SAM_STRINGS, holding


def test_export_then_erase_a_pupil_from_the_command_line(cli: Cli, db_url: str, tmp_path: Path) -> None:
    if db_url.startswith("sqlite"):
        db_url = f"sqlite:///{tmp_path}/var/schoolgate.db"  # the configuration's own: its state folder is var/
    env = {"SCHOOLGATE_DATABASE_URL": db_url}
    cli("init", env=env)
    db = Database(db_url)
    try:
        populate(db, tmp_path / "var")

        out = cli("data", "export", "--person", "sam pupil", env=env).stdout.splitlines()
        json_path, html_path = Path(out[0]), Path(out[1])
        assert json_path.parent == html_path.parent == tmp_path / "var" / "exports"
        assert json_path.suffix == ".json" and html_path.suffix == ".html" and "Sam" not in json_path.name
        assert out[2].startswith("0 staff accounts, 2 devices, 5 access events, 1 ban, 0 supervised sessions they gave")
        data = json.loads(json_path.read_text(encoding="utf-8"))
        assert HOSTILE in {e["host"] for e in data["access_events"]}

        dry = cli("data", "erase", "--person", SAM, check=False, env=env)
        assert dry.returncode == 1 and "nothing was erased: add --confirm" in dry.stderr
        assert dry.stdout.startswith("would remove or anonymise: 5 access events, 1 ban, 1 supervised session, "
                                     "2 devices, 0 staff accounts")
        assert holding(db, SAM_STRINGS)

        done = cli("data", "erase", "--person", SAM, "--confirm", env=env).stdout
        reference = re.search(r"^erased; reference (E-\d{8}-[0-9a-f]{6})$", done, re.MULTILINE)
        assert reference, done
        assert holding(db, SAM_STRINGS) == []
        with db.session(read_only=True) as session:
            entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "data.erase")).one()
            assert entry.target == reference.group(1) and entry.actor.startswith("cli:")
            exported = session.scalars(select(AuditEntry).where(AuditEntry.action == "data.export")).one()
            assert exported.target == "[erased]"  # the record of the export stays; whose it was does not

        gone = cli("data", "export", "--person", SAM, check=False, env=env)
        assert gone.returncode == 1 and f"nothing is held about '{SAM}'" in gone.stderr
        assert list((tmp_path / "var" / "exports").iterdir()) == []
    finally:
        db.dispose()
