"""The start page: what needs doing (open requests, reports and, for the DSL and the headteacher, safeguarding
concerns) and, for log readers, the dashboard, with lookups devices make on their own shown apart."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from admin_web import charts
from admin_web.access import ANY, LOG_READERS, database, has, roles
from admin_web.sites import acts_for_trust, current_site_id, site_filter, visible, visible_site_ids
from rules.localtime import LONDON
from rules.monitoring.bans import current_bans
from rules.review.policy_review import next_review_date
from rules.review.reminder import ReviewStatus
from rules.safeguarding import service as safeguarding
from rules.safeguarding.categories import Severity
from rules.school_media import posts as school_posts
from rules.school_media.abuse_log import follow_ups_due
from rules.school_media.post_states import PostStatus
from rules.school_media.site_forms import FormStatus
from rules.store import access_log
from rules.store.models import (
    AccessRequest,
    Category,
    CategoryUnlock,
    ContentReport,
    SiteCreationForm,
    SocialPost,
)
from rules.workflows.access_requests import list_requests
from rules.workflows.category_unlock import OPEN
from rules.workflows.content_reports import list_reports

bp = Blueprint("home", __name__)


def forms_waiting(db_session: Session, user_roles: set[str]) -> int:
    """Site creation approval forms waiting for this person's signature: the marketing officer's, then the
    headteacher's."""
    signs = (("marketing", FormStatus.OPEN), ("headteacher", FormStatus.MARKETING_APPROVED))
    waiting = [status for role, status in signs if role in user_roles]
    if not waiting:
        return 0
    return db_session.scalar(visible(select(func.count()).select_from(SiteCreationForm)
                                     .where(SiteCreationForm.status.in_(waiting)), SiteCreationForm.site_id)) or 0


@bp.route("/")
@roles(*ANY)
def index() -> ResponseReturnValue:
    user, user_roles = current_user.account, current_user.roles
    schools = visible_site_ids()  # every figure below counts the viewer's schools only
    with database().session(read_only=True) as db_session:
        my_requests = [r for r in list_requests(db_session, user, {"staff"}, site_ids=schools)][:5]
        my_reports = [r for r in list_reports(db_session, user, {"staff"}, site_ids=schools)][:5]
        open_requests = db_session.scalar(visible(select(func.count()).select_from(AccessRequest)
                                                  .where(AccessRequest.status == "open"), AccessRequest.site_id)) or 0
        open_reports = len(list_reports(db_session, user, user_roles, "open", site_ids=schools)) \
            if has("ict", "dsl") else 0
        open_reports_all = db_session.scalar(visible(select(func.count()).select_from(ContentReport)
                                                     .where(ContentReport.status == "open"),
                                                     ContentReport.site_id)) or 0
        banned = current_bans(db_session, site_ids=schools)
        # proposals this headteacher may decide: her schools' categories (a trust admin: the trust's ones too)
        open_unlocks = db_session.scalar(select(func.count()).select_from(CategoryUnlock)
                                         .join(Category, Category.id == CategoryUnlock.category_id)
                                         .where(CategoryUnlock.state == OPEN,
                                                site_filter(Category.site_id, trust_wide=acts_for_trust()))) \
            if has("headteacher") else 0
        # posts on the school's accounts: the poster's own, and the approvers' queue
        may_post = bool(school_posts.postable_accounts(db_session, user.id, site_ids=schools))
        my_posts = school_posts.list_posts(db_session, user, user_roles, mine=True, site_ids=schools)[:5]
        waiting_posts = db_session.scalar(visible(select(func.count()).select_from(SocialPost)
                                                  .where(SocialPost.status == PostStatus.SUBMITTED),
                                                  SocialPost.site_id)) \
            if school_posts.may_decide(user_roles) else None
        waiting_forms = forms_waiting(db_session, user_roles)
        stats = access_log.dashboard(db_session, site_ids=schools) if has(*LOG_READERS) else None
        concerns = safeguarding.visible_concerns(db_session, set(user_roles), limit=1000, site_ids=schools) \
            if has("dsl", "headteacher") else None
        today = datetime.now(LONDON).date()
        # the headteacher's: the policy review date (from 30 days before, or when none is set), follow-ups due
        review = ReviewStatus(next_review_date(db_session, current_site_id()), today) if has("headteacher") else None
        abuse_due = follow_ups_due(db_session, today, site_ids=schools) if has("headteacher") else None
    chart = None
    if stats is not None:
        chart = {"days": charts.columns(stats.blocked_by_day), "categories": charts.rows(stats.top_categories),
                 "hosts": charts.rows(stats.top_hosts), "devices": charts.rows(stats.top_devices),
                 "total": sum(v for _, v in stats.blocked_by_day), "automatic": stats.automatic,
                 "automatic_hosts": stats.top_automatic}
    open_concerns = None if concerns is None else {
        "count": len(concerns), "high": sum(1 for c in concerns if c.severity == Severity.HIGH)}
    return render_template("home/index.html", my_requests=my_requests, my_reports=my_reports,
                           open_requests=open_requests, open_reports=open_reports, open_reports_all=open_reports_all,
                           banned=banned, chart=chart, open_unlocks=open_unlocks or 0,
                           open_concerns=open_concerns, may_post=may_post, my_posts=my_posts,
                           waiting_posts=waiting_posts, waiting_forms=waiting_forms,
                           review=review if review and review.shown else None, abuse_due=abuse_due)
