"""Parse block lists as the world publishes them: hosts files, adblock `||domain^`, plain domains and
UT1-style category folders.

A list is data from outside: a line that cannot be used is counted, with its reason and an example,
and parsing goes on. Nothing here is fatal except a file that cannot be read at all.

With the format "auto" each line is read in the syntax it is written in (`line_format`), because the
lists a school keeps by hand mix them: a hosts file someone pasted `||name^` rules into, a plain list
with a few `0.0.0.0 name` lines. Guessing one format for the whole file would skip the rest.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from rules.policy.names import InvalidHost, is_ip_address, normalize_host

FORMATS = ("auto", "hosts", "adblock", "domains", "ut1")

# Names that hosts files carry for the machine itself; blocking them would break the device.
RESERVED_NAMES = frozenset(
    {
        "localhost", "localhost.localdomain", "local", "broadcasthost", "ip6-localhost",
        "ip6-loopback", "ip6-localnet", "ip6-mcastprefix", "ip6-allnodes", "ip6-allrouters",
        "ip6-allhosts", "0.0.0.0",
    }
)
_ADBLOCK_RULE = re.compile(r"^\|\|([^\^/$|]+)\^?(\$.*)?$")
_ADBLOCK_EXACT = re.compile(r"^\|([^|\^/$]+)\^?(\$.*)?$")
# Element-hiding rules (`site##.banner`, `site#@#.ad`, `site#?#...`): adblock, and never "site" plus a comment.
_ADBLOCK_COSMETIC = re.compile(r"\S#[@?$%]?#")
# How the summary names the lines each syntax contributed.
FORMAT_NOUNS = {"hosts": ("hosts line", "hosts lines"), "adblock": ("adblock line", "adblock lines"),
                "domains": ("plain name", "plain names")}
EXAMPLES_PER_REASON = 3


class ListFileError(Exception):
    """The list could not be read at all (missing file, unreadable folder, wrong UT1 layout)."""


@dataclass
class ParseReport:
    """What a parse skipped, with reasons and examples, for the operator."""

    lines: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    formats: Counter[str] = field(default_factory=Counter)  # lines that gave a name, by their syntax

    def skip(self, reason: str, line_no: int, line: str) -> None:
        self.skipped[reason] += 1
        shown = self.examples.setdefault(reason, [])
        if len(shown) < EXAMPLES_PER_REASON:
            shown.append(f"line {line_no}: {line[:120]}")

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    @property
    def format_label(self) -> str:
        """The syntax the names came in: one format's name, "mixed", or "auto" when nothing was taken."""
        found = [fmt for fmt, count in self.formats.items() if count]
        return found[0] if len(found) == 1 else "mixed" if found else "auto"

    def summary(self) -> str:
        """E.g. "12 hosts lines, 30 adblock lines, 5 plain names, 2 skipped"."""
        parts = []
        for fmt, (one, many) in FORMAT_NOUNS.items():
            if count := self.formats[fmt]:
                parts.append(f"{count} {one if count == 1 else many}")
        parts.append(f"{self.skipped_total} skipped")
        return ", ".join(parts)


def line_format(line: str) -> str:
    """The syntax one line (stripped, not a comment) is written in: "adblock", "hosts" or "domains".

    Adblock is anything with its marks (`|`, `@@`, `^`, `$`, a `/regex/`, `[header]`, `##`); hosts is an
    address first; the rest is read as a plain name, and a plain line that is not one name is skipped.
    """
    if line.startswith(("|", "@@", "[", "/")) or "^" in line or "$" in line or _ADBLOCK_COSMETIC.search(line):
        return "adblock"
    if is_ip_address(line.split(maxsplit=1)[0]):
        return "hosts"
    return "domains"


def detect_format(path: Path) -> str:
    """Guess one format for the whole file: a folder is UT1, else the first meaningful lines decide.

    Parsing does not need this (with "auto" each line is read in its own syntax); it names what a
    file mostly is, for a caller that must pick one format.
    """
    if path.is_dir():
        return "ut1"
    with _open_text(path) as handle:
        for line_no, raw in enumerate(handle):
            line = raw.strip()
            if not line or line.startswith(("#", "!", "[")):
                if line_no > 2000:
                    break
                continue
            first = line.split()[0]
            if line.startswith(("||", "|", "@@")):
                return "adblock"
            if is_ip_address(first) and len(line.split()) > 1:
                return "hosts"
            return "domains"
    return "domains"


