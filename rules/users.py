"""Staff accounts: create them with hashed passwords (argon2) and roles."""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.orm import Session

from rules.audit import audit
from rules.models import User

ROLES = ("staff", "ict", "headteacher", "dsl")
MIN_PASSWORD_LENGTH = 10
_EMAIL = re.compile(r"^[^@\s<>\"']+@[^@\s<>\"']+\.[^@\s<>\"']+$")
hasher = PasswordHasher()


class UserError(ValueError):
    """An account could not be created; the message says why."""


def create_user(session: Session, *, email: str, name: str, roles: list[str], password: str | None,
                actor: str) -> User:
    """Create an account; without a password it cannot sign in until one is set."""
    email_norm = email.strip().lower()
    if not _EMAIL.match(email_norm):
        raise UserError(f"not an email address: {email!r}")
    bad = [r for r in roles if r not in ROLES]
    if bad or not roles:
        raise UserError(f"unknown role {bad[0] if bad else '(none)'!r}; roles: {', '.join(ROLES)}")
    if not name.strip():
        raise UserError("an account needs a name")
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"the password must be at least {MIN_PASSWORD_LENGTH} characters")
    if session.scalar(select(User).where(User.email == email_norm)) is not None:
        raise UserError(f"an account for {email_norm} already exists")
    user = User(email=email_norm, name=name.strip(), roles=",".join(dict.fromkeys(roles)),
                password_hash=hasher.hash(password) if password else "")
    session.add(user)
    session.flush()
    audit(session, actor, "user.create", f"user #{user.id}",
          after={"email": user.email, "name": user.name, "roles": user.roles})
    return user
