"""Approval happens once even when the headteacher and the office manager press the button together; the service
refuses what the screen refuses, whoever calls it."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from rules.school_media import post_approval
from rules.school_media.post_checklist import CONTENT_KINDS, EVERY_CRITERION
from rules.school_media.posts import Draft, NotAuthorised, PostError, submit
from rules.store.db import Database
from rules.store.models import AuditEntry, SocialPost, User
from rules.workflows.accounts import create_user
from tests.fixtures.post_school import taccount, tconsent, tposter, tpupil

APPROVERS = {"head@school.example": ["headteacher"], "office@school.example": ["office_manager"]}


def a_post(db: Database) -> int:
    with db.session() as session:
        create_user(session, email="poster@school.example", name="Pat Poster", roles=["staff"], password=None,
                    actor="t")
        for email, roles in APPROVERS.items():
            create_user(session, email=email, name=email.split("@")[0], roles=roles, password=None, actor="t")
        pupil = tpupil(session, "Amy Able")
        tconsent(session, pupil, images=True, videos=False)
        account = taccount(session)
        tposter(session, account, "poster@school.example")
        author = session.scalars(select(User).where(User.email == "poster@school.example")).one()
        return submit(session, author, Draft(account.id, "Sports day", True, False, pupil_ids=frozenset({pupil.id}))).id


def test_two_simultaneous_approvals_approve_once(db: Database) -> None:
    post_id = a_post(db)
    with db.session(read_only=True) as session:
        row = session.get(SocialPost, post_id)
        assert row is not None
        seen = row.updated_at
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def approve(email: str) -> None:
        barrier.wait()  # both start together (SQLite then queues the second writer; PostgreSQL runs both)
        with db.session() as session:
            user = session.scalars(select(User).where(User.email == email)).one()
            try:
                post_approval.approve(session, post_id, user, APPROVERS[email], kinds=[CONTENT_KINDS[0]],
                                      criteria=EVERY_CRITERION, seen=seen)
                outcomes.append("approved")
            except PostError as exc:
                outcomes.append(f"refused: {exc}")

    threads = [threading.Thread(target=approve, args=(email,)) for email in APPROVERS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(o.split(":")[0] for o in outcomes) == ["approved", "refused"], outcomes
    with db.session(read_only=True) as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry)
                              .where(AuditEntry.action == "post.approve")) == 1


def test_only_the_approver_roles_decide_and_videos_need_video_consent(db: Database) -> None:
    post_id = a_post(db)
    with db.session() as session:
        user = session.scalars(select(User).where(User.email == "poster@school.example")).one()
        row = session.get(SocialPost, post_id)
        assert row is not None
        with pytest.raises(NotAuthorised):
            post_approval.approve(session, post_id, user, {"staff", "dsl", "dpo", "marketing", "ict"},
                                  kinds=CONTENT_KINDS, criteria=EVERY_CRITERION, seen=row.updated_at)
        with pytest.raises(NotAuthorised):
            post_approval.refuse(session, post_id, user, {"staff"}, "no")
        row.has_videos = True  # the same pupil, in a post that now has a video: images-only consent
        session.flush()
        head = session.scalars(select(User).where(User.email == "head@school.example")).one()
        review = post_approval.review(session, row, head, post_approval.london_today())
        assert [c.problem for c in review.flagged] == [review.checks[0].problem]
        assert review.checks[0].problem is not None and review.checks[0].problem.startswith("images only, no videos")
        with pytest.raises(PostError, match="Amy Able"):
            post_approval.approve(session, post_id, head, {"headteacher"}, kinds=CONTENT_KINDS,
                                  criteria=EVERY_CRITERION, seen=row.updated_at)


def test_approved_posts_listed_once_consent_no_longer_covers_them(db: Database) -> None:
    """A withdrawal or an amendment in force today lists the post; a pupil with no record this year does not (a post
    approved last year under last year's consent), nor does a post the amended consent still covers."""
    from rules.consent.academic_year import academic_year_of
    from rules.school_media.posts import approved_posts_no_longer_covered, london_today
    from rules.store.models import SocialPostPupil

    today = london_today()
    with db.session() as session:
        create_user(session, email="poster@school.example", name="Pat Poster", roles=["staff"], password=None,
                    actor="t")
        author = session.scalars(select(User).where(User.email == "poster@school.example")).one()
        account = taccount(session)
        amy, ben, dan = tpupil(session, "Amy Able"), tpupil(session, "Ben Brook"), tpupil(session, "Dan Dale")
        tconsent(session, amy, images=True, videos=True)
        tconsent(session, amy, images=True, videos=False, change="amended", effective_on=today)
        tconsent(session, ben, images=True, videos=True)
        tconsent(session, dan, images=True, videos=True, year=academic_year_of(today) - 1)

        def approved(images: bool, videos: bool, *pupils: int) -> int:
            post = SocialPost(account_id=account.id, author_id=author.id, author_name=author.name, text="t",
                              has_images=images, has_videos=videos, status="approved", decided_by="h",
                              checklist="[]", decision_reason="")
            session.add(post)
            session.flush()
            session.add_all([SocialPostPupil(post_id=post.id, pupil_id=p) for p in pupils])
            return post.id

        video = approved(True, True, amy.id, ben.id, dan.id)
        approved(True, False, amy.id, dan.id)  # images are still covered for Amy; Dan has no record this year
    with db.session(read_only=True) as session:
        listed = approved_posts_no_longer_covered(session, today)
    assert [(item.post.id, [(p.name, why.split(" (")[0]) for p, why in item.pupils]) for item in listed] == [
        (video, [("Amy Able", "images only, no videos")])]
