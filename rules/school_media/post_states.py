"""The words a post's life is told in: its states, who approves, and the audit actions. One owner, so the service,
the web and the tests compare with the same members (stored as the same text: no migration)."""

from __future__ import annotations

from enum import StrEnum


class PostStatus(StrEnum):
    """Where a post is. Only SUBMITTED can be approved; RETURNED goes back to SUBMITTED when its author edits it."""

    SUBMITTED = "submitted"  # waiting for the headteacher or the office manager
    RETURNED = "returned"  # sent back to its author to change
    APPROVED = "approved"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"  # by its author, before a decision


WAITING = (PostStatus.SUBMITTED, PostStatus.RETURNED)  # the author may still edit or withdraw
# "Staff will get content approved by the headteacher/office manager before it is posted."
APPROVERS = frozenset({"headteacher", "office_manager"})
# What a membership and an account are called by the school accounts' own code (SocialAccountMember.role,
# SocialAccount.state); repeated here only as the two values posts depend on.
POSTER = "poster"
ACTIVE = "active"


class PostAction(StrEnum):
    """The audit log's action for each change to a post."""

    SUBMIT = "post.submit"
    EDIT = "post.edit"
    APPROVE = "post.approve"
    REFUSE = "post.refuse"
    RETURN = "post.return"
    WITHDRAW = "post.withdraw"
    REMOVE_PUPIL = "post.remove_pupil"
