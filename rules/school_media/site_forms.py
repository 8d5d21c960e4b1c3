"""The policy's "Social media site creation approval form": what a member of staff fills in, checked and filed.

The labels are the policy's own, word for word (its third form), so that the screen and the printed form read
like the paper one. The two tick-box sections (proposed audience, proposed contributors) are stored as JSON
objects: a ticked box's key maps to its details ("Ages: age range", "Schools involved: name of school", the
"Other" box's details), an unticked box is absent. Signing and refusing are in `rules.school_media.site_approval`.

A form is of the school it was filed in; its administrators are that school's staff. Reading functions take the
viewer's schools (`site_ids`; None: every school): another school's form is NotFound.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from rules.policy.families import FAMILIES, family_of
from rules.store.audit import audit
from rules.store.models import SiteCreationForm, User, UserSite
from rules.workflows.form_urls import BadURL, parse_web_url

TITLE = "Social media site creation approval form"
INTRO = ("Use of social media on behalf of the school must be approved by the headteacher prior to setting up sites. "
         "Please complete this form and return it to the headteacher.")
APPROVAL_TEXT = ("Approval from relevant people must be obtained before the site can be created. The relevant "
                 "managers must read this form and complete the information below before final approval can be "
                 "given by the headteacher.")
APPROVE_STATEMENT = "I approve the aims and content of the proposed site and the use of the school brand and logo."
TOO_FEW_ADMINISTRATORS = "the site must have at least two approved administrators"
MAX_TEXT = 5000
MAX_LINE = 128
FIRST_GO_LIVE = date(2000, 1, 1)
LAST_GO_LIVE = date(2099, 12, 31)


class FormStatus(StrEnum):
    """Where a form is: waiting for the marketing officer, then for the headteacher; approved or refused."""

    OPEN = "open"
    MARKETING_APPROVED = "marketing_approved"
    APPROVED = "approved"
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class Box:
    """A tick box of the audience and contributors sections; `detail` names the details it needs, if any."""

    key: str
    label: str
    detail: str | None = None
    detail_hint: str = ""


# The policy's boxes, in its order (the same for "Proposed audience" and "Proposed contributors").
AUDIENCE_BOXES: tuple[Box, ...] = (
    Box("pupils", "Pupils of the school", "Ages", "age range"),
    Box("staff", "School staff"),
    Box("families", "Pupils\u2019 family members"),
    Box("external", "External organisations"),
    Box("other_schools", "Pupils from other schools", "Schools involved", "name of school"),
    Box("public", "Members of the public"),
    Box("other", "Other (please give details)", "Details", "please give details"),
)
BOXES = {box.key: box for box in AUDIENCE_BOXES}

# The "Administration of the site" questions, word for word, by the column that holds each answer.
QUESTIONS = {
    "administrators": "Names of administrators (the site must have at least two approved administrators)",
    "vetter": "Who will vet external contributors? (Please state name and job role)",
    "host": "Who will host the site?",
    "go_live": "Proposed date of going live",
    "advertise": "How do you propose to advertise for contributors?",
    "parental_consent": "If contributors include pupils, how do you propose to inform and obtain the consent of "
                        "parents or responsible adults?",
    "security_measures": "What security measures will you take to prevent unwanted or unsuitable individuals from "
                         "contributing or becoming \u2018friends\u2019 and \u2018followers\u2019 etc. of the site?",
}
PURPOSE = "Please describe why you want to set up this site and the content of the site"
AIMS = "What are your aims and what do you hope to achieve by setting up this site?"
CONTENT = "What is the proposed content of the site?"


class FormError(ValueError):
    """The form cannot be filed or signed as it is; the message says why, in the form's words where it has them."""


class NotFound(LookupError):
    """No such form, or not one this person may see (the two look the same on purpose)."""


@dataclass
class SiteProposal:
    """What the member of staff typed, before it is checked."""

    platform: str
    site_name: str
    site_url: str
    department: str
    moderator: str
    aims: str
    content: str
    audience: dict[str, str] = field(default_factory=dict)  # ticked box -> its details ("" when it needs none)
    contributors: dict[str, str] = field(default_factory=dict)
    administrator_ids: list[int] = field(default_factory=list)
    vetter: str = ""
    host: str = ""
    go_live: str = ""  # YYYY-MM-DD
    advertise: str = ""
    parental_consent: str = ""
    security_measures: str = ""


