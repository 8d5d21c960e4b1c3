"""Posts on the school's accounts: an authorised poster submits, edits or withdraws; approved posts whose pupils'
consent no longer covers them are listed for taking down.

"Only people authorised by the headteacher will be allowed to post on the school's accounts": a person may
submit, or change, a post only while they are a poster (`SocialAccountMember` with role poster and no
`removed_at`) of an account that is active. Pupils are added by class (every on-roll pupil of the class, one row
each with `via_class`) or by name; the approval itself is `post_approval`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from rules.consent import class_view
from rules.consent.status import consent_on
from rules.localtime import LONDON
from rules.school_media.post_consent import PostPupil, media_of, post_pupils, problem
from rules.school_media.post_states import ACTIVE, APPROVERS, POSTER, WAITING, PostAction, PostStatus
from rules.store.audit import audit
from rules.store.models import Pupil, SocialAccount, SocialAccountMember, SocialPost, SocialPostPupil, User, utcnow

type SiteIds = Collection[int] | None  # the schools a caller acts for; None: every school
MAX_TEXT = 5000  # longer than any of the four platforms takes in one post
MAX_CLASSES = 50
MAX_PUPILS = 2000  # a whole primary school; a forged list of more is refused before it reaches the database


class PostError(ValueError):
    """The post cannot be saved or decided as asked; the message says why."""


class NotFound(LookupError):
    """No such post, or not one this person may see (the two look the same on purpose)."""


class NotAuthorised(PermissionError):
    """The person is not (or no longer) an authorised poster of that account, or may not decide posts."""


@dataclass(frozen=True)
class Draft:
    """What the poster wrote: the text, the media, and the pupils who appear in them (by class and by name)."""

    account_id: int
    text: str
    has_images: bool
    has_videos: bool
    classes: frozenset[str] = frozenset()
    pupil_ids: frozenset[int] = frozenset()


def london_today(now: datetime | None = None) -> date:
    """The school's day: consent is checked "on the day of approval" in London."""
    return (now or utcnow()).astimezone(LONDON).date()


# --- who may post -------------------------------------------------------------------------------------------------

def postable_accounts(session: Session, user_id: int, site_ids: SiteIds = None) -> list[SocialAccount]:
    """The active accounts (of these schools; None: any) the person is an authorised poster of, by name."""
    query = (select(SocialAccount).join(SocialAccountMember, SocialAccountMember.account_id == SocialAccount.id)
             .where(SocialAccountMember.user_id == user_id, SocialAccountMember.role == POSTER,
                    SocialAccountMember.removed_at.is_(None), SocialAccount.state == ACTIVE))
    if site_ids is not None:
        query = query.where(SocialAccount.site_id.in_(sorted(site_ids)))
    return list(session.scalars(query.order_by(SocialAccount.name, SocialAccount.id).distinct()))


def may_post(session: Session, user_id: int, account_id: int, site_ids: SiteIds = None) -> bool:
    return any(a.id == account_id for a in postable_accounts(session, user_id, site_ids))


# --- the roll ------------------------------------------------------------------------------------------------------

def roll_classes(session: Session, site_id: int | None = None) -> list[tuple[str, int]]:
    """Each class of the school (None: every school) with on-roll pupils, and how many, in school order (the
    consent record's own list)."""
    return [(class_name, count) for class_name, _year, count in class_view.classes(session, _one(site_id))]


def roll_pupils(session: Session, site_id: int | None = None) -> list[Pupil]:
    """Every on-roll pupil of the school (None: every school), by class then name (the poster's list to choose
    from by name)."""
    query = select(Pupil).where(Pupil.on_roll.is_(True))
    if site_id is not None:
        query = query.where(Pupil.site_id == site_id)
    return list(session.scalars(query.order_by(Pupil.class_name, Pupil.name, Pupil.id)))


def _one(site_id: int | None) -> list[int] | None:
    return None if site_id is None else [site_id]


# --- submitting and changing ---------------------------------------------------------------------------------------

def _summary(session: Session, post: SocialPost) -> dict[str, object]:
    """What the audit keeps of a post: pupils by id (and class), never by name."""
    pupils = post_pupils(session, post.id)
    return {"status": post.status, "account_id": post.account_id, "text": post.text, "has_images": post.has_images,
            "has_videos": post.has_videos,
            "pupils": [[p.pupil_id, p.via_class] for p in sorted(pupils, key=lambda p: p.pupil_id)]}


def _check_draft(session: Session, draft: Draft) -> None:
    if not draft.text.strip():
        raise PostError("write the text of the post")
    if len(draft.text) > MAX_TEXT:
        raise PostError(f"the text is longer than {MAX_TEXT} characters")
    if len(draft.classes) > MAX_CLASSES or len(draft.pupil_ids) > MAX_PUPILS:
        raise PostError("too many classes or pupils chosen")
    if (draft.classes or draft.pupil_ids) and not (draft.has_images or draft.has_videos):
        raise PostError("pupils appear only in images or videos: say whether the post has images, videos or both, "
                        "or leave the pupils out")


