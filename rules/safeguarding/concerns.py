"""Raising a concern: from an access event that matched (the watcher), or by hand (a member of staff).

One place decides who a concern is about and where it goes (`rules.safeguarding.routing`), folds repeats,
freezes the context (`rules.safeguarding.context`) and writes the audit entry, in the caller's transaction.

Folding: the same thing (same phrase or site category) from the same device while a concern about it is
open and was last seen within `FOLD_SECONDS` adds a hit to that concern instead of opening another, so a
pupil who searches the same words ten times is one concern with ten hits, not ten emails.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from rules.safeguarding.categories import Category, Severity
from rules.safeguarding.context import freeze_before
from rules.safeguarding.routing import Who, route, who_for
from rules.safeguarding.states import ConcernState, Source, Subject
from rules.store.audit import audit
from rules.store.models import AccessEvent, Concern, Device, utcnow

ACTOR = "monitoring"
FOLD_SECONDS = 3600
MAX_MATCHED = 2000


@dataclass(frozen=True, slots=True)
class Finding:
    """What an event matched: a phrase (search or site) or a safeguarding site category."""

    source: Source
    category: str          # a `Category` value, or the site category's name
    severity: Severity
    phrase: str            # the phrase as the list writes it, or "site category: NAME"
    why: str
    matched: str           # the search term, or host and path


def _fold_target(session: Session, event: AccessEvent, finding: Finding) -> Concern | None:
    query = select(Concern).where(Concern.state == ConcernState.OPEN, Concern.phrase == finding.phrase,
                                  Concern.category == finding.category,
                                  Concern.last_seen_at >= event.ts - timedelta(seconds=FOLD_SECONDS),
                                  Concern.site_id == event.site_id)
    if event.device_id is not None:
        query = query.where(Concern.device_id == event.device_id)
    else:
        query = query.where(Concern.device_id.is_(None), Concern.client_ip == event.client_ip)
    return session.scalar(query.order_by(Concern.id.desc()).limit(1))


def raise_from_event(session: Session, event: AccessEvent, finding: Finding, chair_email: str) -> tuple[Concern, bool]:
    """Open a concern for what `event` matched, or fold it into the open one; (concern, opened a new one)."""
    existing = _fold_target(session, event, finding)
    if existing is not None:
        existing.hits += 1
        if event.ts > existing.last_seen_at:
            existing.last_seen_at = event.ts
        return existing, False
    device = session.get(Device, event.device_id) if event.device_id is not None else None
    who = who_for(session, device)
    if device is None and event.device:
        who = Who(event.device_id, event.device, None, who.subject)
    concern = _new(session, who, finding, chair_email, raised_by=ACTOR, client_ip=event.client_ip,
                   when=event, event_id=event.id, site_id=event.site_id)
    freeze_before(session, concern, event)
    return concern, True


def open_manual(session: Session, *, device_id: int | None, person: str | None, subject: Subject,
                category: Category, severity: Severity, what: str, raised_by: str, chair_email: str = "",
                site_id: int | None = None) -> Concern:
    """A concern raised by hand in school `site_id` (None: the device's, else the default school); the
    device's last events are frozen as its context when a device is named (it must be of that school)."""
    device = None
    if device_id is not None:
        device = session.get(Device, device_id)
        if device is None or (site_id is not None and device.site_id != site_id):
            raise ValueError(f"no device #{device_id}")
    if site_id is None and device is not None:
        site_id = device.site_id
    who = who_for(session, device, person, subject)
    finding = Finding(Source.MANUAL, category.value, severity, "", "raised by a member of staff", what)
    concern = _new(session, who, finding, chair_email or _chair_email(), raised_by=raised_by,
                   client_ip=device.last_ip if device else None, when=None, event_id=None, site_id=site_id)
    if device is None:
        concern.context_complete = True
    else:
        freeze_before(session, concern, None)
    return concern


def _new(session: Session, who: Who, finding: Finding, chair_email: str, *, raised_by: str,
         client_ip: str | None, when: AccessEvent | None, event_id: int | None,
         site_id: int | None = None) -> Concern:
    routed = route(session, who, chair_email, site_id)
    at = when.ts if when is not None else utcnow()
    concern = Concern(opened_at=at, last_seen_at=at, hits=1, device_id=who.device_id, device_name=who.device_name,
                      client_ip=client_ip, person=who.person, subject=who.subject.value, category=finding.category,
                      severity=finding.severity.value, source=finding.source.value,
                      matched=finding.matched[:MAX_MATCHED], phrase=finding.phrase, why=finding.why,
                      event_id=event_id, routed_to=routed.value, raised_by=raised_by, state=ConcernState.OPEN.value,
                      context_complete=False)
    if site_id is not None:  # else the column's default: the default school
        concern.site_id = site_id
    session.add(concern)
    session.flush()
    # No names and no search term in the audit entry: the audit log is read more widely than concerns are.
    audit(session, raised_by, "concern.raise", f"concern #{concern.id}",
          after={"source": concern.source, "category": concern.category, "severity": concern.severity,
                 "subject": concern.subject, "routed_to": concern.routed_to, "device_id": concern.device_id},
          site_id=site_id)
    return concern


# The chair's address for concerns raised by hand from the web, which has no scheduler configuration in its
# call: set once by the process that wires the services (`configure`).
_settings: dict[str, str] = {"chair_email": ""}


def configure(*, chair_email: str) -> None:
    """Set the chair of governors' address for this process (deploy wires it from [safeguarding])."""
    _settings["chair_email"] = chair_email


def _chair_email() -> str:
    return _settings["chair_email"]
