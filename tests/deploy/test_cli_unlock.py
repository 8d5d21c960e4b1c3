"""`schoolgate lists import --not-locked` cannot unlock a locked category: that takes two people, in the web."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import Cli


def test_the_command_line_locks_at_once_but_never_unlocks(initialised_cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "iwf.txt"
    path.write_text("listed.example\n")
    initialised_cli("lists", "import", str(path), "--category", "child_abuse", "--locked")
    refused = initialised_cli("lists", "import", str(path), "--category", "child_abuse", "--not-locked", check=False)
    assert refused.returncode != 0
    assert "child_abuse is locked; unlocking it takes two people" in refused.stderr
    checked = json.loads(initialised_cli("check", "listed.example", "--json").stdout)
    assert (checked["action"], checked["reason"]) == ("block", "locked_category")
