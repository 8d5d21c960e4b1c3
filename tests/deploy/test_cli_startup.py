"""`schoolgate check` and `schoolgate --help` start fast: they import only what they use.

Each test runs the command in a fresh interpreter (the real `deploy.cli` group, through click's `main`)
and then looks at `sys.modules`, so a module-level import of mitmproxy, Flask or Alembic anywhere on the
way to `check` fails here, not as a slow terminal for the ICT technician.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys

import click

from tests.conftest import Cli

HEAVY = ("mitmproxy", "flask", "alembic", "gunicorn", "argon2", "apscheduler", "admin_web", "filter_proxy",
         "dns_block", "dnslib")

PROBE = """
import json, sys
from deploy.cli import cli
try:
    cli.main(sys.argv[1:], prog_name="schoolgate", standalone_mode=False)
except SystemExit:
    pass
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})), file=sys.stderr)
"""


def loaded_after(cli: Cli, *args: str) -> tuple[str, set[str]]:
    env = {**os.environ, "SCHOOLGATE_CONFIG": str(cli.config)}
    result = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=cli.cwd, env=env, capture_output=True,
                            text=True, timeout=120, check=True)
    return result.stdout, set(json.loads(result.stderr.strip().splitlines()[-1]))


def test_check_imports_neither_mitmproxy_nor_flask_nor_alembic(initialised_cli: Cli) -> None:
    out, loaded = loaded_after(initialised_cli, "check", "facebook.com")
    assert out.startswith("block  facebook.com"), out
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_help_imports_no_command_and_no_database_code(cli: Cli) -> None:
    out, loaded = loaded_after(cli, "--help")
    assert "Commands:" in out
    assert not loaded & {*HEAVY, "sqlalchemy", "rules"}, sorted(loaded & {*HEAVY, "sqlalchemy", "rules"})


def test_help_lists_every_command_with_its_own_short_help(cli: Cli) -> None:
    """The lazy listing says what the commands themselves say (the table cannot drift from the docstrings)."""
    from deploy.cli import COMMANDS
    from deploy.cli import cli as group

    shown = cli("--help", env={"COLUMNS": "80"}).stdout  # click lays help out 78 wide
    listing = shown[shown.index("Commands:"):].splitlines()[1:]
    ctx = click.Context(group, info_name="schoolgate")
    eager = [(name, group.get_command(ctx, name)) for name in group.list_commands(ctx)]
    assert sorted(COMMANDS) == [name for name, _ in eager]
    width = max(len(name) for name in COMMANDS)
    for (name, command), line in zip(eager, listing, strict=True):
        assert command is not None and command.name == name
        assert COMMANDS[name][2] == (command.help or "").split("\n\n")[0], name
        assert line.split(None, 1) == [name, command.get_short_help_str(78 - 6 - width)], line


def test_version_and_each_command_help_still_work(cli: Cli) -> None:
    assert "version" in cli("--version").stdout
    for name in ("check", "lists", "proxy", "web", "init"):
        assert "Usage: schoolgate " + name in cli(name, "--help").stdout


def test_an_unknown_command_is_an_error(cli: Cli) -> None:
    result = cli("nosuchcommand", check=False)
    assert result.returncode == 2 and "No such command" in result.stderr


def test_the_probe_sees_mitmproxy_when_a_command_needs_it(cli: Cli) -> None:
    """The probe itself works: `proxy --help` does load the proxy's module (and so mitmproxy)."""
    _, loaded = loaded_after(cli, "proxy", "--help")
    assert "mitmproxy" in loaded


def test_every_command_a_module_declares_is_in_the_table() -> None:
    """A command added to a `commands_*` module's COMMANDS but not to the table would never be reachable."""
    import importlib
    import pkgutil

    import deploy
    from deploy.cli import COMMANDS

    declared = {}
    for module_info in pkgutil.iter_modules(deploy.__path__):
        if module_info.name.startswith("commands_"):
            module = importlib.import_module(f"deploy.{module_info.name}")
            declared.update({command.name: (module_info.name, command) for command in module.COMMANDS})
    assert sorted(declared) == sorted(COMMANDS)
    for name, (module_name, command) in declared.items():
        assert COMMANDS[name][0] == module_name and getattr(importlib.import_module(f"deploy.{module_name}"),
                                                            COMMANDS[name][1]) is command, name


def test_a_second_check_reads_the_kept_policy_without_sqlalchemy_and_stays_right(initialised_cli: Cli) -> None:
    """The first `check` compiles and keeps the policy; the next ones (other processes, with other hash salts)
    answer from it without loading SQLAlchemy, and answer exactly as a fresh compile does."""
    cli = initialised_cli
    first, loaded = loaded_after(cli, "check", "facebook.com")
    assert "sqlalchemy" in loaded  # nothing kept yet: compiled
    for host in ("facebook.com", "m.facebook.com", "vm.tiktok.com", "nordvpn.com", "www.bbc.co.uk",
                 "notfacebook.com"):
        out, loaded = loaded_after(cli, "check", host, "--json")
        assert "sqlalchemy" not in loaded, host
        kept = json.loads(out)
        kept_file = next(cli.cwd.rglob("check-snapshot-default.pickle"))
        kept_file.rename(kept_file.with_suffix(".away"))
        fresh = json.loads(cli("check", host, "--json").stdout)  # compiled from the database
        kept_file.unlink()
        kept_file.with_suffix(".away").rename(kept_file)
        assert kept == fresh, host
        assert kept["action"] == ("allow" if host in ("www.bbc.co.uk", "notfacebook.com") else "block"), host


def test_a_policy_change_is_seen_by_the_next_check(initialised_cli: Cli) -> None:
    cli = initialised_cli
    assert cli("check", "games.example").stdout.startswith("allow")
    assert cli("check", "games.example").stdout.startswith("allow")  # from the kept policy
    listed = cli.cwd / "games.txt"
    listed.write_text("games.example\n", encoding="utf-8")
    cli("lists", "import", str(listed), "--category", "games")
    out, loaded = loaded_after(cli, "check", "www.games.example")
    assert out.startswith("block  www.games.example"), out
    assert "sqlalchemy" in loaded  # the version moved: compiled again


def test_a_kept_policy_others_could_have_written_is_not_trusted(initialised_cli: Cli) -> None:
    cli = initialised_cli
    cli("check", "facebook.com")
    kept_file = next(cli.cwd.rglob("check-snapshot-default.pickle"))
    assert kept_file.stat().st_mode & 0o777 == 0o600
    kept_file.chmod(0o666)
    _, loaded = loaded_after(cli, "check", "facebook.com")
    assert "sqlalchemy" in loaded


def test_a_kept_policy_from_another_schoolgate_is_not_trusted(initialised_cli: Cli) -> None:
    """After an upgrade the policy version may be the same, but the kept file was pickled by the old code (a
    class with fewer fields): `check` compiles again rather than read it."""
    cli = initialised_cli
    cli("check", "facebook.com")
    kept_file = next(cli.cwd.rglob("check-snapshot-default.pickle"))
    with open(kept_file, "rb") as handle:
        pickle.load(handle)  # the fingerprint of the code that wrote it
        rest = handle.read()
    with open(kept_file, "wb") as handle:
        pickle.dump("the fingerprint of an older schoolgate", handle)
        handle.write(rest)
    _, loaded = loaded_after(cli, "check", "facebook.com")
    assert "sqlalchemy" in loaded  # compiled again
    _, loaded = loaded_after(cli, "check", "facebook.com")
    assert "sqlalchemy" not in loaded  # and kept again, by this schoolgate
