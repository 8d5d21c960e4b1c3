"""Signing the form: the marketing officer first, then the headteacher, each once, never one's own form; refusals
with a reason; the headteacher's approval makes the school account. Every step audited."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from rules.school_media import site_approval, site_forms
from rules.school_media.accounts import MemberRole
from rules.school_media.site_approval import HeadApproval
from rules.school_media.site_forms import FormError, FormStatus
from rules.store.db import Database
from rules.store.models import AuditEntry, Schedule, SiteCreationForm, SocialAccount, SocialAccountMember
from tests.rules.school_media.people import add_people, proposal, user


def filed(db: Database, ids: dict[str, int], by: str = "sam") -> int:
    with db.session() as session:
        return site_forms.file_form(session, user(db, ids[by]), proposal([ids["sam"], ids["tia"]])).id


def marketing_signs(db: Database, form_id: int, ids: dict[str, int], who: str = "mo") -> None:
    with db.session() as session:
        site_approval.sign_as_marketing(session, form_id, user(db, ids[who]))


def actions(db: Database) -> list[str]:
    with db.session(read_only=True) as session:
        return [a for a in session.scalars(select(AuditEntry.action).order_by(AuditEntry.id))
                if not a.startswith("list.")]  # the seed's built-in lists


def test_marketing_then_headteacher_makes_the_account(db: Database) -> None:
    ids = add_people(db)
    form_id = filed(db, ids)
    with db.session() as session:
        schedule = Schedule(name="School hours", days="mon,tue,wed,thu,fri", start_time="08:00", end_time="16:00")
        session.add(schedule)
        session.flush()
        schedule_id = schedule.id
    marketing_signs(db, form_id, ids)
    with db.session() as session:
        form, account = site_approval.sign_as_headteacher(session, form_id, user(db, ids["ann"]),
                                                          HeadApproval([ids["tia"]], schedule_id))
        account_id = account.id
    with db.session(read_only=True) as session:
        form = session.get(SiteCreationForm, form_id)
        assert form is not None and form.status == FormStatus.APPROVED and form.account_id == account_id
        assert (form.marketing_name, form.marketing_email) == ("Mo Market", "mo.market@school.test")
        assert (form.headteacher_name, form.headteacher_email) == ("Ann Head", "ann.head@school.test")
        assert form.marketing_signed_at is not None and form.headteacher_signed_at is not None
        assert form.marketing_signed_at <= form.headteacher_signed_at
        account = session.get(SocialAccount, account_id)
        assert account is not None
        assert (account.name, account.platform, account.url, account.schedule_id, account.state) == (
            "St Mary's CE Primary", "tiktok", "https://www.tiktok.com/@stmarys", schedule_id, "active")
        members = {(m.user_id, m.role) for m in session.scalars(select(SocialAccountMember))}
        assert members == {(ids["sam"], MemberRole.ADMINISTRATOR), (ids["tia"], MemberRole.ADMINISTRATOR),
                           (ids["tia"], MemberRole.POSTER)}
    assert actions(db) == ["site_form.file", "site_form.marketing_approve", "school_account.create",
                           "site_form.headteacher_approve"]


def test_the_headteacher_cannot_sign_before_the_marketing_officer(db: Database) -> None:
    ids = add_people(db)
    form_id = filed(db, ids)
    with db.session() as session, pytest.raises(FormError, match="marketing officer must approve the form before"):
        site_approval.sign_as_headteacher(session, form_id, user(db, ids["ann"]), HeadApproval([], None))
    with db.session(read_only=True) as session:
        assert session.scalar(select(func.count()).select_from(SocialAccount)) == 0


@pytest.mark.parametrize("stage", ["marketing", "headteacher"])
def test_nobody_signs_their_own_form(db: Database, stage: str) -> None:
    ids = add_people(db)
    form_id = filed(db, ids, by="mo" if stage == "marketing" else "ann")
    with db.session() as session, pytest.raises(FormError, match="you filed this form"):
        if stage == "marketing":
            site_approval.sign_as_marketing(session, form_id, user(db, ids["mo"]))
        else:
            site_approval.sign_as_marketing(session, form_id, user(db, ids["mo"]))
            site_approval.sign_as_headteacher(session, form_id, user(db, ids["ann"]), HeadApproval([], None))


def test_one_person_does_not_sign_both_parts(db: Database) -> None:
    ids = add_people(db)
    form_id = filed(db, ids)
    marketing_signs(db, form_id, ids, who="both")
    with db.session() as session, pytest.raises(FormError, match="another person must give the headteacher"):
        site_approval.sign_as_headteacher(session, form_id, user(db, ids["both"]), HeadApproval([], None))


def test_each_signature_once(db: Database) -> None:
    ids = add_people(db)
    form_id = filed(db, ids)
    marketing_signs(db, form_id, ids)
    with db.session() as session, pytest.raises(FormError, match="already signed"):
        site_approval.sign_as_marketing(session, form_id, user(db, ids["mo"]))
    with db.session() as session:
        site_approval.sign_as_headteacher(session, form_id, user(db, ids["ann"]), HeadApproval([], None))
    with db.session() as session, pytest.raises(FormError, match="already approved"):
        site_approval.sign_as_headteacher(session, form_id, user(db, ids["hal"]), HeadApproval([], None))
    with db.session(read_only=True) as session:
        assert session.scalar(select(func.count()).select_from(SocialAccount)) == 1


def test_two_headteachers_at_once_make_one_account(db: Database) -> None:
    ids = add_people(db)
    form_id = filed(db, ids)
    marketing_signs(db, form_id, ids)
    heads = [user(db, ids["ann"]), user(db, ids["hal"])]
    outcomes: list[str] = []
    start = threading.Barrier(2)

    def sign(head: object) -> None:
        start.wait()
        try:
            with db.session() as session:
                site_approval.sign_as_headteacher(session, form_id, head, HeadApproval([], None))  # type: ignore[arg-type]
            outcomes.append("signed")
        except FormError:
            outcomes.append("refused")

    threads = [threading.Thread(target=sign, args=(h,)) for h in heads]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(outcomes) == ["refused", "signed"]
    with db.session(read_only=True) as session:
        assert session.scalar(select(func.count()).select_from(SocialAccount)) == 1


@pytest.mark.parametrize(("who", "roles", "after_marketing", "allowed"), [
    ("mo", {"marketing"}, False, True),
    ("mo", {"marketing"}, True, False),  # once signed, only the headteacher decides
    ("ann", {"headteacher"}, False, True),
    ("ann", {"headteacher"}, True, True),
])
def test_refusal_with_a_reason(db: Database, who: str, roles: set[str], after_marketing: bool, allowed: bool) -> None:
    ids = add_people(db)
    form_id = filed(db, ids)
    if after_marketing:
        marketing_signs(db, form_id, ids, who="both")
    with db.session() as session, pytest.raises(FormError, match="give the reason"):
        site_approval.refuse(session, form_id, user(db, ids[who]), roles, "  ")
    if not allowed:
        with db.session() as session, pytest.raises(FormError, match="no longer waiting for you"):
            site_approval.refuse(session, form_id, user(db, ids[who]), roles, "Off brand.")
        return
    with db.session() as session:
        site_approval.refuse(session, form_id, user(db, ids[who]), roles, "Off brand.")
    with db.session(read_only=True) as session:
        form = session.get(SiteCreationForm, form_id)
        assert form is not None and (form.status, form.refusal_reason) == (FormStatus.REFUSED, "Off brand.")
        assert form.refused_by == user(db, ids[who]).email
    assert actions(db)[-1] == "site_form.refuse"
    with db.session() as session, pytest.raises(FormError, match="already refused"):
        site_approval.refuse(session, form_id, user(db, ids["hal"]), {"headteacher"}, "Again.")


def test_the_requester_cannot_refuse_their_own_form(db: Database) -> None:
    ids = add_people(db)
    form_id = filed(db, ids, by="ann")
    with db.session() as session, pytest.raises(FormError, match="you filed this form"):
        site_approval.refuse(session, form_id, user(db, ids["ann"]), {"headteacher"}, "Changed my mind.")


def test_posters_and_hours_are_checked_at_approval(db: Database) -> None:
    ids = add_people(db)
    form_id = filed(db, ids)
    marketing_signs(db, form_id, ids)
    with db.session() as session, pytest.raises(FormError, match="active staff account"):
        site_approval.sign_as_headteacher(session, form_id, user(db, ids["ann"]), HeadApproval([424242], None))
    with db.session() as session, pytest.raises(FormError, match="choose hours"):
        site_approval.sign_as_headteacher(session, form_id, user(db, ids["ann"]), HeadApproval([], 424242))
    with db.session(read_only=True) as session:
        form = session.get(SiteCreationForm, form_id)
        assert form is not None and form.status == FormStatus.MARKETING_APPROVED  # still waiting, nothing lost
