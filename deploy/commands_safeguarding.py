"""`safeguarding test`: what a search term or a site would raise for the DSL, and why."""

from __future__ import annotations

import json
from pathlib import Path

import click

from deploy.context import CommandError
from rules.policy.names import InvalidHost
from rules.safeguarding.catalogue import check_school_list
from rules.safeguarding.explain import Explanation, explain
from rules.safeguarding.matcher import Matcher, builtin_matcher, matcher_for
from rules.safeguarding.phrasefile import PhraseFileError, read_phrase_file


@click.group()
def safeguarding() -> None:
    """Safeguarding monitoring: what a search or a site would raise for the DSL, and why."""


@safeguarding.command("test")
@click.argument("text")
@click.option("--url", "as_site", is_flag=True,
              help="Read TEXT as a site visit (a URL, or a host and path) instead of a search term.")
@click.option("--phrases", "phrases_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Add a school phrase file to the built-in catalogue, to try it before it is imported.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object: raises, severity, matches, suppressed.")
def test_command(text: str, as_site: bool, phrases_file: Path | None, as_json: bool) -> None:
    """Say what TEXT would raise, and why: each phrase that matched (category, severity, why), or the
    exception that kept a match quiet, or nothing. Exits 0 either way."""
    matcher = _matcher(phrases_file)
    try:
        answer = explain(text, matcher, site=as_site)
    except InvalidHost as exc:
        raise CommandError(f"invalid host in {text!r}: {exc}") from None
    if as_json:
        click.echo(json.dumps(answer.as_dict(), ensure_ascii=False))
    else:
        _print(answer)


def _matcher(phrases_file: Path | None) -> Matcher:
    if phrases_file is None:
        return builtin_matcher()
    try:
        school = check_school_list(read_phrase_file(phrases_file), str(phrases_file))
    except PhraseFileError as exc:
        raise CommandError(str(exc)) from None
    return matcher_for(school)


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
