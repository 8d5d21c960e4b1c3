"""A school's worth of personal data about two pupils and a teacher, made through the real services.

Sam Pupil is the one asked about: two devices (one named after him, one not), access events, a ban with
evidence that holds a hostile host name, a supervised session, a content report naming him, an access request
about his laptop, audit entries, and a weekly report file that names him. Bea Pupil has the same kinds of rows
and must come through an export or erasure of Sam untouched. Tom Teacher is staff: he filed the report and the
request and supervised Sam.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select

from rules.devices.registry import register_device
from rules.jobs.report import weekly_report
from rules.store.audit import audit
from rules.store.db import Database
from rules.store.models import AccessEvent, Ban, SupervisedSession, User
from rules.workflows.access_requests import file_request
from rules.workflows.accounts import create_user
from rules.workflows.content_reports import file_report

HOSTILE = "<img src=x onerror=alert(1)>.example"
SAM = "Sam Pupil"
SAM_DEVICES = {"Pupil laptop 17": ("10.0.0.17", "aa:bb:cc:00:00:17"), "Sam Pupil's phone": ("10.0.0.18",
                                                                                             "aa:bb:cc:00:00:18")}
BEA = "Bea Pupil"
BEA_DEVICE = ("Class 6 laptop 11", "10.0.0.11", "aa:bb:cc:00:00:11")
LIBRARY = ("Library PC 1", "10.0.0.99", "aa:bb:cc:00:00:99")
TOM = ("tom.teacher@school.test", "Tom Teacher")
DEE = ("dee.dsl@school.test", "Dee Lead")


@dataclass
class School:
    sam_devices: list[int]
    bea_device: int
    library_device: int
    sam_ban: int
    bea_ban: int
    sam_session: int
    sam_report: int
    bea_report: int
    request: int
    tom: int
    sam_events: int
    report_files: list[Path]


def _user(session: object, email: str, name: str, roles: list[str]) -> User:
    existing = session.scalar(select(User).where(User.email == email))  # type: ignore[attr-defined]
    return existing or create_user(session, email=email, name=name, roles=roles, password=None,  # type: ignore[arg-type]
                                   actor="test")


def evidence(ip: str) -> list[dict[str, object]]:
    now = datetime.now(UTC).timestamp()
    return [{"ts": now - 60, "kind": "ech", "host": HOSTILE, "client_ip": ip, "source": "proxy", "weight": 3,
             "proof": "connection"},
            {"ts": now - 50, "kind": "doh", "host": "cloudflare-dns.com", "client_ip": ip, "source": "proxy",
             "weight": 10, "proof": "connection"}]


def populate(db: Database, state_dir: Path) -> School:
    with db.session() as session:
        tom = _user(session, *TOM, ["staff"])
        dee = _user(session, *DEE, ["dsl"])
        sam_devices = [register_device(session, ip=ip, mac=mac, name=name, group="pupils", person=SAM,
                                       actor="cli:root").device.id for name, (ip, mac) in SAM_DEVICES.items()]
        bea = register_device(session, ip=BEA_DEVICE[1], mac=BEA_DEVICE[2], name=BEA_DEVICE[0], group="pupils",
                              person=BEA, actor="cli:root").device.id
        library = register_device(session, ip=LIBRARY[1], mac=LIBRARY[2], name=LIBRARY[0], group="pupils",
                                  person=None, actor="cli:root").device.id
        bans = {}
        for who, device_id, ip in ((SAM, sam_devices[0], "10.0.0.17"), (BEA, bea, BEA_DEVICE[1])):
            ban = Ban(device_id=device_id, person=who, reason="Trying to get round the filter: 13 points",
                      evidence=json.dumps(evidence(ip)))
            session.add(ban)
            session.flush()
            audit(session, "detector", "ban.create", f"ban #{ban.id}",
                  after={"device": "Pupil laptop 17" if who == SAM else BEA_DEVICE[0], "person": who,
                         "evidence": evidence(ip)})
            bans[who] = ban.id
        supervised = SupervisedSession(ban_id=bans[SAM], staff_name=TOM[1], ends_at=datetime.now(UTC) + timedelta(
            minutes=50), created_by=TOM[0])
        session.add(supervised)
        session.flush()
        audit(session, dee.email, "access_log.view", "access log", after={"person": SAM, "action": "block"})
        audit(session, dee.email, "access_log.view", "access log", after={"person": BEA})
        sam_report = file_report(session, tom, individual=SAM, incident_date=date(2026, 11, 20),
                                 full_urls="https://bad.example/page", nature="Sam Pupil was sent this").id
        bea_report = file_report(session, tom, individual=BEA, incident_date=date(2026, 11, 21),
                                 full_urls="https://worse.example/", nature="unkind posts").id
        request = file_request(session, tom, full_url="https://maths.example/games", site_content="maths games",
                               reasons="for Sam Pupil's group", risks="none")
        request.scope, request.device_id = "device", sam_devices[0]
        ids = dict(tom=tom.id, sam_session=supervised.id, sam_report=sam_report, bea_report=bea_report,
                   request=request.id)
    now = datetime.now(UTC)
    events = []
    for device_id, (name, (ip, mac)) in zip(sam_devices, SAM_DEVICES.items(), strict=True):
        events += [dict(ts=now - timedelta(hours=3), client_ip=ip, device_id=device_id, device=name, mac=mac,
                        source="proxy", host=HOSTILE, url=f"http://{HOSTILE}/", action="block",
                        signal="ech"),
                   dict(ts=now - timedelta(hours=2), client_ip=ip, device_id=device_id, device=name, mac=mac,
                        source="dns", host="www.bbc.co.uk", action="allow", search_term="homework help")]
    events.append(dict(ts=now - timedelta(hours=1), client_ip="10.0.0.17", device_id=None, device=None,
                       mac="aa:bb:cc:00:00:17", source="gateway", host="203.0.113.5", action="block",
                       signal="blocked_port", port=51820))
    bea_events = [dict(ts=now - timedelta(hours=2), client_ip=BEA_DEVICE[1], device_id=bea, device=BEA_DEVICE[0],
                       mac=BEA_DEVICE[2], source="dns", host="nordvpn.com", action="block") for _ in range(2)]
    library_event = dict(ts=now - timedelta(minutes=30), client_ip=LIBRARY[1], device_id=library, device=LIBRARY[0],
                         mac=LIBRARY[2], source="proxy", host="www.google.com", action="allow",
                         search_term="sam pupil is a", url="https://www.google.com/search?q=sam+pupil+is+a")
    with db.session() as session:
        session.execute(insert(AccessEvent), [*events, *bea_events, library_event])
    files = weekly_report(db, state_dir)
    return School(sam_devices=sam_devices, bea_device=bea, library_device=library, sam_ban=bans[SAM],
                  bea_ban=bans[BEA], sam_events=len(events), report_files=files, **ids)
