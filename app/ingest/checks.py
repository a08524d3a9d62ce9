"""Per-row checks of an import that need no database: columns, values, geometries."""

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
import shapely
from pyproj import Geod
from shapely.geometry.base import BaseGeometry

from app.errors import InvalidInput
from app.geo.chinese_datums import bd09_to_wgs84, gcj02_to_bd09, gcj02_to_wgs84, wgs84_to_gcj02
from app.geo.location import MAX_VERTICES, to_wgs84_geometry
from app.ingest.layers import (
    COUNTY_HEADERS,
    LAT_HEADERS,
    LON_HEADERS,
    WKT_HEADERS,
    Column,
    Layer,
)
from app.ingest.readers import Table, parse_wkt
from app.risk import gb18218, grading
from app.sites.credit_code import is_valid_credit_code

# The rectangle of China used to catch swapped or projected coordinates before the
# database's point-in-county test (which is the real "inside China" check).
CHINA_BBOX = (73.0, 3.0, 136.0, 54.0)
OUTSIDE_CHINA = "outside China (longitude 73–136, latitude 3–54; lon and lat swapped?)"
OUTSIDE_CHINA_ZH = "位置在中国境外（经度 73–136、纬度 3–54；经纬度是否填反？）"


class RowError(Exception):
    """A value of one row is refused: `field` names the column, `reason` says why (in
    English for the API) and `reason_zh` says it to the official reading the report."""

    def __init__(self, field: str, reason: str, reason_zh: str | None = None) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason
        # Messages passed through from the grading rules exist in English only.
        self.reason_zh = reason_zh or reason


@dataclass
class Candidate:
    """One row of the file on its way in."""

    row: int
    data: dict[str, Any]
    geometry: BaseGeometry | None = None
    # A lon/lat pair from a table: kept as numbers (no geometry object per row).
    point: tuple[float, float] | None = None
    declared_county: str | None = None
    error: RowError | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Mapping:
    """Which header of the file feeds which field, and where the location is."""

    fields: dict[str, str]
    lon: str | None
    lat: str | None
    wkt: str | None
    county: str | None
    ignored: tuple[str, ...]


def _normal(header: str) -> str:
    return header.strip().lower().replace(" ", "").replace("（", "(").replace("）", ")")


def map_columns(layer: Layer, table: Table) -> Mapping:
    """Match the file's headers to the layer's fields (Chinese headers, aliases, names)."""
    by_name = {_normal(h): h for h in table.headers if h}
    used: set[str] = set()

    def find(names: tuple[str, ...]) -> str | None:
        for name in names:
            header = by_name.get(_normal(name))
            if header is not None and header not in used:
                used.add(header)
                return header
        return None

    fields = {}
    for column in layer.columns:
        header = find((column.header_zh, column.field, *column.aliases))
        if header is not None:
            fields[column.field] = header
    lon, lat, wkt, county = (
        find(LON_HEADERS),
        find(LAT_HEADERS),
        find(WKT_HEADERS),
        find(COUNTY_HEADERS),
    )
    missing = [c.header_zh for c in layer.columns if c.required and c.field not in fields]
    if missing:
        raise InvalidInput(
            f"the file has no column {missing[0]}",
            field="file",
            missing=missing,
        )
    if table.geometries is None and wkt is None and (lon is None or lat is None):
        if not layer.location_from_enterprise:
            raise InvalidInput(
                "the file has neither 经度/纬度 (lon/lat) columns nor a WKT column", field="file"
            )
    ignored = tuple(h for h in table.headers if h and h not in used)
    return Mapping(fields, lon, lat, wkt, county, ignored)


def _blank(value: Any) -> bool:
    return (
        value is None
        or (isinstance(value, str) and not value.strip())
        or (isinstance(value, float) and math.isnan(value))
    )


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _convert(column: Column, value: Any) -> Any:
    """A raw cell as the field's value (RowError naming the column when it does not fit)."""
    header = column.header_zh
    if column.type in ("text", "credit_code", "substances"):
        text = _text(value)
        if column.max_length and len(text) > column.max_length:
            raise RowError(
                header,
                f"longer than {column.max_length} characters",
                f"超过 {column.max_length} 个字符",
            )
        if column.type == "credit_code":
            text = text.upper()
            if not is_valid_credit_code(text):
                raise RowError(
                    header,
                    "not a valid unified social credit code (GB 32100)",
                    "不是有效的统一社会信用代码（GB 32100 校验位不符）",
                )
        if column.type == "substances":
            return _substances(header, text)
        return text
    if column.type in ("int", "float"):
        try:
            number = float(_text(value)) if not isinstance(value, int | float) else float(value)
        except ValueError as error:
            raise RowError(header, "not a number", "不是数字") from error
        if not math.isfinite(number) or number < 0:
            raise RowError(header, "must be a finite number ≥ 0", "须为不小于 0 的数")
        if column.type == "int":
            if not number.is_integer() or number > 2**31 - 1:
                raise RowError(header, "must be a whole number", "须为整数")
            return int(number)
        # 2 stays 2: the LS scales are integers (2.0 is refused there).
        return int(number) if number.is_integer() else number
    if column.type == "enum":
        text = _text(value)
        for stored, spellings in column.allowed.items():
            if text.lower() in (s.lower() for s in spellings):
                return stored
        raise RowError(
            header,
            f"{text!r} is not one of {', '.join(column.allowed)}",
            f"“{text}”不在可选值之列：{'、'.join(column.allowed)}",
        )
    if column.type == "date":
        return _date(header, value)
    raise AssertionError(f"unknown column type {column.type}")  # pragma: no cover


