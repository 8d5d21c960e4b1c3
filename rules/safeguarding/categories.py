"""The words safeguarding monitoring shares: what a concern is about (`Category`) and how urgent it is (`Severity`).

The concern records, the routing, the DSL's screens, the weekly report and the phrase files all store and
print these values, so they are StrEnums: the stored text is the member's value and compares equal to it.
"""

from __future__ import annotations

from enum import StrEnum


class Category(StrEnum):
    """The safeguarding categories of the DfE's monitoring standard and the school's policy."""

    SUICIDE_SELF_HARM = "suicide_self_harm"
    EATING_DISORDERS = "eating_disorders"
    EXTREMISM = "extremism"              # radicalisation and extremism: the Prevent duty
    SEXUAL_GROOMING = "sexual_grooming"  # sexual content, exploitation and grooming
    BULLYING_ABUSE = "bullying_abuse"
    DRUGS_ALCOHOL = "drugs_alcohol"
    WEAPONS_VIOLENCE = "weapons_violence"

    @property
    def label(self) -> str:
        """The words a DSL reads."""
        return _LABELS[self]


_LABELS = {
    Category.SUICIDE_SELF_HARM: "Suicide and self-harm",
    Category.EATING_DISORDERS: "Eating disorders",
    Category.EXTREMISM: "Radicalisation and extremism (Prevent)",
    Category.SEXUAL_GROOMING: "Sexual content, exploitation and grooming",
    Category.BULLYING_ABUSE: "Bullying and abuse",
    Category.DRUGS_ALCOHOL: "Drugs and alcohol",
    Category.WEAPONS_VIOLENCE: "Weapons and violence",
}


class Severity(StrEnum):
    """How soon the DSL must know.

    - HIGH: a child may be at risk now (first-person intent, a method, a disclosure): emailed at once;
    - MEDIUM: a concern to look at today (harmful communities, buying drugs, abusive words at others);
    - LOW: worth recording, mostly information-seeking; it matters as a pattern (the daily digest).
    """

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        """Larger is more urgent, for sorting (most severe first)."""
        return _RANKS[self]


_RANKS = {Severity.HIGH: 3, Severity.MEDIUM: 2, Severity.LOW: 1}
