"""`pupils import`: the school's pupils from the MIS's CSV export, for the consent record."""

from __future__ import annotations

from pathlib import Path

import click

from deploy.context import CommandError, pass_app
from rules.consent.pupil_file import PupilFileError
from rules.consent.pupils_import import import_pupil_file


@click.group()
def pupils() -> None:
    """Pupils from the MIS's CSV export (for the consent record)."""


@pupils.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@pass_app
def import_command(app, file: Path) -> None:
    """Import the pupils in FILE, a CSV exported from the MIS (SIMS, Arbor, Bromcom or a spreadsheet).

    \b
    The first line names the columns (any case, any order; other columns are ignored, never stored):
      mis_id     the MIS's id: mis_id, UPN or Adno (Admission No)
      name       Forename and Surname (Legal or Preferred Forename/Surname), or one Name column
      class      the registration group, e.g. 4B: Class, Reg Group, Registration Group, Tutor Group
      year       e.g. "Year 4" (or 4, Y4, R): Year, Year Group, NC Year
    UTF-8 (a BOM is fine), separated by , or ;.

    Re-importing updates pupils by mis_id (name, class, year), adds new ones and marks those no longer
    listed as off roll, keeping their consent history. A file with a problem (no header, a missing column,
    a duplicate id, an empty name, a field too long, not text) changes nothing; the error names the line.
    """
    db = app.ready_database()
    try:
        counts = import_pupil_file(db, file, app.actor, site_id=app.site_id)  # this gateway's school's roll
    except PupilFileError as exc:
        raise CommandError(f"{file}: {exc}; nothing was imported") from None
    click.echo(f"pupils from {file.name}: {counts.summary()}")


COMMANDS = [pupils]
