"""The SQLAlchemy 2 models: what schoolgate stores, in one place.

Tables that change what is filtered carry `PolicyData`; any flush that touches one of them bumps
`policy_state.version` in the same transaction (see `rules.store.db`), which is how DNS and the proxy
learn that they must compile a new snapshot.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from rules.monitoring.states import BanState, CircumventionMode


def utcnow() -> datetime:
    """Now, in UTC, timezone-aware: everything is stored in UTC and shown in Europe/London."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A UTC instant stored as a plain timestamp, read back timezone-aware, on SQLite and PostgreSQL."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    """Declarative base of every schoolgate table."""


class PolicyData:
    """Marker: a change to a row of this table changes what is filtered."""


class PolicyState(Base):
    """One row: the version of the policy, bumped by every change to policy data."""

    __tablename__ = "policy_state"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Site(Base):
    """A school of the trust (see `rules.sites`); site 1, "default", is the only one a single school has."""

    __tablename__ = "sites"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


def site_column() -> Mapped[int]:
    """The school a row belongs to; rows written before schools existed are the default school's (1)."""
    return mapped_column(ForeignKey("sites.id"), default=1, server_default="1", index=True)


def optional_site_column() -> Mapped[int | None]:
    """The school a row belongs to, or None: the whole trust's (categories and rules)."""
    return mapped_column(ForeignKey("sites.id"), nullable=True, index=True)


class UserSite(Base):
    """A school an account belongs to: it sees that school's data. A trust_admin sees every school."""

    __tablename__ = "user_sites"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True)


class Group(PolicyData, Base):
    """A group of devices with one filtering policy: pupils, staff, guests to start."""

    __tablename__ = "groups"
    __table_args__ = (UniqueConstraint("site_id", "name", name="uq_groups_site_name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = site_column()
    name: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text, default="")
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    safesearch: Mapped[bool] = mapped_column(Boolean, default=True)
    circumvention_mode: Mapped[str] = mapped_column(String(16), default=CircumventionMode.BAN)


class Category(PolicyData, Base):
    """A named list of domains; `locked` lists can never be opened by an exception."""

    __tablename__ = "categories"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int | None] = optional_site_column()
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    builtin: Mapped[bool] = mapped_column(Boolean, default=False)
    block_everyone: Mapped[bool] = mapped_column(Boolean, default=True)
    content_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # A visit to a site in a safeguarding category raises a concern for the DSL, blocked or not.
    safeguarding: Mapped[bool] = mapped_column(Boolean, default=False)
    blocked_groups: Mapped[list[Group]] = relationship(secondary="category_groups")


class CategoryGroup(PolicyData, Base):
    """A group for which a category is blocked, when the category is not blocked for everyone."""

    __tablename__ = "category_groups"
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id", ondelete="CASCADE"), primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True)


