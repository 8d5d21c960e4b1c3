"""How far the event writer has stored each spool segment: written with the events, so a frame is never stored twice.

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "event_spool_marks",
        sa.Column("segment", sa.String(length=64), nullable=False),
        sa.Column("frame", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("segment"),
    )


def downgrade() -> None:
    op.drop_table("event_spool_marks")