def _date(header: str, value: Any) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = _text(value).replace("/", "-").replace(".", "-")
    try:
        return date.fromisoformat(text[:10]).isoformat()
    except ValueError as error:
        raise RowError(header, "not a date (YYYY-MM-DD)", "不是日期（格式 YYYY-MM-DD）") from error


def _substances(header: str, text: str) -> list[dict[str, Any]]:
    """'7782-50-5:2;苯:10' → [{cas, quantity_t}, {name, quantity_t}], graded to check it."""
    substances = []
    for item in filter(None, (p.strip() for p in text.replace("；", ";").split(";"))):
        name, _, quantity = item.replace("：", ":").rpartition(":")
        try:
            tonnes = float(quantity)
        except ValueError as error:
            raise RowError(
                header, f"{item!r}: give 名称或CAS号:吨数", f"“{item}”应写作 名称或CAS号:吨数"
            ) from error
        key = "cas" if name.replace("-", "").isdigit() else "name"
        substances.append({key: name.strip(), "quantity_t": tonnes})
    try:
        gb18218.assess_hazard_source(grading.parse_substances(substances), 0)
    except InvalidInput as error:
        raise RowError(header, error.message) from error
    return substances


def _location(
    mapping: Mapping, raw: dict[str, Any], geometry: BaseGeometry | None
) -> BaseGeometry | tuple[float, float] | None:
    if geometry is not None:
        return geometry
    if mapping.wkt and not _blank(raw.get(mapping.wkt)):
        try:
            return parse_wkt(_text(raw[mapping.wkt]))
        except ValueError as error:
            raise RowError(mapping.wkt, "not WKT", "不是 WKT 几何") from error
    if mapping.lon and mapping.lat:
        lon, lat = raw.get(mapping.lon), raw.get(mapping.lat)
        if _blank(lon) and _blank(lat):
            return None
        try:
            x, y = float(_text(lon)), float(_text(lat))
        except ValueError as error:
            raise RowError(f"{mapping.lon},{mapping.lat}", "not a number", "不是数字") from error
        if not (math.isfinite(x) and math.isfinite(y)):
            raise RowError(f"{mapping.lon},{mapping.lat}", "not a number", "不是数字")
        return x, y
    return None


def _check_point(layer: Layer, lon: float, lat: float) -> tuple[float, float]:
    """A lon/lat pair where the layer takes points, inside China's rectangle."""
    if "Point" not in layer.geometries:
        raise RowError(
            "geometry",
            f"Point where {'/'.join(layer.geometries)} is expected",
            f"应为 {'/'.join(layer.geometries)}，却是点",
        )
    west, south, east, north = CHINA_BBOX
    if not (west <= lon <= east and south <= lat <= north):
        raise RowError("geometry", OUTSIDE_CHINA, OUTSIDE_CHINA_ZH)
    return lon, lat


def check_geometry(layer: Layer, geometry: BaseGeometry) -> BaseGeometry:
    """A geometry of the right type, valid, inside China's rectangle (file's CRS)."""
    geometry = shapely.force_2d(geometry)
    if geometry.geom_type == "MultiPoint" and len(geometry.geoms) == 1:
        geometry = geometry.geoms[0]
    if geometry.geom_type not in layer.geometries:
        raise RowError(
            "geometry",
            f"{geometry.geom_type} where {'/'.join(layer.geometries)} is expected",
            f"应为 {'/'.join(layer.geometries)}，却是 {geometry.geom_type}",
        )
    if shapely.get_num_coordinates(geometry) > MAX_VERTICES:
        raise RowError(
            "geometry", f"more than {MAX_VERTICES} vertices", f"顶点超过 {MAX_VERTICES} 个"
        )
    if geometry.is_empty or not geometry.is_valid:
        reason = shapely.is_valid_reason(geometry)
        raise RowError("geometry", f"invalid geometry: {reason}", f"几何无效：{reason}")
    min_x, min_y, max_x, max_y = geometry.bounds
    west, south, east, north = CHINA_BBOX
    if min_x < west or max_x > east or min_y < south or max_y > north:
        raise RowError("geometry", OUTSIDE_CHINA, OUTSIDE_CHINA_ZH)
    return geometry


