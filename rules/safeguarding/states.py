"""The words a concern record shares with its readers: states, subjects, routes, sources, escalations.

The concern tables (migration 0007) store these as text; the service, the scheduler's watcher, the web
screens, the CLI and the weekly report all compare against these members, never against bare strings.
"""

from __future__ import annotations

from enum import StrEnum

from rules.safeguarding.categories import Category


class ConcernState(StrEnum):
    """Where a concern is in the DSL's triage. Every state but OPEN is closed (and so can be retained)."""

    OPEN = "open"
    NO_CONCERN = "no_concern"      # a false positive; needs a reason, and counts against its phrase
    RECORD_MADE = "record_made"    # recorded on the pupil's safeguarding file
    ESCALATED = "escalated"        # passed on (see `EscalatedTo`)


CLOSED_STATES = (ConcernState.NO_CONCERN, ConcernState.RECORD_MADE, ConcernState.ESCALATED)


class Subject(StrEnum):
    """Who the concern is about, which decides who hears of it (the policy's routing)."""

    PUPIL = "pupil"
    STAFF = "staff"
    HEADTEACHER = "headteacher"

    @property
    def rank(self) -> int:
        """Larger routes further up: a concern is never routed to the person it is about."""
        return {Subject.PUPIL: 0, Subject.STAFF: 1, Subject.HEADTEACHER: 2}[self]


class Route(StrEnum):
    """Who a concern was sent to."""

    DSL = "dsl"                  # every active account with the dsl role
    HEADTEACHER = "headteacher"  # every active account with the headteacher role
    CHAIR = "chair"              # [safeguarding] chair_of_governors_email; nobody sees these on the web


class Source(StrEnum):
    """What raised a concern."""

    SEARCH = "search"   # a search term matched a phrase
    SITE = "site"       # a host and URL path matched a phrase, or the site is in a safeguarding category
    MANUAL = "manual"   # a member of staff raised it by hand


class EscalatedTo(StrEnum):
    """Where an escalated concern went."""

    POLICE = "police"
    PREVENT = "prevent"
    LADO = "lado"                # the local authority designated officer (concerns about staff)
    SOCIAL_CARE = "social_care"  # children's social care
    PARENTS = "parents"

    @property
    def label(self) -> str:
        return {EscalatedTo.POLICE: "Police", EscalatedTo.PREVENT: "Prevent",
                EscalatedTo.LADO: "LADO (local authority designated officer)",
                EscalatedTo.SOCIAL_CARE: "Children's social care", EscalatedTo.PARENTS: "Parents"}[self]


# The roles that may see concerns at all (rules.workflows.accounts.ROLES).
DSL_ROLE = "dsl"
HEADTEACHER_ROLE = "headteacher"

# A concern raised by a visit to a site in a safeguarding site category stores the site category's name as
# its `category` (it is the school's list, not one of the phrase categories) and this prefix in `phrase`.
SITE_CATEGORY_PREFIX = "site category: "


def category_label(value: str) -> str:
    """The words for a concern's category: a phrase category's label, or the site category's own name."""
    try:
        return Category(value).label
    except ValueError:
        return f"Site category {value}"
