"""Personal data in files under the state folder: weekly reports (they name banned pupils), earlier exports, and
access events waiting in the spool (the database was down, or the writer has not stored them yet).

A subject access export quotes the report lines that name the person. An erasure rewrites those lines and
deletes earlier exports about the person, which are whole copies of what is being erased. Spooled events
(`spool/SERVICE/events-*.seg`, see `rules.store.event_spool`) are written into the database by the event writer:
their devices' events are taken out of the spool and others' are rid of their name, or the writer would write
back what was erased. Files are planned inside the erasure's transaction and changed only once it has committed,
so a failed erasure changes no file; a spool segment is rewritten as it is then (it grows while DNS answers),
under its lock, keeping its frames' numbers (`rules.store.event_spool.rewrite`).
"""

from __future__ import annotations

import html
import logging
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from rules.privacy.terms import Kind, Term, found_in_any, scrub
from rules.store.event_spool import DamagedSegment, Row, rewrite, segments

log = logging.getLogger(__name__)
REPORTS = "reports"
EXPORTS = "exports"
SPOOL = "spool"
# Where the device and its MAC are in a spooled event (`rules.store.event_record.EventRecord`'s field order).
SPOOL_DEVICE_ID, SPOOL_MAC = 2, 4
MAX_FILE_BYTES = 64 * 1024 * 1024
_TAG = re.compile(r"<[^>]*>")  # a report is a few kilobytes; anything bigger is not one of ours


def _files(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.is_file() and not p.is_symlink())
    except FileNotFoundError:
        return []


def _read(path: Path) -> str | None:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            return None
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def lines_naming(state_dir: Path, terms: Iterable[Term]) -> list[tuple[str, list[str]]]:
    """(file name, the lines that name them) for each report file that does; an HTML report is read as its text
    (one element a line), so that a line is the report's line and never the whole page with other pupils in it."""
    terms = list(terms)
    found = []
    for path in _files(state_dir / REPORTS):
        text = _read(path) or ""
        if path.suffix == ".html":
            text = html.unescape(_TAG.sub("\n", text))
        lines = [line.strip() for line in text.splitlines() if found_in_any(terms, line)]
        if lines:
            found.append((path.name, lines))
    return found


@dataclass
class FilePlan:
    """What an erasure will do to files once its transaction has committed."""

    rewrite: dict[Path, str] = field(default_factory=dict)
    delete: list[Path] = field(default_factory=list)
    spool: list[Path] = field(default_factory=list)  # segments that hold their events or name
    spool_change: Callable[[Row], Row | None] | None = None  # what becomes of each spooled event
    spooled_events: int = 0  # their devices' events taken out of the spool

    def apply(self) -> list[str]:
        """Make the changes; return the problems (a file that could not be changed), each for the operator."""
        problems = []
        for path, text in self.rewrite.items():
            try:
                if not path.exists():  # a spool file replayed meanwhile: its rows were in the database, now erased
                    continue
                temporary = path.with_name(f".{path.name}.erasing")
                temporary.write_text(text, encoding="utf-8")
                os.replace(temporary, path)
            except OSError as exc:
                problems.append(f"could not rewrite {path}: {exc}")
        for path in self.delete:
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                problems.append(f"could not delete {path}: {exc}")
        for path in self.spool:  # a segment stored and retired meanwhile: its rows were in the database, now erased
            try:
                if self.spool_change is not None:
                    rewrite(path, self.spool_change)
            except (OSError, DamagedSegment) as exc:
                problems.append(f"could not rewrite {path}: {exc}")
        for problem in problems:
            log.error("erasure: %s", problem)
        return problems


def plan_erasure(state_dir: Path, terms: Iterable[Term], devices: Iterable[int] = (),
                 macs: Iterable[str] = ()) -> FilePlan:
    """Report files that name them are rewritten without it; exports that hold anything of theirs are deleted.

    Row references ("device #12") are not looked for: they stay meaningful after an erasure, and another
    person's export may quote them. HTML files hold names escaped ("O&#x27;Brien"): those forms are looked for too."""
    terms = _with_html_forms(term for term in terms if term.kind != Kind.REFERENCE)
    plan = FilePlan()
    for path in _files(state_dir / REPORTS):
        text = _read(path)
        if text is not None and found_in_any(terms, text):
            plan.rewrite[path] = scrub(terms, text)
    for path in _files(state_dir / EXPORTS):
        text = _read(path)
        if text is not None and found_in_any(terms, text):
            plan.delete.append(path)
    _plan_spool(plan, state_dir / SPOOL, terms, set(devices), {mac.casefold() for mac in macs})
    return plan


def _plan_spool(plan: FilePlan, spool: Path, terms: list[Term], devices: set[int], macs: set[str]) -> None:
    """Spooled events: theirs (by device or MAC) dropped, the rest without their name."""
    try:
        folders = sorted(p for p in spool.iterdir() if p.is_dir() and not p.is_symlink())
    except FileNotFoundError:
        return

    def change(row: Row) -> Row | None:
        if len(row) > SPOOL_MAC and (row[SPOOL_DEVICE_ID] in devices or str(row[SPOOL_MAC] or "").casefold() in macs):
            return None
        if not any(isinstance(value, str) and found_in_any(terms, value) for value in row):
            return row
        return tuple(scrub(terms, value) if isinstance(value, str) else value for value in row)

    plan.spool_change = change
    for folder in folders:
        for path in segments(folder):
            try:
                dropped, changed = rewrite(path, change, dry_run=True)
            except (OSError, DamagedSegment):
                continue
            if changed:
                plan.spooled_events += dropped
                plan.spool.append(path)


def _with_html_forms(terms: Iterable[Term]) -> list[Term]:
    """Each term, and its HTML-escaped form where that differs (replacements hold nothing HTML would escape)."""
    found: list[Term] = []
    for term in terms:
        escaped = html.escape(term.text)
        found += [term] if escaped == term.text else [Term(escaped, term.kind, term.replacement), term]
    return found
