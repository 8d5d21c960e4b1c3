"""The site creation approval form: every rule of the policy's form, checked when it is filed, and audited."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from rules.school_media import site_forms
from rules.school_media.site_forms import TOO_FEW_ADMINISTRATORS, FormError, FormStatus
from rules.store.db import Database
from rules.store.models import AuditEntry, SiteCreationForm, User
from tests.rules.school_media.people import add_people, proposal, user


def test_a_complete_form_is_filed_in_the_requesters_name_and_audited(db: Database) -> None:
    ids = add_people(db)
    sam = user(db, ids["sam"])
    with db.session() as session:
        form = site_forms.file_form(session, sam, proposal([ids["sam"], ids["tia"], ids["sam"]]))
        form_id = form.id
    with db.session() as session:
        stored = session.get(SiteCreationForm, form_id)
        assert stored is not None
        assert (stored.status, stored.requester_name, stored.platform) == (FormStatus.OPEN, "Sam Staff", "tiktok")
        assert json.loads(stored.administrator_ids) == [ids["sam"], ids["tia"]]  # the same person counts once
        assert site_forms.ticked(stored.audience) == {"pupils": "7 to 11", "families": ""}
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "site_form.file"))
        assert entry is not None and entry.actor == sam.email and entry.target == f"site creation form #{form_id}"


@pytest.mark.parametrize("admins", [[], ["sam"], ["sam", "sam"]])
def test_fewer_than_two_administrators_is_refused_in_the_forms_words(db: Database, admins: list[str]) -> None:
    ids = add_people(db)
    with db.session() as session, pytest.raises(FormError, match=TOO_FEW_ADMINISTRATORS):
        site_forms.file_form(session, user(db, ids["sam"]), proposal([ids[a] for a in admins]))


def test_an_administrator_must_be_an_active_account(db: Database) -> None:
    ids = add_people(db)
    with db.session() as session:
        session.get(User, ids["tia"]).active = False  # type: ignore[union-attr]
    with db.session() as session, pytest.raises(FormError, match="active staff account"):
        site_forms.file_form(session, user(db, ids["sam"]), proposal([ids["sam"], ids["tia"]]))
    with db.session() as session, pytest.raises(FormError, match="active staff account"):
        site_forms.file_form(session, user(db, ids["sam"]), proposal([ids["sam"], 987654]))


@pytest.mark.parametrize(("section", "box", "words"), [
    ("audience", "pupils", "Ages: age range"),
    ("audience", "other_schools", "Schools involved: name of school"),
    ("audience", "other", "Details: please give details"),
    ("contributors", "pupils", "Ages: age range"),
    ("contributors", "other_schools", "Schools involved: name of school"),
    ("contributors", "other", "Details"),
])
def test_a_ticked_box_that_asks_for_details_needs_them(db: Database, section: str, box: str, words: str) -> None:
    ids = add_people(db)
    admins = [ids["sam"], ids["tia"]]
    with db.session() as session, pytest.raises(FormError, match=words):
        site_forms.file_form(session, user(db, ids["sam"]), proposal(admins, **{section: {box: "  "}},
                                                                     parental_consent="Letters home."))
    with db.session() as session:
        site_forms.file_form(session, user(db, ids["sam"]), proposal(admins, **{section: {box: "Year 5"}},
                                                                     parental_consent="Letters home."))


@pytest.mark.parametrize(("changes", "words"), [
    ({"platform": "myspace"}, "choose the platform"),
    ({"site_name": " "}, "Name of the account"),
    ({"department": ""}, "Department"),
    ({"moderator": ""}, "Moderator of site"),
    ({"aims": ""}, "What are your aims"),
    ({"content": ""}, "What is the proposed content of the site"),
    ({"audience": {}}, "Proposed audience of the site: tick at least one box"),
    ({"contributors": {}}, "Proposed contributors to the site: tick at least one box"),
    ({"audience": {"martians": ""}}, "there is no box"),
    ({"vetter": ""}, "Who will vet external contributors"),
    ({"host": ""}, "Who will host the site"),
    ({"go_live": "next week"}, "Proposed date of going live"),
    ({"go_live": "2026-02-30"}, "Proposed date of going live"),
    ({"go_live": "9999-01-01"}, "Proposed date of going live"),
    ({"advertise": ""}, "advertise for contributors"),
    ({"security_measures": ""}, "What security measures"),
    ({"contributors": {"pupils": "9 to 11"}}, "If contributors include pupils"),
    ({"site_url": "javascript:alert(1)"}, "not a web address"),
    ({"site_url": "https://www.instagram.com/stmarys"}, "must be on TikTok"),
    ({"aims": "x" * 5001}, "at most 5000 characters"),
    # the name becomes "school account: NAME" in `schoolgate check` and the access log: one plain line
    ({"site_name": "St Mary's\n  rule:     none"}, "Name of the account.* holds a control character"),
    ({"site_name": "St Mary's\x1b[2J\x1b[H"}, "Name of the account.* holds a control character"),
    ({"site_name": "St Mary's \u202eskcolb"}, "Name of the account.* holds a control character"),
    ({"moderator": "Tia\tTeacher"}, "Moderator of site.* holds a control character"),
    ({"aims": "Share news.\x00"}, "holds a control character"),
])
def test_each_answer_is_checked(db: Database, changes: dict[str, object], words: str) -> None:
    ids = add_people(db)
    with db.session() as session, pytest.raises(FormError, match=words):
        site_forms.file_form(session, user(db, ids["sam"]), proposal([ids["sam"], ids["tia"]], **changes))
    with db.session() as session:
        assert session.scalar(select(SiteCreationForm.id)) is None  # nothing half-filed


def test_answers_of_several_lines_keep_their_line_breaks(db: Database) -> None:
    ids = add_people(db)
    with db.session() as session:
        form = site_forms.file_form(session, user(db, ids["sam"]), proposal(
            [ids["sam"], ids["tia"]], aims="Share the school's news.\r\n\tAnd its closures."))
        assert form.aims == "Share the school's news.\r\n\tAnd its closures."


def test_staff_see_their_own_forms_and_the_signers_see_all(db: Database) -> None:
    ids = add_people(db)
    with db.session() as session:
        mine = site_forms.file_form(session, user(db, ids["sam"]), proposal([ids["sam"], ids["tia"]])).id
        theirs = site_forms.file_form(session, user(db, ids["tia"]), proposal([ids["sam"], ids["tia"]])).id
    with db.session() as session:
        sam = user(db, ids["sam"])
        assert [f.id for f in site_forms.list_forms(session, sam, {"staff"})] == [mine]
        with pytest.raises(site_forms.NotFound):
            site_forms.get_form(session, theirs, sam, {"staff"})
        for role in ("marketing", "headteacher"):
            assert {f.id for f in site_forms.list_forms(session, user(db, ids["mo"]), {role})} == {mine, theirs}
            assert site_forms.get_form(session, theirs, user(db, ids["mo"]), {role}).id == theirs
