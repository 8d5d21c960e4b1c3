"""`lists import`: load a hosts, adblock, plain-domain or UT1 list into a category."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from deploy.context import CommandError, pass_app
from rules.lists.importer import ListImportError, import_list
from rules.lists.parse import FORMATS, ListFileError


@click.group()
def lists() -> None:
    """The block lists: import them into categories."""


@lists.command("import")
@click.argument("file", type=click.Path(exists=True, path_type=Path))
@click.option("--category", required=True, metavar="NAME", help="The category the list fills (created if new).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="auto", show_default=True,
              help="The list's syntax; auto reads each line in its own (hosts, adblock or plain name).")
@click.option("--locked/--not-locked", default=None,
              help="Mark the category locked (no exception can open it), e.g. for a child-abuse list. A locked "
                   "category is unlocked only in the admin web: the ICT technician proposes, the headteacher confirms.")
@click.option("--trust-wide", is_flag=True,
              help="A new category is the whole trust's (every school's filter), not this school's own.")
@pass_app
def import_command(app, file: Path, category: str, fmt: str, locked: bool | None, trust_wide: bool) -> None:
    """Import FILE into a category; re-importing the same file replaces what it brought before.

    A new category is this gateway's school's own ([site] name), unless --trust-wide: a technician at one
    school changes that school's filter. An existing category of the trust, or of this school, is filled as it
    is; another school's own category is refused."""
    db = app.ready_database()
    size = sum(p.stat().st_size for p in file.rglob("*") if p.is_file()) if file.is_dir() else file.stat().st_size
    try:
        bar: Any
        with click.progressbar(length=max(size, 1), label=f"Reading {file.name}",
                               file=sys.stderr, show_percent=True, show_eta=True) as bar:
            result = import_list(db, file, category, fmt, actor=app.actor, on_progress=bar.update,
                                 locked=locked, site_id=app.site_id, own=not trust_wide)
    except (ListFileError, ListImportError) as exc:
        raise CommandError(str(exc)) from None
    report = result.report
    made = " (new category)" if result.created_category else ""
    click.echo(f"{result.entries} domains from {result.source} ({result.format}) now in category "
               f"{result.category}{made}; {report.lines} lines read: {report.summary()}")
    for reason, count in report.skipped.most_common():
        click.echo(f"  skipped {count}: {reason}")
        for example in report.examples.get(reason, []):
            click.echo(f"      {example}")


COMMANDS = [lists]
