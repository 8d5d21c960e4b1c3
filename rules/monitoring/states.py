"""The states a ban goes through and what a group does about circumvention: the words the detector, the
watcher, the jobs, the web and the database share. Kept apart from the models (which need SQLAlchemy) so
that the compiled policy and `schoolgate check` can use them without loading the ORM.
"""

from __future__ import annotations

from enum import StrEnum


class BanState(StrEnum):
    """Where a ban is in its life: `Ban.state`.

    - ACTIVE: written by the detector, in force, waiting for the headteacher's review;
    - CONFIRMED: the headteacher confirmed it, with an end date;
    - LIFTED: the headteacher lifted it (perhaps as a false positive);
    - EXPIRED: its end date passed.

    A StrEnum, so the stored strings are the members' values and compare equal to them.
    """

    ACTIVE = "active"
    CONFIRMED = "confirmed"
    LIFTED = "lifted"
    EXPIRED = "expired"


# The states in which a ban is in force: DNS and the proxy enforce it, the headteacher can still act on it.
CURRENT_BAN_STATES = (BanState.ACTIVE, BanState.CONFIRMED)


class CircumventionMode(StrEnum):
    """What the watcher does when a device of a group passes the detector's threshold: `Group.circumvention_mode`.

    - BAN: write a ban (if the evidence proves the device sent it; else an alert);
    - ALERT: tell the staff, ban nobody (staff devices, guests);
    - OFF: nothing at all (the admin pages do not offer it; set in the database only).
    """

    BAN = "ban"
    ALERT = "alert"
    OFF = "off"
