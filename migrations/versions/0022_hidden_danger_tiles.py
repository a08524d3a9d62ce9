"""hidden danger tiles

Hidden dangers become a point layer of the vector tiles like the others (issue 16): their
open rows (status not 'closed') are counted in `tile_cells` by colour of grade (重大 red,
较大 orange, 一般 yellow) through a new `row_filter` of `tile_cell_sources`, kept at commit
by the same statement triggers, with per-cell versions and a tile epoch
(`tiles:hidden_dangers`) bumped by TRUNCATE (migrations/sql/0022_hidden_danger_tiles.sql).
On a Citus database (0020 applied) the same with 0020's trigger bodies
(migrations/sql/0022_hidden_danger_tiles_citus.sql).

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-29 15:00:00
"""

from pathlib import Path

from alembic import op

from app.cluster.migration_sql import refuse_distributed_downgrade, upgrade_distributed

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

SQL = Path(__file__).resolve().parent.parent / "sql" / "0022_hidden_danger_tiles.sql"
CITUS_SQL = SQL.with_name("0022_hidden_danger_tiles_citus.sql")
TABLE = "hidden_dangers"
EVENTS = (
    ("INSERT", "NEW TABLE AS new_rows"),
    ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
    ("DELETE", "OLD TABLE AS old_rows"),
)


# tile_cell_points_sql as 0016 made it (no row filter).
POINTS_0016 = """
CREATE OR REPLACE FUNCTION tile_cell_points_sql(source tile_cell_sources, relation text, sign integer)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT format($sql$
        SELECT r.county_code, %s AS level, ST_X(a.g) AS x, ST_Y(a.g) AS y, %s AS sign
          FROM %s r CROSS JOIN LATERAL (SELECT ST_Transform(%s, 3857) AS g) a
    $sql$, source.level_sql, sign, relation, source.anchor_sql)
$$
"""


def upgrade() -> None:
    # On a distributed database, 0020's trigger bodies, which write the co-located shards.
    if upgrade_distributed(CITUS_SQL):
        return
    op.execute(SQL.read_text(encoding="utf-8"))
    op.execute(f"INSERT INTO layer_versions (layer, version) VALUES ('tiles:{TABLE}', 1)")
    op.execute(
        f"CREATE TRIGGER {TABLE}_layer_versions_truncate AFTER TRUNCATE ON {TABLE} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION bump_layer_versions('tiles:{TABLE}')"
    )
    op.execute(
        f"CREATE TRIGGER {TABLE}_tiles_truncate AFTER TRUNCATE ON {TABLE} "
        "FOR EACH STATEMENT EXECUTE FUNCTION tile_cells_truncate()"
    )
    for event, referencing in EVENTS:
        op.execute(
            f"CREATE TRIGGER {TABLE}_tiles_{event.lower()} AFTER {event} ON {TABLE} "
            f"REFERENCING {referencing} FOR EACH STATEMENT EXECUTE FUNCTION tile_cells_track()"
        )


def downgrade() -> None:
    refuse_distributed_downgrade()
    for event in ("insert", "update", "delete", "truncate"):
        op.execute(f"DROP TRIGGER {TABLE}_tiles_{event} ON {TABLE}")
    op.execute(f"DROP TRIGGER {TABLE}_layer_versions_truncate ON {TABLE}")
    op.execute(f"DELETE FROM tile_cells WHERE layer = '{TABLE}'")
    op.execute(f"DELETE FROM tile_versions WHERE layer = '{TABLE}'")
    op.execute(f"DELETE FROM layer_versions WHERE layer = 'tiles:{TABLE}'")
    op.execute(f"DELETE FROM tile_cell_sources WHERE layer = '{TABLE}'")
    op.execute(POINTS_0016)
    op.execute("ALTER TABLE tile_cell_sources DROP COLUMN row_filter")
    # tile_cells_track keeps its 0022 body: for a sector change it also bumps versions of
    # the hidden_dangers layer, which nothing reads any more.
