"""The headteacher's log of inappropriate comments or abuse: the list (follow-ups due first), an entry, edit,
follow-ups, screenshots. Headteacher only: it names parents and may show a pupil's words.

Screenshots are checked by `rules.school_media.screenshots` (type by the bytes, 5 MB) and served back only here,
with the sniffed type, `nosniff` and a `Content-Disposition`, so a browser never reads one as a page.

Each school has its own log: the headteacher sees their schools' entries; a new entry goes to the school they
work in, and names only that school's accounts (an entry's accounts are of its school); another school's entry,
follow-up or screenshot answers 404, as one that is not there.
"""

from __future__ import annotations

import json
from datetime import date, datetime

from flask import Blueprint, Response, abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import Session

from admin_web.abuse_forms import EntryForm, FollowUpForm, ScreenshotForm
from admin_web.access import database, roles
from admin_web.date_fields import day_of
from admin_web.forms import opts
from admin_web.sites import current_site_id, visible_site_ids
from rules.localtime import LONDON
from rules.school_media import abuse_log as service
from rules.school_media.screenshots import EXTENSIONS, MAX_BYTES, CheckedImage, ScreenshotError, check_image, sniff
from rules.store.models import AbuseFollowUp, AbuseLogEntry, SocialAccount

bp = Blueprint("abuse", __name__, url_prefix="/abuse-log")
WHO = ("headteacher",)  # the policy: the headteacher maintains the log and handles what is in it


def _today() -> date:
    return datetime.now(LONDON).date()


def _with_accounts(form: EntryForm, session: Session, site_id: int) -> EntryForm:
    """The form, its accounts those of the entry's school."""
    accounts = session.scalars(select(SocialAccount).where(SocialAccount.site_id == site_id)
                               .order_by(SocialAccount.name))
    form.account_id.choices = opts([(0, "— not a school account (say where below) —")] + [
        (a.id, f"{a.name} ({service.PLATFORMS.get(a.platform, a.platform)})") for a in accounts])
    return form


def _account_of(site_id: int, form: EntryForm) -> None:
    """404 for an account of another school in the form (or none): as an id that does not exist."""
    if not form.account_id.data:
        return
    with database().session(read_only=True) as session:
        account = session.get(SocialAccount, form.account_id.data)
    if account is None or account.site_id != site_id:
        abort(404)


def _input(form: EntryForm) -> service.EntryInput:
    return service.EntryInput(
        occurred_on=day_of(form.occurred_on), platform=form.platform.data or service.OTHER_PLATFORM,
        account_id=form.account_id.data or None, account_text=form.account_text.data or "",
        posted_text=form.posted_text.data or "", link=form.link.data or "",
        posted_by_kind=form.posted_by_kind.data or "unknown", posted_by_name=form.posted_by_name.data or "",
        actions=tuple(form.actions.data or ()), action_notes=form.action_notes.data or "")


def _upload(field: object) -> CheckedImage | None:
    """The uploaded screenshot, checked; None when no file was chosen. ScreenshotError when it cannot be kept."""
    storage = getattr(field, "data", None)
    if storage is None or not getattr(storage, "filename", ""):
        return None
    return check_image(storage.read(MAX_BYTES + 1))  # one byte more than allowed is enough to refuse it


@bp.route("/")
@roles(*WHO)
def index() -> ResponseReturnValue:
    today = _today()
    with database().session(read_only=True) as session:
        rows = service.list_entries(session, today, site_ids=visible_site_ids())
    return render_template("abuse/index.html", rows=rows, today=today.isoformat(), platform=service.platform_label,
                           who=lambda e: service.PostedBy(e.posted_by_kind).label, actions=service.actions_of)


@bp.route("/new", methods=["GET", "POST"])
@roles(*WHO)
def new() -> ResponseReturnValue:
    site_id = current_site_id()
    with database().session(read_only=True) as session:
        form = _with_accounts(EntryForm(), session, site_id)
    if form.validate_on_submit():
        _account_of(site_id, form)
        try:
            shot = _upload(form.screenshot)
            with database().session() as session:
                entry = service.create_entry(session, current_user.account.email, _input(form), today=_today(),
                                             screenshot=shot, site_id=site_id)
                entry_id = entry.id
        except (ScreenshotError, service.AbuseLogError) as exc:
            flash(f"The entry was not saved: {exc}.", "error")
        else:
            flash(f"Entry #{entry_id} was added to the log.", "success")
            return redirect(url_for("abuse.show", entry_id=entry_id))
    return render_template("abuse/edit.html", form=form, entry=None)


def _load(session: Session, entry_id: int) -> AbuseLogEntry:
    try:
        return service.get_entry(session, entry_id, visible_site_ids())
    except service.NotFound:
        abort(404)


@bp.route("/<int:entry_id>")
@roles(*WHO)
def show(entry_id: int) -> ResponseReturnValue:
    with database().session(read_only=True) as session:
        entry = _load(session, entry_id)
        account = session.get(SocialAccount, entry.account_id) if entry.account_id else None
        follow_ups = service.follow_ups_of(session, entry.id)
        shots = service.screenshots_of(session, entry.id)
        session.expunge_all()
    return render_template("abuse/show.html", entry=entry, account=account, follow_ups=follow_ups, shots=shots,
                           actions=service.actions_of(entry), who=service.PostedBy(entry.posted_by_kind).label,
                           platform=service.platform_label(entry), today=_today().isoformat(),
                           meeting_words=service.PARENT_MEETING_WORDS if service.shows_parent_meeting_words(entry)
                           else None, follow_up_form=FollowUpForm(), screenshot_form=ScreenshotForm())


