"""Querying layer features as GeoJSON: bbox, paging, the tile filters, datetime."""

import json
from datetime import datetime
from typing import Any, Literal, NamedTuple, NotRequired, TypedDict

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.auth.scope import RowFilters
from app.datetimes import aware
from app.errors import InvalidInput, NotFound
from app.tiles.catalog import Layer

MAX_LIMIT = 10_000
REGION_DETAIL = {"full": "geom", "medium": "geom_medium", "coarse": "geom_coarse"}


class Link(TypedDict):
    """An OGC API link."""

    href: str
    rel: str
    type: str
    title: str


class Feature(TypedDict):
    """An RFC 7946 Feature; OGC items add their links."""

    type: Literal["Feature"]
    id: int | str  # a row's id, or a region's or grid cell's code
    geometry: dict[str, Any]
    properties: dict[str, Any]
    links: NotRequired[list[Link]]


def parse_bbox(bbox: str | None) -> tuple[float, float, float, float] | None:
    """Parse 'minx,miny,maxx,maxy' (WGS 84), naming what is wrong."""
    if bbox is None:
        return None
    parts = bbox.split(",")
    if len(parts) != 4:
        raise InvalidInput(
            f"bbox needs 4 numbers (minx,miny,maxx,maxy), got {len(parts)}", field="bbox"
        )
    try:
        min_x, min_y, max_x, max_y = (float(p) for p in parts)
    except ValueError as error:
        raise InvalidInput(
            f"bbox has a value that is not a number: {bbox}", field="bbox"
        ) from error
    if not (-180 <= min_x <= 180 and -180 <= max_x <= 180):
        raise InvalidInput("bbox longitudes must lie in −180…180", field="bbox")
    if not (-90 <= min_y <= 90 and -90 <= max_y <= 90):
        raise InvalidInput("bbox latitudes must lie in −90…90", field="bbox")
    if min_x > max_x or min_y > max_y:
        raise InvalidInput("bbox must be minx,miny,maxx,maxy with min ≤ max", field="bbox")
    return min_x, min_y, max_x, max_y


def parse_datetime_interval(value: str | None) -> tuple[datetime | None, datetime | None]:
    """Parse an OGC datetime: an instant, 'start/end', '../end' or 'start/..'."""
    if not value:
        return None, None

    def instant(part: str) -> datetime | None:
        if part in ("", ".."):
            return None
        try:
            return aware(datetime.fromisoformat(part.replace("Z", "+00:00")))
        except ValueError as error:
            raise InvalidInput(
                f"{part!r} is not an RFC 3339 date-time", field="datetime"
            ) from error

    if "/" in value:
        start, _, end = value.partition("/")
        interval = instant(start), instant(end)
        if interval[0] and interval[1] and interval[0] > interval[1]:
            raise InvalidInput("datetime interval ends before it starts", field="datetime")
        return interval
    moment = instant(value)
    return moment, moment


def _where(layer: Layer, filters: RowFilters) -> str:
    clauses = [
        "(CAST(:bbox_minx AS float) IS NULL OR t.{geom} && "
        "ST_MakeEnvelope(:bbox_minx, :bbox_miny, :bbox_maxx, :bbox_maxy, 4326))"
    ]
    if layer.table == "regions":
        clauses += [
            "t.code LIKE :code_prefix",
            "(CAST(:parent AS text) IS NULL OR t.parent_code = CAST(:parent AS text))",
        ]
        return " AND ".join(clauses)
    if layer.table == "grid_cells":
        clauses += [
            "t.code LIKE :code_prefix",
            "(CAST(:parent AS text) IS NULL OR t.county_code = CAST(:parent AS text))",
        ]
        return " AND ".join(clauses)
    clauses += [
        "(CAST(:start AS timestamptz) IS NULL OR t.updated_at >= CAST(:start AS timestamptz))",
        "(CAST(:end AS timestamptz) IS NULL OR t.updated_at <= CAST(:end AS timestamptz))",
        *filters.clauses("t", has_level=layer.has_level),
    ]
    if layer.row_filter is not None:
        clauses.append(layer.row_filter)
    return " AND ".join(clauses)


