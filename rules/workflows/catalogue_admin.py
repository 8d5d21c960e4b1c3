"""The ICT technician's changes to categories, lists, groups and devices, each with its audit entry.

Every function works in the caller's transaction, so the change, the version bump (PolicyData) and
the audit entry commit together or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from rules.lists import importer
from rules.lists.parse import FORMATS, ListFileError
from rules.monitoring.states import CircumventionMode
from rules.sites import DEFAULT_SITE_ID
from rules.store.audit import audit
from rules.store.models import Category, Group, User
from rules.workflows.category_unlock import UnlockError, propose_unlock, withdraw_unlock

# What the admin pages offer; OFF is for the database only.
CIRCUMVENTION_MODES = (CircumventionMode.BAN, CircumventionMode.ALERT)


class RegistryError(ValueError):
    """The change cannot be made; the message says why."""


def _check_name(name: str, what: str) -> str:
    clean = name.strip().lower()
    if not importer.CATEGORY_NAME.match(clean):
        raise RegistryError(f"a {what} name is lower-case letters, digits, '-' or '_' (e.g. social-media)")
    return clean


def _category_state(c: Category) -> dict[str, object]:
    return {"name": c.name, "description": c.description, "locked": c.locked, "block_everyone": c.block_everyone,
            "blocked_groups": sorted(g.name for g in c.blocked_groups), "safeguarding": bool(c.safeguarding)}


def save_category(session: Session, user: User, category_id: int | None, *, name: str, description: str,
                  locked: bool, block_everyone: bool, group_ids: list[int], unlock_reason: str = "",
                  safeguarding: bool | None = None, site_id: int | None = None) -> Category:
    """Create or change a category; a built-in category keeps its name. A new one is the school `site_id`'s own
    (None: the whole trust's); a category blocks for groups of its own school only (any school's, if trust-wide).

    `safeguarding` marks the category as one whose visits raise a safeguarding concern for the DSL, blocked or
    not; None leaves the mark as it is (callers that do not show it cannot clear it by accident).

    Locking takes effect at once. Unticking "locked" on a locked category does not: the category stays locked
    and a proposal to unlock it (with `unlock_reason`) waits for the headteacher (`category_unlock`); the
    other changes are saved."""
    clean = _check_name(name, "category")
    category = session.get(Category, category_id) if category_id else None
    if category_id and category is None:
        raise LookupError(category_id)
    clash = session.scalar(select(Category).where(Category.name == clean))
    if clash is not None and clash is not category:
        raise RegistryError(f"there is already a category named {clean}")
    before = None if category is None else _category_state(category)
    if category is None:
        category = Category(name=clean, site_id=site_id)
        session.add(category)
    elif category.builtin and category.name != clean:
        raise RegistryError("a built-in category keeps its name")
    unlock = bool(category.locked) and not locked  # a proposal only, made below
    category.name = clean
    category.description = description.strip()
    category.locked = locked or unlock
    category.block_everyone = block_everyone
    if safeguarding is not None:
        category.safeguarding = safeguarding
    groups = select(Group).where(Group.id.in_(group_ids))
    if category.site_id is not None:
        groups = groups.where(Group.site_id == category.site_id)
    category.blocked_groups = list(session.scalars(groups))
    session.flush()
    audit(session, user.email, "category.create" if before is None else "category.update",
          f"category {category.name}", before=before, after=_category_state(category), site_id=category.site_id)
    if unlock:
        try:
            propose_unlock(session, user, category, unlock_reason)
        except UnlockError as exc:
            raise RegistryError(str(exc)) from None
    elif locked and before is not None and before["locked"]:
        withdraw_unlock(session, user, category)  # saved with "Locked" ticked: no unlock is wanted any more
    return category


@dataclass(frozen=True)
class ImportOutcome:
    category: str
    source: str
    format: str
    entries: int
    skipped: int
    lines: int
    examples: dict[str, list[str]]
    summary: str = ""  # e.g. "12 hosts lines, 30 adblock lines, 5 plain names, 2 skipped"


def import_list_file(session: Session, user: User, path: Path, source_name: str, category_id: int,
                     fmt: str = "auto") -> ImportOutcome:
    """Import an uploaded list into a category, replacing what the same source gave it before."""
    category = session.get(Category, category_id)
    if category is None:
        raise RegistryError("choose the category the list belongs to")
    if fmt not in ("auto", *FORMATS) or fmt == "ut1":
        raise RegistryError("the format is one of auto, hosts, adblock or domains")
    try:
        result = importer.import_list_file(session, user.email, path, category.name, fmt=fmt, source_name=source_name,
                                           location=f"upload:{source_name}", create=False)
    except (ListFileError, UnicodeDecodeError) as exc:
        raise RegistryError(f"the file could not be read as a list: {exc}") from None
    except importer.ListImportError as exc:
        raise RegistryError(str(exc)) from None
    report = result.report
    return ImportOutcome(category.name, source_name, result.format, result.entries, report.skipped_total,
                         report.lines, dict(report.examples), report.summary())


def _group_state(g: Group) -> dict[str, object]:
    return {"name": g.name, "description": g.description, "safesearch": g.safesearch,
            "circumvention_mode": g.circumvention_mode}


def save_group(session: Session, user: User, group_id: int | None, *, name: str, description: str,
               safesearch: bool, circumvention_mode: str, site_id: int = DEFAULT_SITE_ID) -> Group:
    """Create (in the school `site_id`) or change a group; its name is unique within its school."""
    clean = _check_name(name, "group")
    if circumvention_mode not in CIRCUMVENTION_MODES:
        raise RegistryError("circumvention leads to a ban or an alert")
    group = session.get(Group, group_id) if group_id else None
    if group_id and group is None:
        raise LookupError(group_id)
    school = group.site_id if group is not None else site_id
    clash = session.scalar(select(Group).where(Group.name == clean, Group.site_id == school))
    if clash is not None and clash is not group:
        raise RegistryError(f"there is already a group named {clean}")
    before = None if group is None else _group_state(group)
    if group is None:
        group = Group(name=clean, site_id=school)
        session.add(group)
    group.name = clean
    group.description = description.strip()
    group.safesearch = safesearch
    group.circumvention_mode = circumvention_mode
    session.flush()
    audit(session, user.email, "group.create" if before is None else "group.update", f"group {group.name}",
          before=before, after=_group_state(group), site_id=group.site_id)
    return group
