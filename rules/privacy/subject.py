"""Who a subject access or erasure is about: the rows that are theirs, and the strings that identify them.

A person is matched by the whole value of a name or email, ignoring case: a device's or a ban's `person`,
a content report's `individual`, a staff account's name or email. Their rows then follow from those: the
devices assigned to them, bans on them or their devices, requests and reports they filed, decided or that
concern their devices or name them. A pupil of the consent record (`Pupil`, imported from the MIS) is found
by their name too, and their consent history follows; so is whoever gave a pupil's consent (a parent), by the
consent records they gave; and whoever the headteacher's abuse log names as the poster of an entry.

Only the rows of the schools asked for are found (`site_ids`, see `rules.privacy.scope`; None: every school):
a school's headteacher finds, exports and erases their own school's records of a person, never another's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from rules.privacy.scope import SiteIds, covered_users, in_schools
from rules.privacy.terms import Kind, Term, with_json_forms
from rules.store.models import (
    AbuseLogEntry,
    AccessRequest,
    Ban,
    Concern,
    ConsentRecord,
    ContentReport,
    Device,
    Pupil,
    SupervisedSession,
    User,
    UserSite,
)

MAX_PERSON = 255


class SubjectError(ValueError):
    """The person cannot be looked for as given; the message says why."""


@dataclass
class Subject:
    """Everything that is theirs, by id, and how they were found."""

    person: str
    site_ids: frozenset[int] | None = None  # the schools searched (None: every school)
    names: set[str] = field(default_factory=set)
    emails: dict[int, str] = field(default_factory=dict)  # user id -> email
    users: list[int] = field(default_factory=list)
    devices: list[int] = field(default_factory=list)
    device_names: dict[int, str] = field(default_factory=dict)
    macs: set[str] = field(default_factory=set)
    bans: list[int] = field(default_factory=list)
    supervised_sessions: list[int] = field(default_factory=list)
    requests: list[int] = field(default_factory=list)
    reports: list[int] = field(default_factory=list)
    concerns: list[int] = field(default_factory=list)  # safeguarding concerns about them or their devices
    open_concerns: list[int] = field(default_factory=list)
    pupils: list[int] = field(default_factory=list)  # their row in the consent record (with its history)
    consent_given: list[int] = field(default_factory=list)  # consent records they gave, as a parent (or pupil)
    abuse_entries: list[int] = field(default_factory=list)  # abuse log entries naming them as who posted it
    matched_by: list[str] = field(default_factory=list)
    shared_names: set[str] = field(default_factory=set)  # their names (or device names) others' names hold too

    @property
    def found(self) -> bool:
        return bool(self.matched_by)

    def references(self) -> list[str]:
        """How the audit log names their rows ("device #12"), see `rules.store.audit`."""
        return [*(f"device #{i}" for i in self.devices), *(f"user #{i}" for i in self.users),
                *(f"ban #{i}" for i in self.bans), *(f"supervised session #{i}" for i in self.supervised_sessions),
                *(f"access request #{i}" for i in self.requests), *(f"content report #{i}" for i in self.reports),
                *(f"concern #{i}" for i in self.concerns), *(f"pupil #{i}" for i in self.pupils),
                *(f"abuse log entry #{i}" for i in self.abuse_entries)]

    def terms(self, *, with_references: bool = True) -> list[Term]:
        """The strings that identify them, each with what it becomes when erased."""
        terms = [Term(name, Kind.NAME) for name in self.names if name not in self.shared_names]
        terms += [Term(email, Kind.EMAIL, erased_email(uid)) for uid, email in self.emails.items()]
        terms += [Term(mac, Kind.MAC, "[erased MAC]") for mac in self.macs]
        terms += [Term(name, Kind.DEVICE, f"Device #{device_id}") for device_id, name in self.device_names.items()
                  if name not in self.shared_names]
        if with_references:
            terms += [Term(ref, Kind.REFERENCE, ref) for ref in self.references()]
        return with_json_forms(terms)


def erased_email(user_id: int) -> str:
    """What an erased account's email becomes: unique (the id is), and no address anyone could own."""
    return f"erased-user-{user_id}"


