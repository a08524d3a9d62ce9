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

from alembic import op

from app.cluster.migration_sql import distributed, statements

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

SQL = Path(__file__).resolve().parent.parent / "sql" / "0023_citus_audit.sql"


def upgrade() -> None:
    if not distributed(op.get_bind()):
        return
    with op.get_context().autocommit_block():
        for statement in statements(SQL.read_text(encoding="utf-8")):
            op.execute(statement)


def downgrade() -> None:
    if distributed(op.get_bind()):
        raise NotImplementedError(
            "a distributed database is not un-distributed: restore a single-node backup"
        )
