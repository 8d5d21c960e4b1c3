"""Unlocking a locked category takes two people: the ICT technician proposes, the headteacher confirms.

A locked category (a child-abuse list, for example) is one no exception can open. If one person could untick
"locked" alone, one person could then open it with an exception; so unticking records a proposal (who, when,
why) and the category stays locked until a headteacher who is not the proposer confirms it. Locking is
immediate (it is the safer way). Each step is audited. A proposal is decided once, even by two headteachers at
the same moment (a conditional UPDATE, as `rules.workflows.access_requests` decides a request). Nor does a
headteacher confirm a proposal from an account whose password she last set (she could sign in as it): the
technician changes their own password first (`rules.workflows.accounts.change_own_password`).
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from rules.store.audit import audit
from rules.store.models import Category, CategoryUnlock, User, utcnow
from rules.workflows.accounts import password_set_by, roles_of

OPEN, CONFIRMED, REFUSED, WITHDRAWN = "open", "confirmed", "refused", "withdrawn"
MAX_REASON = 2000


class UnlockError(ValueError):
    """The proposal or decision cannot be made; the message says why."""


def open_proposal(session: Session, category_id: int) -> CategoryUnlock | None:
    """The proposal waiting for a decision on this category, if any."""
    return session.scalar(select(CategoryUnlock).where(CategoryUnlock.category_id == category_id,
                                                       CategoryUnlock.state == OPEN))


def propose_unlock(session: Session, user: User, category: Category, reason: str) -> CategoryUnlock:
    """Record `user`'s proposal to unlock `category`; the category itself stays locked."""
    if not category.locked:
        raise UnlockError(f"the category {category.name} is not locked")
    why = reason.strip()
    if not why:
        raise UnlockError("say why the category should be unlocked: the headteacher reads it before confirming")
    if len(why) > MAX_REASON:
        raise UnlockError(f"the reason is at most {MAX_REASON} characters")
    waiting = open_proposal(session, category.id)
    if waiting is not None:
        raise UnlockError(f"unlocking {category.name} was already proposed (#{waiting.id}) and waits for the "
                          f"headteacher")
    proposal = CategoryUnlock(category_id=category.id, category_name=category.name, proposed_by_id=user.id,
                              proposed_by=user.email, reason=why, state=OPEN)
    session.add(proposal)
    session.flush()
    audit(session, user.email, "category.unlock_propose", f"category {category.name}",
          after={"proposal": proposal.id, "locked": True}, reason=why, site_id=category.site_id)
    return proposal


def list_proposals(session: Session, limit: int = 50, site_ids: Collection[int] | None = None) -> list[CategoryUnlock]:
    """Open proposals first, then the most recent decisions; with `site_ids`, those on the trust's categories and
    on the categories of those schools only."""
    query = select(CategoryUnlock).order_by((CategoryUnlock.state == OPEN).desc(), CategoryUnlock.id.desc())
    if site_ids is not None:
        query = query.join(Category, Category.id == CategoryUnlock.category_id).where(
            Category.site_id.in_(sorted(site_ids)) | Category.site_id.is_(None))
    return list(session.scalars(query.limit(limit)))


def decide_unlock(session: Session, proposal_id: int, user: User, *, confirm: bool, reason: str) -> CategoryUnlock:
    """Confirm (the category is unlocked now) or refuse a proposal, once, as a headteacher who did not propose it."""
    proposal = session.get(CategoryUnlock, proposal_id)
    if proposal is None:
        raise LookupError(proposal_id)
    if "headteacher" not in roles_of(user):
        raise UnlockError("only a headteacher decides on unlocking a category")
    if confirm and (proposal.proposed_by_id == user.id or proposal.proposed_by == user.email):
        raise UnlockError("you proposed this unlock, so another headteacher must confirm it")
    if confirm and proposal.proposed_by_id is not None and \
            password_set_by(session, proposal.proposed_by_id, proposal.proposed_at) == user.email:
        # Two accounts one person can sign in as are one person: a headteacher who made (or reset) the technician's
        # password could have proposed this herself.
        raise UnlockError(f"you set the password of {proposal.proposed_by}, the account that proposed this, so you "
                          "could have proposed it yourself: they must choose their own password (Change password, "
                          "at the top of every page) and propose again, or another headteacher must confirm it")
    if proposal.state != OPEN:
        raise UnlockError(f"this proposal was already {proposal.state}")
    if len(reason.strip()) > MAX_REASON:
        raise UnlockError(f"the reason is at most {MAX_REASON} characters")
    state = CONFIRMED if confirm else REFUSED
    changed = session.execute(update(CategoryUnlock).where(CategoryUnlock.id == proposal.id,
                                                           CategoryUnlock.state == OPEN)
                              .values(state=state, decided_by_id=user.id, decided_by=user.email, decided_at=utcnow(),
                                      decision_reason=reason.strip())
                              .execution_options(synchronize_session=False))
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise UnlockError("this proposal was decided by someone else a moment ago")
    session.refresh(proposal)
    category = session.get(Category, proposal.category_id)
    if confirm and category is not None:
        category.locked = False  # policy data: the version bumps in this transaction
        session.flush()
    audit(session, user.email, "category.unlock_confirm" if confirm else "category.unlock_refuse",
          f"category {proposal.category_name}",
          before={"proposal": proposal.id, "proposed_by": proposal.proposed_by, "locked": True},
          after={"proposal": proposal.id, "locked": not confirm}, reason=reason.strip(),
          site_id=category.site_id if category is not None else None)
    return proposal


def withdraw_unlock(session: Session, user: User, category: Category) -> CategoryUnlock | None:
    """Withdraw the open proposal to unlock `category`, if any: the technician saved it with "Locked" ticked again.

    Without this a proposal the technician had changed their mind about could still be confirmed later, and the
    category opened, against the last thing its technician said."""
    proposal = open_proposal(session, category.id)
    if proposal is None:
        return None
    proposal.state = WITHDRAWN
    proposal.decided_by_id = user.id
    proposal.decided_by = user.email
    proposal.decided_at = utcnow()
    session.flush()
    audit(session, user.email, "category.unlock_withdraw", f"category {category.name}",
          before={"proposal": proposal.id, "proposed_by": proposal.proposed_by}, after={"locked": True},
          site_id=category.site_id)
    return proposal
