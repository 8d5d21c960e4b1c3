"""How commands print: one JSON object a line for --json, aligned text otherwise, London time for people."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

import click

from rules.localtime import LONDON


def iso_utc(moment: datetime | None) -> str | None:
    """UTC, ISO 8601 with a Z: what machines read."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def london(moment: datetime | None) -> str:
    """Europe/London, to the second: what people read."""
    if moment is None:
        return "-"
    return moment.astimezone(LONDON).strftime("%Y-%m-%d %H:%M:%S")


def json_lines(rows: Iterable[dict[str, object]]) -> None:
    for row in rows:
        click.echo(json.dumps(row, ensure_ascii=False, default=str))


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[("-" if v is None else str(v)) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    click.echo("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for row in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
