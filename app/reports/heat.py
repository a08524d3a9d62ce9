"""Heat-map points: rows of a layer in a bounding box, snapped to a zoom-dependent cell and
weighted by colour (red heaviest), limited to what the caller's scope reads."""

from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.auth.scope import Scope
from app.errors import InvalidInput
from app.tiles.catalog import layer_or_raise
from app.tiles.service import parse_filters

# Heat-map weight of one point by colour: red counts most.
HEAT_WEIGHTS = {"red": 1.0, "orange": 0.6, "yellow": 0.35, "blue": 0.15}
HEAT_LAYERS = ("risk_points", "enterprises", "hazard_sources", "public_zones")
HEAT_MAX_POINTS = 20_000


def heat_points(
    session: Session,
    *,
    layer: str,
    bbox: tuple[float, float, float, float],
    zoom: int,
    level: str | None = None,
    sector: str | None = None,
    region: str | None = None,
    scope: Scope,
) -> dict[str, Any]:
    """[lat, lon, weight] per cell of ≈4 screen pixels at `zoom`, weighted by colour,
    of the rows the caller may read."""
    if layer not in HEAT_LAYERS:
        raise InvalidInput(
            f"no heat map for layer {layer!r}", field="layer", allowed=list(HEAT_LAYERS)
        )
    if not 0 <= zoom <= 22:
        raise InvalidInput("zoom must lie in 0…22", field="zoom")
    found = layer_or_raise(layer)
    filters = parse_filters(found, scope=scope, level=level, sector=sector, region=region)
    anchor = "t.geom" if found.geometry_types == ("Point",) else "ST_PointOnSurface(t.geom)"
    clauses = filters.clauses("t", has_level=found.has_level)
    weight = (
        "CASE t.risk_level "
        + " ".join(f"WHEN '{lvl}' THEN {w}" for lvl, w in HEAT_WEIGHTS.items())
        + " ELSE 0.1 END"
    )
    cell = 360.0 / (256 * 2**zoom) * 4  # degrees per 4 pixels
    rows = session.execute(
        text(f"""
        WITH p AS (
            SELECT {anchor} AS g, {weight} AS w FROM {found.table} t
             WHERE t.geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)
               AND {" AND ".join(clauses)}
        )
        SELECT avg(ST_Y(g)) AS lat, avg(ST_X(g)) AS lon, sum(w) AS w, count(*) AS n FROM p
         GROUP BY floor(ST_X(g) / :cell), floor(ST_Y(g) / :cell)
         ORDER BY sum(w) DESC LIMIT :limit
    """),
        {
            **filters.params(),
            "x0": bbox[0],
            "y0": bbox[1],
            "x1": bbox[2],
            "y1": bbox[3],
            "cell": cell,
            "limit": HEAT_MAX_POINTS,
        },
    ).all()
    points = [[round(r.lat, 5), round(r.lon, 5), round(float(r.w), 3)] for r in rows]
    return {
        "layer": layer,
        "zoom": zoom,
        "weights": HEAT_WEIGHTS,
        "count": sum(r.n for r in rows),
        "max": max((p[2] for p in points), default=0),
        "points": points,
    }
