"""RiskAtlas against tipg on the same enterprises table: tiles and GeoJSON, cold and warm.

    nice -n 10 python -m bench.tipg_bench [--database-url URL] [--tiles 600] [--clients 16]
        [--boxes 60] [--tipg /work/tipg-venv/bin/python]

tipg (developmentseed, PyPI `tipg`, asyncpg, one SQL statement per tile, no cache) runs
from its own virtual environment (`python -m venv /work/tipg-venv && /work/tipg-venv/bin/
pip install tipg==1.6.1 uvicorn`), never the project's. Both servers run as one uvicorn
process on this machine against the same database (`python -m bench.national`), the same
enterprise tiles (z4–z14, placed on sampled enterprises) and the same bounding boxes
(each the extent of an enterprise's 1,000 nearest: ~1,000 features, one page).

In one run, per server: tiles cold (RiskAtlas: a process with its tile cache off, its
connections opened by an untimed pass first, as tipg's are by its untimed pass; tipg has
no cache), the whole list and z12–z14 only, then warm (the second pass: RiskAtlas
from its cache); tipg with all columns and with RiskAtlas's six tile properties; GeoJSON
pages. Printed: tiles/s, latency quantiles, KB per tile, errors and timeouts, and the
ratio RiskAtlas/tipg of each pair. An untimed pass first fills PostgreSQL's buffers.
Last, the machine's ceilings (bench.ceiling) with their ratios to tipg: the most any
server could reach here with this client, and with these renders.
"""

import argparse
import http.client
import os
import socket
import statistics
import subprocess
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

from sqlalchemy import create_engine, text

from app.geo.webmercator import lonlat_to_tile
from bench import national
from bench.ceiling import database_alone
from bench.harness import in_threads, sampled_locations, start_server
from bench.load import sign_in

TIPG_PYTHON = "/work/tipg-venv/bin/python"
TIMEOUT_S = 30.0
# RiskAtlas's tile properties of the enterprises layer (app/tiles/catalog.py), as columns.
SAME_PROPERTIES = "id,name,risk_level,sector,park,credit_code"
GEOJSON_PROPERTIES = "id,name,risk_level,sector,park,credit_code,county_code"


@dataclass
class Run:
    name: str
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    errors: int = 0
    timeouts: int = 0

    @property
    def rate(self) -> float:
        return len(self.latencies_ms) / self.seconds if self.seconds else 0.0

    def row(self, versus: "Run | None" = None) -> str:
        q = (
            statistics.quantiles(self.latencies_ms, n=100)
            if len(self.latencies_ms) > 1
            else [0.0] * 99
        )
        ratio = f"{self.rate / versus.rate:.2f}×" if versus and versus.rate else ""
        return (
            f"{self.name:<44}{self.rate:>9.1f}{ratio:>8}{q[49]:>9.1f}{q[94]:>9.1f}{q[98]:>9.1f}"
            f"{statistics.mean(self.sizes) / 1024 if self.sizes else 0:>9.1f}"
            f"{max(self.sizes, default=0) / 1024:>9.1f}{self.errors:>5}{self.timeouts:>5}"
        )


def run_requests(name: str, port: int, paths: list[str], clients: int, headers: dict) -> Run:
    """GET every path once over keep-alive connections from `clients` threads."""
    run = Run(name)
    lock = threading.Lock()

    def work(chunk: list[str]) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT_S)
        for path in chunk:
            started = time.perf_counter()
            try:
                connection.request("GET", path, headers=headers)
                response = connection.getresponse()
                body = response.read()
            except TimeoutError:
                with lock:
                    run.timeouts += 1
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT_S)
                continue
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                if response.status not in (200, 204):
                    run.errors += 1
                    continue
                run.latencies_ms.append(elapsed)
                run.sizes.append(len(body))
        connection.close()

    run.seconds = in_threads(work, [paths[i::clients] for i in range(clients)])
    return run


