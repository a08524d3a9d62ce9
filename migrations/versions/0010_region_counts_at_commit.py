"""region counts at commit

Statement triggers insert count deltas into `region_count_pending`; a deferred trigger
folds them into `region_counts` at commit, so the province's shared count rows are locked
for the moment of a commit, not for whole transactions (migrations/sql/
0010_region_counts_at_commit.sql). `rebuild_region_counts()` still writes directly and
drops pending deltas (the recount includes them).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 06:40:00
"""

from pathlib import Path

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

SQL = Path(__file__).resolve().parent.parent / "sql" / "0010_region_counts_at_commit.sql"

# count_region_measures() as 0002 created it: straight into region_counts.
IMMEDIATE_COUNTS = """
CREATE OR REPLACE FUNCTION count_region_measures() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    measures text := (SELECT measures_sql FROM count_sources WHERE table_name = TG_TABLE_NAME);
    added text := format('SELECT r.county_code, r.grid_code, %s AS measures, 1 AS sign FROM new_rows r', measures);
    removed text := format('SELECT r.county_code, r.grid_code, %s AS measures, -1 AS sign FROM old_rows r', measures);
BEGIN
    EXECUTE count_deltas_sql(CASE TG_OP WHEN 'INSERT' THEN added
                                        WHEN 'DELETE' THEN removed
                                        ELSE added || ' UNION ALL ' || removed END);
    RETURN NULL;
END $$;
"""


def upgrade() -> None:
    op.execute(SQL.read_text(encoding="utf-8"))


REBUILD_WITHOUT_PENDING = """
CREATE OR REPLACE FUNCTION rebuild_region_counts() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    source record;
BEGIN
    DELETE FROM region_counts;
    FOR source IN SELECT * FROM count_sources ORDER BY table_name LOOP
        EXECUTE count_deltas_sql(format(
            'SELECT r.county_code, r.grid_code, %s AS measures, 1 AS sign FROM %I r',
            source.measures_sql, source.table_name));
    END LOOP;
END $$;
"""


def downgrade() -> None:
    op.execute(IMMEDIATE_COUNTS)
    op.execute(REBUILD_WITHOUT_PENDING)
    op.execute("DROP TABLE region_count_pending")
    op.execute("DROP FUNCTION fold_region_counts_at_commit()")
    op.execute("DROP FUNCTION fold_pending_region_counts()")
    op.execute("DROP FUNCTION count_pending_sql(text)")