@bp.route("/<int:entry_id>/edit", methods=["GET", "POST"])
@roles(*WHO)
def edit(entry_id: int) -> ResponseReturnValue:
    with database().session(read_only=True) as session:
        entry = _load(session, entry_id)
        form = _with_accounts(EntryForm(obj=None), session, entry.site_id)
        if not form.is_submitted():
            form.occurred_on.data = date.fromisoformat(entry.occurred_on)
            form.account_id.data = entry.account_id or 0
            form.platform.data = entry.platform
            for name in ("account_text", "posted_text", "link", "posted_by_kind", "posted_by_name", "action_notes"):
                getattr(form, name).data = getattr(entry, name)
            form.actions.data = json.loads(entry.actions or "[]")
        session.expunge_all()
    if form.validate_on_submit():
        _account_of(entry.site_id, form)
        try:
            with database().session() as session:
                service.update_entry(session, entry_id, current_user.account.email, _input(form), today=_today(),
                                     site_ids=visible_site_ids())
        except service.AbuseLogError as exc:
            flash(f"The changes were not saved: {exc}.", "error")
        else:
            flash("The entry was saved.", "success")
            return redirect(url_for("abuse.show", entry_id=entry_id))
    return render_template("abuse/edit.html", form=form, entry=entry)


@bp.route("/<int:entry_id>/follow-ups", methods=["POST"])
@roles(*WHO)
def add_follow_up(entry_id: int) -> ResponseReturnValue:
    with database().session(read_only=True) as session:
        _load(session, entry_id)  # 404 before the form is read: a bad form must not tell other schools' ids apart
    form = FollowUpForm()
    if not form.validate_on_submit():
        errors = "; ".join(msgs[0] for msgs in form.errors.values())
        flash(f"The follow-up was not added: {errors}.", "error")
        return redirect(url_for("abuse.show", entry_id=entry_id))
    try:
        with database().session() as session:
            service.add_follow_up(session, entry_id, current_user.account.email, day_of(form.due_on),
                                  form.note.data or "", visible_site_ids())
    except service.NotFound:
        abort(404)
    except service.AbuseLogError as exc:
        flash(f"The follow-up was not added: {exc}.", "error")
    else:
        flash("Follow-up added.", "success")
    return redirect(url_for("abuse.show", entry_id=entry_id))


@bp.route("/follow-ups/<int:follow_up_id>/done", methods=["POST"])
@roles(*WHO)
def follow_up_done(follow_up_id: int) -> ResponseReturnValue:
    with database().session(read_only=True) as session:
        row = session.get(AbuseFollowUp, follow_up_id)
        if row is None:
            abort(404)
        entry_id = _load(session, row.entry_id).id
    try:
        with database().session() as session:
            service.mark_done(session, follow_up_id, current_user.account.email, visible_site_ids())
    except service.NotFound:
        abort(404)
    except service.AbuseLogError as exc:
        flash(f"Nothing changed: {exc}.", "error")
    else:
        flash("Follow-up marked done.", "success")
    return redirect(url_for("abuse.show", entry_id=entry_id))


@bp.route("/<int:entry_id>/screenshots", methods=["POST"])
@roles(*WHO)
def upload_screenshot(entry_id: int) -> ResponseReturnValue:
    with database().session(read_only=True) as session:
        _load(session, entry_id)  # 404 first, as for a follow-up
    form = ScreenshotForm()
    if not form.validate_on_submit():
        errors = "; ".join(msgs[0] for msgs in form.errors.values())
        flash(f"The screenshot was not added: {errors}", "error")
        return redirect(url_for("abuse.show", entry_id=entry_id))
    try:
        shot = _upload(form.screenshot)
        if shot is None:
            raise ScreenshotError("choose the screenshot file")
        with database().session() as session:
            service.add_screenshot(session, entry_id, current_user.account.email, shot, visible_site_ids())
    except service.NotFound:
        abort(404)
    except ScreenshotError as exc:
        flash(f"The screenshot was not added: {exc}.", "error")
    else:
        flash("Screenshot added.", "success")
    return redirect(url_for("abuse.show", entry_id=entry_id))


@bp.route("/screenshots/<int:screenshot_id>")
@roles(*WHO)
def screenshot(screenshot_id: int) -> ResponseReturnValue:
    try:
        with database().session() as session:
            shot = service.read_screenshot(session, screenshot_id, current_user.account.email, visible_site_ids())
            data, entry_id = shot.data, shot.entry_id
    except service.NotFound:
        abort(404)
    kind = sniff(data)  # sniffed again from the stored bytes: a row written by other means is never served as-is
    if kind is None:
        abort(404)
    response = Response(data, mimetype=kind)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Disposition"] = (f'inline; filename="abuse-{entry_id}-screenshot-{screenshot_id}.'
                                               f'{EXTENSIONS[kind]}"')
    return response
