"""closed loop spot checks

- `spot_check_draws`: double-random draws (双随机) with their seed and pools, append-only;
- `key_supervision`: the key-supervision list (重点监管名单) per region and year;
- audit triggers on `inspections`, `evidence_files`, `key_supervision` and draws
  (migrations/sql/0011_closed_loop_spot_checks.sql).

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29 08:30:00
"""

from pathlib import Path

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

SQL = Path(__file__).resolve().parent.parent / "sql" / "0011_closed_loop_spot_checks.sql"


def upgrade() -> None:
    op.create_table(
        "spot_check_draws",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("region_code", sa.CHAR(length=6), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("seed", sa.String(length=64), nullable=False),
        sa.Column("method", sa.String(length=40), nullable=False),
        sa.Column("drawn_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("pools", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("result", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("region_code", "id", name=op.f("pk_spot_check_draws")),
    )
    op.create_table(
        "key_supervision",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("region_code", sa.CHAR(length=6), nullable=False),
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("subject", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("chosen_by_id", sa.Integer(), nullable=True),
        sa.Column("chosen_by", sa.String(length=64), nullable=True),
        sa.Column("chosen_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.CheckConstraint("kind IN ('unit', 'enterprise')", name=op.f("ck_key_supervision_kind")),
        sa.PrimaryKeyConstraint("region_code", "id", name=op.f("pk_key_supervision")),
        sa.UniqueConstraint("region_code", "year", "kind", "subject",
                            name=op.f("uq_key_supervision_region_code")),
    )
    op.execute(SQL.read_text(encoding="utf-8"))


def downgrade() -> None:
    for table in ("inspections", "evidence_files"):
        op.execute(f"DROP TRIGGER {table}_audit ON {table}")
    op.drop_table("key_supervision")
    op.drop_table("spot_check_draws")
