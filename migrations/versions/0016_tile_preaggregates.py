"""tile preaggregates

Point layers' low-zoom tiles read per-colour, per-county counts and coordinate sums of
the 64×64 cells of each tile (`tile_cells`) instead of every point; tiles take their ETag
from versions per quadtree cell (`tile_versions`) bumped only where a write lands, and a
per-layer tile epoch (`tiles:<layer>` in layer_versions) bumped by TRUNCATE, restores and
`rebuild_tile_cells()`. Both tables are kept at commit like region_counts (migrations/sql/
0016_tile_preaggregates.sql).

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-29 08:30:00
"""

from pathlib import Path

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

SQL = Path(__file__).resolve().parent.parent / "sql" / "0016_tile_preaggregates.sql"

# The point tables (each its own layer) and the layers their TRUNCATE bumps (0004).
TRUNCATE_LAYERS = {
    "enterprises": ["enterprises", "risk_points", "hazard_sources"],
    "hazard_sources": ["hazard_sources"],
    "public_zones": ["public_zones"],
    "risk_points": ["risk_points"],
    "emergency_resources": ["emergency_resources"],
}


def _arguments(layers: list[str]) -> str:
    return ", ".join(f"'{layer}'" for layer in layers)


def _truncate_trigger(table: str, layers: list[str]) -> None:
    op.execute(f"DROP TRIGGER {table}_layer_versions_truncate ON {table}")
    op.execute(
        f"CREATE TRIGGER {table}_layer_versions_truncate AFTER TRUNCATE ON {table} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION bump_layer_versions({_arguments(layers)})"
    )


def upgrade() -> None:
    op.execute(SQL.read_text(encoding="utf-8"))
    op.execute(
        "INSERT INTO layer_versions (layer, version) "
        "SELECT 'tiles:' || layer, 1 FROM tile_cell_sources"
    )
    for table, layers in TRUNCATE_LAYERS.items():
        _truncate_trigger(table, [*layers, f"tiles:{table}"])
        op.execute(
            f"CREATE TRIGGER {table}_tiles_truncate AFTER TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION tile_cells_truncate()"
        )
        for event, referencing in (
            ("INSERT", "NEW TABLE AS new_rows"),
            ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
            ("DELETE", "OLD TABLE AS old_rows"),
        ):
            op.execute(
                f"CREATE TRIGGER {table}_tiles_{event.lower()} AFTER {event} ON {table} "
                f"REFERENCING {referencing} FOR EACH STATEMENT "
                f"EXECUTE FUNCTION tile_cells_track()"
            )
    op.execute("SELECT rebuild_tile_cells()")


def downgrade() -> None:
    for table, layers in TRUNCATE_LAYERS.items():
        for event in ("insert", "update", "delete", "truncate"):
            op.execute(f"DROP TRIGGER {table}_tiles_{event} ON {table}")
        _truncate_trigger(table, layers)
    op.execute("DELETE FROM layer_versions WHERE layer LIKE 'tiles:%'")
    op.execute("DROP FUNCTION rebuild_tile_cells()")
    op.execute("DROP FUNCTION tile_cells_truncate()")
    op.execute("DROP TABLE tile_cell_pending, tile_version_pending")
    op.execute("DROP FUNCTION fold_tiles_at_commit()")
    op.execute("DROP FUNCTION fold_pending_tiles()")
    op.execute("DROP FUNCTION tile_cells_track()")
    op.execute("DROP FUNCTION tile_version_cells_sql(text, text)")
    op.execute("DROP FUNCTION tile_cell_points_sql(tile_cell_sources, text, integer)")
    op.execute("DROP FUNCTION tile_cell_deltas_sql(text, integer, integer, text)")
    op.execute("DROP TABLE tile_cells, tile_versions, tile_cell_sources")
