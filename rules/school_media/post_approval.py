"""Approving a post: the headteacher or the office manager, never its author, after the consent record and the
post checklist.

The screen and the server ask the same question (`review`): every pupil in the post is checked against the consent
in force on the day of approval for the post's media; anyone not covered is flagged by name with why, and the post
cannot be approved until they are removed. Every criterion of the checklist must be ticked. The approval changes
the row with a conditional UPDATE (still submitted, unchanged since the approver read it), so it happens once and
never approves words or pupils the approver did not see.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from rules.consent.status import Media
from rules.school_media.post_checklist import check_ticks
from rules.school_media.post_consent import (
    PostPupil,
    PupilCheck,
    check_pupils,
    full_names_in,
    media_of,
    others_named_in,
    post_pupils,
)
from rules.school_media.post_states import ACTIVE, PostAction, PostStatus
from rules.school_media.posts import NotAuthorised, NotFound, PostError, london_today, may_decide, may_post
from rules.store.audit import audit
from rules.store.models import SocialAccount, SocialPost, SocialPostPupil, User, utcnow


@dataclass(frozen=True)
class Review:
    """What the approval screen shows and the server enforces, for one post on one day."""

    day: date
    needs: tuple[Media, ...]
    checks: list[PupilCheck]
    names_in_text: list[PostPupil]  # a warning, not a block
    blockers: list[str]  # why it cannot be approved as it stands (empty: it can, once the checklist is ticked)
    others_named: list[PostPupil] = field(default_factory=list)  # named in the text, not listed: a warning

    @property
    def flagged(self) -> list[PupilCheck]:
        return [c for c in self.checks if c.problem]

    @property
    def no_longer_covered(self) -> list[PupilCheck]:
        """Flagged by a record in force (a withdrawal or an amendment), not by the absence of this year's form: the
        same rule as `posts.approved_posts_no_longer_covered`."""
        return [c for c in self.flagged if c.consent.record_id is not None]


def review(session: Session, post: SocialPost, user: User, day: date) -> Review:
    """Check the post for `user` deciding it on `day`: consent, the author, the account, the status."""
    pupils = post_pupils(session, post.id)
    needs = media_of(post)
    checks = check_pupils(session, pupils, needs, day)
    blockers: list[str] = []
    if post.status != PostStatus.SUBMITTED:
        blockers.append(f"this post is {post.status.replace('_', ' ')}, not waiting for approval")
    if post.author_id == user.id:
        blockers.append("you wrote this post: the headteacher or the office manager must approve it")
    account = session.get(SocialAccount, post.account_id)
    if account is None or account.state != ACTIVE:
        blockers.append("the school account has been retired: it takes no posts")
    elif not may_post(session, post.author_id, post.account_id):
        blockers.append(f"{post.author_name} is no longer an authorised poster of {account.name}")
    flagged = [c for c in checks if c.problem]
    if flagged:
        blockers.append(f"remove the {len(flagged)} pupil{'s' if len(flagged) != 1 else ''} without consent first: "
                        + "; ".join(f"{c.pupil.name} ({c.problem})" for c in flagged))
    return Review(day, needs, checks, full_names_in(post.text, pupils), blockers,
                  others_named_in(session, post.text, pupils, post.site_id))


def _decidable(session: Session, post_id: int, user: User, roles: Iterable[str]) -> SocialPost:
    if not may_decide(roles):
        raise NotAuthorised("only the headteacher or the office manager decides posts")
    post = session.get(SocialPost, post_id)
    if post is None:
        raise NotFound(post_id)
    return post


def _record(post: SocialPost) -> dict[str, object]:
    return {"status": post.status, "decided_by": post.decided_by, "decision_reason": post.decision_reason,
            "checklist": json.loads(post.checklist or "[]")}


def _once(session: Session, post: SocialPost, seen: datetime | None, values: dict[str, object]) -> None:
    """Change a submitted post's row only if it is still submitted (and, given `seen`, unchanged since read)."""
    query = update(SocialPost).where(SocialPost.id == post.id, SocialPost.status == PostStatus.SUBMITTED)
    if seen is not None:
        query = query.where(SocialPost.updated_at == seen)
    changed = session.execute(query.values(**values).execution_options(synchronize_session=False))
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise PostError("the post was changed or decided by someone else a moment ago: read it again")
    session.refresh(post)


