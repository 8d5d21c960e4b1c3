"""The built-in catalogue: the categories every schoolgate ships with, read from `rules/policy/builtin_lists/`.

Each file is a plain domain list whose header says the category's name, whether it is locked and what
it holds; the comments beside the domains say why each family is there.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from rules.lists.parse import ParseReport, parse_list

CATALOGUE_DIR = Path(__file__).parent / "builtin_lists"


@dataclass(frozen=True)
class BuiltinCategory:
    """A category from the catalogue, parsed."""

    name: str
    description: str
    locked: bool
    domains: tuple[str, ...]
    path: Path  # the catalogue file, which `init` imports


@cache
def builtin_categories() -> tuple[BuiltinCategory, ...]:
    """Read every catalogue file once; a malformed entry is a bug in schoolgate, so it raises."""
    found = []
    for path in sorted(CATALOGUE_DIR.glob("*.txt")):
        header = _header(path)
        report = ParseReport()
        domains = tuple(dict.fromkeys(parse_list(path, "domains", report)))
        if report.skipped_total:
            raise ValueError(f"built-in catalogue {path.name} has unusable lines: {dict(report.examples)}")
        found.append(
            BuiltinCategory(
                name=header.get("category", path.stem),
                description=header.get("description", ""),
                locked=header.get("locked", "false").lower() == "true",
                domains=domains,
                path=path,
            )
        )
    return tuple(found)


def _header(path: Path) -> dict[str, str]:
    header: dict[str, str] = {}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if not line.startswith("#"):
                break
            key, sep, value = line[1:].partition(":")
            if sep and key.strip() in ("category", "locked", "description"):
                header[key.strip()] = value.strip()
    return header
