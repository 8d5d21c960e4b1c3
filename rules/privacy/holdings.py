"""What is held about a subject, section by section, as plain dictionaries for the export to write.

Every column of each row is given (a subject access answer must be complete), but never an account's password
hash or session counter. A ban's evidence is parsed from its JSON, and so are an audit entry's before and
after. Access events can number hundreds of thousands, so they are read in batches, never all at once.
Only the schools the subject was searched in are read (`Subject.site_ids`, see `rules.privacy.scope`).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, func, or_, select
from sqlalchemy.orm import Session

from rules.privacy.files import lines_naming
from rules.privacy.scope import in_schools
from rules.privacy.subject import Subject
from rules.privacy.terms import Kind, found_in_any
from rules.store.models import (
    AbuseFollowUp,
    AbuseLogEntry,
    AbuseScreenshot,
    AccessEvent,
    AccessRequest,
    AuditEntry,
    Ban,
    Base,
    Concern,
    ConcernEvent,
    ConcernNote,
    ConsentRecord,
    ContentReport,
    Device,
    DeviceAddress,
    Pupil,
    SiteCreationForm,
    SocialAccount,
    SocialAccountMember,
    SocialPost,
    SocialPostPupil,
    SupervisedSession,
    User,
)

NEVER_EXPORTED = {"users": {"password_hash", "session_epoch"}}
SECTIONS = ("accounts", "devices", "access_events", "bans", "supervision_given", "access_requests", "content_reports",
            "access_events_naming_them", "concerns", "pupils", "consent_given", "posts_written", "site_forms",
            "school_account_roles", "abuse_log", "report_files", "audit_entries")
# Of another device's event that names them (someone searched for their name), what is about them; which device,
# its address and MAC are someone else's data and stay out.
MENTION_COLUMNS = ("id", "ts", "source", "host", "url", "search_term", "action")
MENTION_TEXT = (AccessEvent.host, AccessEvent.url, AccessEvent.search_term)


def row(obj: Base) -> dict[str, Any]:
    """Every column of `obj` by name (datetimes stay datetimes: each writer formats them for its reader)."""
    table = cast(Table, obj.__table__)
    hidden = NEVER_EXPORTED.get(table.name, set())
    return {column.key: getattr(obj, column.key) for column in table.columns if column.key not in hidden}


def parsed(text: str | None) -> Any:
    """Stored JSON as data; text that is not JSON as it is."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def events_filter(subject: Subject) -> ColumnElement[bool]:
    """Their devices' access events: by the device, or by its MAC when the event was not tied to a device (in
    the schools searched: a MAC seen in another school is that school's record)."""
    return or_(AccessEvent.device_id.in_(subject.devices),
               AccessEvent.mac.in_(subject.macs) & in_schools(AccessEvent.site_id, subject.site_ids))


def count_events(session: Session, subject: Subject) -> int:
    if not subject.devices:
        return 0
    return session.scalar(select(func.count()).select_from(AccessEvent).where(events_filter(subject))) or 0


def access_events(session: Session, subject: Subject, batch: int = 1000) -> Iterator[dict[str, Any]]:
    if not subject.devices:
        return
    query = select(AccessEvent).where(events_filter(subject)).order_by(AccessEvent.ts, AccessEvent.id)
    for event in session.scalars(query.execution_options(yield_per=batch)):
        yield row(event)