def check_rows(
    layer: Layer,
    table: Table,
    mapping: Mapping,
    *,
    progress: Callable[[int], None] | None = None,
) -> list[Candidate]:
    """Every row converted and checked on its own; refused rows carry their error."""
    candidates = []
    for index, raw in enumerate(table.rows):
        candidate = Candidate(row=index + table.first_row, data={})
        try:
            _check_row(layer, mapping, raw, table, index, candidate)
        except RowError as error:
            candidate.error = error
        candidates.append(candidate)
        if progress and index % 5000 == 4999:
            progress(index + 1)
    return candidates


def _check_row(
    layer: Layer, mapping: Mapping, raw: dict[str, Any], table: Table, index: int, row: Candidate
) -> None:
    for column in layer.columns:
        header = mapping.fields.get(column.field)
        value = raw.get(header) if header else None
        if _blank(value):
            if column.required:
                raise RowError(column.header_zh, "required", "必填")
            continue
        row.data[column.field] = _convert(column, value)
    geometry = _location(mapping, raw, table.geometries[index] if table.geometries else None)
    if geometry is None:
        if not layer.location_from_enterprise or "enterprise_credit_code" not in row.data:
            raise RowError(
                "geometry",
                "no location (经度/纬度, WKT or a feature geometry)",
                "没有位置（经度/纬度、WKT 或要素几何）",
            )
    elif isinstance(geometry, tuple):
        row.point = _check_point(layer, *geometry)
    else:
        row.geometry = check_geometry(layer, geometry)
    if mapping.county and not _blank(raw.get(mapping.county)):
        county = _text(raw[mapping.county])
        if not (county.isdigit() and len(county) == 6):
            raise RowError(
                mapping.county,
                "not a 6-digit county code (GB/T 2260)",
                "不是 6 位区县代码（GB/T 2260）",
            )
        row.declared_county = county
    _derive(layer, row)


def _derive(layer: Layer, row: Candidate) -> None:
    """Values computed from the row: a risk point's grade (the existing grading rules)."""
    if layer.name != "risk_points":
        return
    method = row.data["method"]
    names = {"lec": ("l", "e", "c"), "ls": ("l", "s"), "direct": ()}[method]
    given: dict[str, Any] = {n: row.data.pop(n) for n in ("l", "e", "c", "s") if n in row.data}
    inputs = {name: value for name, value in given.items() if name in names}
    try:
        score, level, result = grading.grade_risk_point(method, inputs)
    except InvalidInput as error:
        column = (error.field or "method").removeprefix("inputs.")
        header = layer.column(column).header_zh if column in names else "评估方法"
        raise RowError(header, error.message) from error
    row.data.update(inputs=inputs, score=score, risk_level=level)
    row.extra["result"] = result


def to_wgs84(candidates: list[Candidate], crs: str) -> None:
    """Convert every row's geometry from `crs` to WGS 84 at once (vectorised datums)."""
    if crs in ("wgs84", "cgcs2000"):
        return
    points = [c for c in candidates if c.point is not None and c.error is None]
    if points:
        shifted = to_wgs84_geometry(shapely.MultiPoint([c.point for c in points]), crs)
        for candidate, (lon, lat) in zip(points, shapely.get_coordinates(shifted), strict=True):
            candidate.point = (float(lon), float(lat))
    for candidate in candidates:
        if candidate.geometry is not None and candidate.error is None:
            candidate.geometry = to_wgs84_geometry(candidate.geometry, crs)


def ewkt_of(candidate: Candidate) -> str | None:
    """The row's location as EWKT for staging (None: none given)."""
    if candidate.point is not None:
        return f"SRID=4326;POINT({candidate.point[0]!r} {candidate.point[1]!r})"
    if candidate.geometry is not None:
        return f"SRID=4326;{candidate.geometry.wkt}"
    return None


# A re-imported point that moved by (within these metres of) exactly one datum offset of its
# stored place — WGS 84 ↔ GCJ-02 ↔ BD-09, a few hundred metres — was read in the wrong CRS.
SHIFT_MATCH_M = 30.0
SHIFT_MIN_MOVE_M = 100.0
_GEOD = Geod(ellps="WGS84")


def shifted_by_datum(
    rows: list[int],
    *,
    stored: tuple[list[float], list[float]],
    new: tuple[list[float], list[float]],
) -> list[int]:
    """The rows whose new point is the stored one moved by a Chinese datum's offset."""
    if not rows:
        return []
    lon, lat = np.asarray(stored[0]), np.asarray(stored[1])
    new_lon, new_lat = np.asarray(new[0]), np.asarray(new[1])
    _, _, moved = _GEOD.inv(lon, lat, new_lon, new_lat)
    near = np.zeros(len(rows), dtype=bool)
    for shift in (wgs84_to_gcj02, gcj02_to_wgs84, bd09_to_wgs84, _wgs84_to_bd09):
        shifted_lon, shifted_lat = shift(lon, lat)
        _, _, apart = _GEOD.inv(shifted_lon, shifted_lat, new_lon, new_lat)
        near |= apart <= SHIFT_MATCH_M
    hits = near & (moved >= SHIFT_MIN_MOVE_M)
    return [row for row, hit in zip(rows, hits.tolist(), strict=True) if hit]


def _wgs84_to_bd09(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))