def approve(session: Session, post_id: int, user: User, roles: Iterable[str], *, kinds: Iterable[str],
            criteria: Iterable[str], seen: datetime, now: datetime | None = None) -> SocialPost:
    """Approve the post as read at `seen` (its `updated_at`), once, if nothing blocks it and the checklist is whole."""
    moment = now or utcnow()
    post = _decidable(session, post_id, user, roles)
    checked = review(session, post, user, london_today(moment))
    if checked.blockers:
        raise PostError(checked.blockers[0])
    ticks, missing = check_ticks(kinds, criteria)
    if missing:
        raise PostError("; ".join(missing))
    before = _record(post)
    _once(session, post, seen, {"status": PostStatus.APPROVED, "decided_by": user.email, "decided_at": moment,
                                "checklist": ticks.as_json(), "decision_reason": ""})
    after = {**_record(post), "day": checked.day.isoformat(), "media": [m.value for m in checked.needs],
             "consent_records": {str(c.pupil.pupil_id): c.consent.record_id for c in checked.checks},
             "full_names_in_text": [p.pupil_id for p in checked.names_in_text],
             "others_named_in_text": [p.pupil_id for p in checked.others_named]}
    audit(session, user.email, PostAction.APPROVE, f"post #{post.id}", before=before, after=after,
          site_id=post.site_id)
    return post


def _close(session: Session, post_id: int, user: User, roles: Iterable[str], reason: str, status: PostStatus,
           action: PostAction, now: datetime | None) -> SocialPost:
    post = _decidable(session, post_id, user, roles)
    if post.author_id == user.id:
        raise PostError("you wrote this post: the headteacher or the office manager must decide it")
    if not reason.strip():
        raise PostError("give the reason, for the author to read")
    if post.status != PostStatus.SUBMITTED:
        raise PostError(f"this post is {post.status.replace('_', ' ')}, not waiting for approval")
    before = _record(post)
    moment = now or utcnow()
    values: dict[str, object] = {"status": status, "decided_by": user.email, "decided_at": moment,
                                 "decision_reason": reason.strip()[:2000]}
    if status is PostStatus.RETURNED:
        values["updated_at"] = moment
    _once(session, post, None, values)
    audit(session, user.email, action, f"post #{post.id}", before=before, after=_record(post), reason=reason.strip(),
          site_id=post.site_id)
    return post


def refuse(session: Session, post_id: int, user: User, roles: Iterable[str], reason: str,
           now: datetime | None = None) -> SocialPost:
    """Refuse the post, with a reason the author reads; final."""
    return _close(session, post_id, user, roles, reason, PostStatus.REFUSED, PostAction.REFUSE, now)


def send_back(session: Session, post_id: int, user: User, roles: Iterable[str], reason: str,
              now: datetime | None = None) -> SocialPost:
    """Send the post back to its author to change (it returns for approval when they save it)."""
    return _close(session, post_id, user, roles, reason, PostStatus.RETURNED, PostAction.RETURN, now)


def remove_pupil(session: Session, post_id: int, pupil_id: int, user: User, roles: Iterable[str],
                 now: datetime | None = None) -> None:
    """The approver takes a pupil out of a waiting post (a flagged one, usually); the post's `updated_at` moves on,
    so an approval form read before the removal must be read again."""
    post = _decidable(session, post_id, user, roles)
    if post.status != PostStatus.SUBMITTED:
        raise PostError(f"this post is {post.status.replace('_', ' ')}, not waiting for approval")
    pupils = {p.pupil_id: p for p in post_pupils(session, post.id)}
    if pupil_id not in pupils:
        raise NotFound(pupil_id)
    day = london_today(now)
    why = check_pupils(session, [pupils[pupil_id]], media_of(post), day)[0].problem
    session.execute(delete(SocialPostPupil).where(SocialPostPupil.post_id == post.id,
                                                  SocialPostPupil.pupil_id == pupil_id))
    post.updated_at = now or utcnow()
    session.flush()
    audit(session, user.email, PostAction.REMOVE_PUPIL, f"post #{post.id}",
          before={"pupil_id": pupil_id, "via_class": pupils[pupil_id].via_class},
          after={"pupils_left": len(pupils) - 1}, reason=why or "removed by the approver", site_id=post.site_id)


def take_down(session: Session, post_id: int, user: User, roles: Iterable[str], note: str,
              now: datetime | None = None) -> SocialPost:
    """Record that an approved post was removed from the platform (the policy: "wherever it is reasonably
    practicable ... removing an image from a social media site"), so it leaves the list of posts to take down."""
    post = _decidable(session, post_id, user, roles)
    if not note.strip():
        raise PostError("say what was done (for example: the image was removed from the page)")
    before = _record(post)
    changed = session.execute(update(SocialPost).where(SocialPost.id == post.id,
                                                       SocialPost.status == PostStatus.APPROVED)
                              .values(status=PostStatus.TAKEN_DOWN, updated_at=now or utcnow(),
                                      decision_reason=note.strip()[:2000])
                              .execution_options(synchronize_session=False))
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise PostError(f"this post is {post.status.replace('_', ' ')}, not an approved post")
    session.refresh(post)
    audit(session, user.email, PostAction.TAKE_DOWN, f"post #{post.id}", before=before, after=_record(post),
          reason=note.strip()[:2000], site_id=post.site_id)
    return post
