"""What each importable layer holds: its columns (geodata/ingest/columns.csv), geometry
types, the table it lands in and the key that matches a row already stored."""

import csv
from dataclasses import dataclass
from functools import cache

from app.settings import GEODATA_DIR

# Location columns every layer accepts (Chinese headers first: the templates use them).
LON_HEADERS = ("经度", "lon", "lng", "longitude", "x")
LAT_HEADERS = ("纬度", "lat", "latitude", "y")
WKT_HEADERS = ("WKT", "wkt", "几何", "geometry_wkt")
COUNTY_HEADERS = ("所在区县代码", "区县代码", "行政区划代码", "county_code", "county")
POINT = ("Point",)


@dataclass(frozen=True)
class Column:
    """One importable column of a layer (a row of geodata/ingest/columns.csv)."""

    field: str
    header_zh: str
    aliases: tuple[str, ...]
    type: str  # text | int | float | enum | date | credit_code | substances
    required: bool
    max_length: int | None
    # Enumerations: stored value → the spellings accepted for it (the value itself too).
    allowed: dict[str, tuple[str, ...]]


@dataclass(frozen=True)
class Layer:
    """An importable layer."""

    name: str
    table: str
    name_zh: str
    geometries: tuple[str, ...]
    # A row without a location takes its enterprise's (hazard sources, hidden dangers).
    location_from_enterprise: bool
    # Fields matching a stored row (then updated, else inserted); "county_code" is where
    # the row's location falls.
    key: tuple[str, ...]
    columns: tuple[Column, ...]

    def column(self, field: str) -> Column:
        """The column of `field`."""
        return next(c for c in self.columns if c.field == field)


_LAYERS = {
    # name: (table, Chinese name, geometries, location from enterprise, key)
    "enterprises": ("enterprises", "企业", POINT, False, ("credit_code",)),
    "risk_points": ("risk_points", "风险点", POINT, False, ("enterprise_credit_code", "name")),
    "hazard_sources": (
        "hazard_sources",
        "重大危险源",
        POINT,
        True,
        ("enterprise_credit_code", "name"),
    ),
    "public_zones": (
        "public_zones",
        "公共区域",
        ("Point", "Polygon", "MultiPolygon", "LineString", "MultiLineString"),
        False,
        ("name", "county_code"),
    ),
    "hidden_dangers": (
        "hidden_dangers",
        "事故隐患",
        POINT,
        True,
        ("enterprise_credit_code", "title"),
    ),
    "emergency_resources": (
        "emergency_resources",
        "应急资源",
        POINT,
        False,
        ("name", "county_code"),
    ),
    "grid_cells": ("grid_cells", "网格", ("Polygon", "MultiPolygon"), False, ("code",)),
    "parks": ("chemical_parks", "化工园区", ("Polygon", "MultiPolygon"), False, ("name",)),
}
LAYER_NAMES = tuple(_LAYERS)


def _allowed(text: str) -> dict[str, tuple[str, ...]]:
    allowed = {}
    for item in filter(None, text.split(";")):
        value, *spellings = item.split("=")
        allowed[value] = (value, *spellings)
    return allowed


@cache
def layers() -> dict[str, Layer]:
    """Every importable layer by name."""
    columns: dict[str, list[Column]] = {name: [] for name in _LAYERS}
    with (GEODATA_DIR / "ingest" / "columns.csv").open(encoding="utf-8") as file:
        for row in csv.DictReader(file):
            columns[row["layer"]].append(
                Column(
                    field=row["field"],
                    header_zh=row["header_zh"],
                    aliases=tuple(filter(None, row["aliases"].split(";"))),
                    type=row["type"],
                    required=row["required"] == "yes",
                    max_length=int(row["max_length"]) if row["max_length"] else None,
                    allowed=_allowed(row["allowed"]),
                )
            )
    return {
        name: Layer(name, table, zh, geometries, from_enterprise, key, tuple(columns[name]))
        for name, (table, zh, geometries, from_enterprise, key) in _LAYERS.items()
    }
