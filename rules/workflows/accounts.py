"""Staff accounts: creating them with hashed passwords (argon2) and roles, signing in, changing them.

Signing in checks the password and records each failure (`rules.workflows.signin_throttle` reads them to slow
the next attempt from the same address); disabling an account or changing it ends its sessions.

A session is valid only while the account is active and its `session_epoch` is unchanged: signing out,
disabling the account, changing its roles or password all raise the epoch, which ends every session of
that account on the server at once (the session cookie names the epoch it was issued for).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import ColumnElement, delete, or_, select, update
from sqlalchemy.orm import Session

from rules.sites import DEFAULT_SITE_ID
from rules.store.audit import audit
from rules.store.db import bump_policy_version
from rules.store.models import AuditEntry, User, UserSite

# marketing: the marketing officer, who approves a school social media site's aims, content and brand use first;
# office_manager: approves posts (with the headteacher) and sees the consent record; dpo: keeps the consent record.
# trust_admin: the trust's ICT team, who see and manage every school (every other account sees its own schools).
ROLES = ("staff", "ict", "headteacher", "dsl", "marketing", "office_manager", "dpo", "trust_admin")
MIN_PASSWORD_LENGTH = 10
_EMAIL = re.compile(r"^[^@\s<>\"']+@[^@\s<>\"']+\.[^@\s<>\"']+$")
hasher = PasswordHasher()

_DUMMY_HASH = hasher.hash("not a real password, used to even out timing")


class UserError(ValueError):
    """An account could not be created or changed; the message says why."""


def check_account(*, name: str, roles: list[str], password: str | None) -> None:
    """Raise UserError unless the roles are known (at least one), the name is given and a new password is long
    enough: what creating and changing an account both require."""
    bad = [r for r in roles if r not in ROLES]
    if bad:
        raise UserError(f"unknown role {bad[0]!r}; roles: {', '.join(ROLES)}")
    if not roles:
        raise UserError("choose at least one role")
    if not name.strip():
        raise UserError("an account needs a name")
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"the password must be at least {MIN_PASSWORD_LENGTH} characters")


def create_user(session: Session, *, email: str, name: str, roles: list[str], password: str | None,
                actor: str, site_ids: Sequence[int] = (DEFAULT_SITE_ID,)) -> User:
    """Create an account, a member of the schools `site_ids`; without a password it cannot sign in until one
    is set."""
    email_norm = email.strip().lower()
    if not _EMAIL.match(email_norm):
        raise UserError(f"not an email address: {email!r}")
    check_account(name=name, roles=roles, password=password)
    if session.scalar(select(User).where(User.email == email_norm)) is not None:
        raise UserError(f"an account for {email_norm} already exists")
    user = User(email=email_norm, name=name.strip(), roles=",".join(dict.fromkeys(roles)),
                password_hash=hasher.hash(password) if password else "")
    session.add(user)
    session.flush()
    session.add_all(UserSite(user_id=user.id, site_id=site) for site in dict.fromkeys(site_ids))
    session.flush()
    audit(session, actor, "user.create", f"user #{user.id}",
          after={"email": user.email, "name": user.name, "roles": user.roles, "schools": sorted(set(site_ids))},
          site_id=_one_school(set(site_ids)))
    return user


# What a trust_admin may do in every school: run it (ICT) and decide for it (headteacher). Safeguarding concerns
# stay with each school's DSL, and the approvals named in the policy (marketing, office manager, DPO) with the
# people it names: a trust admin who is also one of them holds that role as well.
TRUST_ADMIN_POWERS = ("staff", "ict", "headteacher")


def roles_of(user: User) -> set[str]:
    """The account's roles, with what a trust_admin may do everywhere added."""
    held = {r for r in user.roles.split(",") if r in ROLES}
    if "trust_admin" in held:
        held.update(TRUST_ADMIN_POWERS)
    return held


def schools_of(session: Session, user: User) -> frozenset[int] | None:
    """The schools (site ids) the account sees: None for a trust_admin (every school), else its own."""
    if "trust_admin" in user.roles.split(","):
        return None
    return frozenset(session.scalars(select(UserSite.site_id).where(UserSite.user_id == user.id)))


