"""The MIS export parser: the headers SIMS, Arbor and Bromcom write, and every way a file can be broken."""

from __future__ import annotations

import pytest

from rules.consent.pupil_file import PupilFileError, PupilRow, parse_pupils, year_label

SIMS = ("\ufeffAdno,UPN,Legal Surname,Legal Forename,Preferred Forename,Reg Group,Year Group,DOB\r\n"
        "001234,A123456789012,Jones,Samuel,Sam,4B,Year 4,01/02/2018\r\n"
        "001235,A123456789013,Smith,Beatrice,,4B,Year 4,03/04/2018\r\n")
ARBOR = ("Student ID;First Name;Last Name;Registration Form;Year Group\n"
         "S-1;Zoë;O'Brien;Reception R;Reception\n"
         "S-2;Ali;Khan;6A;Year 6\n")
BROMCOM = ("UPN,Preferred Forename,Preferred Surname,Legal Forename,Legal Surname,Tutor Group,NC Year\n"
           "B1,,,Thomas,Wright,3C,3\n")
ONE_NAME = "mis_id,name,class,year\nM1,  Ada   Lovelace ,5A,Y5\n"


def test_sims_export_with_bom_and_crlf() -> None:
    rows = parse_pupils(SIMS.encode("utf-8"))
    # UPN would be second choice; a preferred forename wins for the row that has one
    assert rows == [PupilRow("A123456789012", "Sam Jones", "4B", "Year 4", 2),
                    PupilRow("A123456789013", "Beatrice Smith", "4B", "Year 4", 3)]


def test_arbor_export_with_semicolons() -> None:
    rows = parse_pupils(ARBOR.encode("utf-8"))
    assert [(r.mis_id, r.name, r.class_name, r.year_group) for r in rows] == [
        ("S-1", "Zoë O'Brien", "Reception R", "Reception"), ("S-2", "Ali Khan", "6A", "Year 6")]


def test_bromcom_export_falls_back_to_legal_names() -> None:
    rows = parse_pupils(BROMCOM.encode("utf-8"))
    assert [(r.mis_id, r.name, r.class_name, r.year_group) for r in rows] == [("B1", "Thomas Wright", "3C", "Year 3")]


def test_one_name_column_and_spaces_tidied() -> None:
    assert parse_pupils(ONE_NAME.encode()) == [PupilRow("M1", "Ada Lovelace", "5A", "Year 5", 2)]


@pytest.mark.parametrize("header", ["MIS_ID,NAME,CLASS,YEAR", " mis id , Name , Class , Year Group ",
                                    "upn,full name,reg group,nc year", "ADNO,Pupil Name,Registration Group,Year"])
def test_header_spellings_any_case(header: str) -> None:
    rows = parse_pupils(f"{header}\nX1,Kit Cole,2B,2\n".encode())
    assert [(r.mis_id, r.name, r.class_name, r.year_group) for r in rows] == [("X1", "Kit Cole", "2B", "Year 2")]


@pytest.mark.parametrize(("text", "label"), [("4", "Year 4"), ("Y4", "Year 4"), ("Year 4", "Year 4"),
                                              ("NC 11", "Year 11"), ("R", "Reception"), ("Nursery", "Nursery")])
def test_year_labels(text: str, label: str) -> None:
    assert year_label(text) == label


@pytest.mark.parametrize(("data", "message"), [
    (b"", "the file is empty"),
    (b"A1,Sam Jones,4B,Year 4\nA2,Bea Smith,4B,Year 4\n", "line 1: no header row"),
    (b"UPN,Forename,Surname,Year\nA1,Sam,Jones,4\n",
     "line 1: the header has no column for the class (Class or Reg Group)"),
    (b"Name,Class,Year\nSam,4B,4\n", "line 1: the header has no column for the pupil's id (mis_id, UPN or Adno)"),
    (b"UPN,Forename,Class,Year\nA1,Sam,4B,4\n",
     "the header has no column for the name (Forename and Surname, or Name)"),
    (b"UPN,Name,Class\nA1,Sam,4B\n", "the header has no column for the year (Year or Year Group)"),
    (b"UPN,Name,Class,Year\n", "names no pupils"),
    (b"UPN,Name,Class,Year\nA1,Sam Jones,4B,4\n\nA1,Bea Smith,4B,4\n", "line 4: the id 'A1' is also on line 2"),
    (b"UPN,Name,Class,Year\nA1,Sam Jones,4B,4\nA2,,4B,4\n", "line 3: the name is empty"),
    (b"UPN,Forename,Surname,Class,Year\nA1,,,4B,4\n", "line 2: the name is empty"),
    (b"UPN,Name,Class,Year\n,Sam Jones,4B,4\n", "line 2: the pupil's id is empty"),
    (b"UPN,Name,Class,Year\nA1,Sam Jones,,4\n", "line 2: the class is empty"),
    (b"UPN,Name,Class,Year\nA1,Sam Jones,4B,4\nA2," + b"x" * 129 + b",4B,4\n",
     "line 3: name is longer than 128 characters"),
    (b"UPN,Name,Class,Year\nA1,Sam Jones," + b"C" * 33 + b",4\n", "line 2: class_name is longer than 32"),
    (b"UPN,Name,Class,Year\n" + b"9" * 65 + b",Sam Jones,4B,4\n", "line 2: mis_id is longer than 64"),
    (b"UPN,Name,Class,Year\nA1,Sam Jones,4B\n", "line 2: 3 fields where the header has 4"),
    (b"UPN,Name,Class,Year\nA1,\"Sam Jones,4B,4\n", "line 2"),
    (b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00binary", "line 1: this is a binary file"),
    (b"UPN,Name,Class,Year\nA1,Zo\xeb Jones,4B,4\n", "line 2: not UTF-8 text"),
    (b"UPN,Name,Class,Year\nA1,Sam\x1bJones,4B,4\n", "line 2: a field holds a control character"),
])
def test_broken_files_name_the_line(data: bytes, message: str) -> None:
    with pytest.raises(PupilFileError) as caught:
        parse_pupils(data)
    assert message in str(caught.value)
