"""The monitoring record and the audit log.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "access_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("ts", sa.DateTime(), nullable=False),
        sa.Column("client_ip", sa.String(length=45), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=True),
        sa.Column("device", sa.String(length=128), nullable=True),
        sa.Column("mac", sa.String(length=17), nullable=True),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("qtype", sa.String(length=10), nullable=True),
        sa.Column("host", sa.String(length=253), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=True),
        sa.Column("rule", sa.Text(), nullable=True),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("search_term", sa.Text(), nullable=True),
        sa.Column("signal", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("access_events", schema=None) as batch_op:
        batch_op.create_index("ix_access_events_client_ts", ["client_ip", "ts"], unique=False)
        batch_op.create_index("ix_access_events_device_ts", ["device_id", "ts"], unique=False)
        batch_op.create_index("ix_access_events_ts", ["ts"], unique=False)

    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("ts", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=255), nullable=False),
        sa.Column("before", sa.Text(), nullable=True),
        sa.Column("after", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index("ix_audit_log_ts", ["ts"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_ts")

    op.drop_table("audit_log")
    with op.batch_alter_table("access_events", schema=None) as batch_op:
        batch_op.drop_index("ix_access_events_ts")
        batch_op.drop_index("ix_access_events_device_ts")
        batch_op.drop_index("ix_access_events_client_ts")

    op.drop_table("access_events")
