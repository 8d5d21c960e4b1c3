"""The MIS's pupil export (SIMS, Arbor, Bromcom, or a spreadsheet): a CSV read all or nothing.

The first line names the columns; the columns are recognised by name, in any case, in the spellings those
systems write, and in any order. Other columns (date of birth, address, SEN) are ignored and never stored: the
consent record needs only who the pupil is and where they are taught.

| what | column names accepted (any case) | required |
|---|---|---|
| `mis_id` (the MIS's id) | mis_id, UPN, Adno, Admission No, Admission Number, Pupil ID, Student ID, ID | yes |
| forename | Forename, Legal Forename, Preferred Forename, First Name, Given Name | with surname, or `name` |
| surname | Surname, Legal Surname, Preferred Surname, Last Name, Family Name | with forename, or `name` |
| name (one column) | Name, Full Name, Pupil Name, Student Name, Preferred Name | instead of the two above |
| class | Class, Reg Group, Registration Group, Registration Form, Reg, Form, Tutor Group, Class Name | yes |
| year | Year, Year Group, NC Year, Curriculum Year | yes |

When several id columns are present the first of `mis_id`, UPN, Adno is used; a preferred forename or surname,
when given for a row, wins over the legal one (it is the name the school uses). A year written as a number
("4", "Y4") becomes "Year 4", "R" becomes "Reception"; other values are kept as written.

The file is UTF-8 (with or without the BOM Excel writes), fields separated by `,` or `;` (whichever the header
line uses). A file with no header, duplicate ids, an empty name, id or class, a field longer than the database
holds, or that is not text stops with an error naming the line, and nothing is imported.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

MAX_BYTES = 5_000_000
MAX_ROWS = 20_000  # a large trust school has about 2,000 pupils
LIMITS = {"mis_id": 64, "name": 128, "class_name": 32, "year_group": 16}  # the `pupils` columns' lengths

# Each field: the header spellings that fill it, best first (compared after `_key`).
ID_COLUMNS = ("mis_id", "mis id", "upn", "adno", "adm no", "admission no", "admission number", "pupil id",
              "student id", "id")
FORENAME_PREFERRED = ("preferred forename", "preferred first name")
FORENAME = ("forename", "legal forename", "first name", "firstname", "given name")
SURNAME_PREFERRED = ("preferred surname", "preferred last name")
SURNAME = ("surname", "legal surname", "last name", "lastname", "family name")
NAME = ("name", "full name", "pupil name", "student name", "preferred name")
CLASS = ("class", "reg group", "registration group", "registration form", "reg", "form", "form group", "tutor group",
         "class name", "reg. group")
YEAR = ("year", "year group", "nc year", "curriculum year", "year_group")
COLUMNS_HELP = ("mis_id (or UPN, Adno), Forename and Surname (or Legal/Preferred Forename and Surname, or one "
                "Name column), Class (or Reg Group), Year (or Year Group)")


class PupilFileError(ValueError):
    """The file cannot be imported; the message names the line and what is wrong. Nothing was imported."""


@dataclass(frozen=True, slots=True)
class PupilRow:
    """One pupil as the file gives them; `line` is where, for messages."""

    mis_id: str
    name: str
    class_name: str
    year_group: str
    line: int


def _key(header: str) -> str:
    """A header cell compared loosely: case, surrounding spaces, underscores and repeated spaces do not matter."""
    return re.sub(r"\s+", " ", header.replace("_", " ").strip().casefold())


def _find(keys: list[str], names: tuple[str, ...]) -> int | None:
    """The index of the first of `names` (in their order of preference) among the header's keys."""
    wanted = [_key(n) for n in names]
    for name in wanted:
        if name in keys:
            return keys.index(name)
    return None


@dataclass(frozen=True, slots=True)
class Layout:
    """Which column holds what, read once from the header line."""

    mis_id: int
    class_name: int
    year_group: int
    name: int | None
    forename: int | None
    surname: int | None
    forename_preferred: int | None
    surname_preferred: int | None

    @classmethod
    def of(cls, header: list[str]) -> Layout:
        keys = [_key(h) for h in header]
        found = {field: _find(keys, names) for field, names in (
            ("mis_id", ID_COLUMNS), ("class_name", CLASS), ("year_group", YEAR), ("name", NAME),
            ("forename", FORENAME), ("surname", SURNAME), ("forename_preferred", FORENAME_PREFERRED),
            ("surname_preferred", SURNAME_PREFERRED))}
        if all(index is None for index in found.values()):
            raise PupilFileError(f"line 1: no header row: the first line must name the columns ({COLUMNS_HELP}); "
                                 f"it reads {', '.join(header)[:200]!r}")
        missing = []
        if found["mis_id"] is None:
            missing.append("the pupil's id (mis_id, UPN or Adno)")
        has_two = (found["forename"] is not None or found["forename_preferred"] is not None) and (
            found["surname"] is not None or found["surname_preferred"] is not None)
        if found["name"] is None and not has_two:
            missing.append("the name (Forename and Surname, or Name)")
        if found["class_name"] is None:
            missing.append("the class (Class or Reg Group)")
        if found["year_group"] is None:
            missing.append("the year (Year or Year Group)")
        if missing:
            raise PupilFileError(f"line 1: the header has no column for {'; '.join(missing)}; columns found: "
                                 f"{', '.join(header)[:300]}")
        return cls(**found)  # type: ignore[arg-type]

    def name_of(self, cells: list[str]) -> str:
        def first(*indexes: int | None) -> str:
            return next((cells[i] for i in indexes if i is not None and cells[i]), "")

        if self.forename is not None or self.forename_preferred is not None:
            joined = " ".join(part for part in (first(self.forename_preferred, self.forename),
                                                first(self.surname_preferred, self.surname)) if part)
            if joined:
                return joined
        return cells[self.name] if self.name is not None else ""


