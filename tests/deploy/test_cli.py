"""The `schoolgate` command, run for real in a subprocess as the ICT technician would."""

from __future__ import annotations

import json
import os
import pwd
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from deploy.config import load_config
from rules.store.db import Database
from rules.store.event_writer import EventWriter, event
from rules.store.models import AuditEntry, Ban, Category
from tests.conftest import Cli

BLOCKED = ["facebook.com", "m.facebook.com", "WWW.FACEBOOK.COM.", "t.co", "vm.tiktok.com", "cdninstagram.com",
           "x.com", "api.x.com", "instagram.com", "fbcdn.net", "twimg.com", "tiktokcdn.com", "fb.me"]
ALLOWED = ["notfacebook.com", "facebook.com.example.org", "box.com", "bbc.co.uk", "wikipedia.org",
           "x.company.example", "tco.example"]


def check(cli: Cli, host: str, *extra: str) -> dict[str, object]:
    result = cli("check", host, "--json", *extra)
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1
    return json.loads(lines[0])  # type: ignore[no-any-return]


def test_init_then_check_the_four_services(initialised_cli: Cli) -> None:
    for host in BLOCKED:
        answer = check(initialised_cli, host)
        assert answer["action"] == "block", host
        assert answer["category"] == "social_media" and answer["reason"] == "category"
        assert str(answer["rule"]).startswith("social_media: ")
    for host in ALLOWED:
        assert check(initialised_cli, host)["action"] == "allow", host


def test_check_text_explains(initialised_cli: Cli) -> None:
    out = initialised_cli("check", "m.facebook.com").stdout
    assert out.startswith("block  m.facebook.com")
    assert "social_media: facebook.com" in out and "group pupils" in out


@pytest.mark.parametrize("host", ["bad host", "a..b", "<img src=x onerror=alert(1)>.example", "x" * 300])
def test_invalid_host_is_one_clear_line(initialised_cli: Cli, host: str) -> None:
    result = initialised_cli("check", host, check=False)
    assert result.returncode != 0
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("schoolgate: error: invalid host")


def test_commands_before_init_say_to_run_init(cli: Cli) -> None:
    result = cli("check", "facebook.com", check=False)
    assert result.returncode == 1 and "run `schoolgate init`" in result.stderr


def test_bad_config_stops_with_key_and_file(cli: Cli) -> None:
    cli.config.write_text(cli.config.read_text() + "[dns]\nrate_limit = 5\n")
    result = cli("check", "facebook.com", check=False)
    assert result.returncode == 1
    assert "dns.rate_limit" in result.stderr and str(cli.config) in result.stderr and "Traceback" not in result.stderr


MESSY = """\
# a hosts file from the internet
127.0.0.1 localhost
::1 localhost ip6-localhost ip6-loopback
0.0.0.0 0.0.0.0
255.255.255.255 broadcasthost
0.0.0.0 ads.tracker-network.example   # ads
0.0.0.0 casino.example bingo.example
0.0.0.0 local
0.0.0.0 not..valid
nonsense without an address
0.0.0.0 com
"""