def gather(session: Session, subject: Subject, state_dir: Path | None) -> dict[str, list[dict[str, Any]]]:
    """Every section but the access events (see `access_events`), in `SECTIONS` order."""
    sections: dict[str, list[dict[str, Any]]] = {}
    sections["accounts"] = [row(u) for u in _rows(session, User, User.id.in_(subject.users))]
    sections["devices"] = [_device(session, d) for d in _rows(session, Device, Device.id.in_(subject.devices))]
    sections["bans"] = [_ban(session, b) for b in _rows(session, Ban, Ban.id.in_(subject.bans))]
    given = or_(SupervisedSession.staff_name.in_(subject.names),
                SupervisedSession.created_by.in_(subject.emails.values()))
    given = given & SupervisedSession.ban_id.in_(select(Ban.id).where(in_schools(Ban.site_id, subject.site_ids)))
    sections["supervision_given"] = [row(s) for s in _rows(session, SupervisedSession, given)
                                     if s.id not in subject.supervised_sessions]
    requests = _rows(session, AccessRequest, AccessRequest.id.in_(subject.requests))
    sections["access_requests"] = [row(r) for r in requests]
    sections["content_reports"] = [row(r) for r in _rows(session, ContentReport, ContentReport.id.in_(subject.reports))]
    sections["concerns"] = [_concern(session, c) for c in _rows(session, Concern, Concern.id.in_(subject.concerns))]
    sections["pupils"] = [_pupil(session, p) for p in _rows(session, Pupil, Pupil.id.in_(subject.pupils))]
    sections["consent_given"] = [row(r) for r in _rows(session, ConsentRecord,
                                                       ConsentRecord.id.in_(subject.consent_given))]
    sections["posts_written"] = [row(p) for p in _rows(session, SocialPost, SocialPost.author_id.in_(subject.users)
                                                       & in_schools(SocialPost.site_id, subject.site_ids))]
    if subject.users:
        filed_or_signed = or_(SiteCreationForm.requester_id.in_(subject.users),
                              SiteCreationForm.marketing_id.in_(subject.users),
                              SiteCreationForm.headteacher_id.in_(subject.users))
        filed_or_signed = filed_or_signed & in_schools(SiteCreationForm.site_id, subject.site_ids)
        sections["site_forms"] = [row(f) for f in _rows(session, SiteCreationForm, filed_or_signed)]
        their_accounts = select(SocialAccount.id).where(in_schools(SocialAccount.site_id, subject.site_ids))
        sections["school_account_roles"] = [row(m) for m in _rows(
            session, SocialAccountMember, SocialAccountMember.user_id.in_(subject.users)
            & SocialAccountMember.account_id.in_(their_accounts))]
    sections["abuse_log"] = [_abuse_entry(session, e) for e in _rows(session, AbuseLogEntry,
                                                                     AbuseLogEntry.id.in_(subject.abuse_entries))]
    terms = subject.terms()
    sections["report_files"] = [{"file": name, "lines": lines}
                                for name, lines in lines_naming(state_dir, terms)] if state_dir else []
    sections["audit_entries"] = [_audit(e) for e in audit_entries(session, subject)]
    sections["access_events_naming_them"] = mentions(session, subject)
    return {name: sections[name] for name in SECTIONS if name in sections}


def mentions(session: Session, subject: Subject) -> list[dict[str, Any]]:
    """Other devices' access events whose site, address or search names them (by name or email: what the erasure
    rewrites there), each without the device that made it."""
    terms = [term for term in subject.terms(with_references=False) if term.kind in (Kind.NAME, Kind.EMAIL)]
    if not terms:
        return []
    sqlite = session.get_bind().dialect.name == "sqlite"
    holds = or_(*(column.like(term.like, escape="\\") if sqlite else column.ilike(term.like, escape="\\")
                  for column in MENTION_TEXT for term in terms))
    query = select(AccessEvent).where(holds, in_schools(AccessEvent.site_id, subject.site_ids))
    query = query.order_by(AccessEvent.ts, AccessEvent.id)
    if subject.devices:
        query = query.where(~events_filter(subject))
    return [{key: getattr(event, key) for key in MENTION_COLUMNS} for event in session.scalars(query)
            if found_in_any(terms, event.host, event.url, event.search_term)]


