"""The ICT technician's screens: categories and list imports, groups, devices.

Each school's technician sees and changes the groups and devices of their schools and makes categories of the
school's own; the trust-wide categories (site_id NULL) they see but only a trust admin changes or imports into.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload
from werkzeug.utils import secure_filename

from admin_web.access import database, roles
from admin_web.forms import CategoryForm, DeviceForm, GroupForm, ListImportForm, opts
from admin_web.sites import acts_for_trust, current_site_id, get_visible_or_404, visible
from rules.devices.registry import DeviceError, register_device
from rules.monitoring.states import CircumventionMode
from rules.store.models import Category, CategoryUnlock, Device, Group, ListEntry, ListSource
from rules.workflows.catalogue_admin import RegistryError, import_list_file, save_category, save_group
from rules.workflows.category_unlock import OPEN, open_proposal

bp = Blueprint("registry", __name__)


def _group_choices(db_session: Session, site_id: int | None) -> list[tuple[object, str]]:
    """The groups of the school `site_id` (None, for a trust-wide category: of every school the viewer sees)."""
    query = visible(select(Group), Group.site_id) if site_id is None else select(Group).where(Group.site_id == site_id)
    return [(g.id, g.name) for g in db_session.scalars(query.order_by(Group.name))]


def may_change(category: Category) -> bool:
    """A school's own category is its technicians'; a trust-wide one is changed (and imported into) by trust
    admins only (`acts_for_trust`)."""
    return category.site_id is not None or acts_for_trust()


@bp.route("/categories/")
@roles("ict")
def categories() -> ResponseReturnValue:
    with database().session(read_only=True) as db_session:
        rows = list(db_session.scalars(visible(select(Category), Category.site_id, trust_wide=True)
                                       .options(selectinload(Category.blocked_groups)).order_by(Category.name)))
        names = {c.id: c.name for c in rows}
        counts = {k: n for k, n in db_session.execute(select(ListEntry.category_id, func.count())
                                                      .where(ListEntry.category_id.in_(names))
                                                      .group_by(ListEntry.category_id))}
        sources = list(db_session.scalars(select(ListSource).where(ListSource.category_id.in_(names))
                                          .order_by(ListSource.imported_at.desc()).limit(50)))
        proposed = set(db_session.scalars(select(CategoryUnlock.category_id).where(CategoryUnlock.state == OPEN)))
        form = ListImportForm()
        form.category_id.choices = opts([(c.id, c.name) for c in rows if may_change(c)])
    return render_template("registry/categories.html", rows=rows, counts=counts, sources=sources, names=names,
                           form=form, proposed=proposed)


@bp.route("/categories/new", methods=["GET", "POST"], defaults={"category_id": None})
@bp.route("/categories/<int:category_id>", methods=["GET", "POST"])
@roles("ict")
def category(category_id: int | None) -> ResponseReturnValue:
    with database().session(read_only=True) as db_session:
        existing = get_visible_or_404(db_session, Category, category_id) if category_id else None
        form = CategoryForm(obj=existing)
        school = existing.site_id if existing is not None else None if form.trust_wide.data else current_site_id()
        form.group_ids.choices = opts(_group_choices(db_session, school))
        if existing is not None and not form.is_submitted():
            form.trust_wide.data = existing.site_id is None
            form.group_ids.data = [g.id for g in existing.blocked_groups]
        waiting = open_proposal(db_session, existing.id) if existing is not None else None
    changeable = existing is None or may_change(existing)
    if form.is_submitted() and not (changeable and (existing is not None or not form.trust_wide.data
                                                    or acts_for_trust())):
        abort(403)  # the trust's categories are the trust admins' (the page says so)
    if form.validate_on_submit():
        unlock = existing is not None and existing.locked and not form.locked.data
        try:
            with database().session() as db_session:
                save_category(db_session, current_user.account, category_id, name=form.name.data or "",
                              description=form.description.data or "", locked=bool(form.locked.data),
                              block_everyone=bool(form.block_everyone.data), group_ids=form.group_ids.data or [],
                              unlock_reason=form.unlock_reason.data or "", safeguarding=bool(form.safeguarding.data),
                              site_id=school)
        except RegistryError as exc:
            flash(f"Not saved: {exc}.", "error")
        except LookupError:
            abort(404)
        else:
            if unlock:
                flash("Saved, and still locked: unlocking it needs the headteacher's confirmation, who has been "
                      "asked (Unlock proposals).", "success")
            else:
                flash("Category saved: the filter applies it within a few seconds.", "success")
            return redirect(url_for("registry.categories"))
    return render_template("registry/category.html", form=form, existing=existing, waiting=waiting,
                           changeable=changeable)


@bp.route("/lists/import", methods=["POST"])
@roles("ict")
def import_list() -> ResponseReturnValue:
    form = ListImportForm()
    form.category_id.choices = []
    if not form.validate_on_submit():
        flash("Choose a list file and a category.", "error")
        return redirect(url_for("registry.categories"))
    with database().session(read_only=True) as db_session:
        category = get_visible_or_404(db_session, Category, form.category_id.data or 0)
        if not may_change(category):
            abort(403)
    upload = form.file.data
    name = secure_filename(upload.filename or "") or "upload.txt"
    with tempfile.TemporaryDirectory(prefix="schoolgate-list-") as folder:
        path = Path(folder) / name
        upload.save(path)
        try:
            with database().session() as db_session:
                outcome = import_list_file(db_session, current_user.account, path, name, form.category_id.data or 0,
                                           form.fmt.data or "auto")
        except RegistryError as exc:
            flash(f"Not imported: {exc}.", "error")
            return redirect(url_for("registry.categories"))
    return render_template("registry/imported.html", outcome=outcome)


@bp.route("/groups/")
@roles("ict")
def groups() -> ResponseReturnValue:
    with database().session(read_only=True) as db_session:
        rows = list(db_session.scalars(visible(select(Group), Group.site_id).order_by(Group.name)))
        counts = {k: n for k, n in db_session.execute(visible(select(Device.group_id, func.count()), Device.site_id)
                                                      .group_by(Device.group_id))}
    return render_template("registry/groups.html", rows=rows, counts=counts)


@bp.route("/groups/new", methods=["GET", "POST"], defaults={"group_id": None})
@bp.route("/groups/<int:group_id>", methods=["GET", "POST"])
@roles("ict")
def group(group_id: int | None) -> ResponseReturnValue:
    with database().session(read_only=True) as db_session:
        existing = get_visible_or_404(db_session, Group, group_id) if group_id else None
    form = GroupForm(obj=existing)
    if form.validate_on_submit():
        try:
            with database().session() as db_session:
                save_group(db_session, current_user.account, group_id, name=form.name.data or "",
                           description=form.description.data or "", safesearch=bool(form.safesearch.data),
                           circumvention_mode=form.circumvention_mode.data or CircumventionMode.BAN,
                           site_id=current_site_id())
        except RegistryError as exc:
            flash(f"Not saved: {exc}.", "error")
        except LookupError:
            abort(404)
        else:
            flash("Group saved.", "success")
            return redirect(url_for("registry.groups"))
    return render_template("registry/group.html", form=form, existing=existing)


@bp.route("/devices/")
@roles("ict")
def devices() -> ResponseReturnValue:
    with database().session(read_only=True) as db_session:
        rows = list(db_session.scalars(visible(select(Device), Device.site_id)
                                       .options(selectinload(Device.group), selectinload(Device.addresses))
                                       .order_by(Device.name, Device.id)))
    return render_template("registry/devices.html", rows=rows)


@bp.route("/devices/new", methods=["GET", "POST"])
@roles("ict")
def device_new() -> ResponseReturnValue:
    form = DeviceForm()
    school = current_site_id()  # the device, and the group it joins, are of the school chosen in the header
    with database().session(read_only=True) as db_session:
        form.group.choices = opts([(name, name) for _, name in _group_choices(db_session, school)])
    if form.validate_on_submit():
        try:
            with database().session() as db_session:
                change = register_device(db_session, ip=form.ip.data or "", mac=form.mac.data or None,
                                         name=form.name.data or "", group=form.group.data or "",
                                         person=form.person.data or None, actor=current_user.email, site_id=school)
                verb = "Registered" if change.created else "Updated"
        except DeviceError as exc:
            flash(f"Not saved: {exc}.", "error")
        else:
            flash(f"{verb} the device.", "success")
            return redirect(url_for("registry.devices"))
    return render_template("registry/device.html", form=form)
