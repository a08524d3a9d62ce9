"""The officials' web map's view: one drill-down step in one request.

`map_view`: one region (or the whole country) with its aggregates, its ancestors, its
extent and its children's outlines joined with the children's aggregates: the four-colour
choropleth of one drill-down step. Region aggregates are public.
"""

import json
import threading
from collections import OrderedDict
from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.auth.scope import Scope
from app.errors import InvalidInput
from app.regions.service import get_region_or_raise
from app.risk import aggregation
from app.risk.methods import LEVELS

COUNTRY_NAME = "全国"
GEOMETRY_DETAIL = {"coarse": ("geom_coarse", 3), "medium": ("geom_medium", 4), "full": ("geom", 5)}


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
# Request threads share the cache: an OrderedDict's move_to_end and popitem are not atomic
# with the lookups around them, so every access holds the lock (never during a query).
_OUTLINES_LOCK = threading.Lock()
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
    with _OUTLINES_LOCK:
        cached = _OUTLINES.get(key)
        if cached is not None:
            _OUTLINES.move_to_end(key)
            return cached
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
    with _OUTLINES_LOCK:
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


# Counts under the map's filters

_COUNTED_SECTOR = {
    "enterprises": "t.sector",
    "risk_points": "(SELECT e.sector FROM enterprises e WHERE e.id = t.enterprise_id)",
    "hazard_sources": "(SELECT e.sector FROM enterprises e WHERE e.id = t.enterprise_id)",
}


def filtered_counts(
    session: Session, *, code: str | None, levels: list[str] | None, sector: str | None
) -> dict[str, Any]:
    """Counts by colour (hazard sources by grade) in a region under the map's colour and
    sector filters, so the legend and the panel say what the map shows. Public zones have
    no sector: None under a sector filter. `dangers`: open hidden dangers (and major ones)
    at the enterprises kept. Aggregates, public like region_counts."""
    if code is not None:
        get_region_or_raise(session, code=code)
    region = (
        "true"
        if code is None
        else """t.county_code IN (
            SELECT code FROM regions WHERE code = :code OR parent_code = :code
               OR parent_code IN (SELECT code FROM regions WHERE parent_code = :code))"""
    )
    params = {"code": code, "levels": levels, "sector": sector}
    wanted = "(CAST(:levels AS text[]) IS NULL OR t.risk_level = ANY(CAST(:levels AS text[])))"
    out: dict[str, Any] = {"code": code or "", "levels": levels, "sector": sector}
    for table in ("enterprises", "risk_points", "public_zones", "hazard_sources"):
        if sector is not None and table not in _COUNTED_SECTOR:
            out[table] = None
            continue
        by_sector = (
            f"{_COUNTED_SECTOR[table]} = CAST(:sector AS text)" if sector is not None else "true"
        )
        key = "CAST(t.grade AS text)" if table == "hazard_sources" else "t.risk_level"
        rows = session.execute(
            text(f"""
            SELECT {key} AS k, count(*) FROM {table} t
             WHERE {region} AND {wanted} AND {by_sector} GROUP BY 1
        """),
            params,
        ).all()
        found = {k: n for k, n in rows if k is not None}
        keys = ("1", "2", "3", "4") if table == "hazard_sources" else LEVELS
        out[table] = {k: int(found.get(k, 0)) for k in keys}
    # Hidden dangers not yet closed (as region_counts counts them) at the enterprises the
    # filters keep: a danger has no colour of its own, its enterprise's is the one shown.
    by_sector = "t.sector = CAST(:sector AS text)" if sector is not None else "true"
    dangers = session.execute(
        text(f"""
        SELECT count(*) AS open, count(*) FILTER (WHERE d.grade = 'major') AS open_major
          FROM hidden_dangers d JOIN enterprises t ON t.id = d.enterprise_id
         WHERE d.status <> 'closed' AND {region} AND {wanted} AND {by_sector}
    """),
        params,
    ).one()
    out["dangers"] = {"open": int(dangers.open), "open_major": int(dangers.open_major)}
    return out
