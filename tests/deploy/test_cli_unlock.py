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


def test_importing_the_same_file_again_never_takes_sites_out_of_a_locked_category(initialised_cli: Cli,
                                                                                  tmp_path: Path) -> None:
    """Re-importing a list replaces what it brought; on a locked category that would unlock its sites by another
    road (an empty iwf.txt, and nothing of the child-abuse list is blocked): one person alone must not."""
    path = tmp_path / "iwf.txt"
    path.write_text("listed.example\nalso-listed.example\n")
    initialised_cli("lists", "import", str(path), "--category", "child_abuse", "--locked")
    path.write_text("harmless.example\n")
    refused = initialised_cli("lists", "import", str(path), "--category", "child_abuse", check=False)
    assert refused.returncode != 0
    assert "child_abuse is locked, and taking sites out of it would open them" in refused.stderr
    elsewhere = tmp_path / "mine"
    elsewhere.mkdir()
    (elsewhere / "iwf.txt").write_text("listed.example\nalso-listed.example\n")  # the same sites, from a file of
    moved = initialised_cli("lists", "import", str(elsewhere / "iwf.txt"), "--category", "child_abuse",  # its own
                            check=False)
    assert moved.returncode != 0 and "was imported from" in moved.stderr
    for host in ("listed.example", "also-listed.example"):
        checked = json.loads(initialised_cli("check", host, "--json").stdout)
        assert (checked["action"], checked["reason"]) == ("block", "locked_category")
    path.write_text("listed.example\nalso-listed.example\nnew-listed.example\n")  # adding is locking more: at once
    initialised_cli("lists", "import", str(path), "--category", "child_abuse")
    checked = json.loads(initialised_cli("check", "new-listed.example", "--json").stdout)
    assert (checked["action"], checked["reason"]) == ("block", "locked_category")
