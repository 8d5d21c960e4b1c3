"""Signing the site creation approval form: the marketing officer first, then the headteacher, who makes the account.

The policy's "Approval" section: the marketing officer approves the aims, content and the use of the school brand
and logo; then the headteacher gives final approval. So the headteacher cannot sign before the marketing officer,
nobody signs a form they filed, and one person does not sign both parts. Each signature is the signed-in account's
name and email with the time, written once by a conditional UPDATE (two officers pressing "approve" together sign
once). Either may refuse, with a reason. The headteacher's approval creates the school account, its administrators,
the people authorised to post and its hours, in the same transaction as the signature and its audit entry.

The account is of the form's school, and its posters must be that school's staff (another school's is refused
as a missing account is); each function takes the signer's schools (`site_ids`; None: every school): another
school's form is NotFound.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from rules.school_media import accounts
from rules.school_media.site_forms import (
    FormError,
    FormStatus,
    NotFound,
    administrator_accounts,
    administrators,
    summary,
)
from rules.store.audit import audit
from rules.store.models import SiteCreationForm, SocialAccount, User, utcnow

MAX_REASON = 2000


def _form(session: Session, form_id: int, site_ids: accounts.SiteIds = None) -> SiteCreationForm:
    form = session.get(SiteCreationForm, form_id)
    if form is None or (site_ids is not None and form.site_id not in site_ids):
        raise NotFound(form_id)
    return form


def _target(form: SiteCreationForm) -> str:
    return f"site creation form #{form.id}"


def _sign_once(session: Session, form: SiteCreationForm, expected: FormStatus, values: dict[str, object]) -> None:
    changed = session.execute(update(SiteCreationForm)
                              .where(SiteCreationForm.id == form.id, SiteCreationForm.status == expected)
                              .values(**values).execution_options(synchronize_session=False))
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise FormError("this form was signed or refused by someone else a moment ago")
    session.refresh(form)


def sign_as_marketing(session: Session, form_id: int, user: User, now: datetime | None = None,
                      site_ids: accounts.SiteIds = None) -> SiteCreationForm:
    """The marketing officer approves the aims, content and brand use; the caller has checked the role."""
    form = _form(session, form_id, site_ids)
    if form.requester_id == user.id:
        raise FormError("you filed this form, so another marketing officer must approve it")
    if form.status != FormStatus.OPEN:
        raise FormError("the marketing officer has already signed or the form was refused")
    before = summary(form)
    _sign_once(session, form, FormStatus.OPEN, {
        "status": FormStatus.MARKETING_APPROVED, "marketing_id": user.id, "marketing_name": user.name,
        "marketing_email": user.email, "marketing_signed_at": now or utcnow()})
    audit(session, user.email, "site_form.marketing_approve", _target(form), before=before, after=summary(form),
          site_id=form.site_id)
    return form


@dataclass(frozen=True)
class HeadApproval:
    """What the headteacher chooses on approving: who may post, and the hours (None: any time)."""

    poster_ids: list[int]
    schedule_id: int | None


def sign_as_headteacher(session: Session, form_id: int, user: User, approval: HeadApproval,
                        now: datetime | None = None,
                        site_ids: accounts.SiteIds = None) -> tuple[SiteCreationForm, SocialAccount]:
    """The headteacher's final approval, which creates the school account (in the form's school, its posters
    that school's staff: anyone else is refused as an account that does not exist); the caller has checked the
    role."""
    form = _form(session, form_id, site_ids)
    if form.requester_id == user.id:
        raise FormError("you filed this form, so another headteacher must approve it")
    if form.status == FormStatus.OPEN:
        raise FormError("the marketing officer must approve the form before the headteacher")
    if form.status != FormStatus.MARKETING_APPROVED:
        raise FormError(f"this form was already {form.status}")
    if form.marketing_id == user.id:
        raise FormError("you signed as the marketing officer, so another person must give the headteacher's approval")
    admins = administrators(session, [a.id for a in administrator_accounts(session, form)])
    try:
        posters = accounts.posters_from(session, approval.poster_ids, form.site_id)
        schedule = accounts.schedule_or_none(session, approval.schedule_id)
    except accounts.AccountError as exc:
        raise FormError(str(exc)) from None
    before = summary(form)
    _sign_once(session, form, FormStatus.MARKETING_APPROVED, {
        "status": FormStatus.APPROVED, "headteacher_id": user.id, "headteacher_name": user.name,
        "headteacher_email": user.email, "headteacher_signed_at": now or utcnow()})
    account = accounts.create_account(session, user, name=form.site_name, platform=form.platform, url=form.site_url,
                                      administrators=admins, posters=posters, schedule=schedule,
                                      reason=f"site creation form #{form.id}", site_id=form.site_id)
    form.account_id = account.id
    session.flush()
    audit(session, user.email, "site_form.headteacher_approve", _target(form), before=before, after=summary(form),
          site_id=form.site_id)
    return form, account


def refuse(session: Session, form_id: int, user: User, roles: set[str], reason: str,
           now: datetime | None = None, site_ids: accounts.SiteIds = None) -> SiteCreationForm:
    """Refuse the form with a reason: the marketing officer while it waits for them, the headteacher until it is
    approved. Nobody refuses a form they filed (they may ask for it to be refused)."""
    form = _form(session, form_id, site_ids)  # another school's form: NotFound before anything is said of it
    why = reason.strip()
    if not why:
        raise FormError("give the reason for refusing")
    if len(why) > MAX_REASON:
        raise FormError(f"the reason is at most {MAX_REASON} characters")
    if form.requester_id == user.id:
        raise FormError("you filed this form, so you cannot refuse it")
    may_refuse = set()
    if "marketing" in roles:
        may_refuse.add(FormStatus.OPEN)
    if "headteacher" in roles:
        may_refuse |= {FormStatus.OPEN, FormStatus.MARKETING_APPROVED}
    if form.status not in may_refuse:
        raise FormError("this form is no longer waiting for you" if form.status in (FormStatus.OPEN,
                        FormStatus.MARKETING_APPROVED) else f"this form was already {form.status}")
    before = summary(form)
    _sign_once(session, form, FormStatus(form.status), {
        "status": FormStatus.REFUSED, "refused_by": user.email, "refused_at": now or utcnow(), "refusal_reason": why})
    audit(session, user.email, "site_form.refuse", _target(form), before=before, after=summary(form), reason=why,
          site_id=form.site_id)
    return form
