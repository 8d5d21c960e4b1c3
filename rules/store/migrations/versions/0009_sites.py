"""Schools of a multi-academy trust in one database: `sites`, the accounts' schools, and the school of each row.

Everything stored before belongs to site 1, "default" (the server default of every new `site_id`), so a single
school upgrades without noticing. Categories and rules may be the whole trust's (`site_id` NULL, as every
existing one becomes) or one school's. Names and addresses that were unique in the database become unique
within a school: two schools' iPads can both be 10.1.0.5.

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Tables whose every row belongs to one school.
SCHOOL_TABLES = ("groups", "devices", "device_addresses", "bans", "access_requests", "content_reports", "concerns",
                 "site_creation_forms", "social_accounts", "social_posts", "abuse_log", "pupils", "policy_reviews",
                 "review_reminders")
# Tables whose rows are the trust's (NULL) or one school's.
TRUST_OR_SCHOOL_TABLES = ("categories", "rules", "audit_log")
# Unique within the database before, within a school now: table -> (columns before, name after, columns after).
PER_SCHOOL_UNIQUE = {
    "groups": (("name",), "uq_groups_site_name", ("site_id", "name")),
    "devices": (("mac",), "uq_devices_site_mac", ("site_id", "mac")),
    "device_addresses": (("ip",), "uq_device_addresses_site_ip", ("site_id", "ip")),
    "pupils": (("mis_id",), "uq_pupils_site_mis_id", ("site_id", "mis_id")),
    "review_reminders": (("next_review_on", "kind"), "uq_review_reminders_site_kind",
                         ("site_id", "next_review_on", "kind")),
}
# How the old, unnamed unique constraints are found: PostgreSQL named them itself; on SQLite, batch mode
# reflects them without a name and this convention gives them one to drop by.
SQLITE_NAMING = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def _old_unique_name(table: str, columns: tuple[str, ...], dialect: str) -> str:
    if dialect == "postgresql":
        return f"{table}_{'_'.join(columns)}_key"
    return f"uq_{table}_{columns[0]}"


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    sites = op.create_table(
        "sites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.bulk_insert(sites, [{"id": 1, "name": "default", "created_at": datetime.now(UTC).replace(tzinfo=None)}])
    if dialect == "postgresql":
        op.execute("SELECT setval(pg_get_serial_sequence('sites', 'id'), 1)")
    op.create_table(
        "user_sites",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "site_id"),
    )
    op.execute("INSERT INTO user_sites (user_id, site_id) SELECT id, 1 FROM users")

    for table in SCHOOL_TABLES:
        with op.batch_alter_table(table, naming_convention=SQLITE_NAMING) as batch:
            batch.add_column(sa.Column("site_id", sa.Integer(), nullable=False, server_default="1"))
            batch.create_foreign_key(f"fk_{table}_site_id", "sites", ["site_id"], ["id"])
            batch.create_index(f"ix_{table}_site_id", ["site_id"], unique=False)
            if table in PER_SCHOOL_UNIQUE:
                before, name, after = PER_SCHOOL_UNIQUE[table]
                batch.drop_constraint(_old_unique_name(table, before, dialect), type_="unique")
                batch.create_unique_constraint(name, list(after))
    for table in TRUST_OR_SCHOOL_TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("site_id", sa.Integer(), nullable=True))
            batch.create_foreign_key(f"fk_{table}_site_id", "sites", ["site_id"], ["id"])
            batch.create_index(f"ix_{table}_site_id", ["site_id"], unique=False)
    # Access events: a plain column (no foreign key to check on tens of thousands of inserts a second); adding
    # a column with a constant default is a change to the catalogue only, on both databases, however many rows.
    op.add_column("access_events", sa.Column("site_id", sa.Integer(), nullable=False, server_default="1"))


def downgrade() -> None:
    """Back to one school: only the default school's rows can keep their uniqueness, so others must be gone."""
    dialect = op.get_bind().dialect.name
    op.drop_column("access_events", "site_id")
    for table in TRUST_OR_SCHOOL_TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_index(f"ix_{table}_site_id")
            batch.drop_constraint(f"fk_{table}_site_id", type_="foreignkey")
            batch.drop_column("site_id")
    for table in SCHOOL_TABLES:
        with op.batch_alter_table(table) as batch:
            if table in PER_SCHOOL_UNIQUE:
                before, name, _after = PER_SCHOOL_UNIQUE[table]
                batch.drop_constraint(name, type_="unique")
                batch.create_unique_constraint(_old_unique_name(table, before, dialect), list(before))
            batch.drop_index(f"ix_{table}_site_id")
            batch.drop_constraint(f"fk_{table}_site_id", type_="foreignkey")
            batch.drop_column("site_id")
    op.drop_table("user_sites")
    op.drop_table("sites")