# Characters that are not text: C0 controls and DEL (an escape sequence rewrites a technician's terminal), and the
# bidirectional overrides that display a name backwards. The account's name becomes the filter's label ("school
# account: NAME") in `schoolgate check`, the access log and the enforcers' logs, so it must be one plain line.
_NOT_TEXT = frozenset([*map(chr, range(32)), "\x7f", *map(chr, range(0x202A, 0x202F)),
                       *map(chr, range(0x2066, 0x206A))])
_LINE_BREAKS = frozenset("\n\r\t")


def _text(value: str, label: str, limit: int = MAX_TEXT, required: bool = True) -> str:
    text = value.strip()
    if required and not text:
        raise FormError(f"answer \u201c{label}\u201d")
    if len(text) > limit:
        raise FormError(f"\u201c{label}\u201d is at most {limit} characters")
    allowed = frozenset() if limit <= MAX_LINE else _LINE_BREAKS  # a one-line answer has no line breaks
    if any(ch in _NOT_TEXT and ch not in allowed for ch in text):
        raise FormError(f"\u201c{label}\u201d holds a control character: type it again as plain text")
    return text


def _boxes(ticked: dict[str, str], section: str) -> dict[str, str]:
    """The ticked boxes with their details; a box whose details the form asks for must have them."""
    unknown = set(ticked) - set(BOXES)
    if unknown:
        raise FormError(f"{section}: there is no box {sorted(unknown)[0]!r}")
    chosen: dict[str, str] = {}
    for box in AUDIENCE_BOXES:
        if box.key not in ticked:
            continue
        details = ticked[box.key].strip()
        if box.detail is not None and not details:
            raise FormError(f"{section}: \u201c{box.label}\u201d is ticked, so give \u201c{box.detail}: "
                            f"{box.detail_hint}\u201d")
        if len(details) > MAX_LINE * 2:
            raise FormError(f"{section}: the details of \u201c{box.label}\u201d are at most {MAX_LINE * 2} characters")
        chosen[box.key] = details if box.detail is not None else ""
    if not chosen:
        raise FormError(f"{section}: tick at least one box")
    return chosen


def _go_live(raw: str) -> str:
    try:
        day = date.fromisoformat(raw.strip()) if len(raw.strip()) == 10 else None
    except ValueError:
        day = None
    if day is None or not FIRST_GO_LIVE <= day <= LAST_GO_LIVE:
        raise FormError(f"\u201c{QUESTIONS['go_live']}\u201d must be a date written YYYY-MM-DD")
    return day.isoformat()


def administrators(session: Session, ids: list[int], site_id: int | None = None) -> list[User]:
    """The chosen administrators: distinct active staff accounts (of school `site_id`, when given), at least two
    (the form's own rule)."""
    wanted = list(dict.fromkeys(ids))
    if len(wanted) > 100:
        raise FormError("choose at most 100 administrators")
    query = select(User).where(User.id.in_(wanted), User.active.is_(True))
    if site_id is not None:
        query = query.where(User.id.in_(select(UserSite.user_id).where(UserSite.site_id == site_id)))
    found = {u.id: u for u in session.scalars(query)}
    if any(i not in found for i in wanted):
        raise FormError("an administrator must be an active staff account")
    if len(wanted) < 2:
        raise FormError(TOO_FEW_ADMINISTRATORS)
    return [found[i] for i in wanted]


def site_url(platform: str, raw: str) -> str:
    """The account's address, checked to be on its platform (`https://www.tiktok.com/@stmarys`)."""
    try:
        url = parse_web_url(raw)
    except BadURL as exc:
        raise FormError(f"the site's address: {exc}") from None
    found = family_of(url.host)
    if found is None or found.key != platform:
        raise FormError(f"the site's address must be on {FAMILIES[platform].label} ({url.host} is not)")
    return url.text


