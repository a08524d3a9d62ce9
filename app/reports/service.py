"""What the officials' web map asks the server for in one go, and the offline HTML export.

* `map_view`: one region (or the whole country) with its aggregates, its ancestors, its
  extent and its children's outlines joined with the children's aggregates: the four-colour
  choropleth of one drill-down step in a single request.
* `search`: regions by name or code, enterprises by name or unified social credit code.
* `heat_points`: points of a layer in a bounding box, snapped to a zoom-dependent cell and
  weighted by colour (red heaviest), for the heat map.
* `region_html`: a self-contained folium map of one region (no CDN: Leaflet is inlined).

Region aggregates are public; located rows (search hits, heat points, export points) are
limited to what the caller's scope reads (app/auth/scope.py).
"""

import base64
import html
import json
import re
from collections import OrderedDict
from datetime import date
from functools import cache
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.auth.scope import Scope
from app.errors import InvalidInput
from app.regions.service import get_region_or_raise
from app.risk import aggregation
from app.risk.methods import LEVELS
from app.settings import FRONTEND_DIR
from app.tiles.catalog import POINT_LAYERS, layer_or_raise
from app.tiles.service import parse_filters

COUNTRY_NAME = "全国"
# Heat-map weight of one point by colour: red counts most.
HEAT_WEIGHTS = {"red": 1.0, "orange": 0.6, "yellow": 0.35, "blue": 0.15}
HEAT_LAYERS = ("risk_points", "enterprises", "hazard_sources", "public_zones")
HEAT_MAX_POINTS = 20_000
GEOMETRY_DETAIL = {"coarse": ("geom_coarse", 3), "medium": ("geom_medium", 4), "full": ("geom", 5)}
LEVEL_NAMES_ZH = {"red": "重大风险", "orange": "较大风险", "yellow": "一般风险", "blue": "低风险"}
LEVEL_COLOURS = {"red": "#e8222d", "orange": "#f5891f", "yellow": "#f7d117", "blue": "#2f6fd6"}
NO_LEVEL_COLOUR = "#d9dde3"


# Counts


