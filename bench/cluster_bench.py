"""Citus cluster vs one PostgreSQL on the same machine, on a national data set (issue 17).

    python -m bench.cluster_bench prepare [--enterprises 200000 --risk-points 600000
        --hazard-sources 10000 --public-zones 40000] [--only cluster|single]
    python -m bench.cluster_bench run [--writes 400] [--threads 4] [--tiles 600]
        [--clients 4] [--searches 300]

`prepare` builds the same national data set (`bench.national`, same seed and scale) twice:
`riskatlas_cbench` on the local Citus cluster (`riskatlas cluster up` must have built it;
a coordinator and 2 workers, migration 0020 distributes it) and `riskatlas_cbench_single`
on the embedded PostGIS. `--only` builds one of them (both can run at once, in two
processes). On the cluster the rows are loaded with every trigger on (they run on the
workers); on one PostgreSQL the bulk loader switches them off and recounts.

`run` measures both databases in one run, one after the other:
  * writes: single-row enterprise inserts from `--threads` threads, each its own
    transaction, at points spread over China (sampled enterprises, moved a few metres),
    through the same routing and triggers as the API (counts, tile cells, versions);
    the written rows are deleted afterwards;
  * full rebuilds: `rebuild_region_counts()`, `rebuild_tile_cells()`;
  * fixed costs of a statement (one client): one reaching a single county's shard, and
    one reaching every shard and finding nothing;
  * tiles over HTTP (one uvicorn process per database, `--clients` connections): the same
    tile list (z4–z14, every point layer, where the enterprises are) cold (fresh server,
    empty tile cache), then warm (the same list again, every tile cached);
  * nearby over HTTP (`/api/nearby`, 5 km, 50 results, every kind), one client, at the
    same sampled points.
On one 2-core machine the cluster cannot be faster: three servers share the cores, and
every statement crosses a loopback hop; the figures give the per-request costs that
docs/scaling.md §1.7 projects from.
"""

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial

import httpx
from sqlalchemy import Engine, create_engine, insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from app import embedded_db, migrate
from app.cluster import nodes, service
from app.cluster.config import ClusterSettings
from app.db_roles import APP_ROLE, OWNER_ROLE
from app.settings import get_settings
from app.sites.models import Enterprise
from bench import national
from bench.harness import sampled_locations, start_server
from bench.load import sign_in
from bench.tiles_bench import run_http, tile_list

CLUSTER_DATABASE = "riskatlas_cbench"
SINGLE_DATABASE = "riskatlas_cbench_single"
MARK = "集群基准"
SEED = 1


@dataclass
class Database:
    name: str
    owner_url: str
    app_url: str
    server_env: dict[str, str] = field(default_factory=dict)