def test_lists_import_messy_hosts_file(initialised_cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "messy.hosts"
    path.write_text(MESSY)
    result = initialised_cli("lists", "import", str(path), "--category", "gambling")
    assert "3 domains from messy.hosts (hosts) now in category gambling (new category)" in result.stdout
    assert "skipped" in result.stdout and "localhost" in result.stdout
    assert check(initialised_cli, "www.casino.example")["category"] == "gambling"
    assert check(initialised_cli, "sub.ads.tracker-network.example")["action"] == "block"
    for host in ("localhost", "local", "com", "example", "tracker-network.example"):
        assert check(initialised_cli, host)["action"] == "allow", host


MIXED_LIST = """\
# Hand-kept: pasted from a hosts file, an adblock list and a colleague's email
0.0.0.0 hosts-one.example
127.0.0.1 hosts-two.example hosts-three.example
||adblock-one.example^
|adblock-two.example^
@@||allowed.example^
school-news.example##.banner
plain-one.example
*.plain-two.example
just some words
"""


def test_lists_import_mixed_file_decides_per_line(initialised_cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "ours.txt"
    path.write_text(MIXED_LIST)
    out = initialised_cli("lists", "import", str(path), "--category", "hand_kept").stdout
    assert ("7 domains from ours.txt (mixed) now in category hand_kept (new category); 10 lines read: "
            "2 hosts lines, 2 adblock lines, 2 plain names, 3 skipped") in out
    assert "skipped 1: exception rule (@@)" in out and "line 6: @@||allowed.example^" in out
    assert "line 10: just some words" in out
    for host in ("hosts-one.example", "hosts-three.example", "adblock-one.example", "www.adblock-two.example",
                 "plain-one.example", "cdn.plain-two.example"):
        answer = check(initialised_cli, host)
        assert (answer["action"], answer["category"]) == ("block", "hand_kept"), host
    for host in ("allowed.example", "school-news.example", "words.example"):
        assert check(initialised_cli, host)["action"] == "allow", host
    again = initialised_cli("lists", "import", str(path), "--category", "hand_kept", "--format", "adblock").stdout
    assert "2 domains from ours.txt (adblock) now in category hand_kept;" in again
    assert check(initialised_cli, "plain-one.example")["action"] == "allow"  # the re-import replaced the list


def test_lists_import_bad_input(initialised_cli: Cli, tmp_path: Path) -> None:
    result = initialised_cli("lists", "import", str(tmp_path / "nope.txt"), "--category", "x", check=False)
    assert result.returncode == 2 and "does not exist" in result.stderr
    folder = tmp_path / "folder"
    folder.mkdir()
    result = initialised_cli("lists", "import", str(folder), "--category", "x", check=False)
    assert result.returncode == 1 and "not a UT1 category" in result.stderr and "Traceback" not in result.stderr


def test_lists_import_is_audited_and_checks_the_category_name(initialised_cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "games.txt"
    path.write_text("games-one.example\ngames-two.example\ngames-one.example\n")
    refused = initialised_cli("lists", "import", str(path), "--category", "Bad Name!", check=False)
    assert refused.returncode == 1 and "a category name is lower-case letters" in refused.stderr
    initialised_cli("lists", "import", str(path), "--category", "Games")  # stored in lower case, as the web does
    with Database(load_config(initialised_cli.config).database.url).session(read_only=True) as session:
        assert session.scalar(select(Category).where(Category.name == "bad name!")) is None
        [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "list.import",
                                                           AuditEntry.target == "category games"))
    assert entry.actor.startswith("cli:")
    assert json.loads(entry.after or "{}")["entries"] == 2 and json.loads(entry.after or "{}")["source"] == "games.txt"


def test_devices_add_list_and_device_scoped_check(initialised_cli: Cli) -> None:
    initialised_cli("devices", "add", "--ip", "10.0.0.8", "--mac", "02:00:00:00:00:08", "--name", "Staff laptop 1",
                    "--group", "staff", "--person", "Ms Jones")
    initialised_cli("devices", "add", "--ip", "10.0.0.9", "--name", "Class 3 iPad 07", "--group", "pupils")
    # The same MAC at a new address is the same device.
    out = initialised_cli("devices", "add", "--ip", "10.0.0.18", "--mac", "02-00-00-00-00-08",
                          "--name", "Staff laptop 1", "--group", "staff", "--person", "Ms Jones").stdout
    assert out.startswith("updated device #1")
    rows = [json.loads(line) for line in initialised_cli("devices", "list", "--json").stdout.splitlines()]
    assert [r["name"] for r in rows] == ["Class 3 iPad 07", "Staff laptop 1"]
    laptop = rows[1]
    assert laptop["ip"] == "10.0.0.18" and laptop["group"] == "staff" and laptop["mac"] == "02:00:00:00:00:08"
    assert check(initialised_cli, "box.com", "--client", "10.0.0.18")["device"] == "Staff laptop 1"
    result = initialised_cli("devices", "add", "--ip", "10.0.0.10", "--name", "x", "--group", "teachers", check=False)
    assert result.returncode == 1 and "no group named 'teachers'" in result.stderr


def test_users_add_never_prints_the_password(initialised_cli: Cli) -> None:
    secret = "correct horse battery staple"
    result = initialised_cli("users", "add", "head@school.example", "--name", "Mrs Head", "--role", "headteacher",
                             "--password-stdin", input=secret + "\n")
    assert "created head@school.example (headteacher)" in result.stdout
    assert secret not in result.stdout + result.stderr
    again = initialised_cli("users", "add", "HEAD@school.example", "--name", "X", "--role", "staff",
                            "--password-stdin", input=secret + "\n", check=False)
    assert again.returncode == 1 and "already exists" in again.stderr
    short = initialised_cli("users", "add", "t@school.example", "--name", "T", "--role", "staff",
                            "--password-stdin", input="short\n", check=False)
    assert short.returncode == 1 and "at least 10 characters" in short.stderr


def test_init_creates_first_accounts_from_options(cli: Cli) -> None:
    result = cli("init", "--headteacher", "head@school.example", "--headteacher-name", "Mrs Head",
                 "--ict", "ict@school.example", "--ict-name", "Mr Tech", "--password-stdin",
                 input="first-password-1\nsecond-password-2\n")
    assert "created the headteacher account head@school.example" in result.stdout
    assert "created the ICT technician account ict@school.example" in result.stdout
    assert "password-1" not in result.stdout + result.stderr
    again = cli("init").stdout  # a second init upgrades nothing and asks nothing
    assert "->" not in again and "created" not in again


def _database(cli: Cli) -> Database:
    url = cli.config.read_text().split('"')[1]
    return Database(url)


def test_logs_json_and_client_filter(initialised_cli: Cli, tmp_path: Path) -> None:
    db = _database(initialised_cli)
    writer = EventWriter(db, tmp_path / "spool")
    writer.record(event(time.time() - 60, "10.0.0.7", "dns", "facebook.com", "block", qtype="A",
                        category="social_media", rule="social_media: facebook.com", reason="category"))
    writer.record(event(time.time(), "10.0.0.8", "proxy", "box.com", "allow", url="http://box.com/x"))
    writer.flush()
    rows = [json.loads(line) for line in initialised_cli("logs", "--json").stdout.splitlines()]
    assert [r["host"] for r in rows] == ["facebook.com", "box.com"]
    first = rows[0]
    assert {k: first[k] for k in ("client_ip", "source", "action", "category", "rule")} == {
        "client_ip": "10.0.0.7", "source": "dns", "action": "block", "category": "social_media",
        "rule": "social_media: facebook.com"}
    assert set(first) >= {"ts", "client_ip", "device", "source", "host", "url", "action", "category", "rule"}
    assert first["ts"].endswith("Z")
    only = [json.loads(line) for line in initialised_cli("logs", "--client", "10.0.0.8", "--json").stdout.splitlines()]
    assert [r["url"] for r in only] == ["http://box.com/x"]
    since = initialised_cli("logs", "--since", rows[1]["ts"], "--json").stdout.splitlines()
    assert len(since) == 1


def test_reading_the_whole_log_on_the_command_line_is_audited(initialised_cli: Cli, tmp_path: Path) -> None:
    """`schoolgate logs --client IP` was audited, `schoolgate logs --limit 1000000` (every pupil's log) not."""
    db = _database(initialised_cli)
    writer = EventWriter(db, tmp_path / "spool")
    writer.record(event(time.time(), "10.0.0.7", "proxy", "www.google.com", "allow", search_term="sam pupil"))
    writer.flush()
    assert "www.google.com" in initialised_cli("logs", "--limit", "1000000").stdout
    initialised_cli("logs", "--client", "10.0.0.7", "--json")
    with db.session(read_only=True) as session:
        views = [(e.actor.startswith("cli:"), e.target) for e in session.scalars(
            select(AuditEntry).where(AuditEntry.action == "access_log.view").order_by(AuditEntry.id))]
    db.dispose()
    assert views == [(True, "access log"), (True, "client 10.0.0.7")]


def test_bans_list(initialised_cli: Cli) -> None:
    assert initialised_cli("bans", "list").stdout.strip() == "no current bans"
    initialised_cli("devices", "add", "--ip", "10.0.0.7", "--name", "Class 3 iPad 07", "--group", "pupils",
                    "--person", "Sam Pupil")
    db = _database(initialised_cli)
    with db.session() as session:
        session.add(Ban(device_id=1, person="Sam Pupil", reason="VPN sites, 3 times in 5 minutes",
                        evidence='[{"host": "nordvpn.com"}]'))
    rows = [json.loads(line) for line in initialised_cli("bans", "list", "--json").stdout.splitlines()]
    assert len(rows) == 1 and rows[0]["device"] == "Class 3 iPad 07" and rows[0]["state"] == "active"
    assert rows[0]["person"] == "Sam Pupil" and "nordvpn" in rows[0]["evidence"]
    assert rows[0]["supervised"] is None and rows[0]["false_positive"] is False and rows[0]["lifted_by"] is None
    with db.session() as session:  # printing the evidence is a view of it, in the audit log like the web's
        views = list(session.scalars(select(AuditEntry).where(AuditEntry.action == "ban.evidence_view")))
    assert [(v.target, json.loads(v.after or "{}")) for v in views] == [("bans list --json", {"bans": [rows[0]["id"]]})]
    assert check(initialised_cli, "box.com", "--client", "10.0.0.7")["action"] == "ban"


def test_the_audit_names_the_account_that_ran_the_command_not_what_the_environment_says(initialised_cli: Cli) -> None:
    """The actor came from $LOGNAME/$USER (getpass.getuser), which anyone sets: a change made by one person was
    recorded under the headteacher's name."""
    blame = {name: "ann.head@school.test" for name in ("LOGNAME", "USER", "LNAME", "USERNAME")}
    initialised_cli("devices", "add", "--ip", "10.0.0.9", "--name", "Class 3 iPad 09", "--group", "pupils",
                    env=blame)
    db = _database(initialised_cli)
    with db.session(read_only=True) as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "device.register")).one()
    db.dispose()
    assert entry.actor == f"cli:{pwd.getpwuid(os.getuid()).pw_name}" and "ann.head" not in entry.actor