def authenticate(session: Session, email: str, password: str, address: str) -> User | None:
    """The active account with this email and password, else None; a failure is recorded (email and address),
    which is what `signin_throttle` counts."""
    email_norm = email.strip().lower()
    user = session.scalar(select(User).where(User.email == email_norm))
    ok = False
    try:
        ok = hasher.verify(user.password_hash if user and user.password_hash else _DUMMY_HASH, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
    if ok and user is not None and user.active and user.password_hash:
        if hasher.check_needs_rehash(user.password_hash):
            user.password_hash = hasher.hash(password)
        audit(session, user.email, "signin", f"user #{user.id}", reason=address)
        return user
    audit(session, "anonymous", "signin.failed", email_norm[:255], reason=address)
    return None


def _one_school(site_ids: Collection[int]) -> int | None:
    """The school an account's audit entry concerns: its only school; an account of several is the trust's."""
    return next(iter(site_ids)) if len(site_ids) == 1 else None


def list_accounts(session: Session, site_ids: Collection[int] | None = None) -> list[User]:
    """Active accounts first, by name; with `site_ids`, the accounts that belong to one of those schools and are
    not trust admins (whom only a trust admin manages)."""
    query = select(User).order_by(User.active.desc(), User.name)
    if site_ids is not None:
        members = select(UserSite.user_id).where(UserSite.site_id.in_(sorted(site_ids)))
        query = query.where(User.id.in_(members), ~is_trust_admin())
    return list(session.scalars(query))


def is_trust_admin() -> ColumnElement[bool]:
    """SQL: the account holds the trust_admin role (roles are a comma-separated list)."""
    padded = "," + User.roles + ","
    return padded.contains(",trust_admin,")


def account_schools(session: Session, user_ids: Collection[int]) -> dict[int, list[int]]:
    """Each account's schools (site ids, in order), for the accounts `user_ids`."""
    found: dict[int, list[int]] = {user_id: [] for user_id in user_ids}
    rows = session.execute(select(UserSite.user_id, UserSite.site_id).where(UserSite.user_id.in_(sorted(user_ids)))
                           .order_by(UserSite.site_id))
    for user_id, site_id in rows:
        found[user_id].append(site_id)
    return found


def end_sessions(session: Session, user_id: int) -> None:
    session.execute(update(User).where(User.id == user_id).values(session_epoch=User.session_epoch + 1))


def _describe(user: User) -> dict[str, object]:
    return {"email": user.email, "name": user.name, "roles": user.roles, "active": user.active}


def update_account(session: Session, user_id: int, actor: User, *, name: str, roles: list[str], active: bool,
                   password: str | None = None, site_ids: Collection[int] | None = None) -> User:
    """Change an account (and, with `site_ids`, the schools it belongs to); a change of roles, schools, password
    or status ends its sessions. Nobody can disable themselves or drop their own role."""
    user = session.get(User, user_id)
    if user is None:
        raise LookupError(user_id)
    check_account(name=name, roles=roles, password=password)
    if user.id == actor.id and (not active or not {"headteacher", "trust_admin"} & set(roles)):
        raise UserError("you cannot disable your own account or remove your own headteacher role")
    before = _describe(user)
    schools_before = set(session.scalars(select(UserSite.site_id).where(UserSite.user_id == user.id)))
    schools_after = schools_before if site_ids is None else set(site_ids)
    security_change = bool(password) or not active or user.roles != ",".join(dict.fromkeys(roles)) \
        or schools_after != schools_before
    if schools_after != schools_before:
        session.execute(delete(UserSite).where(UserSite.user_id == user.id))
        session.add_all(UserSite(user_id=user.id, site_id=site) for site in sorted(schools_after))
        before["schools"] = sorted(schools_before)
    user.name = name.strip()
    user.roles = ",".join(dict.fromkeys(roles))
    user.active = active
    if password:
        user.password_hash = hasher.hash(password)
    session.flush()
    if security_change:
        end_sessions(session, user.id)
    if (before["name"], before["active"]) != (user.name, user.active):
        # A school social media account opens its platform on its posters' devices, found by the account's name
        # and email (rules.school_media.posters): a renamed or disabled account changes what is filtered.
        bump_policy_version(session)
    after = _describe(user) | {"password_changed": bool(password)}
    if schools_after != schools_before:
        after["schools"] = sorted(schools_after)
    audit(session, actor.email, "user.update", f"user #{user.id}", before=before, after=after,
          site_id=_one_school(schools_after))
    return user


def change_own_password(session: Session, user: User, current: str, new: str, address: str) -> User:
    """Set `user`'s password to `new` once `current` is proved; a wrong one is a failed sign-in (the throttle counts
    it, so the form is no way round it). Every session of the account ends; the caller signs this one in again."""
    row = session.get(User, user.id)
    if row is None or not row.active:
        raise UserError("this account cannot sign in")
    if authenticate(session, row.email, current, address) is None:
        raise UserError("the current password is not right")
    if len(new) < MIN_PASSWORD_LENGTH:
        raise UserError(f"the new password must be at least {MIN_PASSWORD_LENGTH} characters")
    if new == current:
        raise UserError("the new password is the same as the current one")
    row.password_hash = hasher.hash(new)
    session.flush()
    end_sessions(session, row.id)
    audit(session, row.email, "user.password_change", f"user #{row.id}", after={"password_changed": True})
    return row


def password_set_by(session: Session, user_id: int, before: datetime | None = None) -> str | None:
    """Who last set the account's password (the audit entry's actor), as it stood at `before` (or now); None when
    the log does not say. A person who set someone's password can sign in as them."""
    setting = or_(AuditEntry.action.in_(("user.create", "user.password_change")),
                  (AuditEntry.action == "user.update") & AuditEntry.after.contains('"password_changed": true'))
    query = select(AuditEntry.actor).where(AuditEntry.target == f"user #{user_id}", setting)
    if before is not None:
        query = query.where(AuditEntry.ts <= before)
    return session.scalar(query.order_by(AuditEntry.ts.desc(), AuditEntry.id.desc()).limit(1))
