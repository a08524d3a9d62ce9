"""planning parks

Issue 14: chemical parks (located, audited, a map layer with its own layer version),
published planning rule sets, hazard sources' own safety zones (external safety distances
and individual-risk contours from their risk assessment reports), saved planning reports.
The new tables with many rows have 64-bit ids and keys led by county_code (the sharding
column); parks and rule sets are small reference-like data.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29 08:30:00
"""

from pathlib import Path

import geoalchemy2
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

SQL = Path(__file__).resolve().parent.parent / "sql" / "0013_planning.sql"
AUDITED = ("chemical_parks", "planning_rule_sets", "hazard_safety_zones", "planning_reports")


def _geometry(kind: str, *, nullable: bool, index: bool = False) -> sa.Column:
    return sa.Column("geom", geoalchemy2.types.Geometry(
        geometry_type=kind, srid=4326, dimension=2, spatial_index=index,
        from_text="ST_GeomFromEWKT", name="geometry"), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "chemical_parks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("risk_class", sa.CHAR(length=1), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("approval", sa.String(length=200), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        _geometry("MULTIPOLYGON", nullable=False),
        sa.Column("county_code", sa.CHAR(length=6), nullable=False),
        sa.Column("grid_code", sa.String(length=40), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=True),
        sa.CheckConstraint("risk_class IN ('A','B','C','D')",
                           name=op.f("ck_chemical_parks_risk_class")),
        sa.ForeignKeyConstraint(["county_code"], ["regions.code"],
                                name=op.f("fk_chemical_parks_county_code_regions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chemical_parks")),
    )
    op.create_index("idx_chemical_parks_geom", "chemical_parks", ["geom"],
                    postgresql_using="gist")
    for column in ("name", "county_code", "grid_code", "updated_at"):
        op.create_index(op.f(f"ix_chemical_parks_{column}"), "chemical_parks", [column])

    op.create_table(
        "planning_rule_sets",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("version", sa.String(length=40), nullable=False),
        sa.Column("rules", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("published_by", sa.String(length=64), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_planning_rule_sets")),
        sa.UniqueConstraint("version", name=op.f("uq_planning_rule_sets_version")),
    )

    op.create_table(
        "hazard_safety_zones",
        sa.Column("county_code", sa.CHAR(length=6), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("hazard_source_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("risk_per_year", sa.Float(), nullable=True),
        sa.Column("target_class", sa.String(length=20), nullable=True),
        sa.Column("distance_m", sa.Float(), nullable=True),
        _geometry("MULTIPOLYGON", nullable=True),
        sa.Column("reference", sa.String(length=300), nullable=True),
        sa.Column("uploaded_by", sa.String(length=64), nullable=True),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.CheckConstraint("kind IN ('contour','distance')",
                           name=op.f("ck_hazard_safety_zones_kind")),
        sa.CheckConstraint(
            "(kind = 'contour' AND risk_per_year > 0 AND geom IS NOT NULL)"
            " OR (kind = 'distance' AND distance_m > 0 AND target_class IS NOT NULL)",
            name=op.f("ck_hazard_safety_zones_shape")),
        sa.PrimaryKeyConstraint("county_code", "id", name=op.f("pk_hazard_safety_zones")),
    )
    op.create_index(op.f("ix_hazard_safety_zones_hazard_source_id"), "hazard_safety_zones",
                    ["hazard_source_id"])
    op.create_index("idx_hazard_safety_zones_geom", "hazard_safety_zones", ["geom"],
                    postgresql_using="gist")

    op.create_table(
        "planning_reports",
        sa.Column("county_code", sa.CHAR(length=6), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("attributes", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        _geometry("GEOMETRY", nullable=False),
        sa.Column("verdict", sa.String(length=4), nullable=False),
        sa.Column("rule_set_version", sa.String(length=40), nullable=False),
        sa.Column("result", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("saved_by_id", sa.Integer(), nullable=True),
        sa.Column("saved_by", sa.String(length=64), nullable=False),
        sa.Column("saved_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.CheckConstraint("verdict IN ('pass','fail')", name=op.f("ck_planning_reports_verdict")),
        sa.PrimaryKeyConstraint("county_code", "id", name=op.f("pk_planning_reports")),
    )
    op.create_index("ix_planning_reports_id", "planning_reports", ["id"])
    op.create_index("ix_planning_reports_county_saved", "planning_reports",
                    ["county_code", "saved_at"])

    op.execute(SQL.read_text(encoding="utf-8"))
    for table in AUDITED:
        op.execute(f"CREATE TRIGGER {table}_audit AFTER INSERT OR UPDATE OR DELETE ON {table} "
                   f"FOR EACH ROW EXECUTE FUNCTION audit_row()")


def downgrade() -> None:
    op.execute("DELETE FROM layer_versions WHERE layer = 'chemical_parks'")
    for table in ("planning_reports", "hazard_safety_zones", "planning_rule_sets",
                  "chemical_parks"):
        op.drop_table(table)
    op.execute("DROP FUNCTION refuse_report_change()")
