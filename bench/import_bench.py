"""Bulk import benchmark: 100,000 enterprises from XLSX and from GeoPackage, beside a plain
COPY of the same rows in the same run.

    nice -n 10 python -m bench.import_bench [--rows 100000] [--database NAME | --database-url URL]

Data: database `riskatlas_bench_import` on the embedded cluster (created, migrated and
loaded with China's divisions when missing; `--database` names another one there, e.g. a
copy of the test template) or `--database-url` (the owner's). The rows: enterprises with
valid GB 32100 credit codes at points drawn inside 银川市 (ST_GeneratePoints, seeded), 13
sectors, written once to an XLSX (openpyxl, write-only) and a GeoPackage (pyogrio).

Measured, each from an empty `enterprises` table:
  1. baseline: `COPY` of the same name, credit code, sector and point into an unindexed,
     trigger-free temporary table — the floor for moving the rows into PostgreSQL;
  2. `import_file` of the XLSX, committed: read (openpyxl), per-row checks, staging COPY,
     county lookup, INSERT … SELECT through the triggers (region codes, counts, audit);
  3. the same from the GeoPackage (pyogrio);
  4. the XLSX again over the stored rows: every row matched by credit code and updated.
"""

import argparse
import random
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import psycopg
import shapely
from openpyxl import Workbook
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

from app.audit.service import tell_database_who
from app.auth.scope import Scope
from app.ingest.service import import_file
from app.progress import ProgressBar
from app.settings import get_settings
from app.sites.credit_code import make_credit_code
from bench.national import libpq_url, prepare_database

DATABASE = "riskatlas_bench_import"
SECTORS = (
    "危险化学品",
    "工贸",
    "烟花爆竹",
    "金属冶炼",
    "粉尘涉爆",
    "涉氨制冷",
    "有限空间",
    "建筑施工",
    "道路运输",
    "城镇燃气",
    "人员密集场所",
    "非煤矿山",
    "其他",
)
SCOPE = Scope(role="admin", username="bench", write_prefix="")


def _rows(engine: Engine, count: int, seed: int) -> list[tuple[str, str, str, float, float]]:
    """Enterprises at seeded random points of 银川市, with valid credit codes."""
    with engine.connect() as connection:
        points = connection.execute(
            text(
                "SELECT ST_X(p.geom), ST_Y(p.geom), rp.code FROM (SELECT (ST_Dump("
                "ST_GeneratePoints(geom, :n, :seed))).geom FROM regions WHERE code = '640100') p"
                " JOIN region_parts rp ON ST_Intersects(rp.geom, p.geom)"
            ),
            {"n": count, "seed": seed},
        ).all()
    rng = random.Random(seed)
    codes: set[str] = set()
    rows = []
    for i, (lon, lat, county) in enumerate(points[:count]):
        code = make_credit_code(rng, county)
        while code in codes:
            code = make_credit_code(rng, county)
        codes.add(code)
        rows.append((f"基准企业{i:06d}有限公司", code, SECTORS[i % len(SECTORS)], lon, lat))
    return rows


def _write_xlsx(rows: list[tuple[str, str, str, float, float]], path: Path) -> None:
    book = Workbook(write_only=True)
    sheet = book.create_sheet("企业")
    sheet.append(["企业名称", "统一社会信用代码", "行业", "经度", "纬度"])
    for row in rows:
        sheet.append(list(row))
    book.save(path)


def _write_gpkg(rows: list[tuple[str, str, str, float, float]], path: Path) -> None:
    frame = gpd.GeoDataFrame(
        {
            "企业名称": [r[0] for r in rows],
            "统一社会信用代码": [r[1] for r in rows],
            "行业": [r[2] for r in rows],
        },
        geometry=shapely.points([(r[3], r[4]) for r in rows]),
        crs=4326,
    )
    frame.to_file(path, driver="GPKG", engine="pyogrio")


def _copy_baseline(url: str, rows: list[tuple[str, str, str, float, float]]) -> float:
    with psycopg.connect(libpq_url(url)) as connection:
        connection.execute(
            "CREATE TEMPORARY TABLE copy_baseline (name varchar(200), credit_code char(18),"
            " sector varchar(40), geom geometry(Point, 4326))"
        )
        started = time.perf_counter()
        with connection.cursor().copy(
            "COPY copy_baseline (name, credit_code, sector, geom) FROM STDIN"
        ) as copy:
            for name, code, sector, lon, lat in rows:
                copy.write_row((name, code, sector, f"SRID=4326;POINT({lon} {lat})"))
        connection.commit()
        return time.perf_counter() - started


def _empty(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("TRUNCATE enterprises CASCADE"))
        connection.execute(text("SELECT rebuild_region_counts()"))


def _import(engine: Engine, path: Path) -> tuple[float, dict[str, int]]:
    bar = ProgressBar()
    with Session(engine) as session:
        tell_database_who(session, scope=SCOPE, client_address=None, request_id=None)
        started = time.perf_counter()
        with session.begin():
            report = import_file(
                session,
                path=path,
                file_name=path.name,
                layer="enterprises",
                crs="wgs84",
                dry_run=False,
                scope=SCOPE,
                progress=bar,
            )
        seconds = time.perf_counter() - started
    bar.finish()
    return seconds, {k: report[k] for k in ("accepted", "rejected", "inserted", "updated")}


def main() -> None:
    """Run the benchmark and print rows/s beside the COPY baseline."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--database", default=DATABASE)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    if args.database_url:
        url = args.database_url
    else:
        owner = make_url(get_settings().owner_sqlalchemy_url)
        url = owner.set(database=args.database).render_as_string(hide_password=False)
    prepare_database(url, embedded_name=args.database)
    engine = create_engine(url)
    rows = _rows(engine, args.rows, args.seed)
    print(f"{len(rows):,} enterprises generated")
    with tempfile.TemporaryDirectory() as folder:
        xlsx, gpkg = Path(folder) / "enterprises.xlsx", Path(folder) / "enterprises.gpkg"
        _write_xlsx(rows, xlsx)
        _write_gpkg(rows, gpkg)
        print(
            f"files: XLSX {xlsx.stat().st_size / 1e6:.1f} MB, GPKG {gpkg.stat().st_size / 1e6:.1f} MB"
        )
        copy_s = _copy_baseline(url, rows)
        results = [("COPY (baseline)", copy_s, {})]
        for label, path, empty in (
            ("import XLSX", xlsx, True),
            ("import GPKG", gpkg, True),
            ("re-import XLSX (updates)", xlsx, False),
        ):
            if empty:
                _empty(engine)
            seconds, report = _import(engine, path)
            results.append((label, seconds, report))
    print(f"\n{'run':<26}{'seconds':>9}{'rows/s':>10}{'× COPY':>8}  report")
    for label, seconds, report in results:
        rate = len(rows) / seconds
        print(f"{label:<26}{seconds:>9.1f}{rate:>10,.0f}{seconds / copy_s:>8.1f}  {report}")
    engine.dispose()


if __name__ == "__main__":
    main()
