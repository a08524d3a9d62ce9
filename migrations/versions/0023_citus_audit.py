"""citus audit

On a database with the citus extension, audit the located rows again: their entries go
to `audit_log_located`, distributed by county_code and co-located with the enterprises,
written by triggers on the shards (migrations/sql/0023_citus_audit.sql,
docs/scaling.md §1.5); the API names the actor with SET LOCAL there, which Citus sends to
the workers (app/audit/service.py). Without citus: nothing.

Revision ID: 0023
Revises: 0022
Create Date: 2026-11-29 16:00:00
"""

from pathlib import Path

from app.cluster.migration_sql import refuse_distributed_downgrade, upgrade_distributed

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

SQL = Path(__file__).resolve().parent.parent / "sql" / "0023_citus_audit.sql"


def upgrade() -> None:
    upgrade_distributed(SQL)


def downgrade() -> None:
    refuse_distributed_downgrade()