class ListSource(PolicyData, Base):
    """Where a category's entries came from (a file, a URL, the built-in catalogue), and how it went."""

    __tablename__ = "list_sources"
    __table_args__ = (UniqueConstraint("category_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    location: Mapped[str] = mapped_column(Text, default="")
    format: Mapped[str] = mapped_column(String(16), default="auto")
    imported_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    entries: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)


class ListEntry(Base):
    """One domain of a list. Written in bulk by `rules.lists.importer`, which bumps the version itself."""

    __tablename__ = "list_entries"
    __table_args__ = (Index("ix_list_entries_source", "source_id"), Index("ix_list_entries_domain", "domain"))
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id", ondelete="CASCADE"), index=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("list_sources.id", ondelete="CASCADE"))
    domain: Mapped[str] = mapped_column(String(253))


class Schedule(PolicyData, Base):
    """Weekly hours in Europe/London during which a rule is in force (e.g. school hours)."""

    __tablename__ = "schedules"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    days: Mapped[str] = mapped_column(String(32), default="mon,tue,wed,thu,fri")
    start_time: Mapped[str] = mapped_column(String(5), default="08:00")
    end_time: Mapped[str] = mapped_column(String(5), default="16:00")


class Rule(PolicyData, Base):
    """A block or allow rule made by a person: a domain or a URL prefix, for a scope, maybe timed.

    An allow rule is an exception (usually from an approved access request); a block rule usually
    comes from an inappropriate content report.
    """

    __tablename__ = "rules"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int | None] = optional_site_column()
    action: Mapped[str] = mapped_column(String(8))  # block | allow
    kind: Mapped[str] = mapped_column(String(8), default="domain")  # domain | url
    domain: Mapped[str] = mapped_column(String(253))  # normal form; for a URL rule, its host
    url_prefix: Mapped[str | None] = mapped_column(Text)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id", ondelete="SET NULL"))
    scope: Mapped[str] = mapped_column(String(8), default="everyone")  # everyone | group | device
    group_id: Mapped[int | None] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    schedule_id: Mapped[int | None] = mapped_column(ForeignKey("schedules.id", ondelete="SET NULL"))
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    source: Mapped[str] = mapped_column(String(16), default="manual")  # manual | request | report
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Device(PolicyData, Base):
    """A device on the school network: who it belongs to and which group's filtering applies."""

    __tablename__ = "devices"
    __table_args__ = (UniqueConstraint("site_id", "mac", name="uq_devices_site_mac"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = site_column()
    name: Mapped[str] = mapped_column(String(128))
    mac: Mapped[str | None] = mapped_column(String(17))
    group_id: Mapped[int | None] = mapped_column(ForeignKey("groups.id", ondelete="SET NULL"))
    person: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), default="registered")  # registered | unknown
    notes: Mapped[str] = mapped_column(Text, default="")
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_ip: Mapped[str | None] = mapped_column(String(45))
    group: Mapped[Group | None] = relationship()
    addresses: Mapped[list[DeviceAddress]] = relationship(
        back_populates="device", cascade="all, delete-orphan"
    )


class DeviceAddress(PolicyData, Base):
    """An address the device is known by: fixed by the technician, or learnt from DHCP."""

    __tablename__ = "device_addresses"
    __table_args__ = (UniqueConstraint("site_id", "ip", name="uq_device_addresses_site_ip"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = site_column()
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    ip: Mapped[str] = mapped_column(String(45))
    source: Mapped[str] = mapped_column(String(16), default="static")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    device: Mapped[Device] = relationship(back_populates="addresses")


class Ban(PolicyData, Base):
    """A ban from school computing equipment, on a device and (when assigned) its person."""

    __tablename__ = "bans"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = site_column()
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id", ondelete="SET NULL"))
    person: Mapped[str | None] = mapped_column(String(128))
    state: Mapped[str] = mapped_column(String(16), default=BanState.ACTIVE)
    reason: Mapped[str] = mapped_column(Text, default="")
    evidence: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of events
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(255), default="detector")
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lifted_by: Mapped[str | None] = mapped_column(String(255))
    lift_reason: Mapped[str | None] = mapped_column(Text)
    false_positive: Mapped[bool] = mapped_column(Boolean, default=False)
    device: Mapped[Device | None] = relationship()


class SupervisedSession(PolicyData, Base):
    """A time during which a banned device or pupil may use the network under close supervision."""

    __tablename__ = "supervised_sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ban_id: Mapped[int] = mapped_column(ForeignKey("bans.id", ondelete="CASCADE"))
    staff_name: Mapped[str] = mapped_column(String(128))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(255), default="")


