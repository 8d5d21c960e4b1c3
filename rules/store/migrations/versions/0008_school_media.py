"""The rest of the policy: the social media site creation approval form, school social media accounts and
who may post on them, pupils and their consent record, posts awaiting approval, the abuse log, the policy's
review dates and reminders; and, on an access request, whether the approval opened the whole service.

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "policy_reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("recorded_by", sa.String(length=255), nullable=False),
        sa.Column("reviewed_on", sa.String(length=10), nullable=True),
        sa.Column("next_review_on", sa.String(length=10), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "pupils",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mis_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("class_name", sa.String(length=32), nullable=False),
        sa.Column("year_group", sa.String(length=16), nullable=False),
        sa.Column("on_roll", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("mis_id"),
    )
    with op.batch_alter_table("pupils", schema=None) as batch_op:
        batch_op.create_index("ix_pupils_class", ["class_name"], unique=False)

    op.create_table(
        "review_reminders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("next_review_on", sa.String(length=10), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=False),
        sa.Column("sent_to", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("next_review_on", "kind"),
    )
    op.create_table(
        "consent_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pupil_id", sa.Integer(), nullable=False),
        sa.Column("academic_year", sa.Integer(), nullable=False),
        sa.Column("images", sa.Boolean(), nullable=False),
        sa.Column("videos", sa.Boolean(), nullable=False),
        sa.Column("change", sa.String(length=16), nullable=False),
        sa.Column("given_by", sa.String(length=128), nullable=False),
        sa.Column("effective_on", sa.String(length=10), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.String(length=255), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["pupil_id"], ["pupils.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("consent_records", schema=None) as batch_op:
        batch_op.create_index(
            "ix_consent_records_pupil_year", ["pupil_id", "academic_year", "effective_on"], unique=False
        )

    op.create_table(
        "social_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("schedule_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.Column("retired_at", sa.DateTime(), nullable=True),
        sa.Column("retired_by", sa.String(length=255), nullable=True),
        sa.Column("retire_reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["schedule_id"], ["schedules.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "abuse_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("occurred_on", sa.String(length=10), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("account_text", sa.String(length=255), nullable=False),
        sa.Column("posted_text", sa.Text(), nullable=False),
        sa.Column("link", sa.Text(), nullable=False),
        sa.Column("posted_by_kind", sa.String(length=16), nullable=False),
        sa.Column("posted_by_name", sa.String(length=128), nullable=False),
        sa.Column("actions", sa.Text(), nullable=False),
        sa.Column("action_notes", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["social_accounts.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("abuse_log", schema=None) as batch_op:
        batch_op.create_index("ix_abuse_log_occurred", ["occurred_on"], unique=False)

    op.create_table(
        "site_creation_forms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("requester_id", sa.Integer(), nullable=False),
        sa.Column("requester_name", sa.String(length=128), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("site_name", sa.String(length=128), nullable=False),
        sa.Column("site_url", sa.Text(), nullable=False),
        sa.Column("department", sa.String(length=128), nullable=False),
        sa.Column("moderator", sa.String(length=128), nullable=False),
        sa.Column("aims", sa.Text(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("audience", sa.Text(), nullable=False),
        sa.Column("contributors", sa.Text(), nullable=False),
        sa.Column("administrator_ids", sa.Text(), nullable=False),
        sa.Column("vetter", sa.Text(), nullable=False),
        sa.Column("host", sa.Text(), nullable=False),
        sa.Column("go_live", sa.String(length=10), nullable=False),
        sa.Column("advertise", sa.Text(), nullable=False),
        sa.Column("parental_consent", sa.Text(), nullable=False),
        sa.Column("security_measures", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("marketing_id", sa.Integer(), nullable=True),
        sa.Column("marketing_name", sa.String(length=128), nullable=True),
        sa.Column("marketing_email", sa.String(length=255), nullable=True),
        sa.Column("marketing_signed_at", sa.DateTime(), nullable=True),
        sa.Column("headteacher_id", sa.Integer(), nullable=True),
        sa.Column("headteacher_name", sa.String(length=128), nullable=True),
        sa.Column("headteacher_email", sa.String(length=255), nullable=True),
        sa.Column("headteacher_signed_at", sa.DateTime(), nullable=True),
        sa.Column("refused_by", sa.String(length=255), nullable=True),
        sa.Column("refused_at", sa.DateTime(), nullable=True),
        sa.Column("refusal_reason", sa.Text(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["social_accounts.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(
            ["headteacher_id"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["marketing_id"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["requester_id"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("site_creation_forms", schema=None) as batch_op:
        batch_op.create_index("ix_site_creation_forms_status", ["status"], unique=False)

    op.create_table(
        "social_account_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("added_by", sa.String(length=255), nullable=False),
        sa.Column("added_at", sa.DateTime(), nullable=False),
        sa.Column("removed_by", sa.String(length=255), nullable=True),
        sa.Column("removed_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["social_accounts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("social_account_members", schema=None) as batch_op:
        batch_op.create_index("ix_social_account_members_account", ["account_id"], unique=False)

    op.create_table(
        "social_posts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("author_name", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("has_images", sa.Boolean(), nullable=False),
        sa.Column("has_videos", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decided_by", sa.String(length=255), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=False),
        sa.Column("checklist", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["social_accounts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("social_posts", schema=None) as batch_op:
        batch_op.create_index("ix_social_posts_status", ["status"], unique=False)

    op.create_table(
        "abuse_follow_ups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("due_on", sa.String(length=10), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("done_at", sa.DateTime(), nullable=True),
        sa.Column("done_by", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(["entry_id"], ["abuse_log.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("abuse_follow_ups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_abuse_follow_ups_entry_id"), ["entry_id"], unique=False)

    op.create_table(
        "abuse_screenshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_by", sa.String(length=255), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["entry_id"], ["abuse_log.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("abuse_screenshots", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_abuse_screenshots_entry_id"), ["entry_id"], unique=False)

    op.create_table(
        "social_post_pupils",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("pupil_id", sa.Integer(), nullable=False),
        sa.Column("via_class", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["post_id"], ["social_posts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["pupil_id"], ["pupils.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("post_id", "pupil_id"),
    )
    with op.batch_alter_table("access_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("service", sa.String(length=32), nullable=True))
    # Seven roles (and a trust's) no longer fit in 64 characters.
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column(
            "roles", existing_type=sa.String(length=64), type_=sa.String(length=255), existing_nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column(
            "roles", existing_type=sa.String(length=255), type_=sa.String(length=64), existing_nullable=False
        )
    with op.batch_alter_table("access_requests", schema=None) as batch_op:
        batch_op.drop_column("service")

    op.drop_table("social_post_pupils")
    with op.batch_alter_table("abuse_screenshots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_abuse_screenshots_entry_id"))

    op.drop_table("abuse_screenshots")
    with op.batch_alter_table("abuse_follow_ups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_abuse_follow_ups_entry_id"))

    op.drop_table("abuse_follow_ups")
    with op.batch_alter_table("social_posts", schema=None) as batch_op:
        batch_op.drop_index("ix_social_posts_status")

    op.drop_table("social_posts")
    with op.batch_alter_table("social_account_members", schema=None) as batch_op:
        batch_op.drop_index("ix_social_account_members_account")

    op.drop_table("social_account_members")
    with op.batch_alter_table("site_creation_forms", schema=None) as batch_op:
        batch_op.drop_index("ix_site_creation_forms_status")

    op.drop_table("site_creation_forms")
    with op.batch_alter_table("abuse_log", schema=None) as batch_op:
        batch_op.drop_index("ix_abuse_log_occurred")

    op.drop_table("abuse_log")
    op.drop_table("social_accounts")
    with op.batch_alter_table("consent_records", schema=None) as batch_op:
        batch_op.drop_index("ix_consent_records_pupil_year")

    op.drop_table("consent_records")
    op.drop_table("review_reminders")
    with op.batch_alter_table("pupils", schema=None) as batch_op:
        batch_op.drop_index("ix_pupils_class")

    op.drop_table("pupils")
    op.drop_table("policy_reviews")
