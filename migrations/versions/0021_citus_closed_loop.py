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

from alembic import op

from app.cluster.migration_sql import distributed, statements

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

SQL = Path(__file__).resolve().parent.parent / "sql" / "0021_citus_closed_loop.sql"


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
