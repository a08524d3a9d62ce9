"""Citus cluster vs one PostgreSQL on the same machine (issue 17, docs/scaling.md §1.7).

Both databases must hold the same data: run `make test-cluster` first (it leaves
`riskatlas_ctest` on the local cluster and `riskatlas_ctest_single` on the embedded
PostGIS, Ningxia and the same demo), then

    python -m bench.cluster_bench [--writes 400] [--threads 4]

Measures, on each: concurrent single-row enterprise inserts, each its own transaction
(through the same routing and triggers as the API: counts, tile cells, versions), and a
full recount (`rebuild_region_counts()` then `rebuild_tile_cells()`). The written rows are
deleted afterwards. On one 2-core machine the cluster cannot be faster: three servers
share the cores, and every write crosses a network hop; the figures give per-write costs
to project from.
"""

import argparse
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from sqlalchemy import Engine, create_engine, insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from app.cluster import nodes
from app.cluster.config import ClusterSettings
from app.db_roles import OWNER_ROLE
from app.settings import get_settings
from app.sites.models import Enterprise

# Points inside Ningxia's 22 counties, spread north to south.
POINTS = [(106.0 + 0.05 * (i % 20), 35.6 + 0.17 * (i // 20 % 20)) for i in range(400)]
MARK = "集群基准"


def _engines() -> dict[str, Engine]:
    cluster = ClusterSettings(database_name="riskatlas_ctest")
    embedded = get_settings()
    single = make_url(embedded.owner_sqlalchemy_url).set(database="riskatlas_ctest_single")
    return {
        "single": create_engine(single, pool_size=16),
        "cluster": create_engine(
            nodes.url(cluster, OWNER_ROLE).replace("postgresql://", "postgresql+psycopg://"),
            pool_size=16,
        ),
    }


def _write(engine: Engine, n: int) -> float:
    lon, lat = POINTS[n % len(POINTS)]
    started = time.perf_counter()
    with engine.begin() as connection:
        connection.execute(
            insert(Enterprise.__table__),
            {
                "name": f"{MARK}{n}",
                "credit_code": f"91640000MA{n:08d}",
                "sector": "危险化学品",
                "geom": f"SRID=4326;POINT({lon} {lat})",
            },
        )
    return time.perf_counter() - started


def _in_ningxia(engine: Engine) -> int:
    with engine.connect() as connection:
        inside = text(
            "SELECT count(*) FROM region_parts p, unnest(CAST(:g AS text[])) g"
            " WHERE ST_Intersects(p.geom, ST_GeomFromEWKT(g))"
        )
        points = [f"SRID=4326;POINT({x} {y})" for x, y in POINTS]
        return int(connection.execute(inside, {"g": points}).scalar_one())


def run(writes: int, threads: int) -> None:
    """Print the figures of both databases side by side."""
    engines = _engines()
    usable = _in_ningxia(engines["single"])
    print(f"{usable} of {len(POINTS)} write points lie in Ningxia; the others are refused")
    for name, engine in engines.items():
        with engine.begin() as connection:
            connection.execute(
                text("DELETE FROM enterprises WHERE name LIKE :m"), {"m": MARK + "%"}
            )
        started = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            outcomes = list(pool.map(partial(_safe_write, engine), range(writes)))
        elapsed = time.perf_counter() - started
        latencies = sorted(t for t in outcomes if t is not None)
        with engine.begin() as connection:
            connection.execute(
                text("DELETE FROM enterprises WHERE name LIKE :m"), {"m": MARK + "%"}
            )
        timings = {}
        for function in ("rebuild_region_counts", "rebuild_tile_cells"):
            started_rebuild = time.perf_counter()
            with engine.begin() as connection:
                connection.execute(text(f"SELECT {function}()"))
            timings[function] = time.perf_counter() - started_rebuild
        print(
            f"{name:8} {len(latencies)} writes in {elapsed:.1f} s with {threads} threads:"
            f" {len(latencies) / elapsed:.0f}/s, p50 {statistics.median(latencies) * 1000:.0f} ms,"
            f" p95 {latencies[int(len(latencies) * 0.95)] * 1000:.0f} ms;"
            + "".join(f" {k}() {v:.2f} s;" for k, v in timings.items())
        )
        engine.dispose()


def _safe_write(engine: Engine, n: int) -> float | None:
    try:
        return _write(engine, n)
    except DBAPIError:  # a point outside Ningxia: refused, not counted
        return None


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--writes", type=int, default=400)
    parser.add_argument("--threads", type=int, default=4)
    arguments = parser.parse_args()
    run(arguments.writes, arguments.threads)