def _same(value: str | None, key: str) -> bool:
    return value is not None and value.strip().casefold() == key


def _candidates(column: InstrumentedAttribute[str | None] | InstrumentedAttribute[str],
                like: str) -> ColumnElement[bool]:
    """A SQL filter that over-matches the whole value (`Term.like` without its %s); `_same` decides."""
    return column.ilike(like, escape="\\")


def find_subject(session: Session, person: str, site_ids: SiteIds = None) -> Subject:
    """Every row that is theirs in these schools (None: every school); `Subject.found` is False when nothing
    matches."""
    asked = person.strip()
    if not asked:
        raise SubjectError("give the person's name, or a member of staff's email address")
    if len(asked) > MAX_PERSON:
        raise SubjectError(f"a name or email is at most {MAX_PERSON} characters")
    key = asked.casefold()
    like = Term(asked, Kind.NAME).like[1:-1]  # one % each side: "50%" ends with an escaped one, which stays
    subject = Subject(person=asked, site_ids=None if site_ids is None else frozenset(site_ids))
    users = list(session.scalars(select(User).where(or_(_candidates(User.name, like), _candidates(User.email, like)))
                                 .order_by(User.id)))
    covered = covered_users(session, site_ids, [u.id for u in users])
    for user in users:
        if user.id in covered and (_same(user.name, key) or _same(user.email, key)):
            subject.users.append(user.id)
            subject.names.add(user.name)
            subject.emails[user.id] = user.email
            subject.matched_by.append(f"user #{user.id} ({'email' if _same(user.email, key) else 'name'})")
    for device in session.scalars(select(Device).where(_candidates(Device.person, like),
                                                       in_schools(Device.site_id, site_ids)).order_by(Device.id)):
        if _same(device.person, key):
            subject.devices.append(device.id)
            subject.device_names[device.id] = device.name
            subject.names.add(device.person or asked)
            if device.mac:
                subject.macs.add(device.mac)
            subject.matched_by.append(f"device #{device.id} (assigned to them)")
    ban_filter = _candidates(Ban.person, like)
    if subject.devices:
        ban_filter = or_(ban_filter, Ban.device_id.in_(subject.devices))
    for ban in session.scalars(select(Ban).where(ban_filter, in_schools(Ban.site_id, site_ids)).order_by(Ban.id)):
        if _same(ban.person, key) or ban.device_id in subject.devices:
            subject.bans.append(ban.id)
            if _same(ban.person, key):
                subject.names.add(ban.person or asked)
                subject.matched_by.append(f"ban #{ban.id} (on them)")
    if subject.bans:
        subject.supervised_sessions = list(session.scalars(
            select(SupervisedSession.id).where(SupervisedSession.ban_id.in_(subject.bans)).order_by(SupervisedSession.id)))
    report_filter = _candidates(ContentReport.individual, like)
    if subject.users:
        report_filter = or_(report_filter, ContentReport.reporter_id.in_(subject.users),
                            ContentReport.actioned_by_id.in_(subject.users))
    reports = select(ContentReport).where(report_filter, in_schools(ContentReport.site_id, site_ids))
    for report in session.scalars(reports.order_by(ContentReport.id)):
        named = _same(report.individual, key)
        if named or report.reporter_id in subject.users or report.actioned_by_id in subject.users:
            subject.reports.append(report.id)
            if named:
                subject.names.add(report.individual)
                subject.matched_by.append(f"content report #{report.id} (names them)")
    if subject.users or subject.devices:
        subject.requests = list(session.scalars(select(AccessRequest.id).where(or_(
            AccessRequest.requester_id.in_(subject.users), AccessRequest.authoriser_id.in_(subject.users),
            AccessRequest.device_id.in_(subject.devices)), in_schools(AccessRequest.site_id, site_ids))
            .order_by(AccessRequest.id)))
    concern_filter = _candidates(Concern.person, like)
    if subject.devices:
        concern_filter = or_(concern_filter, Concern.device_id.in_(subject.devices))
    for concern in session.scalars(select(Concern).where(concern_filter, in_schools(Concern.site_id, site_ids))
                                   .order_by(Concern.id)):
        if _same(concern.person, key) or concern.device_id in subject.devices:
            subject.concerns.append(concern.id)
            if concern.state == "open":
                subject.open_concerns.append(concern.id)
            if _same(concern.person, key):
                subject.names.add(concern.person or asked)
                subject.matched_by.append(f"concern #{concern.id} (about them)")
    for pupil in session.scalars(select(Pupil).where(_candidates(Pupil.name, like), in_schools(Pupil.site_id, site_ids))
                                 .order_by(Pupil.id)):
        if _same(pupil.name, key):
            subject.pupils.append(pupil.id)
            subject.names.add(pupil.name)
            subject.matched_by.append(f"pupil #{pupil.id} (the consent record)")
    for record in session.scalars(select(ConsentRecord).join(Pupil, Pupil.id == ConsentRecord.pupil_id)
                                  .where(_candidates(ConsentRecord.given_by, like), in_schools(Pupil.site_id, site_ids))
                                  .order_by(ConsentRecord.id)):
        if _same(record.given_by, key):
            subject.consent_given.append(record.id)
            subject.names.add(record.given_by)
            subject.matched_by.append(f"consent record #{record.id} (given by them)")
    for entry in session.scalars(select(AbuseLogEntry).where(_candidates(AbuseLogEntry.posted_by_name, like),
                                                             in_schools(AbuseLogEntry.site_id, site_ids))
                                 .order_by(AbuseLogEntry.id)):
        if _same(entry.posted_by_name, key):
            subject.abuse_entries.append(entry.id)
            subject.names.add(entry.posted_by_name)
            subject.matched_by.append(f"abuse log entry #{entry.id} (posted by them)")
    if subject.found:
        if "@" not in asked:
            subject.names.add(asked)
        subject.shared_names = _shared(session, subject)
    return subject


