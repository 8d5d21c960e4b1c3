"""Two schools of one trust in one database, each with a full set of rows, for the scoping tests.

School A is the default school (site 1), where every account of `conftest.ACCOUNTS` but the trust admin belongs;
school B ("zebra-school") is another school of the trust. Every row of B carries the word "zebra" and every row
of A the word "apple", so a page's text shows whose rows it holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from rules.sites import DEFAULT_SITE_ID, ensure_site
from rules.store.audit import audit
from rules.store.db import Database
from rules.store.models import (
    AccessEvent,
    AccessRequest,
    AuditEntry,
    Ban,
    Category,
    CategoryUnlock,
    ContentReport,
    Device,
    DeviceAddress,
    Group,
    utcnow,
)
from rules.workflows.accounts import create_user

B_NAME = "zebra-school"
B_MARK = "zebra"
A_MARK = "apple"
B_STAFF = ("zoe.zebra@zebra.test", "Zoe Zebra")


@dataclass(frozen=True)
class School:
    """The ids of one school's rows."""

    site: int
    group: int
    device: int
    ban: int
    request: int
    report: int
    category: int
    proposal: int
    audit_entry: int
    account: int


def make_school(db: Database, site_id: int, mark: str, staff: tuple[str, str]) -> School:
    """A school's group, device (with an address), ban, open access request, open content report, own locked
    category with a proposal to unlock it, access events, an audit entry and a staff account, all named `mark`."""
    with db.session() as session:
        account = create_user(session, email=staff[0], name=staff[1], roles=["staff"], password=None,
                              actor="test", site_ids=[site_id])
        group = Group(site_id=site_id, name=f"{mark}-pupils", description=f"{mark} class")
        session.add(group)
        session.flush()
        device = Device(site_id=site_id, name=f"{mark.title()} iPad", group_id=group.id, person=f"{mark.title()} Pupil",
                        last_ip="10.1.0.5", mac="02:00:00:00:00:05")
        session.add(device)
        session.flush()
        session.add(DeviceAddress(site_id=site_id, device_id=device.id, ip="10.1.0.5"))
        ban = Ban(site_id=site_id, device_id=device.id, person=f"{mark.title()} Pupil", reason=f"{mark} VPN",
                  evidence=f'[{{"host": "{mark}-vpn.example", "kind": "vpn_host"}}]')
        request = AccessRequest(site_id=site_id, requester_id=account.id, requester_name=account.name,
                                full_url=f"https://{mark}-request.example/page", host=f"{mark}-request.example",
                                site_content=f"{mark} content", reasons_for_access=f"{mark} lesson",
                                risks_and_controls="supervised", status="open")
        report = ContentReport(site_id=site_id, reporter_id=account.id, reporter_name=account.name,
                               individual=f"{mark.title()} Pupil", incident_date="2026-11-20",
                               full_urls=f"https://{mark}-report.example/bad", nature=f"{mark} nature")
        category = Category(site_id=site_id, name=f"{mark}-own", description=f"{mark} list", locked=True)
        session.add_all([ban, request, report, category])
        session.flush()
        proposal = CategoryUnlock(category_id=category.id, category_name=category.name, proposed_by_id=account.id,
                                  proposed_by=account.email, reason=f"{mark} reason")
        session.add(proposal)
        now = utcnow()
        session.add_all(AccessEvent(site_id=site_id, ts=now - timedelta(minutes=i), client_ip="10.1.0.5",
                                    device_id=device.id, device=device.name, source="dns", action="block",
                                    host=f"{mark}-secret.example", category=f"{mark}-own", rule=f"{mark}-own",
                                    reason="category") for i in range(3))
        audit(session, staff[0], "test.note", f"{mark} target", site_id=site_id)
        session.flush()
        entry = session.query(AuditEntry).filter_by(target=f"{mark} target").one()
        return School(site_id, group.id, device.id, ban.id, request.id, report.id, category.id, proposal.id,
                      entry.id, account.id)


def make_two_schools(db: Database) -> tuple[School, School]:
    """School A (the default school) and school B, each with its full set of rows."""
    with db.session() as session:
        b_site = ensure_site(session, B_NAME)
    a = make_school(db, DEFAULT_SITE_ID, A_MARK, ("al.apple@apple.test", "Al Apple"))
    b = make_school(db, b_site, B_MARK, B_STAFF)
    return a, b
