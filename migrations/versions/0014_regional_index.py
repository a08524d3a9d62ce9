"""regional index

The composite regional index's breaks (app/risk/regional_index.py): per normalisation and
unit level (province, city, county, grid) the lowest score of yellow, orange and red, from
how many units, under which version of geodata/risk/regional_index.json, and when they
were computed (`riskatlas risk rebuild`). Reference data: a few rows, no county_code.

`enterprise_level_changes`: every change of an enterprise's level, written by a trigger
(migrations/sql/0014_enterprise_level_changes.sql), for comparing two dates.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-29 08:30:00
"""

from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

SQL = Path(__file__).resolve().parent.parent / "sql" / "0014_enterprise_level_changes.sql"


def upgrade() -> None:
    op.create_table(
        "regional_index_breaks",
        sa.Column("config_version", sa.String(40), nullable=False),
        sa.Column("normalise", sa.String(20), nullable=False),
        sa.Column("unit_level", sa.String(10), nullable=False),
        # NULL: no unit of the level scored above zero (nothing is in the class).
        sa.Column("yellow", sa.Float(), nullable=True),
        sa.Column("orange", sa.Float(), nullable=True),
        sa.Column("red", sa.Float(), nullable=True),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "config_version", "normalise", "unit_level", name=op.f("pk_regional_index_breaks")
        ),
        comment="quantile breaks of the composite regional index, recomputed on rebuild",
    )
    op.execute(SQL.read_text(encoding="utf-8"))


def downgrade() -> None:
    op.execute("DROP TRIGGER enterprises_level_changes ON enterprises")
    op.execute("DROP FUNCTION record_enterprise_level_change()")
    op.drop_table("enterprise_level_changes")
    op.drop_table("regional_index_breaks")
