"""`schoolgate safeguarding test`, run for real in a subprocess as a DSL or the ICT technician would."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import Cli
from tests.deploy.test_cli_startup import HEAVY, loaded_after


def test_a_concern_is_explained(cli: Cli) -> None:
    result = cli("safeguarding", "test", "how to k1ll my5elf")
    lines = result.stdout.splitlines()
    assert result.returncode == 0 and lines[0] == "raises high  how to k1ll my5elf"
    assert "  high  suicide_self_harm (Suicide and self-harm)" in lines
    assert "    matched:  kill myself" in lines
    assert "    phrase:   (kill|killing) (myself|my self)" in lines
    assert "    why:      First person: says they want to or will end their life." in lines
    assert "    from:     built-in list" in lines


def test_nothing_says_so_and_exits_zero(cli: Cli) -> None:
    result = cli("safeguarding", "test", "how to kill a python process")
    assert (result.returncode, result.stdout, result.stderr) == (0, "nothing  how to kill a python process\n", "")


def test_an_exception_is_named(cli: Cli) -> None:
    out = cli("safeguarding", "test", "the Isis river in Oxford").stdout
    assert out.startswith("nothing  the Isis river in Oxford\n")
    assert "  kept quiet: low  extremism (Radicalisation and extremism (Prevent))" in out
    assert '    because:  the innocent context "oxford": it appears in the same text' in out


def test_json_is_one_object(cli: Cli) -> None:
    lines = cli("safeguarding", "test", "--json", "kys; shooting stars").stdout.splitlines()
    assert len(lines) == 1
    answer = json.loads(lines[0])
    assert answer["raises"] is True and answer["severity"] == "medium" and answer["source"] == "search"
    assert [(m["category"], m["phrase"], m["matched"], m["suppressed_by"]) for m in answer["matches"]] == [
        ("bullying_abuse", "kys", "kys", None)]
    quiet = json.loads(cli("safeguarding", "test", "--json", "overdose of vitamin d").stdout)
    assert quiet["raises"] is False and quiet["severity"] is None and quiet["matches"] == []
    assert quiet["suppressed"][0]["suppressed_by"] == {
        "kind": "unless", "phrase": "vitamin*",
        "why": "it appears in the same text, and the list names it as an innocent context of this phrase"}


def test_a_site(cli: Cli) -> None:
    answer = json.loads(cli("safeguarding", "test", "--url", "--json",
                            "https://www.sanctioned-suicide.net/threads/123").stdout)
    assert answer["source"] == "site" and answer["severity"] == "high"
    assert answer["matches"][0]["phrase"] == "sanctioned suicide"
    automatic = cli("safeguarding", "test", "--url", "http://captive.apple.com/hotspot-detect.html").stdout
    assert automatic.startswith("nothing  http://captive.apple.com/hotspot-detect.html\n")
    assert "a device's own automatic lookup" in automatic


def test_a_bad_host_is_one_clear_line(cli: Cli) -> None:
    result = cli("safeguarding", "test", "--url", "bad host/x", check=False)
    assert result.returncode == 1 and result.stdout == "" and "Traceback" not in result.stderr
    assert result.stderr.startswith("schoolgate: error: invalid host in 'bad host/x'")


def test_a_schools_file_can_be_tried_before_it_is_imported(cli: Cli, tmp_path: Path) -> None:
    ours = tmp_path / "ours.csv"
    ours.write_text("phrase,category,severity,why\nblue bandana crew,weapons_violence,medium,A local gang\n"
                    "kys,off,,Key Stage\n", encoding="utf-8")
    out = cli("safeguarding", "test", "--phrases", str(ours), "Blue-Bandana crew kys").stdout
    assert out.startswith("raises medium  Blue-Bandana crew kys\n")
    assert "    from:     school list" in out and "kys" not in out.split("\n", 1)[1]


def test_a_bad_file_names_each_bad_line_and_nothing_is_used(cli: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("good one,bullying_abuse,low,fine\nbad,nonsense,low,why\nkill my self,off,,typo\n",
                   encoding="utf-8")
    result = cli("safeguarding", "test", "--phrases", str(bad), "good one", check=False)
    assert result.returncode == 1 and result.stdout == ""
    assert f"schoolgate: error: {bad}: 1 bad line, nothing imported" in result.stderr
    assert "line 2: unknown category 'nonsense'" in result.stderr
    bad.write_text("good one,bullying_abuse,low,fine\nkill my self,off,,typo\n", encoding="utf-8")
    result = cli("safeguarding", "test", "--phrases", str(bad), "good one", check=False)
    assert result.returncode == 1 and "line 2: 'off' names no built-in phrase" in result.stderr


def test_it_imports_none_of_the_services_libraries(cli: Cli) -> None:
    """A DSL's question is answered without loading mitmproxy, Flask, Alembic or the database."""
    out, loaded = loaded_after(cli, "safeguarding", "test", "kys")
    assert out.startswith("raises medium  kys\n")
    assert not loaded & {*HEAVY, "sqlalchemy"}, sorted(loaded & {*HEAVY, "sqlalchemy"})
