"""Erasure: remove or anonymise everything held about one person, in one transaction.

What happens, in order (a failure at any step rolls all of it back):

1. their devices' access events are deleted, and their bans with the evidence and supervised sessions (a ban in
   force ends with it);
2. each device assigned to them is treated as theirs personally: it loses its person, its name becomes
   "Device #ID", its MAC and addresses go (the MAC identifies the pupil's own phone or laptop, and is in copies
   of their events) and notes that name them are emptied. The row stays, in its group, so exceptions and
   requests that name the device keep their meaning; the device is learnt afresh as unknown when it reconnects;
3. their staff account keeps its id and roles (the audit log's record of what that account did stays readable)
   but is disabled, its sessions end, its password goes, its name becomes "[erased]" and its email
   "erased-user-ID", which is no address;
4. their row in the consent record (a pupil imported from the MIS) is deleted with its consent history and the
   posts' mentions of them (the records exist for them alone; a later import from the MIS would add them
   afresh, as a new pupil with nothing recorded);
5. requests, reports, supervised sessions and consent records they gave (as a parent) keep the school's record;
   their name, and their email, is replaced in those rows, and audit entries about their bans and devices lose
   the evidence they copied;
6. every text column of every table is rid of their name, email, devices' names and MACs
   (`rules.privacy.scrub`);
7. one audit entry records the erasure: when, by whom, a reference ("E-20261127-a1b2c3") and the counts, never
   the name. Files (weekly reports naming them, earlier exports, their events spooled while the database was
   down, which a replay would write back) are changed after the commit.

An erasure for some schools (`site_ids`, see `rules.privacy.scope`) finds and changes only their rows; the
audit entry is the school's when there is one school.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from rules.localtime import LONDON
from rules.privacy.export import NothingHeld
from rules.privacy.files import EXPORTS, REPORTS, FilePlan, plan_erasure
from rules.privacy.holdings import events_filter
from rules.privacy.scope import SiteIds, in_schools, single_site
from rules.privacy.scrub import find_rows, scrub_tables
from rules.privacy.subject import Subject, SubjectError, erased_email, find_subject
from rules.privacy.terms import ERASED, Term, found_in_any
from rules.store.audit import audit
from rules.store.db import Database, bump_policy_version
from rules.store.models import (
    AbuseLogEntry,
    AccessEvent,
    AccessRequest,
    AuditEntry,
    Ban,
    ConsentRecord,
    ContentReport,
    Device,
    DeviceAddress,
    Pupil,
    SocialPostPupil,
    SupervisedSession,
    User,
    utcnow,
)
from rules.workflows.accounts import end_sessions


class ErasureError(SubjectError):
    """The erasure cannot be done as asked; the message says why."""


@dataclass(frozen=True)
class Erasure:
    """What was done: the reference to quote, the counts (as audited), and what could not be done to files."""

    reference: str
    counts: dict[str, Any]
    shared_names: tuple[str, ...] = ()
    problems: list[str] = field(default_factory=list)


def new_reference(now: datetime | None = None) -> str:
    return f"E-{(now or utcnow()).astimezone(LONDON):%Y%m%d}-{secrets.token_hex(3)}"


def preview(db: Database, person: str, site_ids: SiteIds = None) -> dict[str, int]:
    """How much an erasure in these schools (None: every school) would remove or anonymise; changes nothing."""
    with db.session(read_only=True) as session:
        subject = find_subject(session, person, site_ids)
        if not subject.found:
            raise NothingHeld(subject.person)
        events = session.scalar(select(func.count()).select_from(AccessEvent).where(events_filter(subject))) \
            if subject.devices else 0
        return {"access_events": events or 0, "bans": len(subject.bans),
                "supervised_sessions": len(subject.supervised_sessions), "devices": len(subject.devices),
                "accounts": len(subject.users), "access_requests": len(subject.requests),
                "content_reports": len(subject.reports), "pupils": len(subject.pupils),
                "consent_records": _count_consent(session, subject), "consent_given": len(subject.consent_given),
                "abuse_log": len(subject.abuse_entries)}


def erase(db: Database, person: str, actor: str, state_dir: Path | None = None, *,
          actor_user_id: int | None = None, site_ids: SiteIds = None) -> Erasure:
    """Erase `person` in these schools (None: every school; see the module's description); `actor_user_id`,
    when given, may not be among theirs."""
    with db.session(read_only=True) as session:  # the long search of the logs, before the write lock is taken
        terms = find_subject(session, person, site_ids).terms(with_references=False)
        found = find_rows(session, terms, site_ids)
    with db.session() as session:
        subject = find_subject(session, person, site_ids)
        if not subject.found:
            raise NothingHeld(subject.person)
        if actor_user_id is not None and actor_user_id in subject.users:
            raise ErasureError("you cannot erase your own account; ask another headteacher")
        if subject.open_concerns:
            ids = ", ".join(f"#{i}" for i in subject.open_concerns)
            raise ErasureError(f"{subject.person} has {len(subject.open_concerns)} open safeguarding concern(s) "
                               f"({ids}): a safeguarding record; the DSL must close them first, nothing was erased")
        if subject.terms(with_references=False) != terms:  # their rows changed in between: search everything
            terms, found = subject.terms(with_references=False), {}
        counts: dict[str, Any] = _delete_events_and_bans(session, subject)
        counts["devices"] = _neutralise_devices(session, subject, terms)
        counts["accounts"] = _anonymise_accounts(session, subject)
        counts.update(_delete_pupils(session, subject))
        counts["records"] = _replace_in_records(session, subject)
        counts["audit_evidence"] = _drop_copied_evidence(session, subject)
        counts["scrubbed"] = scrub_tables(session, terms, found, site_ids)
        plan = plan_erasure(state_dir, terms, subject.devices, subject.macs) if state_dir is not None else FilePlan()
        counts["report_files"] = sum(1 for path in plan.rewrite if path.parent.name == REPORTS)
        counts["export_files"] = sum(1 for path in plan.delete if path.parent.name == EXPORTS)
        if plan.spooled_events:
            counts["spooled_events"] = plan.spooled_events
        bump_policy_version(session)  # devices and bans are policy data; bulk changes skip the flush hook
        reference = new_reference()
        audit(session, actor, "data.erase", reference, after=counts, site_id=single_site(site_ids))
    return Erasure(reference, counts, tuple(sorted(subject.shared_names)), plan.apply())


def _delete_events_and_bans(session: Session, subject: Subject) -> dict[str, Any]:
    counts = {"access_events": 0, "supervised_sessions": len(subject.supervised_sessions), "bans": len(subject.bans)}
    if subject.devices:
        counts["access_events"] = session.scalar(select(func.count()).select_from(AccessEvent)
                                                 .where(events_filter(subject))) or 0
        session.execute(delete(AccessEvent).where(events_filter(subject)))
    session.execute(delete(SupervisedSession).where(SupervisedSession.id.in_(subject.supervised_sessions)))
    session.execute(delete(Ban).where(Ban.id.in_(subject.bans)))
    return counts


def _neutralise_devices(session: Session, subject: Subject, terms: list[Term]) -> int:
    session.execute(delete(DeviceAddress).where(DeviceAddress.device_id.in_(subject.devices)))
    for device in session.scalars(select(Device).where(Device.id.in_(subject.devices))):
        device.person = None
        device.name = f"Device #{device.id}"
        device.mac = None
        device.last_ip = None
        if found_in_any(terms, device.notes) or _names(subject, device.notes):
            device.notes = ""
    session.flush()
    return len(subject.devices)


def _count_consent(session: Session, subject: Subject) -> int:
    if not subject.pupils:
        return 0
    return session.scalar(select(func.count()).select_from(ConsentRecord)
                          .where(ConsentRecord.pupil_id.in_(subject.pupils))) or 0


def _delete_pupils(session: Session, subject: Subject) -> dict[str, int]:
    """Their consent record: the pupil's row and its history (and their place in posts' lists of pupils)."""
    counts = {"pupils": len(subject.pupils), "consent_records": _count_consent(session, subject)}
    if subject.pupils:
        session.execute(delete(ConsentRecord).where(ConsentRecord.pupil_id.in_(subject.pupils)))
        session.execute(delete(SocialPostPupil).where(SocialPostPupil.pupil_id.in_(subject.pupils)))
        session.execute(delete(Pupil).where(Pupil.id.in_(subject.pupils)))
    return counts


def _anonymise_accounts(session: Session, subject: Subject) -> int:
    for user in session.scalars(select(User).where(User.id.in_(subject.users))):
        user.email = erased_email(user.id)
        user.name = ERASED
        user.password_hash = ""
        user.active = False
    session.flush()
    for user_id in subject.users:
        end_sessions(session, user_id)
    return len(subject.users)


def _names(subject: Subject, value: str | None) -> bool:
    """Whether `value` is, as a whole, one of their names (a shared first name is caught here, by whole value)."""
    return value is not None and value.strip().casefold() in {name.casefold() for name in subject.names}


def _replace_in_records(session: Session, subject: Subject) -> int:
    """Their name and email in the school's records, replaced by row and by whole value; rows changed."""
    changed = 0
    for report in session.scalars(select(ContentReport).where(ContentReport.id.in_(subject.reports))):
        if _names(subject, report.individual):
            report.individual = ERASED
        if report.reporter_id in subject.users:
            report.reporter_name = ERASED
        if report.actioned_by_id in subject.users:
            report.actioned_by, report.actioned_by_email = ERASED, erased_email(report.actioned_by_id or 0)
        changed += 1
    for request in session.scalars(select(AccessRequest).where(AccessRequest.id.in_(subject.requests))):
        if request.requester_id in subject.users:
            request.requester_name = ERASED
        if request.authoriser_id in subject.users:
            request.authoriser_name, request.authoriser_email = ERASED, erased_email(request.authoriser_id or 0)
        if _names(subject, request.reviewed_by):
            request.reviewed_by = ERASED
        changed += 1
    for entry in session.scalars(select(AbuseLogEntry).where(AbuseLogEntry.id.in_(subject.abuse_entries))):
        entry.posted_by_name = ERASED  # the entry stays the school's record of what was posted; not who posted it
        changed += 1
    for record in session.scalars(select(ConsentRecord).where(ConsentRecord.id.in_(subject.consent_given))):
        record.given_by = ERASED  # the consent stays the pupil's record; who gave it is no longer known
        changed += 1
    bans = select(Ban.id).where(in_schools(Ban.site_id, subject.site_ids))
    for given in session.scalars(select(SupervisedSession).where(SupervisedSession.ban_id.in_(bans))):
        if _names(subject, given.staff_name):
            given.staff_name = ERASED
            changed += 1
    session.flush()
    return changed


def _drop_copied_evidence(session: Session, subject: Subject) -> int:
    """Audit entries about their bans and devices (a ban made, an alert) hold copies of their access events as
    "evidence": the copies go with the originals; the entry, and who did what, stays."""
    changed = 0
    for entry in session.scalars(select(AuditEntry).where(AuditEntry.target.in_(subject.references()))):
        before, after = _without_evidence(entry.before), _without_evidence(entry.after)
        if (before, after) != (entry.before, entry.after):
            session.execute(update(AuditEntry).where(AuditEntry.id == entry.id).values(before=before, after=after))
            changed += 1
    return changed


def _without_evidence(text: str | None) -> str | None:
    try:
        data = json.loads(text or "")
    except ValueError:
        return text
    if not isinstance(data, dict) or "evidence" not in data:
        return text
    data["evidence"] = ERASED
    return json.dumps(data, default=str, sort_keys=True)
