"""The post checklist: the policy's "Staff conduct" points and two "Data protection principles" points, word for
word, as the approver ticks them. The ticks are stored (`SocialPost.checklist`) as the words themselves, so the
record still reads true if the policy's wording changes later."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

CONTENT_INTRO = ("Staff will only post content that meets the school\u2019s social media objectives, including the "
                 "following:")
CONTENT_KINDS = (
    "Reminders about upcoming events",
    "Good news regarding the school\u2019s performance, attainment or reputation",
    "Good news regarding the achievements of staff and pupils",
    "Information that parents should be aware of, e.g. school closure",
)
CRITERIA_INTRO = "Staff will ensure that their posts meet the following criteria:"
CRITERIA = (
    "The post does not risk bringing the school into disrepute",
    "The post only expresses neutral opinions and does not include any personal views",
    "The post uses appropriate and school-friendly language",
    "The post is sensitive towards those who will read it, and uses particularly neutral and sensitive language "
    "when discussing something that may be controversial to some",
    "The post does not contain any wording or content that could be construed as offensive",
    "The post does not take a side in any political debate or express political opinions",
    "The post does not contain any illegal or unlawful content",
)
BEFORE_INTRO = "Before posting on social media, staff will:"
BEFORE_POSTING = (
    "Refer to the consent record log to ensure consent has been received for that pupil and for the exact "
    "processing activities required.",
    "Ensure that there is no additional identifying information relating to a pupil.",
)
EVERY_CRITERION = CRITERIA + BEFORE_POSTING  # each must be ticked


@dataclass(frozen=True)
class Ticks:
    """What the approver ticked: which kinds of content the post is, and the criteria it meets."""

    kinds: tuple[str, ...]
    criteria: tuple[str, ...]

    def as_json(self) -> str:
        return json.dumps(list(self.kinds) + list(self.criteria))


def check_ticks(kinds: Iterable[str], criteria: Iterable[str]) -> tuple[Ticks, list[str]]:
    """The ticks in the checklist's order, and what is missing (empty: the checklist is complete).

    A post must be at least one of the kinds of content, and meet every criterion; words not on the checklist
    are ignored, so a forged form cannot store anything else."""
    kind_set, criteria_set = set(kinds), set(criteria)
    ticks = Ticks(tuple(k for k in CONTENT_KINDS if k in kind_set),
                  tuple(c for c in EVERY_CRITERION if c in criteria_set))
    missing: list[str] = []
    if not ticks.kinds:
        missing.append("tick the kind of content the post is (at least one of the school's social media "
                       "objectives)")
    unticked = [c for c in EVERY_CRITERION if c not in criteria_set]
    if unticked:
        missing.append(f"{len(unticked)} of the {len(EVERY_CRITERION)} criteria "
                       f"{'is' if len(unticked) == 1 else 'are'} not ticked (first: \u201c{unticked[0]}\u201d)")
    return ticks, missing


def stored_ticks(text: str) -> list[str]:
    """The words ticked, as stored; an unreadable value reads as nothing ticked."""
    try:
        value = json.loads(text or "[]")
    except ValueError:
        return []
    return [str(v) for v in value] if isinstance(value, list) else []
