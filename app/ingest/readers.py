"""Reading an uploaded file into rows: GIS formats with pyogrio, XLSX with openpyxl, CSV
with pandas (UTF-8 or GBK/GB 18030). No hand-written parsers of any format."""

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyogrio
import shapely
from pyogrio.errors import DataLayerError, DataSourceError
from shapely.geometry.base import BaseGeometry

from app.errors import InvalidInput

GIS_SUFFIXES = {".geojson": "GeoJSON", ".json": "GeoJSON", ".gpkg": "GPKG", ".kml": "KML"}
FORMATS = (".geojson", ".json", ".zip", ".gpkg", ".kml", ".csv", ".xlsx")
# GBK files are decoded as GB 18030, its superset (every GBK file is valid GB 18030).
CSV_ENCODINGS = ("utf-8-sig", "gb18030")


@dataclass
class Table:
    """A file's rows: header names, raw values per row, and geometries for GIS formats."""

    headers: list[str]
    rows: list[dict[str, Any]]
    # One per row for GIS formats (None: the feature had none), None for tabular files.
    geometries: list[BaseGeometry | None] | None
    # Row numbers as the user sees them: spreadsheet rows (header = 1) or feature numbers.
    first_row: int


def read_table(path: Path, *, name: str | None = None) -> Table:
    """Read `path` by the suffix of `name` (the uploaded file's name) or of the path."""
    suffix = Path(name or path.name).suffix.lower()
    if suffix not in FORMATS:
        raise InvalidInput(
            f"unknown file format {suffix or '(no suffix)'!r}", field="file", allowed=list(FORMATS)
        )
    if suffix == ".xlsx":
        return _read_xlsx(path)
    if suffix == ".csv":
        return _read_csv(path)
    if suffix == ".zip":
        return _read_gis(_shapefile_in(path))
    return _read_gis(str(path))


def _shapefile_in(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            shapefiles = [n for n in archive.namelist() if n.lower().endswith(".shp")]
    except zipfile.BadZipFile as error:
        raise InvalidInput("not a readable zip file", field="file") from error
    if not shapefiles:
        raise InvalidInput(
            "the zip holds no .shp file (a zipped Shapefile is expected)", field="file"
        )
    return f"/vsizip/{path}/{sorted(shapefiles)[0]}"


def _read_gis(source: str) -> Table:
    try:
        frame = pyogrio.read_dataframe(source)
    except (DataSourceError, DataLayerError, ValueError) as error:
        raise InvalidInput("could not read the file as GIS data", field="file") from error
    crs = frame.crs
    if crs is not None and not crs.is_geographic:
        # A projected file (e.g. CGCS2000 Gauss-Krüger zones) is brought to degrees here;
        # the datum choice (--crs) is applied to the result.
        frame = frame.to_crs(4326)
    table = _records(pd.DataFrame(frame.drop(columns=frame.geometry.name)), first_row=1)
    table.geometries = [None if g is None or g.is_empty else g for g in frame.geometry]
    return table


def _records(frame: pd.DataFrame, *, first_row: int) -> Table:
    """A data frame's rows as dicts, missing values as None."""
    headers = [str(c).strip() for c in frame.columns]
    frame.columns = headers
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return Table(headers, rows, None, first_row=first_row)


def _read_xlsx(path: Path) -> Table:
    """The first sheet, its first row the headers, read by GDAL's XLSX driver through
    pyogrio: about 8× faster than openpyxl's read-only mode (openpyxl writes the templates
    and reports)."""
    if not zipfile.is_zipfile(path):
        raise InvalidInput("could not read the file as XLSX", field="file")
    try:
        frame = pyogrio.read_dataframe(path, read_geometry=False, layer=0, HEADERS="FORCE")
    except (DataSourceError, DataLayerError, ValueError) as error:
        raise InvalidInput("could not read the file as XLSX", field="file") from error
    table = _records(pd.DataFrame(frame), first_row=2)
    table.rows = [r for r in table.rows if any(v is not None and v != "" for v in r.values())]
    return table


def _read_csv(path: Path) -> Table:
    for encoding in CSV_ENCODINGS:
        try:
            frame = pd.read_csv(
                path, dtype=str, keep_default_na=False, encoding=encoding, skip_blank_lines=True
            )
            break
        except UnicodeDecodeError:
            continue
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as error:
            raise InvalidInput("could not read the file as CSV", field="file") from error
    else:
        raise InvalidInput("the CSV is neither UTF-8 nor GBK/GB 18030 text", field="file")
    headers = [str(c).strip() for c in frame.columns]
    frame.columns = headers
    rows = frame.to_dict("records")
    return Table(headers, rows, None, first_row=2)


def parse_wkt(text: str) -> BaseGeometry:
    """A geometry from WKT (ValueError when it is not WKT)."""
    try:
        return shapely.from_wkt(text)
    except shapely.errors.GEOSException as error:
        raise ValueError(str(error)) from error