def check_proposal(session: Session, data: SiteProposal,
                   site_id: int | None = None) -> tuple[SiteProposal, list[User]]:
    """The proposal with its text trimmed and every rule of the form checked (its administrators staff of school
    `site_id`, when given); FormError names the first fault."""
    if data.platform not in FAMILIES:
        raise FormError(f"choose the platform: one of {', '.join(f.label for f in FAMILIES.values())}")
    contributors = _boxes(data.contributors, "Proposed contributors to the site")
    clean = SiteProposal(
        platform=data.platform,
        site_name=_text(data.site_name, "Name of the account", MAX_LINE),
        site_url=site_url(data.platform, data.site_url),
        department=_text(data.department, "Department", MAX_LINE),
        moderator=_text(data.moderator, "Moderator of site", MAX_LINE),
        aims=_text(data.aims, AIMS),
        content=_text(data.content, CONTENT),
        audience=_boxes(data.audience, "Proposed audience of the site"),
        contributors=contributors,
        administrator_ids=list(dict.fromkeys(data.administrator_ids)),
        vetter=_text(data.vetter, QUESTIONS["vetter"]),
        host=_text(data.host, QUESTIONS["host"]),
        go_live=_go_live(data.go_live),
        advertise=_text(data.advertise, QUESTIONS["advertise"]),
        parental_consent=_text(data.parental_consent, QUESTIONS["parental_consent"], required="pupils" in contributors),
        security_measures=_text(data.security_measures, QUESTIONS["security_measures"]),
    )
    return clean, administrators(session, clean.administrator_ids, site_id)


def summary(form: SiteCreationForm) -> dict[str, object]:
    """What the audit log keeps of a form at each step."""
    return {"status": form.status, "platform": form.platform, "site_name": form.site_name, "site_url": form.site_url,
            "administrator_ids": json.loads(form.administrator_ids or "[]"), "account_id": form.account_id}


def file_form(session: Session, user: User, data: SiteProposal, site_id: int | None = None) -> SiteCreationForm:
    """File the form in the member of staff's name for school `site_id` (None: the default school), dated now;
    it waits for the marketing officer."""
    clean, admins = check_proposal(session, data, site_id)
    form = SiteCreationForm(
        requester_id=user.id, requester_name=user.name, platform=clean.platform, site_name=clean.site_name,
        site_url=clean.site_url, department=clean.department, moderator=clean.moderator, aims=clean.aims,
        content=clean.content, audience=json.dumps(clean.audience), contributors=json.dumps(clean.contributors),
        administrator_ids=json.dumps([a.id for a in admins]), vetter=clean.vetter, host=clean.host,
        go_live=clean.go_live, advertise=clean.advertise, parental_consent=clean.parental_consent,
        security_measures=clean.security_measures, status=FormStatus.OPEN, refusal_reason="")
    if site_id is not None:
        form.site_id = site_id
    session.add(form)
    session.flush()
    audit(session, user.email, "site_form.file", f"site creation form #{form.id}", after=summary(form),
          site_id=form.site_id)
    return form


READERS = frozenset({"marketing", "headteacher"})  # they sign; everyone else sees only the forms they filed


def may_see_all(roles: set[str]) -> bool:
    return bool(roles & READERS)


def get_form(session: Session, form_id: int, user: User, roles: set[str],
             site_ids: Collection[int] | None = None) -> SiteCreationForm:
    """The form, if this person may see it: who filed it, the marketing officer or the headteacher, of one of
    these schools (None: any)."""
    form = session.get(SiteCreationForm, form_id)
    if form is None or not (may_see_all(roles) or form.requester_id == user.id) \
            or (site_ids is not None and form.site_id not in site_ids):
        raise NotFound(form_id)
    return form


def list_forms(session: Session, user: User, roles: set[str], status: str | None = None,
               site_ids: Collection[int] | None = None) -> list[SiteCreationForm]:
    """Newest first, of these schools (None: every school); the member of staff's own unless they sign forms."""
    query = select(SiteCreationForm).order_by(SiteCreationForm.created_at.desc(), SiteCreationForm.id.desc())
    if site_ids is not None:
        query = query.where(SiteCreationForm.site_id.in_(sorted(site_ids)))
    if not may_see_all(roles):
        query = query.where(SiteCreationForm.requester_id == user.id)
    if status:
        query = query.where(SiteCreationForm.status == status)
    return list(session.scalars(query.limit(500)))


def ticked(raw: str) -> dict[str, str]:
    """A stored tick-box section, read back (an unreadable one reads as nothing ticked)."""
    try:
        value = json.loads(raw or "{}")
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def administrator_accounts(session: Session, form: SiteCreationForm) -> list[User]:
    """The form's administrators as accounts, in the order chosen (inactive ones too: the form is a record)."""
    try:
        ids = [int(i) for i in json.loads(form.administrator_ids or "[]")]
    except (ValueError, TypeError):
        return []
    found = {u.id: u for u in session.scalars(select(User).where(User.id.in_(ids)))}
    return [found[i] for i in ids if i in found]