def _sum_counts(per_region: dict[str, dict[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for counts in per_region.values():
        for measure, value in counts.items():
            total[measure] = total.get(measure, 0) + value
    return total


# Map view


def _provinces(session: Session) -> list[Any]:
    return list(
        session.execute(
            text("""
        SELECT code, name, level, area_km2 FROM regions WHERE parent_code IS NULL ORDER BY code
    """)
        ).all()
    )


def country_summary(
    session: Session, *, method: str | None = None, normalise: str | None = None
) -> dict[str, Any]:
    """The country's aggregates (the sum over its provinces) and one row per province."""
    method, normalise = aggregation.resolve_method(method, normalise)
    provinces = _provinces(session)
    counts = aggregation.counts_for(session, [p.code for p in provinces])
    breaks = aggregation.level_breaks(session, method, normalise, "province")
    rows = [
        aggregation.summary_row(
            code=p.code,
            name=p.name,
            level=p.level,
            area_km2=p.area_km2,
            counts=counts[p.code],
            method=method,
            normalise=normalise,
            breaks=breaks,
        )
        for p in provinces
    ]
    total = aggregation.summary_row(
        code="",
        name=COUNTRY_NAME,
        level="country",
        area_km2=sum(p.area_km2 for p in provinces),
        counts=_sum_counts(counts),
        method=method,
        normalise=normalise,
        explain=True,
    )
    return {"region": total, "children": rows}


def _ancestors(session: Session, code: str) -> list[dict[str, str]]:
    rows = session.execute(
        text("""
        WITH RECURSIVE up AS (
            SELECT code, name, level, parent_code, 0 AS depth FROM regions WHERE code = :code
            UNION ALL
            SELECT r.code, r.name, r.level, r.parent_code, up.depth + 1
              FROM regions r JOIN up ON r.code = up.parent_code
        )
        SELECT code, name, level FROM up WHERE depth > 0 ORDER BY depth DESC
    """),
        {"code": code},
    ).all()
    return [{"code": r.code, "name": r.name, "level": r.level} for r in rows]


_OUTLINES: "OrderedDict[tuple[Any, ...], list[tuple[Any, ...]]]" = OrderedDict()
_OUTLINES_MAX = 64
# Tolerance (degrees) of an extra simplification of the provinces for the whole-country view.
COUNTRY_SIMPLIFY = 0.02


def _outline_rows(
    session: Session, *, parent: str | None, is_leaf: bool, detail: str
) -> list[tuple[Any, ...]]:
    """(code, name, level, is_leaf, warden, geometry, label) of the children, cached per
    data version of the regions and grid layers (outlines change only on reload)."""
    versions = tuple(
        session.execute(
            text(
                "SELECT version FROM layer_versions WHERE layer IN ('regions', 'grid') ORDER BY layer"
            )
        ).scalars()
    )
    key = (parent, is_leaf, detail, versions)
    if key in _OUTLINES:
        _OUTLINES.move_to_end(key)
        return _OUTLINES[key]
    column, digits = GEOMETRY_DETAIL[detail]
    if parent is None:
        column = f"ST_SimplifyPreserveTopology({column}, {COUNTRY_SIMPLIFY})"
    if parent is not None and is_leaf:
        result = session.execute(
            text("""
            SELECT code, name, 'grid' AS level, true AS is_leaf, warden_name AS warden,
                   ST_AsGeoJSON(geom, 5) AS geometry,
                   ST_X(ST_PointOnSurface(geom)) AS lx, ST_Y(ST_PointOnSurface(geom)) AS ly
              FROM grid_cells WHERE county_code = :parent ORDER BY code
        """),
            {"parent": parent},
        )
    else:
        result = session.execute(
            text(f"""
            SELECT code, name, level, is_leaf, NULL AS warden,
                   ST_AsGeoJSON({column}, {digits}) AS geometry,
                   ST_X(label_point) AS lx, ST_Y(label_point) AS ly
              FROM regions
             WHERE (CAST(:parent AS text) IS NULL AND parent_code IS NULL
                    OR parent_code = CAST(:parent AS text))
             ORDER BY code
        """),
            {"parent": parent},
        )
    rows = [
        (
            r["code"],
            r["name"],
            r["level"],
            r["is_leaf"],
            r["warden"],
            json.loads(r["geometry"]),
            [round(r["lx"], 5), round(r["ly"], 5)],
        )
        for r in result.mappings()
    ]
    _OUTLINES[key] = rows
    while len(_OUTLINES) > _OUTLINES_MAX:
        _OUTLINES.popitem(last=False)
    return rows


def _child_features(
    session: Session, *, parent: str | None, is_leaf: bool, detail: str
) -> list[dict[str, Any]]:
    rows = _outline_rows(session, parent=parent, is_leaf=is_leaf, detail=detail)
    return [
        {
            "type": "Feature",
            "id": code,
            "geometry": geometry,
            "properties": {
                "code": code,
                "name": name,
                "level_kind": level,
                "is_leaf": leaf,
                "warden": warden,
                "label": label,
            },
        }
        for code, name, level, leaf, warden, geometry, label in rows
    ]


def _extent(session: Session, code: str | None) -> list[float] | None:
    if code is None:
        row = session.execute(
            text("""
            SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (
              SELECT ST_Extent(geom_coarse) AS e FROM regions WHERE parent_code IS NULL) x
        """)
        ).first()
    else:
        row = session.execute(
            text("""
            SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (
              SELECT geom_coarse::box2d AS e FROM regions WHERE code = :code
              UNION ALL SELECT geom::box2d FROM grid_cells WHERE code = :code) x LIMIT 1
        """),
            {"code": code},
        ).first()
    if row is None or row[0] is None:
        return None
    return [round(v, 5) for v in row]


def map_view(
    session: Session,
    *,
    code: str | None,
    detail: str = "coarse",
    method: str | None = None,
    normalise: str | None = None,
    home: str | None = None,
) -> dict[str, Any]:
    """One drill-down step: a region (None = the user's home region, else the country) and
    its children, coloured. Region aggregates are public."""
    if detail not in GEOMETRY_DETAIL:
        raise InvalidInput(
            f"unknown detail {detail!r}", field="detail", allowed=list(GEOMETRY_DETAIL)
        )
    code = code or home
    if code is None:
        summary = country_summary(session, method=method, normalise=normalise)
        region = {**summary["region"], "parent_code": None, "is_leaf": False}
        ancestors: list[dict[str, str]] = []
        rows = summary["children"]
        features = _child_features(session, parent=None, is_leaf=False, detail=detail)
    else:
        found = get_region_or_raise(session, code=code)
        region = {
            **aggregation.summarise_region(session, code=code, method=method, normalise=normalise),
            "parent_code": found.parent_code,
            "is_leaf": found.is_leaf,
        }
        ancestors = _ancestors(session, code)
        rows = aggregation.summarise_children(
            session, parent=code, method=method, normalise=normalise
        )
        features = _child_features(
            session, parent=code, is_leaf=found.is_leaf, detail="full" if found.is_leaf else detail
        )
    outline = None
    if code is not None:
        column, digits = GEOMETRY_DETAIL["coarse" if region["level"] == "province" else "medium"]
        geometry = session.execute(
            text(f"SELECT ST_AsGeoJSON({column}, {digits}) FROM regions WHERE code = :code"),
            {"code": code},
        ).scalar()
        if geometry:
            outline = {
                "type": "Feature",
                "id": code,
                "geometry": json.loads(geometry),
                "properties": {
                    "code": code,
                    "name": region["name"],
                    "regional_level": region["regional_level"],
                },
            }
    by_code = {row["code"]: row for row in rows}
    for feature in features:
        feature["properties"].update(by_code.get(feature["id"], {}))
    return {
        "region": region,
        "ancestors": ancestors,
        "bbox": _extent(session, code),
        "method": region["method"],
        "outline": outline,
        "children": {"type": "FeatureCollection", "features": features},
    }


def country_trend(
    session: Session,
    *,
    start: date,
    end: date,
    method: str | None = None,
    normalise: str | None = None,
) -> dict[str, Any]:
    """Daily snapshots of the country (summed over its provinces), like /api/risk/trend."""
    if start > end:
        raise InvalidInput("from must not be after to", field="from")
    method, normalise = aggregation.resolve_method(method, normalise)
    provinces = _provinces(session)
    rows = session.execute(
        text("""
        SELECT day, measure, sum(value) AS value FROM region_count_snapshots
         WHERE region_code = ANY(:codes) AND day BETWEEN :start AND :end
         GROUP BY day, measure ORDER BY day
    """),
        {"codes": [p.code for p in provinces], "start": start, "end": end},
    ).all()
    points = aggregation.trend_points(
        rows,
        code="",
        name=COUNTRY_NAME,
        level="country",
        area_km2=sum(p.area_km2 for p in provinces),
        method=method,
        normalise=normalise,
    )
    return {
        "code": "",
        "name": COUNTRY_NAME,
        "method": aggregation.method_label(method, normalise),
        "from": start.isoformat(),
        "to": end.isoformat(),
        "points": points,
    }


def sectors(session: Session, *, scope: Scope) -> list[dict[str, Any]]:
    """The enterprises' sectors, most common first: counts (public) in the caller's region."""
    rows = session.execute(
        text("""
        SELECT sector, count(*) AS n FROM enterprises WHERE county_code LIKE :prefix
         GROUP BY sector ORDER BY n DESC, sector
    """),
        {"prefix": scope.read_prefix + "%"},
    ).all()
    return [{"sector": r.sector, "enterprises": r.n} for r in rows]


# Search

_CREDIT_CODE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{6,18}$")


def search(session: Session, *, q: str, scope: Scope, limit: int = 10) -> dict[str, Any]:
    """Regions by name or code (public), enterprises by name or credit code (those the
    caller may read); each with where to fly."""
    q = q.strip()
    if not q:
        raise InvalidInput("q must not be empty", field="q")
    like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    regions = (
        session.execute(
            text("""
        SELECT code, name, level, is_leaf, ST_X(label_point) AS lon, ST_Y(label_point) AS lat,
               ST_XMin(geom_coarse) AS x0, ST_YMin(geom_coarse) AS y0,
               ST_XMax(geom_coarse) AS x1, ST_YMax(geom_coarse) AS y1,
               (SELECT p.name FROM regions p WHERE p.code = regions.parent_code) AS parent_name
          FROM regions
         WHERE (name LIKE :like OR code = :q)
         ORDER BY (name = :q) DESC, CASE level WHEN 'province' THEN 0 WHEN 'city' THEN 1 ELSE 2 END,
                  length(name), code
         LIMIT :limit
    """),
            {"like": like, "q": q, "limit": limit},
        )
        .mappings()
        .all()
    )
    credit = q.upper()
    visible = scope.filters("enterprises")
    enterprises = (
        []
        if not scope.can_read("enterprises")
        else session.execute(
            text(f"""
        SELECT e.id, e.name, e.credit_code, e.sector, e.risk_level, e.county_code,
               ST_X(e.geom) AS lon, ST_Y(e.geom) AS lat, r.name AS county_name
          FROM enterprises e JOIN regions r ON r.code = e.county_code
         WHERE (e.name LIKE :like OR (CAST(:credit AS text) IS NOT NULL
                                      AND e.credit_code LIKE CAST(:credit AS text) || '%'))
           AND {visible.where("e")}
         ORDER BY (e.credit_code = :q_upper) DESC, (e.name = :q) DESC, length(e.name), e.id
         LIMIT :limit
    """),
            {
                **visible.params(),
                "like": like,
                "credit": credit if _CREDIT_CODE.match(credit) else None,
                "q": q,
                "q_upper": credit,
                "limit": limit,
            },
        )
        .mappings()
        .all()
    )
    items = [
        {
            "type": "region",
            "code": r["code"],
            "name": r["name"],
            "level": r["level"],
            "is_leaf": r["is_leaf"],
            "context": r["parent_name"] or "",
            "lon": round(r["lon"], 6),
            "lat": round(r["lat"], 6),
            "bbox": [round(r[k], 5) for k in ("x0", "y0", "x1", "y1")],
        }
        for r in regions
    ]
    items += [
        {
            "type": "enterprise",
            "id": e["id"],
            "name": e["name"],
            "credit_code": e["credit_code"],
            "sector": e["sector"],
            "level": e["risk_level"],
            "county_code": e["county_code"],
            "context": e["county_name"],
            "lon": round(e["lon"], 6),
            "lat": round(e["lat"], 6),
        }
        for e in enterprises
    ]
    return {"q": q, "items": items}


# Heat map


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


# Offline HTML export (folium)

LEAFLET_DIR = FRONTEND_DIR / "lib" / "leaflet"

# The export is one file: inline scripts and styles, data: images and fonts, nothing
# fetched. Opened from the server rather than from disk it runs sandboxed (an opaque
# origin), so no script in it could read the web map's storage or call the API as the user.
OFFLINE_EXPORT_POLICY = (
    "sandbox allow-scripts; default-src 'none'; script-src 'unsafe-inline'; "
    "style-src 'unsafe-inline'; img-src data:; font-src data:; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)


@cache
def _leaflet_inline() -> tuple[str, str]:
    """Leaflet's JS and its CSS with the images it references as data: URIs."""
    js = (LEAFLET_DIR / "leaflet.js").read_text(encoding="utf-8")
    css = (LEAFLET_DIR / "leaflet.css").read_text(encoding="utf-8")

    def inline(match: re.Match[str]) -> str:
        path = LEAFLET_DIR / match.group(1)
        if not path.is_file():
            return "none"
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        return f"url(data:image/png;base64,{data})"

    css = re.sub(r"url\((images/[\w.-]+\.png)\)", inline, css)
    return js, css


FONT_DIR = FRONTEND_DIR / "lib" / "fonts" / "noto-sans-sc"
FONT_BUDGET_BYTES = 3_000_000


@cache
def _font_slices() -> list[tuple[str, list[tuple[int, int]]]]:
    """(woff2 file name, unicode ranges) of each slice of the vendored Noto Sans SC."""
    css_path = FONT_DIR / "noto-sans-sc-400.css"
    if not css_path.is_file():
        return []
    slices = []
    for block in css_path.read_text(encoding="utf-8").split("@font-face")[1:]:
        file = re.search(r"url\(\./files/([^)]+\.woff2)\)", block)
        ranges = re.search(r"unicode-range:\s*([^;]+);", block)
        if not file or not ranges:
            continue
        parsed = []
        for part in ranges.group(1).split(","):
            low, _, high = part.strip().removeprefix("U+").partition("-")
            parsed.append((int(low, 16), int(high or low, 16)))
        slices.append((file.group(1), parsed))
    return slices


def _embedded_font_css(text: str) -> str:
    """@font-face rules, as data: URIs, for the font slices that cover `text`'s CJK
    characters (so the file shows Chinese even on a machine with no Chinese font)."""
    wanted = {ord(c) for c in text if ord(c) > 0x2E7F}
    rules, used = [], 0
    scored = []
    for file, ranges in _font_slices():
        hits = sum(1 for c in wanted if any(lo <= c <= hi for lo, hi in ranges))
        if hits:
            scored.append((hits, file, ranges))
    for _, file, ranges in sorted(scored, reverse=True):
        data = (FONT_DIR / "files" / file).read_bytes()
        if used + len(data) > FONT_BUDGET_BYTES:
            break
        used += len(data)
        unicode_range = ",".join(
            f"U+{lo:x}" if lo == hi else f"U+{lo:x}-{hi:x}" for lo, hi in ranges
        )
        rules.append(
            "@font-face{font-family:'RiskAtlas Noto Sans SC';font-weight:400;"
            f"src:url(data:font/woff2;base64,{base64.b64encode(data).decode('ascii')})"
            f" format('woff2');unicode-range:{unicode_range}}}"
        )
    return "".join(rules)


def _colour(level: str | None) -> str:
    return LEVEL_COLOURS.get(level or "", NO_LEVEL_COLOUR)


def region_html(
    session: Session,
    *,
    code: str,
    scope: Scope,
    points_layer: str = "enterprises",
    today: date | None = None,
) -> str:
    """A self-contained HTML map of one region: children by colour, points, legend."""
    import folium  # noqa: PLC0415  (heavy, only needed here)
    from branca.element import Element, MacroElement  # noqa: PLC0415
    from jinja2 import Template  # noqa: PLC0415

    if points_layer not in POINT_LAYERS or not POINT_LAYERS[points_layer].has_level:
        raise InvalidInput(
            f"unknown points layer {points_layer!r}",
            field="points",
            allowed=[k for k, v in POINT_LAYERS.items() if v.has_level],
        )
    view = map_view(session, code=code, detail="medium")
    region = view["region"]
    outline = session.execute(
        text("""
        SELECT ST_AsGeoJSON(geom_medium, 5) FROM regions WHERE code = :c
        UNION ALL SELECT ST_AsGeoJSON(geom, 5) FROM grid_cells WHERE code = :c
    """),
        {"c": code},
    ).scalar()
    table = POINT_LAYERS[points_layer].table
    params: dict[str, object]
    if region["level"] == "grid":
        where, params = "t.grid_code = :code", {"code": code}
    else:  # every county-level unit at or below the region, whatever its code looks like
        where = """t.county_code IN (
            SELECT code FROM regions WHERE code = :code OR parent_code = :code
               OR parent_code IN (SELECT code FROM regions WHERE parent_code = :code))"""
        params = {"code": code}
    # Points only of rows the caller may read (the public gets the choropleth alone).
    visible = scope.filters(table) if scope.can_read(table) else None
    where += f" AND {visible.where('t')}" if visible else " AND false"
    params.update(visible.params() if visible else {})
    points = session.execute(
        text(f"""
        SELECT round(ST_Y(p)::numeric, 5) AS lat, round(ST_X(p)::numeric, 5) AS lon,
               name, risk_level FROM (
          SELECT CASE WHEN GeometryType(t.geom) = 'POINT' THEN t.geom
                      ELSE ST_PointOnSurface(t.geom) END AS p, t.name, t.risk_level
            FROM {table} t WHERE {where}) x
         ORDER BY risk_level = 'red', name LIMIT 20000
    """),
        params,
    ).all()
    bbox = view["bbox"] or [73.4, 3.3, 135.1, 53.6]

    fmap = folium.Map(
        location=[(bbox[1] + bbox[3]) / 2, (bbox[0] + bbox[2]) / 2],
        tiles=None,
        zoom_start=8,
        control_scale=False,
        prefer_canvas=True,
    )
    # Self-contained: no CDN. Drop folium's default JS/CSS (Leaflet, jQuery, Bootstrap,
    # awesome-markers from CDNs) and inline the project's vendored Leaflet instead.
    fmap.default_js = []
    fmap.default_css = []
    leaflet_js, leaflet_css = _leaflet_inline()
    # branca has no type hints: the root of a folium map is a Figure with header/html.
    root: Any = fmap.get_root()
    root.header.add_child(Element(f"<style>{leaflet_css}</style>"), name="leaflet_css")
    root.header.add_child(Element(f"<script>{leaflet_js}</script>"), name="leaflet_js")
    root.header.add_child(
        Element(
            "<style>html,body,.leaflet-container{margin:0;height:100%;font-family:'PingFang SC',"
            "'Microsoft YaHei','Noto Sans CJK SC','RiskAtlas Noto Sans SC',sans-serif}"
            ".ra-box{position:absolute;z-index:1000;background:rgba(255,255,255,.94);"
            "border-radius:6px;box-shadow:0 1px 6px rgba(0,0,0,.3);padding:8px 12px;font-size:13px}"
            ".ra-title{top:10px;left:54px}.ra-title h1{font-size:18px;margin:0 0 2px}"
            ".ra-legend{bottom:30px;right:10px}.ra-legend i{display:inline-block;width:14px;"
            "height:14px;margin-right:6px;vertical-align:-2px;border:1px solid rgba(0,0,0,.25)}"
            ".ra-north{top:10px;right:10px;text-align:center;font-weight:bold}</style>"
        ),
        name="ra_style",
    )

    def style(feature: dict[str, Any]) -> dict[str, Any]:
        return {
            "fillColor": _colour(feature["properties"].get("regional_level")),
            "color": "#ffffff",
            "weight": 1,
            "fillOpacity": 0.55,
        }

    # Names are user text (grid cells are imported, points entered) and Leaflet tooltips,
    # folium's GeoJsonTooltip included, take HTML: every name is escaped as it comes in.
    children: dict[str, Any] = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": f["geometry"],
                "properties": {
                    "name": html.escape(f["properties"]["name"]),
                    "regional_level": f["properties"].get("regional_level"),
                },
            }
            for f in view["children"]["features"]
        ],
    }
    if children["features"]:
        folium.GeoJson(
            children,
            name="children",
            style_function=style,
            tooltip=folium.GeoJsonTooltip(fields=["name"], labels=False),
        ).add_to(fmap)
    if outline:
        # Not interactive: on the same canvas, above the children, it would take every hover
        # and no child's tooltip would show (Leaflet hit-tests a polygon's area even unfilled).
        folium.GeoJson(
            json.loads(outline),
            name="outline",
            interactive=False,
            style_function=lambda _: {"fill": False, "color": "#1f2d3d", "weight": 2.5},
        ).add_to(fmap)

    data = [(float(p.lat), float(p.lon), html.escape(p.name), p.risk_level or "") for p in points]

    class Points(MacroElement):
        _template = Template("""
            {% macro script(this, kwargs) %}
            (function () {
              var colours = {{ this.colours }}, rows = {{ this.rows }};
              L.control.scale({imperial: false}).addTo({{ this._parent.get_name() }});
              // The map's own canvas (prefer_canvas), shared with the regions: a canvas of
              // their own on top would take every hover and hide the regions' tooltips.
              rows.forEach(function (r) {
                L.circleMarker([r[0], r[1]], {radius: 4, weight: 1,
                  color: '#ffffff', fillColor: colours[r[3]] || '#888', fillOpacity: 0.95})
                 .bindTooltip(r[2]).addTo({{ this._parent.get_name() }});
              });
            })();
            {% endmacro %}
        """)

        def __init__(self) -> None:
            super().__init__()  # type: ignore[no-untyped-call]  # branca is untyped
            self._name = "RiskAtlasPoints"
            self.colours = json.dumps(LEVEL_COLOURS)
            self.rows = json.dumps(data, ensure_ascii=False).replace("</", "<\\/")

    fmap.add_child(Points())
    fmap.fit_bounds([[bbox[1], bbox[0]], [bbox[3], bbox[2]]])

    counts = region["counts"]
    level = region.get("regional_level")
    layer_title = POINT_LAYERS[points_layer].title_zh
    legend_rows = "".join(
        f"<div><i style='background:{LEVEL_COLOURS[lvl]}'></i>{LEVEL_NAMES_ZH[lvl]}"
        f" &nbsp;风险点 {counts[lvl]} · 企业 {region['enterprises'][lvl]}"
        f" · 公共区域 {region['public_zones'][lvl]}</div>"
        for lvl in LEVELS
    )
    day = (today or date.today()).isoformat()
    name = html.escape(region["name"])
    title = (
        f"<div class='ra-box ra-title'><h1>{name} 安全风险四色分布图</h1>"
        f"<div>区域风险等级：<b style='color:{_colour(level)}'>"
        f"{LEVEL_NAMES_ZH.get(level or '', '无数据')}</b>"
        f"（{html.escape(region['method'])}）· 图层：{layer_title} {len(data)} 个"
        f" · 制图日期 {day}</div></div>"
    )
    legend = (
        f"<div class='ra-box ra-legend'><b>图例</b>{legend_rows}"
        f"<div><i style='background:{NO_LEVEL_COLOUR}'></i>无数据</div></div>"
    )
    north = "<div class='ra-box ra-north'>▲<br>北</div>"
    root.html.add_child(Element(title + legend + north), name="ra_overlay")
    font_text = (
        title
        + legend
        + north
        + "".join(p[2] for p in data)
        + "".join(f["properties"]["name"] for f in children["features"])
    )
    root.header.add_child(
        Element(f"<style>{_embedded_font_css(font_text)}</style>"), name="ra_font"
    )
    root.title = f"{name} 安全风险四色分布图"  # branca writes the title unescaped
    rendered = str(root.render())
    return (
        rendered.replace("<head>", f"<head>\n<title>{name} 安全风险四色分布图</title>", 1)
        if "<title>" not in rendered
        else rendered
    )