class User(Base):
    """A member of staff who signs in to the admin web; roles are a comma-separated set."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(255), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    password_hash: Mapped[str] = mapped_column(String(255), default="")
    roles: Mapped[str] = mapped_column(String(255), default="staff")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    session_epoch: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AccessEvent(Base):
    """One decision about one request: the monitoring record the policy asks ICT technicians to keep."""

    __tablename__ = "access_events"
    __table_args__ = (
        # Every index costs each of the tens of thousands of inserts a second; these two serve every query
        # the log has (time order with keyset pagination; one device's timeline). See migration 0004. On
        # PostgreSQL the table is partitioned by day with a (site_id, ts, id) index too: migration 0010.
        Index("ix_access_events_device_ts", "device_id", "ts"),
        Index("ix_access_events_ts_id", "ts", "id"),
    )
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    site_id: Mapped[int] = mapped_column(Integer, default=1, server_default="1")  # no FK: write speed
    ts: Mapped[datetime] = mapped_column(UTCDateTime())
    client_ip: Mapped[str] = mapped_column(String(45))
    device_id: Mapped[int | None] = mapped_column(Integer)
    device: Mapped[str | None] = mapped_column(String(128))
    mac: Mapped[str | None] = mapped_column(String(17))
    source: Mapped[str] = mapped_column(String(8))  # dns | proxy | gateway
    qtype: Mapped[str | None] = mapped_column(String(10))
    host: Mapped[str] = mapped_column(String(253))
    url: Mapped[str | None] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(8))  # allow | block | ban
    category: Mapped[str | None] = mapped_column(String(64))
    rule: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(String(32))
    search_term: Mapped[str | None] = mapped_column(Text)
    signal: Mapped[str | None] = mapped_column(String(32))
    transport: Mapped[str | None] = mapped_column(String(3))  # udp | tcp: tcp proves the source address
    port: Mapped[int | None] = mapped_column(Integer)  # the destination port a gateway catcher saw


class EventSpoolMark(Base):
    """How far the event writer has stored one spool segment (`rules.store.event_drain`): the sequence number of
    the segment's last frame whose events are in `access_events`. It is written in the same transaction as those
    events, so a writer that dies after committing and before deleting the segment never stores a frame twice."""

    __tablename__ = "event_spool_marks"
    segment: Mapped[str] = mapped_column(String(64), primary_key=True)  # the file's name, unique (time, random)
    frame: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AuditEntry(Base):
    """Who changed what, when and why; also every view of a device's access log. Never edited."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_ts", "ts"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    site_id: Mapped[int | None] = optional_site_column()
    ts: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(255), default="")
    before: Mapped[str | None] = mapped_column(Text)
    after: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text, default="")


