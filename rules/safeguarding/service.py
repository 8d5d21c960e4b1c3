"""The safeguarding service the admin web calls: the DSL's queue, one concern, triage, notes, a pupil's
page, raising a concern by hand and the school's own phrase list.

Views parse the request, call one function here and render what it returns; every rule about who may see
what, and every audit entry, lives here, so the web screens and any later caller cannot differ. The
scheduler's watcher raises concerns from the access log through the same `rules.safeguarding.concerns`.

Who sees what (`can_see`): only accounts with the `dsl` or `headteacher` role see concerns at all; a
concern about a pupil is seen by both, one about a member of staff by the role it was routed to (the
headteacher, or the DSL when the school has no headteacher account), and one routed to the chair of
governors (about the headteacher) by nobody on the web: the chair has no account, and the headteacher
must not read concerns about themselves.

Schools: a concern belongs to the school of its event or device (`Concern.site_id`). Every function a view
calls takes `site_ids` (None: every school, as the CLI and the jobs call them); a concern of another school is
a `LookupError`, exactly as one that does not exist.

Errors: `LookupError` (no such concern or phrase), `PermissionError` (the viewer may not see it),
`ValueError` (bad input, the message says what), `PhraseFileError` (a bad phrase line, with line numbers).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session

from rules.policy.snapshot import person_key
from rules.safeguarding import phrases_store
from rules.safeguarding.categories import Category, Severity
from rules.safeguarding.concerns import open_manual
from rules.safeguarding.phrasefile import PhraseFileError
from rules.safeguarding.states import (
    DSL_ROLE,
    HEADTEACHER_ROLE,
    ConcernState,
    EscalatedTo,
    Route,
    Source,
    Subject,
)
from rules.store.audit import audit
from rules.store.models import Ban, Concern, ConcernEvent, ConcernNote, ContentReport, SafeguardingPhrase, User, utcnow

__all__ = ["PhraseFileError", "add_note", "add_school_phrase", "can_see", "context_of", "device_history",
           "false_positive_counts", "get_concern", "import_school_phrases", "person_overview", "raise_manual",
           "remove_school_phrase", "school_phrases", "triage", "visible_concerns"]

MAX_TEXT = 4000  # a note, a reason or what was reported, in characters
_SEVERITY_RANK = case({"high": 3, "medium": 2, "low": 1}, value=Concern.severity, else_=0)


def can_see(concern: Concern, viewer_roles: set[str]) -> bool:
    """Whether an account with these roles may see this concern (see the module's docstring)."""
    if concern.routed_to == Route.CHAIR:
        return False
    if concern.subject == Subject.PUPIL:
        return bool(viewer_roles & {DSL_ROLE, HEADTEACHER_ROLE})
    return (HEADTEACHER_ROLE if concern.routed_to == Route.HEADTEACHER else DSL_ROLE) in viewer_roles


def visible_concerns(session: Session, viewer_roles: set[str], *, states: Iterable[str] | None = ("open",),
                     limit: int = 200, site_ids: Collection[int] | None = None) -> list[Concern]:
    """The concerns this viewer may see, in these states (None: every state) and schools (None: every
    school), newest and most severe first: by the day they were last seen (newest first), then severity,
    then time."""
    if not viewer_roles & {DSL_ROLE, HEADTEACHER_ROLE}:
        return []
    query = _in_schools(select(Concern).where(Concern.routed_to != Route.CHAIR), Concern.site_id, site_ids)
    if states is not None:
        query = query.where(Concern.state.in_([ConcernState(s).value for s in states]))
    rows = session.scalars(query.order_by(Concern.last_seen_at.desc()).limit(max(limit, 1) * 4)).all()
    seen = [c for c in rows if can_see(c, viewer_roles)]
    seen.sort(key=lambda c: (c.last_seen_at.date(), _rank(c.severity), c.last_seen_at), reverse=True)
    return seen[:limit]


def _in_schools[Q: Select](query: Q, column: Any, site_ids: Collection[int] | None) -> Q:
    return query if site_ids is None else query.where(column.in_(sorted(site_ids)))


def _rank(severity: str) -> int:
    try:
        return Severity(severity).rank
    except ValueError:
        return 0


def get_concern(session: Session, concern_id: int, viewer: User, viewer_roles: set[str], *,
                site_ids: Collection[int] | None = None) -> Concern:
    """One concern for this viewer; the view is audited ("concern.view"). LookupError, PermissionError."""
    concern = _visible(session, concern_id, viewer_roles, site_ids)
    audit(session, viewer.email, "concern.view", f"concern #{concern.id}", site_id=concern.site_id)
    return concern


def _visible(session: Session, concern_id: int, viewer_roles: set[str],
             site_ids: Collection[int] | None = None) -> Concern:
    concern = session.get(Concern, concern_id)
    if concern is None or (site_ids is not None and concern.site_id not in site_ids):
        raise LookupError(f"no concern #{concern_id}")
    if not can_see(concern, viewer_roles):
        raise PermissionError(f"concern #{concern_id} is not one this account may see")
    return concern


def context_of(session: Session, concern: Concern) -> list[ConcernEvent]:
    """The frozen activity around a concern, ordered by position (before < 0, the trigger 0, after > 0)."""
    return list(session.scalars(select(ConcernEvent).where(ConcernEvent.concern_id == concern.id)
                                .order_by(ConcernEvent.position, ConcernEvent.id)))


def device_history(session: Session, concern: Concern, limit: int = 50) -> list[Concern]:
    """That device's other concerns (by device, or by address for an unregistered one, within the concern's
    school: two schools may use the same addresses), newest first."""
    if concern.device_id is not None:
        where = Concern.device_id == concern.device_id
    elif concern.client_ip:
        where = Concern.client_ip == concern.client_ip
    else:
        return []
    return list(session.scalars(select(Concern).where(where, Concern.id != concern.id,
                                                      Concern.site_id == concern.site_id)
                                .order_by(Concern.opened_at.desc()).limit(limit)))


def triage(session: Session, concern_id: int, actor: User, actor_roles: set[str], *, state: str, reason: str = "",
           escalated_to: str | None = None, note: str = "", site_ids: Collection[int] | None = None) -> Concern:
    """Close (or re-close) a concern: "no_concern" needs a reason (it counts against the phrase), "escalated"
    needs `escalated_to` (police, prevent, lado, social_care, parents). Adds a note; audited ("concern.triage")."""
    concern = _visible(session, concern_id, actor_roles, site_ids)
    try:
        target = ConcernState(state)
    except ValueError:
        raise ValueError(f"unknown state {state!r}: one of no_concern, record_made, escalated") from None
    if target == ConcernState.OPEN:
        raise ValueError("a concern is closed as no_concern, record_made or escalated; it is not reopened")
    reason, note = _text(reason, "the reason"), _text(note, "the note")
    if target == ConcernState.NO_CONCERN and not reason:
        raise ValueError("say why this is no concern (the reason is kept, and counts against the phrase)")
    where: EscalatedTo | None = None
    if target == ConcernState.ESCALATED:
        try:
            where = EscalatedTo(escalated_to or "")
        except ValueError:
            raise ValueError("say to whom it was escalated: " + ", ".join(e.value for e in EscalatedTo)) from None
    before = {"state": concern.state, "escalated_to": concern.escalated_to}
    concern.state = target.value
    concern.escalated_to = where.value if where else None
    concern.outcome_reason = reason
    concern.closed_by = actor.email
    concern.closed_at = utcnow()
    text = "\n".join(part for part in (reason, note) if part)
    added = ConcernNote(concern_id=concern.id, author=actor.email, state=target.value, text=text)
    session.add(added)
    session.flush()
    # The reason and the note stay on the concern (its notes): the audit log is read by the ICT technician,
    # and by the DSL for staff concerns they may not see, so it says only that they were written and where.
    audit(session, actor.email, "concern.triage", f"concern #{concern.id}", before=before,
          after={"state": concern.state, "escalated_to": concern.escalated_to, "note": f"note #{added.id}"},
          site_id=concern.site_id)
    return concern


def add_note(session: Session, concern_id: int, actor: User, actor_roles: set[str], text: str, *,
             site_ids: Collection[int] | None = None) -> ConcernNote:
    """A note on a concern (what was done, what was said), without changing its state; audited."""
    concern = _visible(session, concern_id, actor_roles, site_ids)
    text = _text(text, "the note")
    if not text:
        raise ValueError("the note is empty")
    note = ConcernNote(concern_id=concern.id, author=actor.email, state=None, text=text)
    session.add(note)
    session.flush()
    audit(session, actor.email, "concern.note", f"concern #{concern.id}", after={"note": f"note #{note.id}"},
          site_id=concern.site_id)
    return note


def _text(value: str, what: str) -> str:
    value = (value or "").strip()
    if len(value) > MAX_TEXT:
        raise ValueError(f"{what} is longer than {MAX_TEXT} characters")
    return value


def false_positive_counts(session: Session, site_ids: Collection[int] | None = None) -> list[tuple[str, int, int]]:
    """(phrase, times closed as no concern, times it raised a concern) over these schools' concerns (None:
    every school), noisiest first: which phrases the school might switch off or give an innocent context."""
    no_concern = func.sum(case((Concern.state == ConcernState.NO_CONCERN, 1), else_=0))
    query = select(Concern.phrase, no_concern, func.count()).where(Concern.source != Source.MANUAL,
                                                                   Concern.phrase != "")
    rows = session.execute(_in_schools(query, Concern.site_id, site_ids).group_by(Concern.phrase)).all()
    counts = [(phrase, int(fp or 0), int(total)) for phrase, fp, total in rows]
    counts.sort(key=lambda row: (-row[1], -row[2], row[0]))
    return counts


def person_overview(session: Session, person: str, viewer: User, viewer_roles: set[str], *,
                    site_ids: Collection[int] | None = None) -> dict[str, Any]:
    """Everything about one pupil (or member of staff) the viewer may see in these schools (None: every
    school): {"person", "concerns" (newest first), "bans", "reports" (content reports that name them)}. Names
    compare as `person_key` does; audited ("concern.person_view"). PermissionError for an account that sees
    no concerns."""
    if not viewer_roles & {DSL_ROLE, HEADTEACHER_ROLE}:
        raise PermissionError("only the DSL and the headteacher see a pupil's concerns")
    key = person_key(person)
    if key is None:
        raise ValueError("name the person")
    concerns = [c for c in session.scalars(_in_schools(select(Concern).where(Concern.person.is_not(None)),
                                                       Concern.site_id, site_ids).order_by(Concern.opened_at.desc()))
                if person_key(c.person) == key and can_see(c, viewer_roles)]
    bans = [b for b in session.scalars(_in_schools(select(Ban).where(Ban.person.is_not(None)), Ban.site_id, site_ids)
                                       .order_by(Ban.created_at.desc()))
            if person_key(b.person) == key]
    reports = [r for r in session.scalars(_in_schools(select(ContentReport).where(ContentReport.individual != ""),
                                                      ContentReport.site_id, site_ids)
                                          .order_by(ContentReport.created_at.desc()))
               if person_key(r.individual) == key]
    # By the concerns shown, never the name: the audit log is read more widely than concerns are.
    audit(session, viewer.email, "concern.person_view", "person",
          after={"concerns": [c.id for c in concerns], "bans": len(bans), "reports": len(reports)})
    return {"person": person.strip(), "concerns": concerns, "bans": bans, "reports": reports}


def raise_manual(session: Session, *, device_id: int | None, person: str | None, subject: str, category: str,
                 severity: str, what: str, raised_by: User, site_id: int | None = None) -> Concern:
    """A concern a member of staff raises by hand ("a pupil told me something") in school `site_id` (None:
    the device's school, else the default): routed as any other (the subject given, or staff/headteacher when
    the device or the named person says so), audited ("concern.raise"), and a high one is emailed by the
    scheduler's watcher within seconds. ValueError for an unknown subject, category or severity, nothing said,
    or a device that is not of that school."""
    try:
        chosen = Subject(subject)
        kind = Category(category)
        level = Severity(severity)
    except ValueError as exc:
        raise ValueError(f"{exc}: subject pupil|staff|headteacher, category one of "
                         f"{', '.join(c.value for c in Category)}, severity high|medium|low") from None
    what = _text(what, "what happened")
    if not what:
        raise ValueError("say what happened")
    return open_manual(session, device_id=device_id, person=(person or "").strip() or None, subject=chosen,
                       category=kind, severity=level, what=what, raised_by=raised_by.email, site_id=site_id)


def school_phrases(session: Session) -> list[SafeguardingPhrase]:
    """The school's own rows (phrases, innocent phrases, built-in phrases switched off), in order."""
    return phrases_store.rows(session)


def import_school_phrases(session: Session, text: str, actor: str, source: str) -> int:
    """Replace the school's list with a phrase file's rows, all or nothing (PhraseFileError with line numbers);
    audited ("safeguarding.import"). Returns the number of rows."""
    return phrases_store.import_text(session, text, actor, source)


def add_school_phrase(session: Session, row_text: str, actor: str) -> SafeguardingPhrase:
    """Add one phrase-file line to the school's list (PhraseFileError; ValueError for a duplicate); audited."""
    return phrases_store.add_row(session, row_text, actor)


def remove_school_phrase(session: Session, phrase_id: int, actor: str) -> None:
    """Remove one of the school's rows (LookupError when there is none); audited."""
    phrases_store.remove_row(session, phrase_id, actor)
