"""citus distribution

On a database with the citus extension (a Citus coordinator with its workers, as
`riskatlas cluster up` or docker/compose.citus.yaml make it), distribute the located
tables by county_code, co-located, make the small tables their triggers read reference
tables, and keep the aggregates exact with triggers that write only co-located shards
(migrations/sql/0020_citus_distribution.sql, docs/scaling.md). Without citus: nothing.

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-29 12:00:00
"""

from pathlib import Path

from app.cluster.migration_sql import refuse_distributed_downgrade, upgrade_distributed

revision = "0020"

down_revision = "0019"
branch_labels = None
depends_on = None

SQL = Path(__file__).resolve().parent.parent / "sql" / "0020_citus_distribution.sql"


def upgrade() -> None:
    upgrade_distributed(SQL)


def downgrade() -> None:
    refuse_distributed_downgrade()
