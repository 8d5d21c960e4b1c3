"""Drop two access-event indexes that every insert paid for: ts alone (covered by ts, id) and
client_ip, ts (the log is read by device or by time). Halves the cost of writing an event on SQLite.

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("access_events", schema=None) as batch_op:
        batch_op.drop_index("ix_access_events_ts")
        batch_op.drop_index("ix_access_events_client_ts")


def downgrade() -> None:
    with op.batch_alter_table("access_events", schema=None) as batch_op:
        batch_op.create_index("ix_access_events_client_ts", ["client_ip", "ts"], unique=False)
        batch_op.create_index("ix_access_events_ts", ["ts"], unique=False)
