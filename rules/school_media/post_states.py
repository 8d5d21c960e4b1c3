"""The words a post's life is told in: its states, who approves, and the audit actions. One owner, so the service,
the web and the tests compare with the same members (stored as the same text: no migration)."""

from __future__ import annotations

from enum import StrEnum

from rules.school_media.accounts import AccountState, MemberRole


class PostStatus(StrEnum):
    """Where a post is. Only SUBMITTED can be approved; RETURNED goes back to SUBMITTED when its author edits it."""

    SUBMITTED = "submitted"  # waiting for the headteacher or the office manager
    RETURNED = "returned"  # sent back to its author to change
    APPROVED = "approved"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"  # by its author, before a decision
    TAKEN_DOWN = "taken_down"  # approved, posted, then removed from the platform (after consent was withdrawn)


WAITING = (PostStatus.SUBMITTED, PostStatus.RETURNED)  # the author may still edit or withdraw
# "Staff will get content approved by the headteacher/office manager before it is posted."
APPROVERS = frozenset({"headteacher", "office_manager"})
# The two values of the school accounts' own words that posts depend on (SocialAccountMember.role,
# SocialAccount.state), under the names posts use.
POSTER = MemberRole.POSTER
ACTIVE = AccountState.ACTIVE


class PostAction(StrEnum):
    """The audit log's action for each change to a post."""

    SUBMIT = "post.submit"
    EDIT = "post.edit"
    APPROVE = "post.approve"
    REFUSE = "post.refuse"
    RETURN = "post.return"
    WITHDRAW = "post.withdraw"
    REMOVE_PUPIL = "post.remove_pupil"
    TAKE_DOWN = "post.take_down"
