"""hidden-danger lifecycle, its append-only history, evidence photos, inspections

- `hidden_dangers`: the lifecycle's statuses (geodata/dangers/statuses.csv), the
  treatment plan, supervision (挂牌督办) level and deadline, escalation time, the
  inspection that found it;
- `hidden_danger_events`: one row per step, append-only (migrations/sql/0009_*.sql);
- `evidence_files`: photos stored by SHA-256 under data_dir/evidence;
- `inspections`: self-checks, spot checks and grid checks.

The new tables have 64-bit ids and keys led by county_code (the sharding column).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 07:30:00
"""

from pathlib import Path

import geoalchemy2
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

SQL = Path(__file__).resolve().parent.parent / "sql" / "0009_history_append_only.sql"
OLD_STATUSES = "status IN ('reported','assessed','rectifying','accepted','closed')"
NEW_STATUSES = ("status IN ('reported', 'registered', 'assessed', 'planned', "
                "'reported_to_regulator', 'supervised', 'rectifying', 'rectified', 'accepted', "
                "'verified', 'closed')")


def _point() -> geoalchemy2.types.Geometry:
    return geoalchemy2.types.Geometry(geometry_type="POINT", srid=4326, dimension=2,
                                      spatial_index=False, from_text="ST_GeomFromEWKT",
                                      name="geometry", nullable=False)


def upgrade() -> None:
    op.alter_column("hidden_dangers", "status", type_=sa.String(length=24),
                    existing_type=sa.String(length=12), existing_nullable=False)
    op.drop_constraint(op.f("ck_hidden_dangers_status"), "hidden_dangers", type_="check")
    op.create_check_constraint(op.f("ck_hidden_dangers_status"), "hidden_dangers", NEW_STATUSES)
    op.add_column("hidden_dangers", sa.Column("inspection_id", sa.BigInteger(), nullable=True))
    op.add_column("hidden_dangers", sa.Column(
        "plan", postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.add_column("hidden_dangers", sa.Column("supervision_level", sa.String(length=8),
                                              nullable=True))
    op.add_column("hidden_dangers", sa.Column("supervision_deadline", sa.Date(), nullable=True))
    op.add_column("hidden_dangers", sa.Column("escalated_at", sa.DateTime(timezone=True),
                                              nullable=True))
    op.create_check_constraint(
        op.f("ck_hidden_dangers_supervision_level"), "hidden_dangers",
        "supervision_level IS NULL OR supervision_level IN ('street', 'district', 'city')")
    for column in ("inspection_id", "supervision_level"):
        op.create_index(op.f(f"ix_hidden_dangers_{column}"), "hidden_dangers", [column])

    op.create_table(
        "hidden_danger_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("county_code", sa.CHAR(length=6), nullable=False),
        sa.Column("danger_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("from_status", sa.String(length=24), nullable=True),
        sa.Column("to_status", sa.String(length=24), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("evidence", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("grade", sa.String(length=8), nullable=True),
        sa.Column("deadline", sa.Date(), nullable=True),
        sa.Column("supervision_level", sa.String(length=8), nullable=True),
        sa.Column("plan", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("geom", _point(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("county_code", "id", name=op.f("pk_hidden_danger_events")),
    )
    op.create_index(op.f("ix_hidden_danger_events_at"), "hidden_danger_events", ["at"])
    op.create_index("ix_hidden_danger_events_danger", "hidden_danger_events",
                    ["danger_id", "id"])
    op.create_index("uq_hidden_danger_events_idempotency", "hidden_danger_events",
                    ["county_code", "danger_id", "idempotency_key"], unique=True,
                    postgresql_where=sa.text("idempotency_key IS NOT NULL"))

    op.create_table(
        "evidence_files",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("county_code", sa.CHAR(length=6), nullable=False),
        sa.Column("danger_id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.CHAR(length=64), nullable=False),
        sa.Column("content_type", sa.String(length=20), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.PrimaryKeyConstraint("county_code", "id", name=op.f("pk_evidence_files")),
    )
    op.create_index("ix_evidence_files_danger", "evidence_files", ["danger_id", "sha256"])

    op.create_table(
        "inspections",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("county_code", sa.CHAR(length=6), nullable=False),
        sa.Column("grid_code", sa.String(length=40), nullable=True),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("inspected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("checklist", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("finding_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("geom", _point(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.CheckConstraint("kind IN ('self_check','spot_check','grid_check')",
                           name=op.f("ck_inspections_kind")),
        sa.PrimaryKeyConstraint("county_code", "id", name=op.f("pk_inspections")),
    )
    op.create_index(op.f("ix_inspections_grid_code"), "inspections", ["grid_code"])
    op.create_index("ix_inspections_enterprise_kind_at", "inspections",
                    ["enterprise_id", "kind", "inspected_at"])
    op.execute(SQL.read_text(encoding="utf-8"))


def downgrade() -> None:
    op.drop_table("inspections")
    op.drop_table("evidence_files")
    op.drop_table("hidden_danger_events")
    op.execute("DROP FUNCTION refuse_history_change()")
    for column in ("inspection_id", "supervision_level"):
        op.drop_index(op.f(f"ix_hidden_dangers_{column}"), "hidden_dangers")
    op.drop_constraint(op.f("ck_hidden_dangers_supervision_level"), "hidden_dangers", type_="check")
    for column in ("escalated_at", "supervision_deadline", "supervision_level", "plan",
                   "inspection_id"):
        op.drop_column("hidden_dangers", column)
    op.drop_constraint(op.f("ck_hidden_dangers_status"), "hidden_dangers", type_="check")
    op.execute("UPDATE hidden_dangers SET status = CASE status"
               " WHEN 'registered' THEN 'reported' WHEN 'planned' THEN 'assessed'"
               " WHEN 'reported_to_regulator' THEN 'assessed' WHEN 'supervised' THEN 'assessed'"
               " WHEN 'rectified' THEN 'rectifying' WHEN 'verified' THEN 'accepted'"
               " ELSE status END")
    op.create_check_constraint(op.f("ck_hidden_dangers_status"), "hidden_dangers", OLD_STATUSES)
    op.alter_column("hidden_dangers", "status", type_=sa.String(length=12),
                    existing_type=sa.String(length=24), existing_nullable=False)