def parse_list(path: Path, fmt: str, report: ParseReport, category: str | None = None,
               progress: list[int] | None = None) -> Iterator[str]:
    """Yield the normal-form domains of a list file; `report` counts the rest.

    With `fmt` "auto" a folder is read as UT1 and a file line by line, each line in its own syntax.
    `progress`, when given, holds one integer that is advanced by the bytes read, for a progress bar.
    For a UT1 folder, `category` names the sub-folder to read when the folder holds several.
    """
    if fmt == "auto" and path.is_dir():
        fmt = "ut1"
    if fmt == "ut1":
        path = ut1_domains_file(path, category)
        fmt = "domains"
    if fmt != "auto" and fmt not in _LINE_PARSERS:
        raise ListFileError(f"unknown list format {fmt!r}; use one of {', '.join(FORMATS)}")
    with _open_text(path) as handle:
        for line_no, raw in enumerate(handle, start=1):
            if progress is not None:
                progress[0] += len(raw)  # characters: close enough to bytes for a progress bar
            report.lines += 1
            line = raw.strip()
            if not line or line[0] in "#!":
                continue
            line_fmt = line_format(line) if fmt == "auto" else fmt
            if line_fmt == "adblock" and line.startswith("["):
                continue  # an adblock header such as [Adblock Plus 2.0]
            took = False
            for candidate, problem in _LINE_PARSERS[line_fmt](line):
                if problem:
                    report.skip(problem, line_no, line)
                    continue
                name, problem = _check_domain(candidate)
                if problem:
                    report.skip(problem, line_no, line)
                    continue
                took = True
                yield name
            if took:
                report.formats[line_fmt] += 1


def ut1_domains_file(path: Path, category: str | None) -> Path:
    """Find the `domains` file of a UT1 category folder (or of the named category in a UT1 tree)."""
    direct = path / "domains"
    if direct.is_file():
        return direct
    if category:
        for candidate in (path / category / "domains", path / "blacklists" / category / "domains"):
            if candidate.is_file():
                return candidate
    raise ListFileError(
        f"{path} is a folder but not a UT1 category (no 'domains' file"
        + (f", and no '{category}/domains' inside it)" if category else ")")
    )


def _open_text(path: Path) -> TextIO:
    try:
        return open(path, encoding="utf-8", errors="replace")
    except OSError as exc:
        raise ListFileError(f"cannot read {path}: {exc.strerror or exc}") from None


def _strip_comment(line: str) -> str:
    cut = line.find("#")
    return line[:cut].strip() if cut != -1 else line


def _hosts_line(line: str) -> Iterator[tuple[str, str | None]]:
    fields = _strip_comment(line).split()
    if not fields:
        return
    if not is_ip_address(fields[0]):
        yield "", "not a hosts line (no address first)"
        return
    if len(fields) == 1:
        yield "", "address without a name"
        return
    for name in fields[1:]:
        yield name, None


def _domains_line(line: str) -> Iterator[tuple[str, str | None]]:
    fields = _strip_comment(line).split()
    if not fields:
        return
    if len(fields) > 1 and is_ip_address(fields[0]):
        # A hosts-style line in a plain list: take its names.
        yield from ((name, None) for name in fields[1:])
        return
    if len(fields) > 1:
        yield "", "more than one word on the line"
        return
    yield fields[0], None


def _adblock_line(line: str) -> Iterator[tuple[str, str | None]]:
    if line.startswith("@@"):
        yield "", "exception rule (@@) not imported: add an allow rule instead"
        return
    match = _ADBLOCK_RULE.match(line) or _ADBLOCK_EXACT.match(line)
    if not match:
        yield "", "not a domain rule (||domain^)"
        return
    name, modifiers = match.group(1), match.group(2)
    if modifiers and modifiers not in ("$important", "$all", "$document"):
        yield "", "rule with modifiers ($...) that DNS cannot apply"
        return
    yield name, None


_LINE_PARSERS = {"hosts": _hosts_line, "adblock": _adblock_line, "domains": _domains_line}


def _check_domain(candidate: str) -> tuple[str, str | None]:
    """Normalise one list entry, or say why it cannot be used."""
    if candidate.startswith("*."):
        candidate = candidate[2:]
    if "*" in candidate:
        return "", "wildcard inside a name"
    if candidate.lower().rstrip(".") in RESERVED_NAMES:
        return "", "reserved local name (localhost and the like) never blocked"
    if is_ip_address(candidate):
        return "", "IP address, not a name"
    try:
        name = normalize_host(candidate)
    except InvalidHost:
        return "", "not a valid host name"
    if name in RESERVED_NAMES:
        return "", "reserved local name (localhost and the like) never blocked"
    if "." not in name:
        return "", "a single label (a top-level domain or a local name) is never listed"
    return name, None
