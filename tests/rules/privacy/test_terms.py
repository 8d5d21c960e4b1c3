"""How a person's name, email, MAC and devices' names are found in stored text, and what they are replaced by.

Names are whole words (erasing "Al" never touches "Alan"), a one-word name is never a label of a host name
(erasing a device called "ipad" never rewrites "ipad.apple.com" in another pupil's log), and the forms text
takes in JSON and URLs are found as well.
"""

from __future__ import annotations

import pytest

from rules.privacy.subject import find_subject
from rules.privacy.terms import ERASED, Kind, Term, scrub, with_json_forms
from rules.store.db import Database
from rules.store.models import Device


@pytest.mark.parametrize(("term", "text", "found"), [
    (Term("Sam Pupil", Kind.NAME), "Lifted: talked to sam pupil.", True),
    (Term("Sam Pupil", Kind.NAME), "Sam Pupil's laptop", True),
    (Term("Sam Pupil", Kind.NAME), "Sam Pupils", False),
    (Term("Al", Kind.NAME), "Alan Smith", False),
    (Term("Al", Kind.NAME), "Talked to Al.", True),
    (Term("Al", Kind.NAME), "al.example.com", False),
    (Term("Al", Kind.NAME), "www.al.example", False),
    (Term("ipad", Kind.DEVICE), "ipad.apple.com", False),
    (Term("ipad", Kind.DEVICE), '{"name": "iPad"}', True),
    (Term("ipad", Kind.DEVICE), "sams-ipad", False),
    (Term("sam@school.test", Kind.EMAIL), "actor SAM@school.test!", True),
    (Term("aa:bb:cc:00:00:17", Kind.MAC), '"mac": "AA:BB:CC:00:00:17"', True),
    (Term("device #1", Kind.REFERENCE), "device #12", False),
    (Term("device #1", Kind.REFERENCE), "device #1", True),
])
def test_where_a_term_is_found(term: Term, text: str, found: bool) -> None:
    assert term.found_in(text) is found


def test_json_and_url_forms_are_found_and_replaced_too() -> None:
    terms = with_json_forms([Term("Zoë O'Neil", Kind.NAME)])
    assert scrub(terms, '{"person": "Zo\\u00eb O\'Neil"}') == f'{{"person": "{ERASED}"}}'
    assert scrub(terms, "https://www.google.com/search?q=Zo%C3%AB+O%27Neil&x=1") == \
        f"https://www.google.com/search?q={ERASED}&x=1"
    assert scrub(terms, "zoë o'neil was here") == f"{ERASED} was here"


@pytest.mark.parametrize(("text", "pattern"), [("Sam Pupil", "%sam pupil%"), ("Zoë_100%", "%zo_\\_100\\%%")])
def test_the_sql_prefilter_over_matches_and_escapes(text: str, pattern: str) -> None:
    assert Term(text, Kind.NAME).like == pattern


def test_a_first_name_someone_else_shares_is_not_a_term(sqlite_db: Database) -> None:
    """Sam (a device's person) and Sam Jones: erasing "Sam" must not rewrite Sam Jones's records."""
    with sqlite_db.session() as session:
        session.add_all([Device(name="iPad", person="Sam"), Device(name="Class 5 iPad 03", person="Sam Jones"),
                         Device(name="Sam's own laptop", person="Sam")])
    with sqlite_db.session(read_only=True) as session:
        subject = find_subject(session, "sam")
    texts = {t.text for t in subject.terms(with_references=False)}
    assert subject.shared_names == {"Sam", "sam", "iPad"}
    assert texts == {"Sam's own laptop", "Sam%27s+own+laptop", "Sam%27s%20own%20laptop"}