def start_tipg(url: str, python: str) -> tuple[subprocess.Popen, int]:
    """tipg serving the enterprises table, one uvicorn process."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        "PATH": os.environ.get("PATH", ""),
        "DATABASE_URL": national.libpq_url(url),
        "TIPG_DB_SCHEMAS": '["public"]',
        "TIPG_DB_TABLES": '["public.enterprises"]',
        "TIPG_DB_FUNCTIONS": "[]",
        # enterprises has two geometry columns; footprint (mostly NULL) sorts first.
        "TIPG_TABLE_CONFIG__public_enterprises__GEOMCOL": "geom",
        "TIPG_DB_SPATIAL_EXTENT": "false",
        "TIPG_DB_DATETIME_EXTENT": "false",
    }
    process = subprocess.Popen(
        [
            python,
            "-m",
            "uvicorn",
            "tipg.main:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env=env,
        cwd="/",
    )
    for _ in range(300):
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/collections/public.enterprises")
            if connection.getresponse().status == 200:
                return process, port
        except OSError:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError("tipg did not start")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    process.wait(timeout=30)


def workload(url: str, tiles: int, boxes: int) -> tuple[list[tuple[int, int, int]], list[str]]:
    """Enterprise tiles z4–z14 on sampled enterprises, and bboxes of ~1,000 enterprises."""
    engine = create_engine(url)
    with engine.connect() as connection:
        anchors = sampled_locations(connection, tiles, seed=1)
        extents = connection.execute(
            text(
                "SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) FROM ("
                " SELECT (SELECT ST_Extent(n.geom) FROM (SELECT e.geom FROM enterprises e"
                "  ORDER BY e.geom <-> a.geom LIMIT 1000) n) AS b"
                " FROM (SELECT geom FROM enterprises TABLESAMPLE SYSTEM (1) REPEATABLE (2)"
                "  LIMIT :n) a) x"
            ),
            {"n": boxes},
        ).all()
    engine.dispose()
    seen: dict[tuple[int, int, int], None] = {}
    for i, (lon, lat) in enumerate(anchors):
        z = 4 + i % 11
        seen.setdefault((z, *lonlat_to_tile(lon, lat, z)), None)
    bboxes = [",".join(f"{v:.6f}" for v in extent) for extent in extents]
    return list(seen), bboxes


def machine_ceilings(
    url: str, tiles: list[tuple[int, int, int]], paths: list[str], clients: int, cold: Run
) -> list[Run]:
    """What no server could beat on this machine (bench.ceiling): the same client against
    a no-op server answering with bytes of the cold tiles' mean size, and PostgreSQL
    rendering the list alone from one connection per core."""
    mean_bytes = int(statistics.mean(cold.sizes)) if cold.sizes else 12288
    process, port = start_server(
        url, 1, settings={"BENCH_TILE_BYTES": str(mean_bytes)}, app="bench.ceiling:app"
    )
    try:
        run_requests("untimed: open connections", port, paths, clients, {})
        no_op = run_requests("ceiling: no-op server, this client", port, paths, clients, {})
    finally:
        stop(process)
    cores = os.cpu_count() or 1
    alone = Run(f"ceiling: renders alone, no HTTP, {cores} conn.")
    alone.seconds, alone.latencies_ms, alone.sizes = database_alone(url, tiles, cores)
    return [no_op, alone]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--tiles", type=int, default=600)
    parser.add_argument("--boxes", type=int, default=60)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--tipg", default=TIPG_PYTHON, help="python of tipg's own venv")
    parser.add_argument(
        "--burst", type=int, default=0, help="also: the whole list cold from this many clients"
    )
    args = parser.parse_args()
    url = national.bench_database_url(args.database_url)
    tiles, bboxes = workload(url, args.tiles, args.boxes)
    deep = [t for t in tiles if t[0] >= 12]
    print(
        f"{len(tiles)} enterprise tiles z4–z14 ({len(deep)} of z12–z14), {len(bboxes)} bboxes,"
        f" {args.clients} clients"
    )

    ours_tile = [f"/tiles/enterprises/{z}/{x}/{y}.mvt" for z, x, y in tiles]
    tipg_base = "/collections/public.enterprises"
    tipg_tile = [f"{tipg_base}/tiles/WebMercatorQuad/{z}/{x}/{y}" for z, x, y in tiles]
    tipg_same = [f"{p}?properties={SAME_PROPERTIES}" for p in tipg_tile]
    ours_json = [
        f"/api/features/enterprises?{urlencode({'bbox': b, 'limit': 1000})}" for b in bboxes
    ]
    tipg_json = [f"{tipg_base}/items?{urlencode({'bbox': b, 'limit': 1000})}" for b in bboxes]
    tipg_json_same = [f"{p}&properties={GEOJSON_PROPERTIES}" for p in tipg_json]

    def deep_of(paths: list[str]) -> list[str]:
        return [p for p, t in zip(paths, tiles, strict=True) if t[0] >= 12]

    results: list[tuple[Run, Run | None]] = []
    tipg, tipg_port = start_tipg(url, args.tipg)
    try:
        run_requests("untimed: fill PostgreSQL's buffers", tipg_port, tipg_tile, args.clients, {})
        runs = {}
        for label, paths in (("whole list", tipg_tile), ("z12–z14", deep_of(tipg_tile))):
            runs[f"tipg {label}"] = run_requests(
                f"tipg tiles {label}", tipg_port, paths, args.clients, {}
            )
        for label, paths in (("whole list", tipg_same), ("z12–z14", deep_of(tipg_same))):
            runs[f"tipg same {label}"] = run_requests(
                f"tipg tiles {label}, same properties", tipg_port, paths, args.clients, {}
            )
        runs["tipg json"] = run_requests(
            "tipg GeoJSON ~1,000", tipg_port, tipg_json, args.clients, {}
        )
        runs["tipg json same"] = run_requests(
            "tipg GeoJSON ~1,000, same properties", tipg_port, tipg_json_same, args.clients, {}
        )
        if args.burst:
            runs["tipg burst"] = run_requests(
                f"tipg tiles whole list, same properties, {args.burst} clients",
                tipg_port,
                tipg_same,
                args.burst,
                {},
            )
    finally:
        stop(tipg)

    # Cold: RiskAtlas with its tile cache off, after an untimed pass that opens its
    # connections (a fresh process would time PostgreSQL's connection start-ups, which
    # tipg's untimed pass has behind it); warm: one process, second pass.
    for label, paths in (("whole list", ours_tile), ("z12–z14", deep_of(ours_tile))):
        os.environ["RISKATLAS_TILE_CACHE_MB"] = "0"
        process, port = start_server(url, 1)
        try:
            headers = sign_in(f"http://127.0.0.1:{port}", url)
            run_requests("untimed: open connections", port, paths, args.clients, headers)
            cold = run_requests(
                f"RiskAtlas tiles {label}, cold", port, paths, args.clients, headers
            )
        finally:
            stop(process)
        results.append((cold, runs[f"tipg {label}"]))
        results.append((cold, runs[f"tipg same {label}"]))
    if args.burst:
        process, port = start_server(url, 1)
        try:
            headers = sign_in(f"http://127.0.0.1:{port}", url)
            run_requests("untimed: open connections", port, ours_tile, args.burst, headers)
            burst = run_requests(
                f"RiskAtlas tiles whole list, cold, {args.burst} clients",
                port,
                ours_tile,
                args.burst,
                headers,
            )
        finally:
            stop(process)
        results.append((burst, runs["tipg burst"]))
    os.environ["RISKATLAS_TILE_CACHE_MB"] = "256"
    process, port = start_server(url, 1)
    try:
        headers = sign_in(f"http://127.0.0.1:{port}", url)
        run_requests("untimed: fill the tile cache", port, ours_tile, args.clients, headers)
        warm = run_requests(
            "RiskAtlas tiles whole list, warm", port, ours_tile, args.clients, headers
        )
        warm_one = run_requests(
            "RiskAtlas tiles whole list, warm, 1 client", port, ours_tile, 1, headers
        )
        json_runs = [
            run_requests("RiskAtlas GeoJSON ~1,000", port, ours_json, args.clients, headers)
            for _ in range(2)
        ]
    finally:
        stop(process)
    results.append((warm, runs["tipg whole list"]))
    results.append((warm_one, None))
    results.append((json_runs[0], runs["tipg json"]))
    results.append((json_runs[1], runs["tipg json same"]))
    cold_whole = results[0][0]
    for ceiling in machine_ceilings(url, tiles, ours_tile, args.clients, cold_whole):
        results.append((ceiling, runs["tipg whole list"]))
        results.append((ceiling, runs["tipg same whole list"]))

    header = (
        f"{'':<44}{'req/s':>9}{'×tipg':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
        f"{'mean KB':>9}{'max KB':>9}{'err':>5}{'t/o':>5}"
    )
    print(header)
    print("-" * len(header))
    for run in runs.values():
        print(run.row())
    for ours, versus in results:
        print(ours.row(versus) + (f"   vs {versus.name}" if versus else ""))


if __name__ == "__main__":
    main()
