"""Posts on the school's social media accounts: posters submit, change and withdraw; the headteacher or the office
manager approves after the consent record and the checklist.

Roles: every member of staff reaches these pages, but only an authorised poster of an active school account gets
the form (the service refuses anyone else: 403), and a post, which names pupils, is shown only to its author and
to the approvers (`rules.school_media.post_states.APPROVERS`); to anyone else it does not exist (404). The consent
of each pupil is shown to the approvers only, as the consent record is theirs and the DPO's to read.

Schools: a post is of its account's school, and names only that school's pupils. The viewer sees their schools'
posts; another school's post is 404 (checked before any form is read). A new post is written in the school the
viewer works in: its accounts and pupils are that school's.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy.orm import Session

from admin_web.access import ANY, database, roles
from admin_web.forms import opts
from admin_web.post_forms import ActionForm, ApproveForm, PostForm, ReasonForm
from admin_web.sites import current_site_id, visible_site_ids
from rules.school_media import post_approval, posts
from rules.school_media.post_checklist import BEFORE_INTRO, CONTENT_INTRO, CRITERIA, CRITERIA_INTRO, stored_ticks
from rules.school_media.post_consent import post_pupils
from rules.school_media.post_states import APPROVERS, WAITING, PostStatus
from rules.store.models import SocialPost

bp = Blueprint("posts", __name__, url_prefix="/posts")


def _load(db_session: Session, post_id: int) -> SocialPost:
    try:
        return posts.get_post(db_session, post_id, current_user.account, current_user.roles, visible_site_ids())
    except posts.NotFound:
        abort(404)


def _guard(post_id: int) -> None:
    """404 for a post not there, not theirs to see, or of another school, before anything else is read."""
    with database().session(read_only=True) as db_session:
        _load(db_session, post_id)


def _post_form(db_session: Session, post: SocialPost | None = None) -> PostForm:
    """The poster's form, its choices from the accounts they may post on and the roll, of the post's school (a
    new post's: the school the viewer works in)."""
    form = PostForm(obj=None)
    site_id = post.site_id if post is not None else current_site_id()
    accounts = posts.postable_accounts(db_session, current_user.account.id, [site_id])
    if post is not None and all(a.id != post.account_id for a in accounts):
        accounts = []
    form.account_id.choices = opts([(a.id, a.name) for a in accounts])
    form.classes.choices = opts([(c, f"{c} ({n} pupil{'s' if n != 1 else ''})")
                                 for c, n in posts.roll_classes(db_session, site_id)])
    form.pupil_ids.choices = opts([(p.id, f"{p.name} ({p.class_name})")
                                   for p in posts.roll_pupils(db_session, site_id)])
    return form


def _draft(form: PostForm, account_id: int) -> posts.Draft:
    return posts.Draft(account_id=account_id, text=form.text.data or "", has_images=bool(form.has_images.data),
                       has_videos=bool(form.has_videos.data), classes=frozenset(form.classes.data or []),
                       pupil_ids=frozenset(form.pupil_ids.data or []))


def _form_errors(form: PostForm) -> str:
    return "; ".join(f"{form[name].label.text}: {msgs[0]}" for name, msgs in form.errors.items())


@bp.route("/")
@roles(*ANY)
def index() -> ResponseReturnValue:
    user, user_roles = current_user.account, current_user.roles
    deciding = posts.may_decide(user_roles)
    ids = visible_site_ids()
    with database().session(read_only=True) as db_session:
        mine = posts.list_posts(db_session, user, user_roles, mine=True, site_ids=ids)
        waiting = posts.list_posts(db_session, user, user_roles, PostStatus.SUBMITTED, site_ids=ids) \
            if deciding else []
        decided = [p for p in posts.list_posts(db_session, user, user_roles, site_ids=ids)
                   if p.status not in WAITING][:50] if deciding else []
        stale = posts.approved_posts_no_longer_covered(db_session, posts.london_today(), ids) if deciding else []
        may_submit = bool(posts.postable_accounts(db_session, user.id, [current_site_id()]))
        names = posts.account_names(db_session)
    return render_template("posts/index.html", mine=mine, waiting=waiting, decided=decided, stale=stale,
                           deciding=deciding, may_submit=may_submit, names=names)


@bp.route("/new", methods=["GET", "POST"])
@roles(*ANY)
def new() -> ResponseReturnValue:
    with database().session(read_only=True) as db_session:
        form = _post_form(db_session)
    if form.is_submitted() and not form.account_id.choices:
        abort(403)  # not an authorised poster of any active account
    if form.validate_on_submit():
        try:
            with database().session() as db_session:
                post = posts.submit(db_session, current_user.account, _draft(form, form.account_id.data),
                                    site_ids=[current_site_id()])
        except posts.NotAuthorised:
            abort(403)
        except posts.PostError as exc:
            flash(f"The post was not saved: {exc}.", "error")
            return render_template("posts/edit.html", form=form, post=None, pupils=[]), 400
        flash(f"Post #{post.id} was sent to the headteacher and the office manager for approval.", "success")
        return redirect(url_for("posts.show", post_id=post.id))
    if form.is_submitted():
        flash(f"The post was not saved. {_form_errors(form)}", "error")
        return render_template("posts/edit.html", form=form, post=None, pupils=[]), 400
    return render_template("posts/edit.html", form=form, post=None, pupils=[])


@bp.route("/<int:post_id>")
@roles(*ANY)
def show(post_id: int) -> ResponseReturnValue:
    user = current_user.account
    with database().session(read_only=True) as db_session:
        post = _load(db_session, post_id)
        pupils = post_pupils(db_session, post.id)
        account = posts.account_names(db_session).get(post.account_id, "a removed account")
        review = post_approval.review(db_session, post, user, posts.london_today()) \
            if posts.may_decide(current_user.roles) else None
    approve_form = ApproveForm(seen=post.updated_at.isoformat())
    kind_boxes, criteria_boxes = list(approve_form.kinds), list(approve_form.criteria)
    return render_template("posts/show.html", post=post, pupils=pupils, account=account, review=review,
                           mine=post.author_id == user.id, approve_form=approve_form, kind_boxes=kind_boxes,
                           criteria_boxes=criteria_boxes[:len(CRITERIA)], before_boxes=criteria_boxes[len(CRITERIA):],
                           reason_form=ReasonForm(), action_form=ActionForm(), ticked=stored_ticks(post.checklist),
                           CONTENT_INTRO=CONTENT_INTRO, CRITERIA_INTRO=CRITERIA_INTRO, BEFORE_INTRO=BEFORE_INTRO,
                           WAITING=WAITING, APPROVERS=APPROVERS)


@bp.route("/<int:post_id>/edit", methods=["GET", "POST"])
@roles(*ANY)
def edit(post_id: int) -> ResponseReturnValue:
    user = current_user.account
    with database().session(read_only=True) as db_session:
        post = _load(db_session, post_id)
        if post.author_id != user.id:
            abort(404)
        pupils = post_pupils(db_session, post.id)
        form = _post_form(db_session, post)
        account_name = posts.account_names(db_session).get(post.account_id, "a removed account")
    if post.status not in WAITING:
        flash(f"This post was already {post.status}: it cannot be changed.", "error")
        return redirect(url_for("posts.show", post_id=post_id))
    if not form.account_id.choices:
        abort(403)  # no longer an authorised poster of its account
    if not form.is_submitted():
        form.account_id.data = post.account_id
        form.text.data, form.has_images.data, form.has_videos.data = post.text, post.has_images, post.has_videos
        form.classes.data = sorted({p.via_class for p in pupils if p.via_class})
        form.pupil_ids.data = [p.pupil_id for p in pupils if not p.via_class]
    elif form.validate_on_submit():
        try:
            with database().session() as db_session:
                posts.edit(db_session, post_id, user, _draft(form, post.account_id))
        except posts.NotFound:
            abort(404)
        except posts.NotAuthorised:
            abort(403)
        except posts.PostError as exc:
            flash(f"The post was not saved: {exc}.", "error")
            return render_template("posts/edit.html", form=form, post=post, pupils=pupils,
                                   account_name=account_name), 400
        flash("Saved: the post is waiting for approval.", "success")
        return redirect(url_for("posts.show", post_id=post_id))
    else:
        flash(f"The post was not saved. {_form_errors(form)}", "error")
        return render_template("posts/edit.html", form=form, post=post, pupils=pupils, account_name=account_name), 400
    return render_template("posts/edit.html", form=form, post=post, pupils=pupils, account_name=account_name)


def _act(post_id: int, not_done: str, change: Callable[[Session], object], done: str) -> ResponseReturnValue:
    """One change to a post in one transaction, then its page again saying what happened ("The post was not
    withdrawn: ..." naming why, or `done`); a post that is not there is 404, one not theirs to change 403."""
    try:
        with database().session() as db_session:
            change(db_session)
    except posts.NotFound:
        abort(404)
    except posts.NotAuthorised:
        abort(403)
    except posts.PostError as exc:
        flash(f"{not_done}: {exc}.", "error")
        return redirect(url_for("posts.show", post_id=post_id))
    flash(done, "success")
    return redirect(url_for("posts.show", post_id=post_id))


@bp.route("/<int:post_id>/withdraw", methods=["POST"])
@roles(*ANY)
def withdraw(post_id: int) -> ResponseReturnValue:
    _guard(post_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    return _act(post_id, "The post was not withdrawn",
                lambda db_session: posts.withdraw(db_session, post_id, current_user.account),
                "Withdrawn: it will not be posted.")


@bp.route("/<int:post_id>/pupils/<int:pupil_id>/remove", methods=["POST"])
@roles(*ANY)
def remove_pupil(post_id: int, pupil_id: int) -> ResponseReturnValue:
    """The author (while the post waits) or an approver takes one pupil out of the post."""
    _guard(post_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    user = current_user.account

    def remove(db_session: Session) -> None:
        if _load(db_session, post_id).author_id == user.id:
            posts.remove_own_pupil(db_session, post_id, pupil_id, user)
        else:
            post_approval.remove_pupil(db_session, post_id, pupil_id, user, current_user.roles)

    return _act(post_id, "The pupil was not removed", remove, "The pupil was removed from the post.")


@bp.route("/<int:post_id>/approve", methods=["POST"])
@roles(*APPROVERS)
def approve(post_id: int) -> ResponseReturnValue:
    _guard(post_id)
    form = ApproveForm()
    if not form.validate_on_submit():
        flash("The post was not approved: reload it and try again.", "error")
        return redirect(url_for("posts.show", post_id=post_id))
    return _act(post_id, "The post was not approved",
                lambda db_session: post_approval.approve(db_session, post_id, current_user.account,
                                                         current_user.roles, kinds=form.kinds.data or [],
                                                         criteria=form.criteria.data or [],
                                                         seen=datetime.fromisoformat(form.seen.data or "")),
                "Approved: the author may now post it.")


def _close(post_id: int, refuse: bool) -> ResponseReturnValue:
    _guard(post_id)
    form = ReasonForm()
    verb = "refused" if refuse else "sent back"
    if not form.validate_on_submit():
        flash(f"The post was not {verb}: give the reason, for the author to read.", "error")
        return redirect(url_for("posts.show", post_id=post_id))
    decide = post_approval.refuse if refuse else post_approval.send_back
    return _act(post_id, f"The post was not {verb}",
                lambda db_session: decide(db_session, post_id, current_user.account, current_user.roles,
                                          form.reason.data or ""),
                "Refused: the author can see why." if refuse else
                "Sent back: the author can change it and send it again.")


@bp.route("/<int:post_id>/refuse", methods=["POST"])
@roles(*APPROVERS)
def refuse(post_id: int) -> ResponseReturnValue:
    return _close(post_id, refuse=True)


@bp.route("/<int:post_id>/return", methods=["POST"])
@roles(*APPROVERS)
def send_back(post_id: int) -> ResponseReturnValue:
    return _close(post_id, refuse=False)


@bp.route("/<int:post_id>/take_down", methods=["POST"])
@roles(*APPROVERS)
def take_down(post_id: int) -> ResponseReturnValue:
    """Record that an approved post was removed from the platform (after consent was withdrawn or amended)."""
    _guard(post_id)
    form = ReasonForm()
    if not form.validate_on_submit():
        flash("Not recorded: say what was done.", "error")
        return redirect(url_for("posts.show", post_id=post_id))
    return _act(post_id, "Not recorded",
                lambda db_session: post_approval.take_down(db_session, post_id, current_user.account,
                                                           current_user.roles, form.reason.data or ""),
                "Recorded: the post is marked as taken down.")
