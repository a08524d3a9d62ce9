"""The layers the map serves: which table, which properties, when points are aggregated.

Identifiers in tile and feature SQL come only from here, never from a request.
"""

from dataclasses import dataclass, field

from app.errors import NotFound


@dataclass(frozen=True)
class Layer:
    name: str
    table: str
    title_zh: str
    # property name -> SQL expression over the row alias `t`
    properties: dict[str, str]
    has_level: bool = True
    # SQL giving the row's sector (None when the layer has no sector)
    sector_sql: str | None = None
    # Below this zoom, points are aggregated into cells with counts per colour.
    aggregate_below: int | None = None
    minzoom: int = 0
    maxzoom: int = 16
    geometry_types: tuple[str, ...] = ("Point",)
    datetime_column: str = "t.updated_at"
    extra_fields: dict[str, str] = field(default_factory=dict)
    # SQL over `t` giving the colour a row is drawn and counted in (None: its risk_level
    # when the layer has levels, else none).
    colour_sql: str | None = None
    # SQL over `t`: which rows of the table are on the layer at all (None: every row).
    row_filter: str | None = None

    @property
    def colour(self) -> str:
        """SQL over `t`: the colour of a row, NULL for a layer without colours."""
        if self.colour_sql is not None:
            return self.colour_sql
        return "t.risk_level" if self.has_level else "NULL"


_ENTERPRISE_SECTOR = "(SELECT e.sector FROM enterprises e WHERE e.id = t.enterprise_id)"
# A hidden danger's colour by grade: 重大 red, 较大 orange, 一般 yellow (the same text, over
# `r`, is the colour of its cells in migrations/sql/0022_hidden_danger_tiles.sql).
DANGER_COLOUR = "CASE t.grade WHEN 'major' THEN 'red' WHEN 'larger' THEN 'orange' ELSE 'yellow' END"
# Closed (销号) dangers are off the map; every other status is open (geodata/dangers/
# statuses.csv).
OPEN_DANGER = "t.status <> 'closed'"

POINT_LAYERS = {
    "enterprises": Layer(
        "enterprises",
        "enterprises",
        "企业",
        {
            "id": "t.id",
            "name": "t.name",
            "level": "t.risk_level",
            "sector": "t.sector",
            "park": "t.park",
            "credit_code": "t.credit_code",
        },
        sector_sql="t.sector",
        aggregate_below=12,
    ),
    "hazard_sources": Layer(
        "hazard_sources",
        "hazard_sources",
        "重大危险源",
        {
            "id": "t.id",
            "name": "t.name",
            "level": "t.risk_level",
            "grade": "t.grade",
            "r": "t.r_value",
            "enterprise_id": "t.enterprise_id",
        },
        sector_sql=_ENTERPRISE_SECTOR,
        aggregate_below=7,
    ),
    "public_zones": Layer(
        "public_zones",
        "public_zones",
        "公共区域",
        {
            "id": "t.id",
            "name": "t.name",
            "level": "t.risk_level",
            "kind": "t.kind",
            "population": "t.population",
        },
        aggregate_below=10,
        geometry_types=("Point", "Polygon", "MultiPolygon", "LineString", "MultiLineString"),
    ),
    "risk_points": Layer(
        "risk_points",
        "risk_points",
        "风险点",
        {
            "id": "t.id",
            "name": "t.name",
            "level": "t.risk_level",
            "method": "t.method",
            "score": "t.score",
            "enterprise_id": "t.enterprise_id",
        },
        sector_sql=_ENTERPRISE_SECTOR,
        aggregate_below=13,
    ),
    # Open hidden dangers (事故隐患), coloured by grade; no level filter (they have a grade,
    # not a risk level).
    "hidden_dangers": Layer(
        "hidden_dangers",
        "hidden_dangers",
        "隐患",
        {
            "id": "t.id",
            "title": "t.title",
            "level": DANGER_COLOUR,
            "grade": "t.grade",
            "status": "t.status",
            "supervision_level": "t.supervision_level",
            "enterprise_id": "t.enterprise_id",
        },
        has_level=False,
        sector_sql=_ENTERPRISE_SECTOR,
        aggregate_below=10,
        colour_sql=DANGER_COLOUR,
        row_filter=OPEN_DANGER,
    ),
    "emergency_resources": Layer(
        "emergency_resources",
        "emergency_resources",
        "应急资源",
        {
            "id": "t.id",
            "name": "t.name",
            "kind": "t.kind",
            "contact": "t.contact_person",
            "phone": "t.contact_phone",
        },
        has_level=False,
        aggregate_below=7,
    ),
    # Issue 14: chemical parks (化工园区) and their safety-risk class A…D; never aggregated.
    "chemical_parks": Layer(
        "chemical_parks",
        "chemical_parks",
        "化工园区",
        {"id": "t.id", "name": "t.name", "risk_class": "t.risk_class", "score": "t.score"},
        has_level=False,
        geometry_types=("MultiPolygon",),
    ),
}

AREA_LAYERS = {
    "regions": Layer(
        "regions",
        "regions",
        "行政区划",
        {"code": "t.code", "name": "t.name", "level_kind": "t.level"},
        has_level=True,
        maxzoom=16,
        geometry_types=("MultiPolygon",),
    ),
    "grid": Layer(
        "grid",
        "grid_cells",
        "网格",
        {
            "code": "t.code",
            "name": "t.name",
            "county_code": "t.county_code",
            "warden": "t.warden_name",
        },
        has_level=True,
        minzoom=9,
        geometry_types=("MultiPolygon",),
    ),
}

LAYERS: dict[str, Layer] = {**POINT_LAYERS, **AREA_LAYERS}

# Aggregated tiles of zooms up to this read the pre-aggregated cells (`tile_cells`, kept by
# the triggers of migrations/sql/0016_tile_preaggregates.sql, whose `tile_cell_sources`
# holds the same zooms); deeper aggregated zooms scan their few points.
CELLS_MAX_ZOOM = 10


def cells_max_zoom(layer: Layer) -> int | None:
    """The deepest zoom whose tiles of `layer` read pre-aggregated cells (None: none)."""
    if layer.name not in POINT_LAYERS or layer.aggregate_below is None:
        return None
    return min(layer.aggregate_below - 1, CELLS_MAX_ZOOM)


def layer_or_raise(name: str) -> Layer:
    """Return the layer called `name`, or raise NotFound naming it and the known layers."""
    layer = LAYERS.get(name)
    if layer is None:
        raise NotFound(f"unknown layer {name!r}", field="layer", allowed=sorted(LAYERS))
    return layer


def region_level_for_zoom(z: int) -> str:
    """The administrative level the `regions` layer draws at zoom z."""
    if z < 5:
        return "province"
    if z < 8:
        return "city"
    if z < 11:
        return "county"
    return "grid"


def region_geometry_column(z: int) -> str:
    """The generalised outline that suits zoom z (≈1 km, ≈100 m, full)."""
    return "geom_coarse" if z < 6 else "geom_medium" if z < 10 else "geom"