def _key(layer: Layer) -> str:
    return "t.code" if layer.table in ("regions", "grid_cells") else "t.id"


# Largest page of region outlines per detail (OGC: a larger limit is lowered, not refused):
# a full-detail province outline alone can weigh megabytes.
REGION_PAGE_LIMITS = {"full": 10, "medium": 100, "coarse": 1000}


def page_limit(layer: Layer, detail: str, asked: int) -> int:
    """The limit a page is actually served with."""
    if layer.table == "regions":
        return min(asked, REGION_PAGE_LIMITS[detail])
    return asked


class FeaturePage(NamedTuple):
    """One page of a layer: its Features as a JSON array built by PostgreSQL (so rows
    never become Python objects on the way), how many and how many match in all."""

    features_json: str
    returned: int
    matched: int


def _page_sql(layer: Layer, geom: str, where: str) -> str:
    """One statement for a page and its number matched (one round trip). Both parts are
    materialised: on Citus each runs over the shards and the JSON is built from their
    results on the coordinator."""
    columns = dict(layer.properties)
    if layer.table not in ("regions", "grid_cells"):
        columns["updated_at"] = "t.updated_at"
    selected = ", ".join(f"{expr} AS {key}" for key, expr in columns.items())
    properties = ", ".join(f"'{key}', page.{key}" for key in columns)
    return f"""
WITH page AS MATERIALIZED (
    SELECT {_key(layer)} AS fid, t.{geom} AS geom, {selected}
      FROM {layer.table} t
     WHERE {where}
     ORDER BY {_key(layer)} LIMIT :limit OFFSET :offset
),
matched AS MATERIALIZED (SELECT count(*) AS n FROM {layer.table} t WHERE {where})
SELECT (SELECT n FROM matched) AS matched,
       count(page.fid) AS returned,
       coalesce(json_agg(json_build_object(
           'type', 'Feature',
           'id', page.fid,
           'geometry', ST_AsGeoJSON(page.geom, 7)::json,
           'properties', json_build_object({properties})
       ) ORDER BY page.fid), '[]')::text AS features
  FROM page"""


def query_features(
    session: Session,
    *,
    layer: Layer,
    filters: RowFilters,
    bbox: tuple[float, float, float, float] | None,
    limit: int,
    offset: int,
    interval: tuple[datetime | None, datetime | None] = (None, None),
    parent: str | None = None,
    detail: str = "full",
    fid: str | None = None,
) -> FeaturePage:
    """One page of a layer's features, in id order."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must lie in 1…{MAX_LIMIT}", field="limit")
    if offset < 0:
        raise InvalidInput("offset must not be negative", field="offset")
    geom = REGION_DETAIL[detail] if layer.table == "regions" else "geom"
    updated_since = filters.updated_since
    start = max(filter(None, (interval[0], updated_since)), default=None)
    params = {
        **filters.params(),
        "start": start,
        "end": interval[1],
        "parent": parent,
        "bbox_minx": bbox[0] if bbox else None,
        "bbox_miny": bbox[1] if bbox else None,
        "bbox_maxx": bbox[2] if bbox else None,
        "bbox_maxy": bbox[3] if bbox else None,
        "limit": limit,
        "offset": offset,
        "fid": fid,
    }
    where = _where(layer, filters).format(geom=geom)
    if fid is not None:
        where += f" AND CAST({_key(layer)} AS text) = :fid"
    row = session.execute(text(_page_sql(layer, geom, where)), params).one()
    return FeaturePage(row.features, row.returned, row.matched)


def feature_or_raise(session: Session, *, layer: Layer, filters: RowFilters, fid: str) -> Feature:
    """One feature by id, or NotFound naming it."""
    page = query_features(
        session, layer=layer, filters=filters, bbox=None, limit=1, offset=0, fid=fid
    )
    if not page.returned:
        raise NotFound(f"feature {fid} not found in {layer.name}", field="featureId")
    feature: Feature = json.loads(page.features_json)[0]
    return feature
