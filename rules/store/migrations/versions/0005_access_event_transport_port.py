"""Access events say how the device reached us (`transport`: udp or tcp) and, for the gateway's catchers,
the destination port it tried. A ban needs evidence the sender could not have forged with a borrowed
address, and only a completed TCP connection (or a MAC-bound address) gives that.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("access_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("transport", sa.String(length=3), nullable=True))
        batch_op.add_column(sa.Column("port", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("access_events", schema=None) as batch_op:
        batch_op.drop_column("port")
        batch_op.drop_column("transport")