def _apply_pupils(session: Session, post: SocialPost, draft: Draft) -> None:
    """Make the post's pupils what the draft says.

    A class newly chosen brings every on-roll pupil in it; a class already in the post keeps its rows as they are
    (so a pupil removed from it one by one stays removed); a class no longer chosen takes its rows away. Pupils by
    name are the draft's list, except those already there with a class."""
    current = {row.pupil_id: row for row in session.scalars(
        select(SocialPostPupil).where(SocialPostPupil.post_id == post.id))}
    kept_classes = {row.via_class for row in current.values() if row.via_class}
    known_classes = {c for c, _ in roll_classes(session, post.site_id)}
    unknown = sorted(draft.classes - known_classes - kept_classes)
    if unknown:
        raise PostError(f"there is no class {unknown[0]!r} with pupils on roll")
    named = set(draft.pupil_ids)
    if named:
        on_roll = set(session.scalars(select(Pupil.id).where(Pupil.id.in_(sorted(named)), Pupil.on_roll.is_(True),
                                                             Pupil.site_id == post.site_id)))
        if named - on_roll - set(current):
            raise PostError("a pupil chosen by name is not on roll")
    for pupil_id, row in list(current.items()):
        gone = row.via_class not in draft.classes if row.via_class else pupil_id not in named
        if gone:
            session.delete(row)
            del current[pupil_id]
    session.flush()  # deletes first: a pupil may come back in the same edit under another way of being added
    for class_name in sorted(draft.classes - kept_classes):
        for pupil_id in session.scalars(select(Pupil.id).where(Pupil.class_name == class_name,
                                                               Pupil.on_roll.is_(True),
                                                               Pupil.site_id == post.site_id)):
            if pupil_id not in current:
                current[pupil_id] = SocialPostPupil(post_id=post.id, pupil_id=pupil_id, via_class=class_name)
                session.add(current[pupil_id])
    for pupil_id in sorted(named - set(current)):
        current[pupil_id] = SocialPostPupil(post_id=post.id, pupil_id=pupil_id, via_class=None)
        session.add(current[pupil_id])
    session.flush()


def submit(session: Session, user: User, draft: Draft, now: datetime | None = None,
           site_ids: SiteIds = None) -> SocialPost:
    """Submit a post for approval, in the author's name, in its account's school; only an authorised poster of an
    active account (of these schools) may."""
    if not may_post(session, user.id, draft.account_id, site_ids):
        raise NotAuthorised("you are not an authorised poster of that school account")
    account = session.get(SocialAccount, draft.account_id)
    _check_draft(session, draft)
    moment = now or utcnow()
    post = SocialPost(account_id=draft.account_id, author_id=user.id, author_name=user.name, created_at=moment,
                      updated_at=moment, text=draft.text.strip(), has_images=draft.has_images,
                      has_videos=draft.has_videos, status=PostStatus.SUBMITTED, decision_reason="", checklist="[]")
    if account is not None:
        post.site_id = account.site_id
    session.add(post)
    session.flush()
    _apply_pupils(session, post, draft)
    audit(session, user.email, PostAction.SUBMIT, f"post #{post.id}", after=_summary(session, post),
          site_id=post.site_id)
    return post


def _own_waiting(session: Session, post_id: int, user: User) -> SocialPost:
    post = session.get(SocialPost, post_id)
    if post is None or post.author_id != user.id:
        raise NotFound(post_id)
    if post.status not in WAITING:
        raise PostError(f"this post was already {post.status.replace('_', ' ')}")
    return post


def edit(session: Session, post_id: int, user: User, draft: Draft, now: datetime | None = None) -> SocialPost:
    """The author changes the text, media or pupils of a waiting post; a post sent back goes back for approval."""
    post = _own_waiting(session, post_id, user)
    if not may_post(session, user.id, post.account_id):
        raise NotAuthorised("you are no longer an authorised poster of this school account")
    _check_draft(session, draft)
    before = _summary(session, post)
    post.text, post.has_images, post.has_videos = draft.text.strip(), draft.has_images, draft.has_videos
    post.status = PostStatus.SUBMITTED
    post.updated_at = now or utcnow()
    _apply_pupils(session, post, draft)
    audit(session, user.email, PostAction.EDIT, f"post #{post.id}", before=before, after=_summary(session, post),
          site_id=post.site_id)
    return post


