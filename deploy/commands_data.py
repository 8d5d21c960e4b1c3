"""`data export|erase`: subject access and erasure of everything held about one pupil or member of staff."""

from __future__ import annotations

from pathlib import Path

import click

from deploy.context import CommandError, pass_app
from rules.privacy.counts import describe
from rules.privacy.erasure import erase, preview
from rules.privacy.export import export_person
from rules.privacy.files import EXPORTS
from rules.privacy.subject import SubjectError


def _schools(app) -> tuple[int, ...] | None:
    """What a command of this gateway covers: its school; in a database of one school, all of it (as before
    schools: trust-level rows such as audit entries written without a school hold that school's people too)."""
    from sqlalchemy import func, select

    from rules.store.models import Site

    with app.ready_database().session(read_only=True) as session:
        schools = session.scalar(select(func.count()).select_from(Site))
    return None if schools == 1 else (app.site_id,)


@click.group()
def data() -> None:
    """Personal data held about a person: export it (subject access), or erase it."""


@data.command("export")
@click.option("--person", required=True, help="Their name, or a member of staff's email (the whole value, any case).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where to write the two files (default: the state folder's exports/, kept 30 days).")
@pass_app
def data_export(app, person: str, out_dir: Path | None) -> None:
    """Write everything held about a person as one JSON and one HTML file (a subject access request)."""
    db = app.ready_database()
    folder = out_dir or app.config.state_dir / EXPORTS
    try:
        exported = export_person(db, person, folder, app.actor, app.config.state_dir, _schools(app))
    except SubjectError as exc:
        raise CommandError(str(exc)) from None
    except OSError as exc:
        raise CommandError(f"cannot write the export into {folder}: {exc}") from None
    for path in exported.paths:
        click.echo(str(path.resolve()))
    click.echo(describe(exported.counts))


@data.command("erase")
@click.option("--person", required=True, help="Their name, or a member of staff's email (the whole value, any case).")
@click.option("--confirm", is_flag=True, help="Erase. Without it, only say what would be removed.")
@pass_app
def data_erase(app, person: str, confirm: bool) -> None:
    """Remove or anonymise everything held about a person; the audit log keeps the fact, never the data."""
    db = app.ready_database()
    try:
        if not confirm:
            counts = preview(db, person, _schools(app))
            click.echo(f"would remove or anonymise: {describe(counts)}")
            raise CommandError("nothing was erased: add --confirm to erase (it cannot be undone; "
                               "run `schoolgate data export` first if the school must keep a copy)")
        done = erase(db, person, app.actor, app.config.state_dir, site_ids=_schools(app))
    except SubjectError as exc:
        raise CommandError(str(exc)) from None
    click.echo(f"erased; reference {done.reference}")
    click.echo(describe(done.counts))
    scrubbed = done.counts.get("scrubbed") or {}
    if scrubbed:
        click.echo("rows rewritten without their name: "
                   + ", ".join(f"{table} {n}" for table, n in sorted(scrubbed.items())))
    for name in done.shared_names:
        click.echo(f"note: {name!r} is also part of someone else's name; it was erased from their own rows "
                   "but not replaced everywhere")
    for problem in done.problems:
        click.echo(f"warning: {problem}", err=True)
    if done.problems:
        raise CommandError("the database is erased, but some files could not be changed (see above)")


COMMANDS = [data]
