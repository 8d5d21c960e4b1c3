"""Personal data in files under the state folder: weekly reports (they name banned pupils), earlier exports, and
access events spooled while the database was down.

A subject access export quotes the report lines that name the person. An erasure rewrites those lines and
deletes earlier exports about the person, which are whole copies of what is being erased. Spooled events
(`spool/SERVICE/events-*.jsonl`, see `rules.store.event_writer`) are replayed into the database when it answers
again: their devices' events are taken out of the spool and others' are rid of their name, or the replay would
write back what was erased. Files are planned inside the erasure's transaction and changed only once it has
committed, so a failed erasure changes no file.
"""

from __future__ import annotations

import html
import json
import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from rules.privacy.terms import Kind, Term, found_in_any, scrub

log = logging.getLogger(__name__)
REPORTS = "reports"
EXPORTS = "exports"
SPOOL = "spool"
# Where the device and its MAC are in a spooled event (`rules.store.event_writer.EventRecord`'s field order).
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
    """Spooled events: theirs (by device or MAC) dropped, the rest without their name; a file left empty goes."""
    try:
        folders = sorted(p for p in spool.iterdir() if p.is_dir() and not p.is_symlink())
    except FileNotFoundError:
        return
    for folder in folders:
        for path in (p for p in _files(folder) if p.name.startswith("events-") and p.suffix == ".jsonl"):
            text = _read(path)
            if text is None:
                continue
            kept, dropped = [], 0
            for line in text.splitlines():
                try:
                    item = json.loads(line)
                except ValueError:
                    item = None
                if isinstance(item, list) and len(item) > SPOOL_MAC and (
                        item[SPOOL_DEVICE_ID] in devices or str(item[SPOOL_MAC] or "").casefold() in macs):
                    dropped += 1
                    continue
                kept.append(scrub(terms, line) if found_in_any(terms, line) else line)
            if dropped == 0 and kept == text.splitlines():
                continue
            plan.spooled_events += dropped
            if any(line.strip() for line in kept):
                plan.rewrite[path] = "".join(f"{line}\n" for line in kept)
            else:
                plan.delete.append(path)


def _with_html_forms(terms: Iterable[Term]) -> list[Term]:
    """Each term, and its HTML-escaped form where that differs (replacements hold nothing HTML would escape)."""
    found: list[Term] = []
    for term in terms:
        escaped = html.escape(term.text)
        found += [term] if escaped == term.text else [Term(escaped, term.kind, term.replacement), term]
    return found
