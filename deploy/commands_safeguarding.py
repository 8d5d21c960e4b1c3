"""`safeguarding test|import|mark`: what a search term or a site would raise for the DSL and why; the school's
own phrases; which site categories raise a concern on a visit."""

from __future__ import annotations

import json
from pathlib import Path

import click

from deploy.context import AppContext, CommandError, pass_app
from rules.policy.names import InvalidHost
from rules.safeguarding.catalogue import builtin_phrases, check_school_list, merge
from rules.safeguarding.explain import Explanation, explain
from rules.safeguarding.matcher import Matcher, builtin_matcher, matcher_for
from rules.safeguarding.patterns import phrase_key
from rules.safeguarding.phrasefile import MAX_BYTES, PhraseFileError, PhraseList, read_phrase_file

# The database modules (SQLAlchemy) are imported inside the commands that need them: `test` without a
# database answers without loading them, as a DSL's quick question should.


@click.group()
def safeguarding() -> None:
    """Safeguarding monitoring: what a search or a site would raise, and why; the school's own phrases."""


@safeguarding.command("test")
@click.argument("text")
@click.option("--url", "as_site", is_flag=True,
              help="Read TEXT as a site visit (a URL, or a host and path) instead of a search term.")
@click.option("--phrases", "phrases_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Add a school phrase file to the built-in catalogue, to try it before it is imported.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object: raises, severity, matches, suppressed.")
@pass_app
def test_command(app: AppContext, text: str, as_site: bool, phrases_file: Path | None, as_json: bool) -> None:
    """Say what TEXT would raise, and why: each phrase that matched (category, severity, why), or the
    exception that kept a match quiet, or nothing. Uses the school's imported phrases when the database
    exists (and --phrases on top of them). Exits 0 either way."""
    matcher = _matcher(phrases_file, _stored_school_list(app))
    try:
        answer = explain(text, matcher, site=as_site)
    except InvalidHost as exc:
        raise CommandError(f"invalid host in {text!r}: {exc}") from None
    if as_json:
        click.echo(json.dumps(answer.as_dict(), ensure_ascii=False))
    else:
        _print(answer)


def _matcher(phrases_file: Path | None, stored: PhraseList | None) -> Matcher:
    if phrases_file is None:
        return matcher_for(stored) if stored else builtin_matcher()
    try:
        school = check_school_list(read_phrase_file(phrases_file), str(phrases_file))
    except PhraseFileError as exc:
        raise CommandError(str(exc)) from None
    if stored:  # the file is tried on top of what the school already has: its rows win
        school = _overlay(stored, school)
    return matcher_for(school)


def _overlay(stored: PhraseList, trial: PhraseList) -> PhraseList:
    """The stored school list with a trial file's rows added (a trial row replaces a stored one of that phrase)."""
    replaced = {phrase_key(e.phrase) for e in trial.entries}
    kept = tuple(e for e in stored.entries if phrase_key(e.phrase) not in replaced)
    return PhraseList(kept + trial.entries, stored.innocents + trial.innocents, stored.removals + trial.removals)


def _stored_school_list(app: AppContext) -> PhraseList | None:
    """The school's imported phrases, when there is a database (never creates one): None otherwise."""
    url = app.config.database.url
    if url.startswith("sqlite"):
        _, _, path = url.partition(":///")
        if not path or path.startswith(":memory:") or not Path(path.split("?", 1)[0]).exists():
            return None
    from rules.safeguarding import phrases_store

    try:
        db = app.ready_database()
        with db.session(read_only=True) as session:
            return phrases_store.school_list(session)
    except (CommandError, PhraseFileError):
        return None


@safeguarding.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_app
def import_command(app: AppContext, file: Path) -> None:
    """Replace the school's own phrases, innocent phrases and switched-off built-in phrases with FILE's rows
    (the phrase file format of docs/safeguarding-phrases.md). All or nothing: a bad line is reported with its
    number and nothing is imported (exit 1). Audited."""
    from rules.safeguarding import phrases_store

    db = app.ready_database()
    if file.stat().st_size > MAX_BYTES:
        raise CommandError(f"{file}: larger than {MAX_BYTES:,} bytes, nothing imported")
    try:
        text = file.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CommandError(f"{file}: not UTF-8 text (save the spreadsheet as 'CSV UTF-8'), nothing imported") from None
    try:
        with db.session() as session:
            count = phrases_store.import_text(session, text, app.actor, str(file))
            school = phrases_store.school_list(session)
    except PhraseFileError as exc:
        raise CommandError(str(exc)) from None
    merged = merge(builtin_phrases(), school)
    click.echo(f"imported {count} row(s) from {file}: {len(school.entries)} phrase(s), {len(school.innocents)} "
               f"innocent phrase(s), {len(school.removals)} built-in phrase(s) switched off; "
               f"{len(merged.entries)} phrases in force (the scheduler picks them up within seconds)")


@safeguarding.command("mark")
@click.argument("category")
@click.option("--off", is_flag=True, help="Stop visits to this category raising concerns.")
@pass_app
def mark_command(app: AppContext, category: str, off: bool) -> None:
    """Mark a site category (as `lists import --category` made it) as safeguarding: a visit to any of its
    sites raises a concern for the DSL, blocked or not. Audited. A category of the trust, or this school's own
    ([site] name); marking a trust's category marks it for every school."""
    from sqlalchemy import select

    from rules.policy.compile import trust_or_own
    from rules.store.audit import audit
    from rules.store.models import Category

    db = app.ready_database()
    visible = trust_or_own(Category.site_id, app.site_id)
    with db.session() as session:
        row = session.scalar(select(Category).where(Category.name == category, visible))
        if row is None:
            names = ", ".join(session.scalars(select(Category.name).where(visible).order_by(Category.name)))
            raise CommandError(f"no category {category!r} (categories: {names or 'none'})")
        before = row.safeguarding
        row.safeguarding = not off
        audit(session, app.actor, "category.safeguarding", f"category {category}",
              before={"safeguarding": before}, after={"safeguarding": row.safeguarding}, site_id=row.site_id)
    click.echo(f"{category}: visits {'no longer raise' if off else 'raise'} a safeguarding concern")


def _print(answer: Explanation) -> None:
    """The answer as a DSL reads it: the verdict on the first line, then each match indented below."""
    click.echo(f"raises {answer.severity}  {answer.text}" if answer.raised else f"nothing  {answer.text}")
    if answer.automatic:
        click.echo("  why:      a device's own automatic lookup (a connectivity check or resolver probe): "
                   "never matched")
    for match in answer.raised + answer.suppressed:
        quiet = match.suppressed_by
        click.echo(f"  {'kept quiet: ' if quiet else ''}{match.severity}  {match.category} ({match.category.label})")
        click.echo(f"    matched:  {match.matched}")
        click.echo(f"    phrase:   {match.phrase}")
        click.echo(f"    why:      {match.why}")
        click.echo(f"    from:     {match.origin} list")
        if quiet is not None:
            kind = "innocent phrase" if quiet.kind == "innocent" else "innocent context"
            click.echo(f"    because:  the {kind} \"{quiet.phrase}\": {quiet.why}")


COMMANDS = [safeguarding]