def _shared(session: Session, subject: Subject) -> set[str]:
    """Their names and device names that another person's name, or another device's, holds as whole words.

    Such a name does not identify them: a first name alone ("Sam", when there is also a "Sam Jones"), or two
    pupils' tablets both called "iPad". Searching for it would bring in other people's records, and replacing
    it everywhere would rewrite them; their own rows are still found and erased by id. Only the schools
    searched count: the others' names are neither rewritten nor to be hinted at."""
    folded = {name.casefold() for name in subject.names}
    ids = subject.site_ids
    queries = [select(Device.person).where(in_schools(Device.site_id, ids)),
               select(Ban.person).where(in_schools(Ban.site_id, ids)),
               select(ContentReport.individual).where(in_schools(ContentReport.site_id, ids)),
               select(SupervisedSession.staff_name).join(Ban, Ban.id == SupervisedSession.ban_id)
               .where(in_schools(Ban.site_id, ids)),
               select(Pupil.name).where(in_schools(Pupil.site_id, ids)),
               select(ConsentRecord.given_by).join(Pupil, Pupil.id == ConsentRecord.pupil_id)
               .where(in_schools(Pupil.site_id, ids)),
               select(AbuseLogEntry.posted_by_name).where(in_schools(AbuseLogEntry.site_id, ids))]
    staff = select(User.name)
    if ids is not None:  # the staff of any of these schools
        staff = staff.where(User.id.in_(select(UserSite.user_id).where(in_schools(UserSite.site_id, ids))))
    queries.append(staff)
    people = {value for query in queries for value in session.scalars(query.distinct())
              if value and value.casefold() not in folded}
    devices = set(session.scalars(select(Device.name).where(Device.id.not_in(subject.devices),
                                                            in_schools(Device.site_id, ids)).distinct()))
    shared = {name for name in subject.names if any(Term(name, Kind.NAME).found_in(other) for other in people)}
    return shared | {name for name in subject.device_names.values()
                     if not name.strip() or any(Term(name, Kind.DEVICE).found_in(other) for other in devices)}