def year_label(text: str) -> str:
    """ "4", "Y4", "Year 4", "NC4" -> "Year 4"; "R", "Rec" -> "Reception"; anything else as written."""
    compact = text.strip()
    match = re.fullmatch(r"(?i)(?:year|yr|y|nc)?\s*(\d{1,2})", compact)
    if match:
        return f"Year {int(match.group(1))}"
    if compact.casefold() in ("r", "rec", "reception", "yr r", "year r"):
        return "Reception"
    return compact


def read_pupil_file(path: Path) -> list[PupilRow]:
    """Read and parse the MIS export at `path` (see the module's description)."""
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise PupilFileError(f"{path.name} is larger than {MAX_BYTES:,} bytes: not a pupil export")
        data = path.read_bytes()
    except OSError as exc:
        raise PupilFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    return parse_pupils(data)


def _decode(data: bytes) -> str:
    if b"\x00" in data:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        raise PupilFileError(f"line {line}: this is a binary file, not a CSV export (save the MIS report as CSV)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise PupilFileError(f"line {line}: not UTF-8 text (save the export as 'CSV UTF-8')") from None


def _delimiter(header_line: str) -> str:
    return ";" if header_line.count(";") > header_line.count(",") else ","


def parse_pupils(data: bytes) -> list[PupilRow]:
    """Every pupil in the export, in file order; `PupilFileError` for the first problem, naming its line."""
    text = _decode(data)
    lines = text.splitlines()
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        raise PupilFileError("the file is empty: export the pupils from the MIS as CSV, with a header line")
    delimiter = _delimiter(lines[first])
    reader = csv.reader(lines[first:], delimiter=delimiter, strict=True)
    rows: list[PupilRow] = []
    seen: dict[str, int] = {}
    layout: Layout | None = None
    try:
        for cells in reader:
            number = first + reader.line_num
            if layout is None:
                layout = Layout.of([c.strip() for c in cells])
                width = len(cells)
                continue
            if not any(c.strip() for c in cells):
                continue
            if len(rows) >= MAX_ROWS:
                raise PupilFileError(f"line {number}: more than {MAX_ROWS:,} pupils in one file")
            rows.append(_row(layout, [c.strip() for c in cells], width, number, seen))
    except csv.Error as exc:
        raise PupilFileError(f"line {first + reader.line_num}: not a CSV row ({exc})") from None
    if not rows:
        raise PupilFileError("the file names no pupils (a header only): nothing changed, since importing it would "
                             "take every pupil off roll")
    return rows


def _row(layout: Layout, cells: list[str], width: int, number: int, seen: dict[str, int]) -> PupilRow:
    if len(cells) != width:
        raise PupilFileError(f"line {number}: {len(cells)} fields where the header has {width} (a missing or "
                             "extra separator, or a quote not closed)")
    for cell in cells:
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in cell):
            raise PupilFileError(f"line {number}: a field holds a control character")
    row = PupilRow(mis_id=cells[layout.mis_id], name=" ".join(layout.name_of(cells).split()),
                   class_name=cells[layout.class_name], year_group=year_label(cells[layout.year_group]), line=number)
    for field, words in (("mis_id", "the pupil's id"), ("name", "the name"), ("class_name", "the class")):
        if not getattr(row, field):
            raise PupilFileError(f"line {number}: {words} is empty")
    for field, limit in LIMITS.items():
        if len(getattr(row, field)) > limit:
            raise PupilFileError(f"line {number}: {field} is longer than {limit} characters")
    if row.mis_id in seen:
        raise PupilFileError(f"line {number}: the id {row.mis_id!r} is also on line {seen[row.mis_id]} "
                             "(each pupil once)")
    seen[row.mis_id] = number
    return row
