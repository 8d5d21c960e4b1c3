"""A full set of one school's rows for the scoping tests: a device, a concern, a pupil with consent, a school
account with a poster, a site creation form, a post, an abuse log entry with a follow-up and a screenshot, a
policy review. Every name holds the school's word ("Alpha", "Bravo"), so a page's text shows whose rows it has."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from rules.store.models import (
    AbuseFollowUp,
    AbuseLogEntry,
    AbuseScreenshot,
    Concern,
    ConsentRecord,
    Device,
    Group,
    PolicyReview,
    Pupil,
    SiteCreationForm,
    SocialAccount,
    SocialAccountMember,
    SocialPost,
    SocialPostPupil,
    User,
    UserSite,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24


@dataclass(frozen=True)
class SchoolRows:
    site_id: int
    word: str
    device: int
    concern: int
    pupil: int
    staff: int  # a member of staff of this school only: a poster and a post's author
    account: int
    member: int
    form: int
    post: int
    entry: int
    follow_up: int
    screenshot: int

    @property
    def person(self) -> str:
        return f"{self.word} Pupil"

    @property
    def names(self) -> list[str]:
        """Text that only this school's rows hold."""
        return [f"{self.word} Laptop", self.person, f"{self.word} Tigers", f"{self.word} Form Site",
                f"{self.word} post text", f"{self.word} abuse words", f"{self.word} review notes"]


def make_school(session: Session, site_id: int, word: str, marketing_id: int) -> SchoolRows:
    """The rows, in school `site_id`; `marketing_id` signed its form (so a headteacher could sign it next)."""
    group = Group(site_id=site_id, name=f"{word.lower()}-pupils")
    staff = User(email=f"{word.lower()}.staff@{word.lower()}.test", name=f"{word} Staff", roles="staff",
                 password_hash="")
    session.add_all([group, staff])
    session.flush()
    session.add(UserSite(user_id=staff.id, site_id=site_id))
    device = Device(site_id=site_id, name=f"{word} Laptop", group_id=group.id, person=f"{word} Pupil")
    session.add(device)
    session.flush()
    concern = Concern(site_id=site_id, device_id=device.id, device_name=device.name, person=f"{word} Pupil",
                      category="bullying_abuse", severity="medium", source="search", matched=f"{word} matched",
                      phrase=f"{word.lower()} secret phrase", why="why", state="no_concern")
    pupil = Pupil(site_id=site_id, mis_id=f"{word}-1", name=f"{word} Pupil", class_name=f"{word[0]}9",
                  year_group="Year 9")
    account = SocialAccount(site_id=site_id, name=f"{word} Tigers", platform="facebook",
                            url=f"https://www.facebook.com/{word.lower()}")
    entry = AbuseLogEntry(site_id=site_id, occurred_on="2026-11-20", platform="facebook", account_text="a page",
                          posted_text=f"{word} abuse words", created_by="someone@school.test")
    review = PolicyReview(site_id=site_id, recorded_by="someone@school.test", next_review_on="2027-09-01",
                          notes=f"{word} review notes")
    session.add_all([concern, pupil, account, entry, review])
    session.flush()
    member = SocialAccountMember(account_id=account.id, user_id=staff.id, role="poster")
    form = SiteCreationForm(site_id=site_id, requester_id=staff.id, requester_name=staff.name, platform="facebook",
                            site_name=f"{word} Form Site", department="PE", moderator="m", aims="a", content="c",
                            status="marketing_approved", marketing_id=marketing_id, marketing_name="Mo Market")
    post = SocialPost(site_id=site_id, account_id=account.id, author_id=staff.id, author_name=staff.name,
                      text=f"{word} post text", has_images=True)
    consent = ConsentRecord(pupil_id=pupil.id, academic_year=2026, images=True, videos=True, change="given",
                            given_by=f"{word} Parent", effective_on="2026-09-01", recorded_by="someone@school.test")
    follow_up = AbuseFollowUp(entry_id=entry.id, due_on="2026-11-30", note=f"{word} follow-up")
    shot = AbuseScreenshot(entry_id=entry.id, content_type="image/png", size=len(PNG), sha256="0" * 64, data=PNG,
                           uploaded_by="someone@school.test")
    session.add_all([member, form, post, consent, follow_up, shot])
    session.flush()
    session.add(SocialPostPupil(post_id=post.id, pupil_id=pupil.id))
    session.flush()
    return SchoolRows(site_id, word, device.id, concern.id, pupil.id, staff.id, account.id, member.id, form.id,
                      post.id, entry.id, follow_up.id, shot.id)
