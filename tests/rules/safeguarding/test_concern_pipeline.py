"""The concern pipeline on a real database (SQLite and PostgreSQL): events in the access log become concerns,
routed as the policy says, folded, with their context frozen and kept by retention while open."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import Message

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from rules.jobs.retention import RetentionPeriods, purge
from rules.mail import MailSettings, SmtpTls
from rules.privacy.erasure import ErasureError, erase
from rules.safeguarding import service
from rules.safeguarding.notify import NotifySettings, send_digest
from rules.safeguarding.routing import who_for
from rules.safeguarding.states import Subject
from rules.safeguarding.watcher import ConcernWatcher
from rules.store.db import Database
from rules.store.models import (
    AccessEvent,
    AuditEntry,
    Category,
    Concern,
    ConcernEvent,
    Device,
    Group,
    User,
    UserSite,
    utcnow,
)
from tests.e2e.dnsserver import free_port
from tests.mailbox import Inbox

PUPIL_IP, STAFF_IP, HEAD_IP = "10.0.0.5", "10.0.0.6", "10.0.0.7"


def _text(message: Message) -> str:
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


def _people(db: Database) -> dict[str, int]:
    with db.session() as session:
        groups = {g.name: g.id for g in session.scalars(select(Group))}
        people = [User(email="dee.dsl@school.test", name="Dee Dsl", roles="dsl"),
                  User(email="hal.head@school.test", name="Hal Head", roles="headteacher"),
                  User(email="ian.ict@school.test", name="Ian Ict", roles="ict"),
                  User(email="tom.teacher@school.test", name="Tom Teacher", roles="staff")]
        session.add_all(people)
        session.flush()
        session.add_all([UserSite(user_id=u.id, site_id=1) for u in people])  # the school's staff, as every account
        pupil = Device(name="Sam's iPad", person="Sam Pupil", group_id=groups["pupils"])
        staff = Device(name="Staff laptop 3", person=None, group_id=groups["staff"])
        head = Device(name="Head's laptop", person="Hal Head", group_id=groups["staff"])
        session.add_all([pupil, staff, head])
        session.flush()
        return {PUPIL_IP: pupil.id, STAFF_IP: staff.id, HEAD_IP: head.id}


def _event(db: Database, ip: str, device_id: int | None, host: str, *, url: str | None = None,
           term: str | None = None, ts: datetime | None = None, category: str | None = None,
           action: str = "allow") -> int:
    with db.session() as session:
        event = AccessEvent(ts=ts or utcnow(), client_ip=ip, device_id=device_id, source="proxy" if url else "dns",
                            host=host, url=url, action=action, search_term=term, category=category)
        session.add(event)
        session.flush()
        return event.id


def _search(db: Database, ip: str, device_id: int, term: str, ts: datetime | None = None) -> int:
    return _event(db, ip, device_id, "www.google.com", url=f"http://www.google.com/search?q={term.replace(' ', '+')}",
                  term=term, ts=ts)


def _concerns(db: Database) -> list[Concern]:
    with db.session(read_only=True) as session:
        return list(session.scalars(select(Concern).order_by(Concern.id)))


@pytest.fixture
def ids(db: Database) -> dict[str, int]:
    return _people(db)


def test_a_pupils_search_becomes_a_concern_for_the_dsl_with_its_context(db: Database, ids: dict[str, int]) -> None:
    watcher = ConcernWatcher(db)
    watcher.poll_once()
    for n in range(25):
        _event(db, PUPIL_IP, ids[PUPIL_IP], f"site{n}.example.org")
    _event(db, PUPIL_IP, ids[PUPIL_IP], "captive.apple.com", url="http://captive.apple.com/hotspot-detect.html")
    trigger = _search(db, PUPIL_IP, ids[PUPIL_IP], "how to kill myself")
    result = watcher.poll_once()
    [concern] = _concerns(db)
    assert result.opened == [concern.id]
    assert (concern.source, concern.category, concern.severity, concern.routed_to, concern.subject) == \
        ("search", "suicide_self_harm", "high", "dsl", "pupil")
    assert (concern.person, concern.device_name, concern.matched, concern.event_id) == \
        ("Sam Pupil", "Sam's iPad", "how to kill myself", trigger)
    assert concern.phrase and concern.why
    for n in range(22):
        _event(db, PUPIL_IP, ids[PUPIL_IP], f"after{n}.example.org")
    watcher.poll_once()
    with db.session(read_only=True) as session:
        context = service.context_of(session, session.get(Concern, concern.id))
        complete = session.get(Concern, concern.id).context_complete
    positions = [e.position for e in context]
    assert positions == list(range(-20, 21))
    assert context[20].event_id == trigger and context[20].search_term == "how to kill myself"
    assert context[0].host == "site5.example.org" and context[-1].host == "after19.example.org"
    assert "captive.apple.com" not in {e.host for e in context}  # the device's own lookup is no activity
    assert complete


@pytest.mark.parametrize("term", [
    "how to kill a python process", "scunthorpe united fixtures", "essex county council", "cocktail sausages recipe",
    "shooting stars tonight", "isis river oxford rowing", "killer whale facts", "how to shoot a basketball",
    "drug interactions ks3 science", "hang gliding holidays", "sussex coast", "dickens great expectations",
])
def test_innocent_searches_raise_nothing(db: Database, ids: dict[str, int], term: str) -> None:
    watcher = ConcernWatcher(db)
    watcher.poll_once()
    _search(db, PUPIL_IP, ids[PUPIL_IP], term)
    _event(db, PUPIL_IP, ids[PUPIL_IP], "www.scunthorpe-telegraph.co.uk")
    assert watcher.poll_once().opened == []
    assert _concerns(db) == []


def test_routing_staff_to_the_headteacher_and_the_headteacher_to_the_chair(db: Database, ids: dict[str, int]) -> None:
    watcher = ConcernWatcher(db, chair_email="chair@governors.test")
    watcher.poll_once()
    _search(db, STAFF_IP, ids[STAFF_IP], "how to kill myself")
    _search(db, HEAD_IP, ids[HEAD_IP], "how to kill myself")
    watcher.poll_once()
    staff, head = _concerns(db)
    assert (staff.subject, staff.routed_to) == ("staff", "headteacher")
    assert (head.subject, head.routed_to, head.person) == ("headteacher", "chair", "Hal Head")
    # who sees them on the web: the headteacher the staff one, nobody the chair's
    assert service.can_see(staff, {"headteacher"}) and not service.can_see(staff, {"dsl"})
    assert not service.can_see(head, {"headteacher"}) and not service.can_see(head, {"dsl"})


def test_without_a_chair_a_concern_about_the_headteacher_goes_to_the_dsl(db: Database, ids: dict[str, int]) -> None:
    watcher = ConcernWatcher(db, chair_email="")
    watcher.poll_once()
    _search(db, HEAD_IP, ids[HEAD_IP], "how to kill myself")
    watcher.poll_once()
    [head] = _concerns(db)
    assert (head.subject, head.routed_to) == ("headteacher", "dsl")
    assert service.can_see(head, {"dsl"}) and not service.can_see(head, {"headteacher"})


def test_repeats_within_an_hour_fold_into_one_concern(db: Database, ids: dict[str, int]) -> None:
    watcher = ConcernWatcher(db)
    watcher.poll_once()
    start = utcnow()
    for minutes in (0, 10, 50):
        _search(db, PUPIL_IP, ids[PUPIL_IP], "how to kill myself", ts=start + timedelta(minutes=minutes))
    _search(db, PUPIL_IP, ids[PUPIL_IP], "where to buy weed", ts=start + timedelta(minutes=55))
    watcher.poll_once()
    _search(db, PUPIL_IP, ids[PUPIL_IP], "how to kill myself", ts=start + timedelta(minutes=200))
    watcher.poll_once()
    first, other, later = _concerns(db)
    assert (first.hits, first.last_seen_at) == (3, start + timedelta(minutes=50))
    assert other.phrase != first.phrase and other.hits == 1
    assert later.phrase == first.phrase and later.hits == 1  # over an hour after the last: a new concern


def test_a_visit_to_a_safeguarding_site_category_raises_one_blocked_or_not(db: Database, ids: dict[str, int]) -> None:
    with db.session() as session:
        session.add(Category(name="selfharm_sites", safeguarding=True))
        session.add(Category(name="games", safeguarding=False))
    watcher = ConcernWatcher(db)
    watcher.poll_once()
    _event(db, PUPIL_IP, ids[PUPIL_IP], "forum.example.net", category="selfharm_sites", action="block")
    _event(db, PUPIL_IP, ids[PUPIL_IP], "play.example.net", category="games", action="block")
    watcher.poll_once()
    [concern] = _concerns(db)
    assert (concern.source, concern.category, concern.severity, concern.matched) == \
        ("site", "selfharm_sites", "medium", "forum.example.net")
    assert "blocked" in concern.why


def test_the_schools_own_phrases_are_used_once_imported(db: Database, ids: dict[str, int]) -> None:
    watcher = ConcernWatcher(db)
    watcher.poll_once()
    with db.session() as session:
        service.import_school_phrases(session, "blue bandana crew,weapons_violence,high,A local gang\n"
                                               "pro (ana|mia),off,,Testing the off switch\n", "dee.dsl@school.test",
                                      "test.csv")
    _search(db, PUPIL_IP, ids[PUPIL_IP], "blue bandana crew meet")
    _search(db, PUPIL_IP, ids[PUPIL_IP], "pro ana")
    watcher.poll_once()
    [concern] = _concerns(db)
    assert (concern.category, concern.severity, concern.why) == ("weapons_violence", "high", "A local gang")


def test_retention_keeps_an_open_concerns_context_and_deletes_closed_ones_after_audit_days(
        db: Database, ids: dict[str, int]) -> None:
    old = utcnow() - timedelta(days=200)
    watcher = ConcernWatcher(db)
    watcher.poll_once()
    watcher.cursor.last_id = 0  # read the old events too
    for n in range(5):
        _event(db, PUPIL_IP, ids[PUPIL_IP], f"before{n}.example.org", ts=old)
    _search(db, PUPIL_IP, ids[PUPIL_IP], "how to kill myself", ts=old)
    _search(db, STAFF_IP, ids[STAFF_IP], "where to buy weed", ts=old)
    watcher.poll_once()
    kept, closed = _concerns(db)
    with db.session() as session:
        dsl = session.scalar(select(User).where(User.email == "hal.head@school.test"))
        assert dsl is not None
        service.triage(session, closed.id, dsl, {"headteacher"}, state="record_made", note="spoke to them")
        session.get(Concern, closed.id).closed_at = old  # type: ignore[union-attr]
    result = purge(db, RetentionPeriods(access_log_days=90, ban_days=365, audit_days=100))
    assert result.access_events >= 7 and result.concerns == 1 and result.concern_notes == 1
    with db.session(read_only=True) as session:
        assert session.scalar(select(func.count()).select_from(AccessEvent).where(AccessEvent.ts < utcnow() -
                                                                                  timedelta(days=90))) == 0
        assert [c.id for c in session.scalars(select(Concern))] == [kept.id]
        hosts = [e.host for e in service.context_of(session, session.get(Concern, kept.id))]  # type: ignore[arg-type]
        assert session.scalar(select(func.count()).select_from(ConcernEvent)
                              .where(ConcernEvent.concern_id == closed.id)) == 0
    assert hosts[:5] == [f"before{n}.example.org" for n in range(5)] and hosts[5] == "www.google.com"


def test_triage_views_and_counts_are_audited_and_checked(db: Database, ids: dict[str, int]) -> None:
    watcher = ConcernWatcher(db)
    watcher.poll_once()
    _search(db, PUPIL_IP, ids[PUPIL_IP], "how to kill myself")
    _search(db, STAFF_IP, ids[STAFF_IP], "how to kill myself")
    watcher.poll_once()
    pupil, staff = _concerns(db)
    with db.session() as session:
        dsl = session.scalar(select(User).where(User.email == "dee.dsl@school.test"))
        assert dsl is not None
        assert [c.id for c in service.visible_concerns(session, {"dsl"})] == [pupil.id]
        assert {c.id for c in service.visible_concerns(session, {"headteacher"})} == {pupil.id, staff.id}
        assert service.visible_concerns(session, {"ict", "staff"}) == []
        with pytest.raises(PermissionError):
            service.get_concern(session, staff.id, dsl, {"dsl"})
        with pytest.raises(LookupError):
            service.get_concern(session, 9999, dsl, {"dsl"})
        service.get_concern(session, pupil.id, dsl, {"dsl"})
        with pytest.raises(ValueError, match="why"):
            service.triage(session, pupil.id, dsl, {"dsl"}, state="no_concern")
        with pytest.raises(ValueError, match="escalated"):
            service.triage(session, pupil.id, dsl, {"dsl"}, state="escalated")
        service.triage(session, pupil.id, dsl, {"dsl"}, state="no_concern", reason="song lyrics homework")
        assert service.visible_concerns(session, {"dsl"}) == []
        assert service.false_positive_counts(session)[0][1:] == (1, 2)
        overview = service.person_overview(session, "sam pupil", dsl, {"dsl"})
        assert [c.id for c in overview["concerns"]] == [pupil.id]
    with db.session(read_only=True) as session:
        actions = [a for a, in session.execute(select(AuditEntry.action).where(AuditEntry.action.like("concern.%")))]
    assert actions.count("concern.raise") == 2 and "concern.view" in actions and "concern.triage" in actions
    assert "concern.person_view" in actions


def test_high_is_emailed_at_once_and_the_rest_in_one_digest_per_recipient(db: Database, ids: dict[str, int]) -> None:
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    try:
        settings = NotifySettings(MailSettings("127.0.0.1", smtp.port, "filter@school.test", (), SmtpTls.NONE),
                                  "https://school.example/admin")
        watcher = ConcernWatcher(db, settings)
        watcher.poll_once()
        _search(db, PUPIL_IP, ids[PUPIL_IP], "how to kill myself")
        _search(db, PUPIL_IP, ids[PUPIL_IP], "where to buy weed")
        _search(db, STAFF_IP, ids[STAFF_IP], "where to buy weed")
        watcher.poll_once()
        high, pupil_medium, staff_medium = _concerns(db)
        [mail] = inbox.messages
        assert mail["To"] == "dee.dsl@school.test"
        subject = mail["Subject"]
        assert f"#{high.id}" in subject and "high" in subject
        for secret in ("Sam", "iPad", "kill", "myself"):
            assert secret not in subject
        body = _text(mail)
        assert f"https://school.example/admin/concerns/{high.id}" in body and "how to kill myself" in body
        assert "Sam Pupil" not in body
        assert send_digest(db, settings) == 2
        digests = {m["To"]: _text(m) for m in inbox.messages[1:]}
        assert set(digests) == {"dee.dsl@school.test", "hal.head@school.test"}
        assert f"/concerns/{pupil_medium.id}" in digests["dee.dsl@school.test"]
        assert f"/concerns/{staff_medium.id}" in digests["hal.head@school.test"]
        assert f"/concerns/{staff_medium.id}" not in digests["dee.dsl@school.test"]
        assert send_digest(db, settings) == 0  # told once
        assert all(c.notified_at is not None for c in _concerns(db))
    finally:
        smtp.stop()


@pytest.mark.parametrize("name", ["Tom Teacher", "Hal Head", "Dee Dsl"])
def test_a_pupil_who_shares_a_staff_name_is_still_a_pupil_for_the_dsl_and_the_dsl_is_emailed(
        db: Database, ids: dict[str, int], name: str) -> None:
    """A Year 6 pupil named like a teacher, the headteacher or the DSL: their concern must not be read as one
    about that member of staff (sent to the headteacher or the chair, out of the DSL's sight), and the DSL must
    not be left out of the email as "the person it is about"."""
    with db.session() as session:
        pupils = session.scalar(select(Group).where(Group.name == "pupils"))
        assert pupils is not None
        device = Device(name="Class 6 iPad 14", person=name, group_id=pupils.id)
        session.add(device)
        session.flush()
        device_id = device.id
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    try:
        settings = NotifySettings(MailSettings("127.0.0.1", smtp.port, "filter@school.test", (), SmtpTls.NONE),
                                  "https://school.example/admin", chair_email="chair@governors.test")
        watcher = ConcernWatcher(db, settings, chair_email="chair@governors.test")
        watcher.poll_once()
        _search(db, "10.0.0.9", device_id, "how to kill myself")
        watcher.poll_once()
        [concern] = _concerns(db)
        assert (concern.subject, concern.routed_to, concern.person) == ("pupil", "dsl", name)
        assert service.can_see(concern, {"dsl"})
        assert [m["To"] for m in inbox.messages] == ["dee.dsl@school.test"]
    finally:
        smtp.stop()
    # the staff account's own email as the person still says it is theirs, whatever the group
    with db.session() as session:
        device = session.get(Device, device_id)
        assert device is not None
        device.person = "tom.teacher@school.test"
        assert who_for(session, device).subject == Subject.STAFF


def test_erasure_waits_until_the_dsl_closes_the_open_concern(db: Database, ids: dict[str, int]) -> None:
    watcher = ConcernWatcher(db)
    watcher.poll_once()
    _search(db, PUPIL_IP, ids[PUPIL_IP], "how to kill myself")
    watcher.poll_once()
    [concern] = _concerns(db)
    with pytest.raises(ErasureError, match=f"open safeguarding concern.*#{concern.id}.*DSL must close"):
        erase(db, "Sam Pupil", "cli:test")
    with db.session() as session:
        dsl = session.scalar(select(User).where(User.email == "dee.dsl@school.test"))
        assert dsl is not None
        service.triage(session, concern.id, dsl, {"dsl"}, state="record_made")
    assert erase(db, "Sam Pupil", "cli:test").reference


def test_a_concern_raised_by_hand_follows_the_same_routing(db: Database, ids: dict[str, int]) -> None:
    with db.session() as session:
        teacher = session.scalar(select(User).where(User.email == "tom.teacher@school.test"))
        assert teacher is not None
        pupil = service.raise_manual(session, device_id=None, person="Sam Pupil", subject="pupil",
                                     category="bullying_abuse", severity="high", what="Sam told me about threats",
                                     raised_by=teacher)
        staff = service.raise_manual(session, device_id=ids[STAFF_IP], person=None, subject="pupil",
                                     category="sexual_grooming", severity="medium", what="messages seen",
                                     raised_by=teacher)
        with pytest.raises(ValueError):
            service.raise_manual(session, device_id=None, person="x", subject="pupil", category="nonsense",
                                 severity="high", what="x", raised_by=teacher)
        assert (pupil.source, pupil.routed_to, pupil.raised_by) == ("manual", "dsl", "tom.teacher@school.test")
        assert (staff.subject, staff.routed_to) == ("staff", "headteacher")


def test_old_events_before_the_watcher_started_are_not_raised_again(db: Database, ids: dict[str, int]) -> None:
    _search(db, PUPIL_IP, ids[PUPIL_IP], "how to kill myself", ts=datetime.now(UTC) - timedelta(hours=2))
    watcher = ConcernWatcher(db)
    watcher.poll_once()
    assert _concerns(db) == []


def test_a_large_batch_that_commits_after_a_later_one_still_raises_its_concern(db: Database,
                                                                               ids: dict[str, int]) -> None:
    """A trust's writers COPY batches of up to 20,000 events, each taking its ids when it starts and committing
    when it is done. A pupil's search inside a batch of 3,000 that another gateway's small batch overtook left a
    run of 3,000 missing ids, which the cursor took for a jump of the sequence and never asked for again."""
    if db.engine.dialect.name == "sqlite":
        pytest.skip("SQLite has one writer at a time: its ids commit in order")
    from rules.store.event_record import event
    from rules.store.event_sink import write_events, write_events_in

    watcher = ConcernWatcher(db)
    watcher.poll_once()
    now = datetime.now(UTC).timestamp()
    batch = [event(now, PUPIL_IP, "proxy", f"site{n}.example.org", "allow", device_id=ids[PUPIL_IP])
             for n in range(2_999)]
    batch.append(event(now, PUPIL_IP, "proxy", "www.google.com", "allow", device_id=ids[PUPIL_IP],
                       url="http://www.google.com/search?q=how+to+kill+myself", search_term="how to kill myself"))
    with db.engine.connect() as north:
        with north.begin():
            write_events_in(north, batch)
            write_events(db.engine, [event(now, "10.9.0.1", "dns", "www.bbc.co.uk", "allow")])
            assert watcher.poll_once().opened == []
        assert len(watcher.poll_once().opened) == 1
