"""users, sign-in throttling, audit log, row versions

- `users` (reference data: role, region, department, grid cells, enterprise) and
  `login_failures` (throttling by account and address);
- `audit_log`, written by row triggers on every audited table and append-only
  (migrations/sql/0008_audit.sql);
- a `version` on every located row, checked and bumped by each ORM update (stale edits
  get 409, never overwrite).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 07:00:00
"""

from pathlib import Path

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

SQL = Path(__file__).resolve().parent.parent / "sql" / "0008_audit.sql"
LOCATED = ("enterprises", "hazard_sources", "public_zones", "risk_points", "hidden_dangers",
           "emergency_resources")
AUDITED = (*LOCATED, "grid_cells", "users")


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=12), nullable=False),
        sa.Column("display_name", sa.String(length=100), nullable=True),
        sa.Column("region_code", sa.CHAR(length=6), nullable=True),
        sa.Column("department", sa.String(length=40), nullable=True),
        sa.Column("grid_cells", postgresql.ARRAY(sa.String(length=40)), server_default="{}",
                  nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=True),
        sa.Column("disabled", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("token_version", sa.Integer(), server_default="0", nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.CheckConstraint("role IN ('admin','official','warden','enterprise','planner')",
                           name=op.f("ck_users_role")),
        sa.ForeignKeyConstraint(["region_code"], ["regions.code"],
                                name=op.f("fk_users_region_code_regions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "login_failures",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
    )
    for column in ("username", "address", "at"):
        op.create_index(op.f(f"ix_login_failures_{column}"), "login_failures", [column])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("action", sa.String(length=6), nullable=False),
        sa.Column("table_name", sa.String(length=40), nullable=False),
        sa.Column("row_id", sa.String(length=40), nullable=False),
        sa.Column("county_code", sa.CHAR(length=6), nullable=True),
        sa.Column("before", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("after", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("client_address", sa.String(length=64), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    for column in ("at", "user_id", "county_code"):
        op.create_index(op.f(f"ix_audit_log_{column}"), "audit_log", [column])
    op.create_index("ix_audit_log_row", "audit_log", ["table_name", "row_id"])
    for table in LOCATED:
        op.add_column(table, sa.Column("version", sa.Integer(), server_default="1",
                                       nullable=False))
    op.execute(SQL.read_text(encoding="utf-8"))
    for table in AUDITED:
        op.execute(f"CREATE TRIGGER {table}_audit AFTER INSERT OR UPDATE OR DELETE ON {table} "
                   f"FOR EACH ROW EXECUTE FUNCTION audit_row()")


def downgrade() -> None:
    for table in AUDITED:
        op.execute(f"DROP TRIGGER {table}_audit ON {table}")
    for table in LOCATED:
        op.drop_column(table, "version")
    op.drop_table("audit_log")
    op.execute("DROP FUNCTION refuse_audit_change()")
    op.execute("DROP FUNCTION audit_row()")
    op.drop_table("login_failures")
    op.drop_table("users")
