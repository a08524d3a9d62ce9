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

from alembic import op
from sqlalchemy import text

from app.cluster.migration_sql import distributed, statements

revision = "0020"

down_revision = "0019"
branch_labels = None
depends_on = None

SQL = Path(__file__).resolve().parent.parent / "sql" / "0020_citus_distribution.sql"


def upgrade() -> None:
    if not distributed(op.get_bind()):
        return
    # Each statement commits on its own (after the earlier migrations): Citus gives the
    # workers a distributed table's sequences over one connection and registers them over
    # another, which sees them only once committed. A failure leaves the database partly
    # distributed: this runs once, on a new database; make it again and rerun.
    with op.get_context().autocommit_block():
        for statement in statements(SQL.read_text(encoding="utf-8")):
            op.execute(statement)


def downgrade() -> None:
    if distributed(op.get_bind()):
        raise NotImplementedError(
            "a distributed database is not un-distributed: restore a single-node backup"
        )
