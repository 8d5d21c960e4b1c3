"""A post's pupils against the consent record: who may appear in its images and videos on a given day, and why not.

The policy: "The school will only post images and videos of pupils for whom consent has been received", consent
is per academic year, for images and videos separately, and can be withdrawn or amended in writing at any time.
The approval screen, the server-side approval and the list of approved posts to take down after a withdrawal all
ask this one module, so they can never disagree.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from rules.consent.academic_year import academic_year_of, label
from rules.consent.records import Change
from rules.consent.status import ConsentInForce, Media, consent_on
from rules.store.models import Pupil, SocialPost, SocialPostPupil


@dataclass(frozen=True, slots=True)
class PostPupil:
    """A pupil in a post, as the screens show them: name, class, and the class they came with (None: by name)."""

    pupil_id: int
    name: str
    class_name: str
    via_class: str | None
    on_roll: bool


@dataclass(frozen=True, slots=True)
class PupilCheck:
    """One pupil's consent for the post's media on the day asked; `problem` None means they may appear."""

    pupil: PostPupil
    consent: ConsentInForce
    problem: str | None


def media_of(post: SocialPost) -> tuple[Media, ...]:
    """The kinds of processing the post needs consent for."""
    return tuple(m for m, wanted in ((Media.IMAGES, post.has_images), (Media.VIDEOS, post.has_videos)) if wanted)


def post_pupils(session: Session, post_id: int) -> list[PostPupil]:
    """The pupils in a post, by class then name."""
    rows = session.execute(
        select(Pupil, SocialPostPupil.via_class).join(SocialPostPupil, SocialPostPupil.pupil_id == Pupil.id)
        .where(SocialPostPupil.post_id == post_id).order_by(Pupil.class_name, Pupil.name, Pupil.id))
    return [PostPupil(p.id, p.name, p.class_name, via, p.on_roll) for p, via in rows]


def _day_text(iso: str | None) -> str:
    return date.fromisoformat(iso).strftime("%d %b %Y") if iso else "an unknown date"


def problem(consent: ConsentInForce, needs: Sequence[Media], day: date) -> str | None:
    """Why the consent in force does not cover `needs`, in the words the approver reads; None when it does."""
    missing = [m for m in needs if not consent.allows(m)]
    if not missing:
        return None
    if consent.record_id is None:
        return f"no consent recorded this academic year ({label(academic_year_of(day))})"
    if consent.change == Change.WITHDRAWN:
        if consent.images or consent.videos:
            return f"consent for {' and '.join(missing)} withdrawn on {_day_text(consent.effective_on)}"
        return f"consent withdrawn on {_day_text(consent.effective_on)}"
    since = f"{consent.change or 'recorded'} on {_day_text(consent.effective_on)}"
    if consent.images:
        return f"images only, no videos ({since})"
    if consent.videos:
        return f"videos only, no images ({since})"
    return f"no consent for images or videos this academic year ({since})"


def check_pupils(session: Session, pupils: Sequence[PostPupil], needs: Sequence[Media], day: date) -> list[PupilCheck]:
    """Each pupil's consent on `day` for the post's media (a post with neither images nor videos needs none)."""
    consents = consent_on(session, (p.pupil_id for p in pupils), day)
    return [PupilCheck(p, consents[p.pupil_id], problem(consents[p.pupil_id], needs, day)) for p in pupils]


def _name_pattern(name: str) -> re.Pattern[str] | None:
    words = name.split()
    if len(words) < 2:  # a single word is not a full name, and would match ordinary words
        return None
    return re.compile(r"(?<!\w)" + r"\s+".join(re.escape(w) for w in words) + r"(?!\w)", re.IGNORECASE)


def full_names_in(text: str, pupils: Iterable[PostPupil]) -> list[PostPupil]:
    """The pupils whose full name (as the school writes it, or first and last name) is in the text: the policy says
    "pupils' full names will never be used alongside any videos or images in which they are present"."""
    found: list[PostPupil] = []
    for pupil in pupils:
        words = pupil.name.split()
        forms = {pupil.name, f"{words[0]} {words[-1]}"} if len(words) > 2 else {pupil.name}
        patterns = [p for p in map(_name_pattern, forms) if p is not None]
        if any(p.search(text) for p in patterns):
            found.append(pupil)
    return found


_WORDS = re.compile(r"\w+")


def others_named_in(session: Session, text: str, pupils: Iterable[PostPupil],
                    site_id: int | None = None) -> list[PostPupil]:
    """On-roll pupils whose full name is in the text but who are not among the post's pupils.

    The consent check can only check the pupils the poster listed: "Well done Tom Smith!" under a photo, with Tom
    left off the list, would pass it. A full name in the text is the sign that a pupil is in the post, so the
    approver is told, with the class, to add them (and so check their consent) or take the name out. Only pupils
    with both their first and last word in the text are tried, so a school's roll costs one query and a few
    patterns. Only the post's school's pupils (`site_id`; None: every school's) are tried."""
    listed = {p.pupil_id for p in pupils}
    words = {w.casefold() for w in _WORDS.findall(text)}
    found: list[PostPupil] = []
    query = select(Pupil).where(Pupil.on_roll.is_(True))
    if site_id is not None:
        query = query.where(Pupil.site_id == site_id)
    for pupil in session.scalars(query.order_by(Pupil.class_name, Pupil.name, Pupil.id)):
        parts = pupil.name.split()
        if pupil.id in listed or len(parts) < 2:
            continue
        first, last = _WORDS.findall(parts[0].casefold()), _WORDS.findall(parts[-1].casefold())
        if not first or not last or first[0] not in words or last[-1] not in words:
            continue
        candidate = PostPupil(pupil.id, pupil.name, pupil.class_name, None, pupil.on_roll)
        if full_names_in(text, [candidate]):
            found.append(candidate)
    return found
