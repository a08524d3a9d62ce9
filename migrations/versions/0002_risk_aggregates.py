"""risk aggregates

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 07:34:41.045243
"""

from alembic import op
import geoalchemy2
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


# What each located table contributes to the counts: an SQL expression over a row `r`
# giving the measures it adds one to (NULL entries are ignored).
COUNT_SOURCES = {
    "enterprises": "ARRAY['enterprises.total', 'enterprises.' || r.risk_level]",
    "risk_points": "ARRAY['risk_points.' || r.risk_level]",
    "public_zones": "ARRAY['public_zones.' || r.risk_level]",
    "hazard_sources": "ARRAY['hazard_sources.' || r.grade]",
    "hidden_dangers": (
        "ARRAY[CASE WHEN r.status <> 'closed' THEN 'dangers.open' END, "
        "CASE WHEN r.status <> 'closed' AND r.grade = 'major' THEN 'dangers.open_major' END]"
    ),
}

FUNCTIONS = r"""
CREATE TABLE count_sources (table_name text PRIMARY KEY, measures_sql text NOT NULL);

-- A leaf region and every region above it (county → city → province).
CREATE FUNCTION region_lineage(leaf text) RETURNS SETOF text LANGUAGE sql STABLE AS $$
    WITH RECURSIVE up AS (
        SELECT r.code, r.parent_code FROM regions r WHERE r.code = leaf
        UNION ALL
        SELECT p.code, p.parent_code FROM regions p JOIN up ON p.code = up.parent_code)
    SELECT code::text FROM up
$$;

-- Add signed deltas (county_code, grid_code, measures[], sign) to every enclosing region
-- and grid cell. Deltas are summed first, so a bulk statement costs a few upserts per
-- county, and rows are locked in key order to avoid deadlocks between writers.
-- (Returns the statement: transition tables are visible only to the trigger function itself.)
CREATE FUNCTION count_deltas_sql(deltas text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT format($sql$
        WITH delta AS (%s),
        summed AS (
            SELECT d.county_code, d.grid_code, m.measure, sum(d.sign) AS change
              FROM delta d CROSS JOIN LATERAL unnest(d.measures) AS m(measure)
             WHERE m.measure IS NOT NULL
             GROUP BY 1, 2, 3),
        keyed AS (
            SELECT lineage.code AS region_code, s.measure, s.change
              FROM summed s CROSS JOIN LATERAL region_lineage(s.county_code) AS lineage(code)
            UNION ALL
            SELECT s.grid_code, s.measure, s.change FROM summed s WHERE s.grid_code IS NOT NULL)
        INSERT INTO region_counts AS c (region_code, measure, value)
        SELECT region_code, measure, sum(change) FROM keyed
         GROUP BY 1, 2 HAVING sum(change) <> 0 ORDER BY 1, 2
        ON CONFLICT (region_code, measure) DO UPDATE SET value = c.value + EXCLUDED.value
    $sql$, deltas)
$$;

CREATE FUNCTION count_region_measures() RETURNS trigger LANGUAGE plpgsql AS $$
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

-- Recompute every count from scratch (after imports or rule changes).
CREATE FUNCTION rebuild_region_counts() RETURNS void LANGUAGE plpgsql AS $$
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


def create_count_triggers() -> None:
    op.execute(FUNCTIONS)
    for table, measures in COUNT_SOURCES.items():
        op.execute(sa.text("INSERT INTO count_sources VALUES (:t, :m)").bindparams(t=table, m=measures))
        for event, referencing in (
            ("INSERT", "NEW TABLE AS new_rows"),
            ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
            ("DELETE", "OLD TABLE AS old_rows"),
        ):
            op.execute(
                f"CREATE TRIGGER {table}_counts_{event.lower()} AFTER {event} ON {table} "
                f"REFERENCING {referencing} FOR EACH STATEMENT "
                f"EXECUTE FUNCTION count_region_measures()"
            )
    op.execute("SELECT rebuild_region_counts()")


def upgrade() -> None:
    op.create_table('region_count_snapshots',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('region_code', sa.String(length=40), nullable=False),
    sa.Column('measure', sa.String(length=40), nullable=False),
    sa.Column('value', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('day', 'region_code', 'measure', name=op.f('pk_region_count_snapshots'))
    )
    op.create_table('region_counts',
    sa.Column('region_code', sa.String(length=40), nullable=False),
    sa.Column('measure', sa.String(length=40), nullable=False),
    sa.Column('value', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('region_code', 'measure', name=op.f('pk_region_counts'))
    )

    create_count_triggers()

def downgrade() -> None:
    for table in COUNT_SOURCES:
        for event in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_counts_{event} ON {table}")
    for function in ("rebuild_region_counts()", "count_region_measures()",
                     "count_deltas_sql(text)", "region_lineage(text)"):
        op.execute(f"DROP FUNCTION IF EXISTS {function}")
    op.execute("DROP TABLE IF EXISTS count_sources")
    op.drop_table('region_counts')
    op.drop_table('region_count_snapshots')
