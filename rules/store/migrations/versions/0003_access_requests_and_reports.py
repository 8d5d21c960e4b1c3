"""The two forms of the school's policy (access requests, content reports) and the log's keyset index.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "access_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("requester_id", sa.Integer(), nullable=False),
        sa.Column("requester_name", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("full_url", sa.Text(), nullable=False),
        sa.Column("host", sa.String(length=253), nullable=False),
        sa.Column("site_content", sa.Text(), nullable=False),
        sa.Column("reasons_for_access", sa.Text(), nullable=False),
        sa.Column("risks_and_controls", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("technical_note", sa.Text(), nullable=False),
        sa.Column("reviewed_by", sa.String(length=128), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(), nullable=True),
        sa.Column("decision_reasons", sa.Text(), nullable=False),
        sa.Column("authoriser_id", sa.Integer(), nullable=True),
        sa.Column("authoriser_name", sa.String(length=128), nullable=True),
        sa.Column("authoriser_email", sa.String(length=255), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("scope", sa.String(length=8), nullable=True),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("device_id", sa.Integer(), nullable=True),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("rule_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["requester_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["authoriser_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["group_id"], ["groups.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["device_id"], ["devices.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["rule_id"], ["rules.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("access_requests", schema=None) as batch_op:
        batch_op.create_index("ix_access_requests_status", ["status"], unique=False)
        batch_op.create_index("ix_access_requests_requester", ["requester_id"], unique=False)

    op.create_table(
        "content_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reporter_id", sa.Integer(), nullable=False),
        sa.Column("reporter_name", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("individual", sa.String(length=128), nullable=False),
        sa.Column("incident_date", sa.String(length=10), nullable=False),
        sa.Column("full_urls", sa.Text(), nullable=False),
        sa.Column("nature", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("action_taken", sa.Text(), nullable=False),
        sa.Column("actioned_by_id", sa.Integer(), nullable=True),
        sa.Column("actioned_by", sa.String(length=128), nullable=True),
        sa.Column("actioned_by_email", sa.String(length=255), nullable=True),
        sa.Column("actioned_at", sa.DateTime(), nullable=True),
        sa.Column("rule_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["reporter_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["actioned_by_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["rule_id"], ["rules.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("content_reports", schema=None) as batch_op:
        batch_op.create_index("ix_content_reports_status", ["status"], unique=False)
        batch_op.create_index("ix_content_reports_reporter", ["reporter_id"], unique=False)

    with op.batch_alter_table("access_events", schema=None) as batch_op:
        batch_op.create_index("ix_access_events_ts_id", ["ts", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("access_events", schema=None) as batch_op:
        batch_op.drop_index("ix_access_events_ts_id")
    op.drop_table("content_reports")
    op.drop_table("access_requests")