def audit_entries(session: Session, subject: Subject) -> list[AuditEntry]:
    """Entries about them: they acted (their email is the actor), or an entry names them, their email, their
    devices' names or MACs, or one of their rows ("ban #4"); of the schools searched (a school's search leaves out
    the trust's own entries, as its audit page does)."""
    terms = subject.terms()
    columns = (AuditEntry.target, AuditEntry.before, AuditEntry.after, AuditEntry.reason)
    emails = {email.casefold() for email in subject.emails.values()}
    mentions = [column.ilike(term.like, escape="\\") for term in terms for column in columns]
    query = select(AuditEntry).where(or_(AuditEntry.actor.in_(subject.emails.values()), *mentions),
                                     in_schools(AuditEntry.site_id, subject.site_ids))
    return [entry for entry in session.scalars(query.order_by(AuditEntry.ts, AuditEntry.id))
            if entry.actor.casefold() in emails
            or found_in_any(terms, entry.target, entry.before, entry.after, entry.reason)]


def _rows[T: Base](session: Session, model: type[T], where: ColumnElement[bool]) -> list[T]:
    return list(session.scalars(select(model).where(where).order_by(model.id)))  # type: ignore[attr-defined]


def _device(session: Session, device: Device) -> dict[str, Any]:
    data = row(device)
    data["group"] = device.group.name if device.group else None
    data["addresses"] = [row(a) for a in session.scalars(select(DeviceAddress).where(
        DeviceAddress.device_id == device.id).order_by(DeviceAddress.id))]
    return data


def _ban(session: Session, ban: Ban) -> dict[str, Any]:
    data = row(ban)
    data["evidence"] = parsed(ban.evidence)
    data["supervised_sessions"] = [row(s) for s in session.scalars(select(SupervisedSession).where(
        SupervisedSession.ban_id == ban.id).order_by(SupervisedSession.id))]
    return data


def _concern(session: Session, concern: Concern) -> dict[str, Any]:
    """A safeguarding concern about them, with its frozen context and its notes."""
    data = row(concern)
    data["context"] = [row(e) for e in session.scalars(select(ConcernEvent).where(
        ConcernEvent.concern_id == concern.id).order_by(ConcernEvent.position, ConcernEvent.id))]
    data["notes"] = [row(n) for n in session.scalars(select(ConcernNote).where(
        ConcernNote.concern_id == concern.id).order_by(ConcernNote.id))]
    return data


def _pupil(session: Session, pupil: Pupil) -> dict[str, Any]:
    """A pupil of the consent record, with every consent record of theirs (the whole history, every year)."""
    data = row(pupil)
    data["consent_records"] = [row(r) for r in session.scalars(select(ConsentRecord).where(
        ConsentRecord.pupil_id == pupil.id).order_by(ConsentRecord.academic_year, ConsentRecord.effective_on,
                                                     ConsentRecord.id))]
    # the posts on the school's accounts whose images or videos they appear in (an erasure takes them out)
    data["posts"] = [{**row(post), "via_class": via} for post, via in session.execute(
        select(SocialPost, SocialPostPupil.via_class).join(SocialPostPupil, SocialPostPupil.post_id == SocialPost.id)
        .where(SocialPostPupil.pupil_id == pupil.id).order_by(SocialPost.id))]
    return data


def _abuse_entry(session: Session, entry: AbuseLogEntry) -> dict[str, Any]:
    """An abuse log entry naming them as who posted it, with its follow-ups and its screenshots (the image
    itself, base64, since it is what they posted)."""
    data = row(entry)
    data["actions"] = parsed(entry.actions)
    data["follow_ups"] = [row(f) for f in session.scalars(select(AbuseFollowUp).where(
        AbuseFollowUp.entry_id == entry.id).order_by(AbuseFollowUp.id))]
    shots = session.scalars(select(AbuseScreenshot).where(AbuseScreenshot.entry_id == entry.id)
                            .order_by(AbuseScreenshot.id))
    data["screenshots"] = [{**{k: v for k, v in row(shot).items() if k != "data"},
                            "data_base64": base64.b64encode(shot.data).decode("ascii")} for shot in shots]
    return data


def _audit(entry: AuditEntry) -> dict[str, Any]:
    data = row(entry)
    data["before"], data["after"] = parsed(entry.before), parsed(entry.after)
    return data