def _psycopg(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def cluster_database() -> Database:
    settings = ClusterSettings(database_name=CLUSTER_DATABASE)
    return Database(
        "cluster",
        _psycopg(nodes.url(settings, OWNER_ROLE)),
        _psycopg(nodes.url(settings, APP_ROLE)),
        # Versions rise on the workers, so the API reads them (docs/scaling.md §1.5).
        {"RISKATLAS_TILE_VERSIONS": "query"},
    )


def single_database() -> Database:
    embedded = get_settings()
    owner, app = (
        make_url(embedded._embedded_url(role))
        .set(drivername="postgresql+psycopg", database=SINGLE_DATABASE)
        .render_as_string(hide_password=False)
        for role in (OWNER_ROLE, APP_ROLE)
    )
    return Database("single", owner, app)


def prepare(only: str | None, scale: national.Scale) -> None:
    """Create, migrate and fill the two databases with the same national data set."""
    if only in (None, "cluster"):
        settings = ClusterSettings(database_name=CLUSTER_DATABASE)
        service.start(settings)
        _fill(cluster_database(), scale)
    if only in (None, "single"):
        embedded = get_settings()
        embedded_db.start(embedded)
        embedded_db.ensure_database(embedded, SINGLE_DATABASE)
        _fill(single_database(), scale)


def _fill(database: Database, scale: national.Scale) -> None:
    log = national.Progress()
    migrate.upgrade(database.owner_url, app_url=database.app_url)
    national.prepare_database(database.owner_url, embedded_name=None, log=log)
    log(f"{database.name}: migrated, China loaded")
    result = national.generate(database.owner_url, scale, seed=SEED, truncate=True, log=log)
    print(f"== {database.name}")
    national.print_summary(result)


# Measuring


def sample_points(engine: Engine, count: int) -> list[tuple[float, float]]:
    """Enterprise locations over the whole data set (a repeatable sample), moved ~10 m."""
    with engine.connect() as connection:
        rows = sampled_locations(connection, count * 4, seed=SEED, percent=2)
    rng = random.Random(SEED)
    picked = rng.sample(rows, min(count, len(rows)))
    return [(x + rng.uniform(-1e-4, 1e-4), y + rng.uniform(-1e-4, 1e-4)) for x, y in picked]


def _write(engine: Engine, point: tuple[float, float], n: int) -> float:
    started = time.perf_counter()
    with engine.begin() as connection:
        connection.execute(
            insert(Enterprise.__table__),
            {
                "name": f"{MARK}{n}",
                "credit_code": f"91110000MA{n:08d}",
                "sector": "危险化学品",
                "geom": f"SRID=4326;POINT({point[0]} {point[1]})",
            },
        )
    return time.perf_counter() - started


def _safe_write(engine: Engine, points: list[tuple[float, float]], n: int) -> float | None:
    try:
        return _write(engine, points[n % len(points)], n)
    except DBAPIError:  # a moved point that left every region: refused, not counted
        return None


def _quantiles(latencies_s: list[float]) -> str:
    q = statistics.quantiles([t * 1000 for t in latencies_s], n=100)
    return f"p50 {q[49]:.1f} ms, p95 {q[94]:.1f} ms, p99 {q[98]:.1f} ms"


def measure_writes(engine: Engine, points: list, writes: int, threads: int) -> str:
    def clean() -> None:
        with engine.begin() as connection:
            connection.execute(
                text("DELETE FROM enterprises WHERE name LIKE :m"), {"m": MARK + "%"}
            )

    clean()
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        outcomes = list(pool.map(partial(_safe_write, engine, points), range(writes)))
    elapsed = time.perf_counter() - started
    clean()
    done = [t for t in outcomes if t is not None]
    return (
        f"{len(done)} writes ({writes - len(done)} refused) in {elapsed:.1f} s, {threads} threads:"
        f" {len(done) / elapsed:.0f}/s, {_quantiles(done)}"
    )


def measure_rebuilds(engine: Engine) -> str:
    timings = []
    for function in ("rebuild_region_counts", "rebuild_tile_cells"):
        started = time.perf_counter()
        with engine.begin() as connection:
            connection.execute(text(f"SELECT {function}()"))
        timings.append(f"{function}() {time.perf_counter() - started:.2f} s")
    return ", ".join(timings)


# Fixed costs per statement: one that reaches a single shard (a county's rows) and one that
# reaches all of them and finds nothing (every shard's fixed cost, no work).
OVERHEAD_STATEMENTS = {
    "one county (router)": "SELECT count(*) FROM enterprises WHERE county_code = '640104'",
    "every shard, no rows": "SELECT count(*) FROM tile_cells WHERE layer = 'none'",
}


def measure_overheads(engine: Engine, repeats: int = 300) -> list[str]:
    lines = []
    with engine.connect() as connection:
        for name, statement in OVERHEAD_STATEMENTS.items():
            latencies = []
            for _ in range(repeats):
                started = time.perf_counter()
                connection.execute(text(statement)).scalar_one()
                latencies.append(time.perf_counter() - started)
            lines.append(f"{name}: {_quantiles(latencies[20:])}")
    return lines


def measure_nearby(base_url: str, headers: dict, points: list) -> str:
    latencies = []
    with httpx.Client(base_url=base_url, headers=headers, timeout=60) as client:
        for index, (lon, lat) in enumerate(points):
            started = time.perf_counter()
            response = client.get(
                "/api/nearby", params={"lon": lon, "lat": lat, "radius_m": 5000, "limit": 50}
            )
            response.raise_for_status()
            if index >= 20:  # the first searches warm the server's connections
                latencies.append(time.perf_counter() - started)
    return f"{len(latencies)} searches, one client: {_quantiles(latencies)}"


def measure_served(database: Database, tiles: list, clients: int, points: list) -> list[str]:
    process, port = start_server(database.app_url, workers=1, settings=database.server_env)
    try:
        base = f"http://127.0.0.1:{port}"
        headers = sign_in(base, database.owner_url)
        lines = []
        for name in ("cold", "warm"):
            run = run_http(name, port, tiles, clients, headers)
            rate = len(run.latencies_ms) / run.seconds
            lines.append(
                f"tiles {name}, {clients} clients: {rate:.0f} tiles/s,"
                f" {_quantiles([ms / 1000 for ms in run.latencies_ms])},"
                f" cache hits {run.hits}/{len(run.latencies_ms)}"
            )
        lines.append("nearby " + measure_nearby(base, headers, points))
        return lines
    finally:
        process.terminate()
        process.wait(timeout=30)


def run(writes: int, threads: int, tiles: int, clients: int, searches: int) -> None:
    """Print the figures of both databases, one after the other."""
    databases = [single_database(), cluster_database()]
    owners = {d.name: create_engine(d.owner_url, pool_size=max(threads, 5)) for d in databases}
    points = sample_points(owners["single"], max(searches, 200))
    tile_set = tile_list(owners["single"], tiles, seed=SEED)
    print(f"{len(points)} points, {len(tile_set)} tiles (z4–z14), the same for both")
    measures: list[tuple[str, Callable[[Database], list[str]]]] = [
        ("writes", lambda d: [measure_writes(owners[d.name], points, writes, threads)]),
        ("rebuilds", lambda d: [measure_rebuilds(owners[d.name])]),
        ("statement", lambda d: measure_overheads(owners[d.name])),
        ("served", lambda d: measure_served(d, tile_set, clients, points[:searches])),
    ]
    for title, measure in measures:
        for database in databases:
            for line in measure(database):
                print(f"{database.name:8} {title:9} {line}", flush=True)
    for engine in owners.values():
        engine.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.cluster_bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    preparing = commands.add_parser("prepare", help="build the data set on both databases")
    preparing.add_argument("--enterprises", type=int, default=200_000)
    preparing.add_argument("--risk-points", type=int, default=600_000)
    preparing.add_argument("--hazard-sources", type=int, default=10_000)
    preparing.add_argument("--public-zones", type=int, default=40_000)
    preparing.add_argument("--only", choices=("cluster", "single"))
    running = commands.add_parser("run", help="measure both databases")
    running.add_argument("--writes", type=int, default=400)
    running.add_argument("--threads", type=int, default=4)
    running.add_argument("--tiles", type=int, default=600)
    running.add_argument("--clients", type=int, default=4)
    running.add_argument("--searches", type=int, default=300)
    arguments = parser.parse_args(argv)
    if arguments.command == "prepare":
        scale = national.Scale(
            arguments.enterprises,
            arguments.risk_points,
            arguments.hazard_sources,
            arguments.public_zones,
        )
        prepare(arguments.only, scale)
    else:
        run(
            arguments.writes,
            arguments.threads,
            arguments.tiles,
            arguments.clients,
            arguments.searches,
        )


if __name__ == "__main__":
    sys.exit(main())
