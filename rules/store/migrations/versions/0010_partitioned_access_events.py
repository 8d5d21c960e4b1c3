"""On PostgreSQL, access events live in a table partitioned by day (RANGE on ts), converted in place.

A trust writes about 250M events a day and keeps 90 days: one heap of 22 billion rows could only be purged
row by row, and every index would grow without end. Partitioned by UTC day, retention drops a day's table
whole (`rules.store.partitions.drop_before`) and a log page bounded in time plans only its days.

The conversion keeps every row and the id sequence: the old table is renamed, the partitioned one made
LIKE it (the same columns and defaults, so ids keep coming from the same sequence), a partition made for
every day the old rows hold and for the week ahead (and the DEFAULT partition, for a row no day takes:
see `rules.store.partitions`), the rows copied, the old table dropped, and the
sequence handed to the new id column.

Keys and indexes (each is paid for on every one of the 30k inserts a second at peak; measured by
`bench/trust.py`):

- PRIMARY KEY (id, ts): a partitioned table's unique key must hold its partition key. It serves the
  watchers, which read by id (`id > last ORDER BY id`, `max(id)`, gaps by id); ids only grow, so each
  insert touches the index's right edge.
- (ts, id): the log's keyset order, newest first, for a trust admin who reads every school at once.
- (site_id, ts, id): the same order within one school, the page everyone else reads; without it a school's
  page would skip the other 49 schools' rows (and a school whose gateway was quiet for a day would read
  the whole day of the others).
- (device_id, ts): one device's timeline (the log filtered by device, a concern's context).

SQLite is unchanged: one school a database, where `site_id` is constant and needs no index.

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from alembic import op
from sqlalchemy import text

from rules.store.partitions import AHEAD_DAYS, DEFAULT, create_days

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = "access_events_unpartitioned"
INDEXES = (
    ("ix_access_events_ts_id", "ts, id"),
    ("ix_access_events_site_ts_id", "site_id, ts, id"),
    ("ix_access_events_device_ts", "device_id, ts"),
)


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    sequence = conn.scalar(text("SELECT pg_get_serial_sequence('access_events', 'id')"))
    op.execute(f"ALTER TABLE access_events RENAME TO {OLD}")
    op.execute(f"ALTER TABLE {OLD} RENAME CONSTRAINT access_events_pkey TO {OLD}_pkey")
    for name in ("ix_access_events_ts_id", "ix_access_events_device_ts"):
        op.execute(f"ALTER INDEX IF EXISTS {name} RENAME TO {name}_unpartitioned")
    if sequence:
        op.execute(f"ALTER SEQUENCE {sequence} OWNED BY NONE")
    op.execute(f"CREATE TABLE access_events (LIKE {OLD} INCLUDING DEFAULTS) PARTITION BY RANGE (ts)")
    today = datetime.now(UTC).date()
    days = set(conn.scalars(text(f"SELECT DISTINCT ts::date FROM {OLD}")))
    days |= {today + timedelta(days=i) for i in range(AHEAD_DAYS + 1)}
    create_days(conn, days)
    op.execute(f"CREATE TABLE {DEFAULT} PARTITION OF access_events DEFAULT")
    # Rows first, keys after: building each index once over the copied rows is cheaper than growing it per row.
    op.execute(f"INSERT INTO access_events SELECT * FROM {OLD}")
    op.execute("ALTER TABLE access_events ADD CONSTRAINT access_events_pkey PRIMARY KEY (id, ts)")
    for name, columns in INDEXES:
        op.execute(f"CREATE INDEX {name} ON access_events ({columns})")
    op.execute(f"DROP TABLE {OLD}")
    if sequence:
        op.execute(f"ALTER SEQUENCE {sequence} OWNED BY access_events.id")


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    sequence = conn.scalar(text("SELECT pg_get_serial_sequence('access_events', 'id')"))
    if sequence:
        op.execute(f"ALTER SEQUENCE {sequence} OWNED BY NONE")
    op.execute(f"CREATE TABLE {OLD} (LIKE access_events INCLUDING DEFAULTS)")
    op.execute(f"INSERT INTO {OLD} SELECT * FROM access_events")
    op.execute("DROP TABLE access_events")  # its partitions go with it
    op.execute(f"ALTER TABLE {OLD} RENAME TO access_events")
    op.execute("ALTER TABLE access_events ADD CONSTRAINT access_events_pkey PRIMARY KEY (id)")
    op.execute("CREATE INDEX ix_access_events_ts_id ON access_events (ts, id)")
    op.execute("CREATE INDEX ix_access_events_device_ts ON access_events (device_id, ts)")
    if sequence:
        op.execute(f"ALTER SEQUENCE {sequence} OWNED BY access_events.id")
