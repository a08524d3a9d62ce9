"""citus closed loop

On a database with the citus extension, distribute the closed-loop history
(inspections, hidden-danger events, evidence photos) by county_code, co-located with the
enterprises and hidden dangers (migrations/sql/0021_citus_closed_loop.sql,
docs/scaling.md). Without citus: nothing.

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-29 15:00:00
"""

from pathlib import Path

from app.cluster.migration_sql import refuse_distributed_downgrade, upgrade_distributed

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

SQL = Path(__file__).resolve().parent.parent / "sql" / "0021_citus_closed_loop.sql"


def upgrade() -> None:
    upgrade_distributed(SQL)


def downgrade() -> None:
    refuse_distributed_downgrade()