class AccessRequest(Base):
    """The policy's "Blocked content access request form": a member of staff asks, the headteacher decides.

    Not policy data itself: approving one creates a `Rule` (which is), so the version bumps then.
    """

    __tablename__ = "access_requests"
    __table_args__ = (
        Index("ix_access_requests_status", "status"),
        Index("ix_access_requests_requester", "requester_id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = site_column()
    requester_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requester_name: Mapped[str] = mapped_column(String(128))  # "Staff name", as it was when filed
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)  # "Date"
    full_url: Mapped[str] = mapped_column(Text)
    host: Mapped[str] = mapped_column(String(253))
    site_content: Mapped[str] = mapped_column(Text)
    reasons_for_access: Mapped[str] = mapped_column(Text)
    risks_and_controls: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | approved | refused
    technical_note: Mapped[str] = mapped_column(Text, default="")
    reviewed_by: Mapped[str | None] = mapped_column(String(128))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decision_reasons: Mapped[str] = mapped_column(Text, default="")  # the Authoriser's "Reasons"
    authoriser_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    authoriser_name: Mapped[str | None] = mapped_column(String(128))
    authoriser_email: Mapped[str | None] = mapped_column(String(255))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    scope: Mapped[str | None] = mapped_column(String(8))  # everyone | group | device
    group_id: Mapped[int | None] = mapped_column(ForeignKey("groups.id", ondelete="SET NULL"))
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id", ondelete="SET NULL"))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("rules.id", ondelete="SET NULL"))
    # The approval opened the whole service (a family of rules.policy.families), not only the host: one allow
    # rule per domain of the family, `rule_id` the first. None: this site only.
    service: Mapped[str | None] = mapped_column(String(32))
    group: Mapped[Group | None] = relationship()
    device: Mapped[Device | None] = relationship()


class ContentReport(Base):
    """The policy's "Inappropriate content report form": staff report, the ICT technician acts."""

    __tablename__ = "content_reports"
    __table_args__ = (
        Index("ix_content_reports_status", "status"),
        Index("ix_content_reports_reporter", "reporter_id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = site_column()
    reporter_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reporter_name: Mapped[str] = mapped_column(String(128))  # "Staff name (submitting report)"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    individual: Mapped[str] = mapped_column(String(128), default="")  # "Name of individual ... (if known)"
    incident_date: Mapped[str] = mapped_column(String(10))  # "Date", as typed (YYYY-MM-DD)
    full_urls: Mapped[str] = mapped_column(Text)  # "Full URL(s)", one a line
    nature: Mapped[str] = mapped_column(Text)  # "Nature of inappropriate content"
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | blocked | not_blocked
    action_taken: Mapped[str] = mapped_column(Text, default="")
    actioned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actioned_by: Mapped[str | None] = mapped_column(String(128))
    actioned_by_email: Mapped[str | None] = mapped_column(String(255))
    actioned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("rules.id", ondelete="SET NULL"))


class CategoryUnlock(Base):
    """A proposal to unlock a locked category: the ICT technician proposes, another person (the headteacher)
    confirms or refuses. Not policy data: only a confirmation changes the category (which is)."""

    __tablename__ = "category_unlocks"
    __table_args__ = (Index("ix_category_unlocks_state", "state"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id", ondelete="CASCADE"))
    category_name: Mapped[str] = mapped_column(String(64))  # as it was when proposed
    proposed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    proposed_by: Mapped[str] = mapped_column(String(255))  # the proposer's email
    proposed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    reason: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="open")  # open | confirmed | refused
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_by: Mapped[str | None] = mapped_column(String(255))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decision_reason: Mapped[str] = mapped_column(Text, default="")


class Concern(Base):
    """A safeguarding concern: what a device (and its pupil or member of staff) searched for or reached that
    matched a safeguarding phrase or site category, or what a member of staff raised by hand.

    Repeats of the same thing by the same device within an hour add to `hits` on one open concern. Routed as
    the policy says: a pupil to the DSL, a member of staff to the headteacher, the headteacher to the chair of
    governors. Only the DSL and the headteacher see concerns (staff concerns: the headteacher only).
    """

    __tablename__ = "concerns"
    __table_args__ = (
        Index("ix_concerns_state_opened", "state", "opened_at"),
        Index("ix_concerns_device_opened", "device_id", "opened_at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = site_column()
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)  # the latest repeat
    hits: Mapped[int] = mapped_column(Integer, default=1)  # how many times it was seen (repeats folded in)
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id", ondelete="SET NULL"))
    device_name: Mapped[str | None] = mapped_column(String(128))  # as it was when opened
    client_ip: Mapped[str | None] = mapped_column(String(45))
    person: Mapped[str | None] = mapped_column(String(128))  # the pupil or member of staff, when known
    subject: Mapped[str] = mapped_column(String(16), default="pupil")  # pupil | staff | headteacher
    category: Mapped[str] = mapped_column(String(32))  # rules.safeguarding.categories.Category value
    severity: Mapped[str] = mapped_column(String(8))  # high | medium | low
    source: Mapped[str] = mapped_column(String(8))  # search | site | manual
    matched: Mapped[str] = mapped_column(Text)  # the search term, or host and path, or what was reported
    phrase: Mapped[str] = mapped_column(Text, default="")  # the phrase or site category that matched
    why: Mapped[str] = mapped_column(Text, default="")  # why that phrase is listed
    event_id: Mapped[int | None] = mapped_column(BigInteger)  # the access event that raised it
    routed_to: Mapped[str] = mapped_column(String(16), default="dsl")  # dsl | headteacher | chair
    raised_by: Mapped[str] = mapped_column(String(255), default="monitoring")  # or the member of staff's email
    state: Mapped[str] = mapped_column(String(16), default="open")  # open | no_concern | record_made | escalated
    escalated_to: Mapped[str | None] = mapped_column(String(32))  # police | prevent | lado | social_care | parents
    outcome_reason: Mapped[str] = mapped_column(Text, default="")  # e.g. why it was no concern
    closed_by: Mapped[str | None] = mapped_column(String(255))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # emailed at once, or in a digest
    context_complete: Mapped[bool] = mapped_column(Boolean, default=False)  # the 20 events after are frozen too


class ConcernEvent(Base):
    """The frozen activity around a concern: copies of that device's access events before and after it.

    A copy, so that access-log retention does not delete a concern's context while the concern is open.
    """

    __tablename__ = "concern_events"
    __table_args__ = (Index("ix_concern_events_concern", "concern_id", "position"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    concern_id: Mapped[int] = mapped_column(ForeignKey("concerns.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)  # < 0 before the trigger, 0 the trigger, > 0 after
    event_id: Mapped[int | None] = mapped_column(BigInteger)
    ts: Mapped[datetime] = mapped_column(UTCDateTime())
    source: Mapped[str] = mapped_column(String(8))
    host: Mapped[str] = mapped_column(String(253))
    url: Mapped[str | None] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(8))
    category: Mapped[str | None] = mapped_column(String(64))
    search_term: Mapped[str | None] = mapped_column(Text)


class ConcernNote(Base):
    """A note on a concern: each triage step (no concern, record made, escalated) and what was done, by whom."""

    __tablename__ = "concern_notes"
    __table_args__ = (Index("ix_concern_notes_concern", "concern_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    concern_id: Mapped[int] = mapped_column(ForeignKey("concerns.id", ondelete="CASCADE"))
    ts: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    author: Mapped[str] = mapped_column(String(255))  # the account's email
    state: Mapped[str | None] = mapped_column(String(16))  # the state this note moved the concern to, if any
    text: Mapped[str] = mapped_column(Text, default="")


class SafeguardingPhrase(Base):
    """The school's own safeguarding phrase list (`schoolgate safeguarding import`, the web screen), merged
    with the built-in catalogue by `rules.safeguarding.catalogue.merge`: one row a phrase-file row."""

    __tablename__ = "safeguarding_phrases"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # phrase | innocent | off (as rules.safeguarding.phrasefile)
    pattern: Mapped[str] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(String(32))
    severity: Mapped[str | None] = mapped_column(String(8))
    why: Mapped[str] = mapped_column(Text, default="")
    contexts: Mapped[str] = mapped_column(Text, default="")  # innocent contexts, one a line
    created_by: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# --- The rest of the policy: school social media accounts, the consent record, the abuse log, the review ---


class SiteCreationForm(Base):
    """The policy's "Social media site creation approval form": a member of staff proposes a school account,
    the marketing officer approves the aims, content and brand use, then the headteacher gives final approval.

    The tick-box sections (audience, contributors) are JSON objects with the form's own keys (see
    `rules.school_media.site_forms.AUDIENCE_BOXES`); `administrator_ids` is a JSON list of staff account ids.
    """

    __tablename__ = "site_creation_forms"
    __table_args__ = (Index("ix_site_creation_forms_status", "status"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = site_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    requester_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requester_name: Mapped[str] = mapped_column(String(128))
    platform: Mapped[str] = mapped_column(String(32))  # a family of rules.policy.families (facebook, x, ...)
    site_name: Mapped[str] = mapped_column(String(128))  # what the account will be called
    site_url: Mapped[str] = mapped_column(Text, default="")
    department: Mapped[str] = mapped_column(String(128))  # Team details: Department
    moderator: Mapped[str] = mapped_column(String(128))  # Team details: Moderator of site
    aims: Mapped[str] = mapped_column(Text)  # What are your aims and what do you hope to achieve ...?
    content: Mapped[str] = mapped_column(Text)  # What is the proposed content of the site?
    audience: Mapped[str] = mapped_column(Text, default="{}")  # Proposed audience of the site (JSON)
    contributors: Mapped[str] = mapped_column(Text, default="{}")  # Proposed contributors to the site (JSON)
    administrator_ids: Mapped[str] = mapped_column(Text, default="[]")  # Names of administrators (JSON ids)
    vetter: Mapped[str] = mapped_column(Text, default="")  # Who will vet external contributors?
    host: Mapped[str] = mapped_column(Text, default="")  # Who will host the site?
    go_live: Mapped[str] = mapped_column(String(10), default="")  # Proposed date of going live (YYYY-MM-DD)
    advertise: Mapped[str] = mapped_column(Text, default="")  # How do you propose to advertise for contributors?
    parental_consent: Mapped[str] = mapped_column(Text, default="")  # ... inform and obtain the consent of parents
    security_measures: Mapped[str] = mapped_column(Text, default="")  # What security measures will you take ...?
    status: Mapped[str] = mapped_column(String(24), default="open")  # open | marketing_approved | approved | refused
    marketing_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    marketing_name: Mapped[str | None] = mapped_column(String(128))
    marketing_email: Mapped[str | None] = mapped_column(String(255))
    marketing_signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    headteacher_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    headteacher_name: Mapped[str | None] = mapped_column(String(128))
    headteacher_email: Mapped[str | None] = mapped_column(String(255))
    headteacher_signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    refused_by: Mapped[str | None] = mapped_column(String(255))
    refused_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    refusal_reason: Mapped[str] = mapped_column(Text, default="")
    account_id: Mapped[int | None] = mapped_column(ForeignKey("social_accounts.id", ondelete="SET NULL"))


class SocialAccount(PolicyData, Base):
    """A school social media account, made by the headteacher's approval of a site creation form.

    While active, it opens its platform's domain family (`rules.policy.families`) for its authorised posters'
    own devices only, during its schedule's hours: compiled by `rules.policy.compile`, shown by `check` as
    "school account: NAME". It never opens a locked category and never a device in a pupils' group.
    """

    __tablename__ = "social_accounts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = site_column()
    name: Mapped[str] = mapped_column(String(128))
    platform: Mapped[str] = mapped_column(String(32))  # a family of rules.policy.families
    url: Mapped[str] = mapped_column(Text, default="")
    schedule_id: Mapped[int | None] = mapped_column(ForeignKey("schedules.id", ondelete="SET NULL"))
    state: Mapped[str] = mapped_column(String(16), default="active")  # active | retired
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(255), default="")
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    retired_by: Mapped[str | None] = mapped_column(String(255))
    retire_reason: Mapped[str] = mapped_column(Text, default="")


class SocialAccountMember(PolicyData, Base):
    """An administrator of a school account, or a person the headteacher authorised to post on it.

    Removal keeps the row (`removed_at`) so the history of who could post stays; only rows without it count.
    """

    __tablename__ = "social_account_members"
    __table_args__ = (Index("ix_social_account_members_account", "account_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("social_accounts.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))  # administrator | poster
    added_by: Mapped[str] = mapped_column(String(255), default="")
    added_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    removed_by: Mapped[str | None] = mapped_column(String(255))
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Pupil(Base):
    """A pupil, from the MIS's CSV export (`schoolgate pupils import`): the consent record's subject."""

    __tablename__ = "pupils"
    __table_args__ = (Index("ix_pupils_class", "class_name"),
                      UniqueConstraint("site_id", "mis_id", name="uq_pupils_site_mis_id"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = site_column()
    mis_id: Mapped[str] = mapped_column(String(64))  # the MIS's own id (UPN or admission number)
    name: Mapped[str] = mapped_column(String(128))  # as the school writes it: forename and surname
    class_name: Mapped[str] = mapped_column(String(32))  # e.g. 4B
    year_group: Mapped[str] = mapped_column(String(16), default="")  # e.g. Year 4
    on_roll: Mapped[bool] = mapped_column(Boolean, default=True)  # false once a re-import no longer lists them
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ConsentRecord(Base):
    """One entry in a pupil's consent history for one academic year: consent given, amended or withdrawn.

    Never edited: a change is a new row. The consent in force on a day is the latest row of that academic year
    whose `effective_on` (the date the written notice arrived) is on or before the day.
    """

    __tablename__ = "consent_records"
    __table_args__ = (Index("ix_consent_records_pupil_year", "pupil_id", "academic_year", "effective_on"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pupil_id: Mapped[int] = mapped_column(ForeignKey("pupils.id", ondelete="CASCADE"))
    academic_year: Mapped[int] = mapped_column(Integer)  # the year it starts: 2026 is 2026/27 (September to August)
    images: Mapped[bool] = mapped_column(Boolean)
    videos: Mapped[bool] = mapped_column(Boolean)
    change: Mapped[str] = mapped_column(String(16))  # given | amended | withdrawn
    given_by: Mapped[str] = mapped_column(String(128))  # the person with parental responsibility (or the pupil)
    effective_on: Mapped[str] = mapped_column(String(10))  # the date the written notice arrived (YYYY-MM-DD)
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_by: Mapped[str] = mapped_column(String(255))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SocialPost(Base):
    """A post an authorised poster wants on a school account; the headteacher or office manager approves it
    after the consent record has been checked for every pupil in it."""

    __tablename__ = "social_posts"
    __table_args__ = (Index("ix_social_posts_status", "status"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = site_column()
    account_id: Mapped[int] = mapped_column(ForeignKey("social_accounts.id", ondelete="CASCADE"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    author_name: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    text: Mapped[str] = mapped_column(Text)
    has_images: Mapped[bool] = mapped_column(Boolean, default=False)
    has_videos: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="submitted")  # rules.school_media.post_states.PostStatus
    decided_by: Mapped[str | None] = mapped_column(String(255))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decision_reason: Mapped[str] = mapped_column(Text, default="")
    checklist: Mapped[str] = mapped_column(Text, default="[]")  # JSON: the "Staff conduct" points ticked


class SocialPostPupil(Base):
    """A pupil who appears in a post's images or videos: named, or added with their whole class."""

    __tablename__ = "social_post_pupils"
    __table_args__ = (UniqueConstraint("post_id", "pupil_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("social_posts.id", ondelete="CASCADE"))
    pupil_id: Mapped[int] = mapped_column(ForeignKey("pupils.id", ondelete="CASCADE"))
    via_class: Mapped[str | None] = mapped_column(String(32))  # the class it came with, when added by class


class AbuseLogEntry(Base):
    """The headteacher's log of inappropriate comments or abuse relating to the school."""

    __tablename__ = "abuse_log"
    __table_args__ = (Index("ix_abuse_log_occurred", "occurred_on"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = site_column()
    occurred_on: Mapped[str] = mapped_column(String(10))  # YYYY-MM-DD
    platform: Mapped[str] = mapped_column(String(32))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("social_accounts.id", ondelete="SET NULL"))
    account_text: Mapped[str] = mapped_column(String(255), default="")  # where, when not a school account
    posted_text: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str] = mapped_column(Text, default="")
    posted_by_kind: Mapped[str] = mapped_column(String(16), default="unknown")  # parent|pupil|public|staff|unknown
    posted_by_name: Mapped[str] = mapped_column(String(128), default="")  # if known
    actions: Mapped[str] = mapped_column(Text, default="[]")  # JSON: removed, reported, meeting, police
    action_notes: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AbuseFollowUp(Base):
    """A follow-up date on an abuse log entry, and when it was done."""

    __tablename__ = "abuse_follow_ups"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("abuse_log.id", ondelete="CASCADE"), index=True)
    due_on: Mapped[str] = mapped_column(String(10))
    note: Mapped[str] = mapped_column(Text, default="")
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    done_by: Mapped[str | None] = mapped_column(String(255))


class AbuseScreenshot(Base):
    """A screenshot on an abuse log entry, kept in the database (type sniffed, size limited) so that every
    gateway of a trust sees the same file and retention and erasure reach it."""

    __tablename__ = "abuse_screenshots"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("abuse_log.id", ondelete="CASCADE"), index=True)
    content_type: Mapped[str] = mapped_column(String(32))  # image/png | image/jpeg | image/gif | image/webp
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_by: Mapped[str] = mapped_column(String(255))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PolicyReview(Base):
    """The policy's annual review: each row records a review (or a change of date) and the next review date.
    The next review date in force is the newest row's."""

    __tablename__ = "policy_reviews"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = site_column()
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    recorded_by: Mapped[str] = mapped_column(String(255))
    reviewed_on: Mapped[str | None] = mapped_column(String(10))  # when the review took place, if one did
    next_review_on: Mapped[str] = mapped_column(String(10))  # YYYY-MM-DD
    notes: Mapped[str] = mapped_column(Text, default="")


class ReviewReminder(Base):
    """A reminder of the policy review sent to the headteacher: at most one of each kind per review date."""

    __tablename__ = "review_reminders"
    __table_args__ = (UniqueConstraint("site_id", "next_review_on", "kind", name="uq_review_reminders_site_kind"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = site_column()
    next_review_on: Mapped[str] = mapped_column(String(10))
    kind: Mapped[str] = mapped_column(String(16))  # thirty_days | due
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_to: Mapped[str] = mapped_column(Text, default="")
