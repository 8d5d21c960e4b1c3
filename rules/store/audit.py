"""The audit log: every change made by a person, and every view of a device's log, in one table."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm import Session

from rules.store.models import AuditEntry


def audit(session: Session, actor: str, action: str, target: str = "", *, before: Any = None,
          after: Any = None, reason: str = "", site_id: int | None = None) -> None:
    """Add an audit entry in the caller's transaction, so the change and its record commit together.
    `site_id`: the school the entry concerns (None: the trust's own), so each school's staff see theirs."""
    session.add(
        AuditEntry(
            site_id=site_id, actor=actor, action=action, target=target, reason=reason,
            before=None if before is None else json.dumps(before, default=str, sort_keys=True),
            after=None if after is None else json.dumps(after, default=str, sort_keys=True),
        )
    )
