"""What the tile tests share: decoding a tile, and a layer's pre-aggregated cells beside
the same counted from its raw rows."""

import mapbox_vector_tile
from sqlalchemy import text
from sqlalchemy.orm import Session

# The rows of tile_cells per tile and colour at one zoom.
_CELL_COUNTS = """
    SELECT tile_x, tile_y, level, sum(count) FROM tile_cells
     WHERE layer = :layer AND zoom = :z GROUP BY 1, 2, 3 HAVING sum(count) <> 0
"""
# The same recounted from raw rows `(g, level)` (g in EPSG:3857) by the tiles' own
# half-open bounds (ST_TileEnvelope).
_RAW_COUNTS = """
    WITH p AS ({points}),
    t AS (SELECT p.level, floor((ST_X(p.g) + 20037508.342789244) / (40075016.685578488 / 2 ^ :z))
                 AS tx, floor((20037508.342789244 - ST_Y(p.g)) / (40075016.685578488 / 2 ^ :z))
                 AS ty, p.g FROM p)
    SELECT tx::int, ty::int, level, count(*) FROM t
     WHERE ST_Intersects(t.g, ST_TileEnvelope(:z, tx::int, ty::int))
     GROUP BY 1, 2, 3
"""

Counts = dict[tuple[int, int, str], int]


def decode(content: bytes) -> dict:
    return mapbox_vector_tile.decode(content, default_options={"y_coord_down": True})


def cells_and_raw(session: Session, layer: str, points: str, z: int) -> tuple[Counts, Counts]:
    """{(tile x, tile y, colour): count} of `layer` at zoom `z`: from its cells, and from
    the rows `points` selects as (g, level)."""
    cells = {
        (x, y, level): n
        for x, y, level, n in session.execute(text(_CELL_COUNTS), {"layer": layer, "z": z})
    }
    raw = {
        (x, y, level): n
        for x, y, level, n in session.execute(text(_RAW_COUNTS.format(points=points)), {"z": z})
    }
    return cells, raw