def remove_own_pupil(session: Session, post_id: int, pupil_id: int, user: User, now: datetime | None = None) -> None:
    """The author takes one pupil out of a waiting post (one of a class, or one added by name)."""
    post = _own_waiting(session, post_id, user)
    before = _summary(session, post)
    if not session.execute(delete(SocialPostPupil).where(SocialPostPupil.post_id == post.id,
                                                         SocialPostPupil.pupil_id == pupil_id)).rowcount:  # type: ignore[attr-defined]
        raise NotFound(pupil_id)
    post.updated_at = now or utcnow()
    session.flush()
    audit(session, user.email, PostAction.EDIT, f"post #{post.id}", before=before, after=_summary(session, post),
          site_id=post.site_id)


def withdraw(session: Session, post_id: int, user: User, now: datetime | None = None) -> SocialPost:
    """The author withdraws a waiting post (allowed even after they stop being a poster)."""
    post = _own_waiting(session, post_id, user)
    before = _summary(session, post)
    post.status = PostStatus.WITHDRAWN
    post.updated_at = now or utcnow()
    session.flush()
    audit(session, user.email, PostAction.WITHDRAW, f"post #{post.id}", before=before, after=_summary(session, post),
          site_id=post.site_id)
    return post


# --- reading -------------------------------------------------------------------------------------------------------

def may_decide(roles: Iterable[str]) -> bool:
    return bool(APPROVERS & set(roles))


def get_post(session: Session, post_id: int, user: User, roles: Iterable[str], site_ids: SiteIds = None) -> SocialPost:
    """The post, if this person may see it: its author, the headteacher or the office manager (it names pupils),
    of these schools (None: any)."""
    post = session.get(SocialPost, post_id)
    if post is None or not (post.author_id == user.id or may_decide(roles)) \
            or (site_ids is not None and post.site_id not in site_ids):
        raise NotFound(post_id)
    return post


def list_posts(session: Session, user: User, roles: Iterable[str], status: str | None = None,
               mine: bool = False, site_ids: SiteIds = None) -> list[SocialPost]:
    """Newest first, of these schools (None: every school): everyone's for the headteacher and the office manager,
    otherwise (or with `mine`) one's own."""
    query = select(SocialPost).order_by(SocialPost.updated_at.desc(), SocialPost.id.desc()).limit(500)
    if site_ids is not None:
        query = query.where(SocialPost.site_id.in_(sorted(site_ids)))
    if mine or not may_decide(roles):
        query = query.where(SocialPost.author_id == user.id)
    if status:
        query = query.where(SocialPost.status == status)
    return list(session.scalars(query))


def account_names(session: Session) -> dict[int, str]:
    return {a.id: a.name for a in session.scalars(select(SocialAccount))}


# --- after a withdrawal --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class NoLongerCovered:
    """An approved post showing pupils whose consent in force today does not cover the post's media."""

    post: SocialPost
    pupils: list[tuple[PostPupil, str]]  # the pupil and why


def approved_posts_no_longer_covered(session: Session, day: date, site_ids: SiteIds = None) -> list[NoLongerCovered]:
    """Approved posts to take down "wherever it is reasonably practicable" after consent was withdrawn or amended.

    A pupil counts when a consent record is in force on `day` and does not cover the post's media. A pupil with no
    record at all this academic year does not: a post approved last year under last year's consent was not made
    wrong by the new year's forms not being in yet. Three queries however many posts: the posts, their pupils, and
    the consent in force for all those pupils."""
    query = select(SocialPost).where(SocialPost.status == PostStatus.APPROVED)
    if site_ids is not None:
        query = query.where(SocialPost.site_id.in_(sorted(site_ids)))
    approved = list(session.scalars(query.order_by(SocialPost.decided_at.desc(), SocialPost.id.desc())))
    with_media = {post.id: post for post in approved if media_of(post)}
    if not with_media:
        return []
    pupils_of: dict[int, list[PostPupil]] = {}
    for post_id, pupil, via in session.execute(
            select(SocialPostPupil.post_id, Pupil, SocialPostPupil.via_class)
            .join(Pupil, Pupil.id == SocialPostPupil.pupil_id)
            .where(SocialPostPupil.post_id.in_(sorted(with_media)))
            .order_by(Pupil.class_name, Pupil.name, Pupil.id)):
        pupils_of.setdefault(post_id, []).append(PostPupil(pupil.id, pupil.name, pupil.class_name, via, pupil.on_roll))
    consents = consent_on(session, {p.pupil_id for ps in pupils_of.values() for p in ps}, day)
    found: list[NoLongerCovered] = []
    for post in approved:
        needs = media_of(post)
        flagged = [(p, why) for p in pupils_of.get(post.id, [])
                   if consents[p.pupil_id].record_id is not None
                   and (why := problem(consents[p.pupil_id], needs, day)) is not None]
        if flagged:
            found.append(NoLongerCovered(post, flagged))
    return found
