"""Map-serving benchmark: ~2,000 fixed tiles z4–z14 on the national synthetic data set.

    python -m bench.tiles_bench [--database-url URL] [--tiles 2000] [--workers 2]

In one run it measures, for the same tile list:
  1. the raw-SQL floor: the server's own tile statements run directly in PostGIS
     (2 connections in parallel, like the 2 server processes);
  2. our server cold (cache empty) over HTTP, 2 uvicorn processes, 4 client connections;
  3. our server warm (every tile cached), same load.
and prints tiles/s, p50/p95/p99 latency and bytes per tile, with ratios to the floor.
Targets (issue 4): warm p95 < 5 ms; cold throughput ≥ 0.8 × the floor; no tile > 500 KB.
The data set comes from `python -m bench.national` (database `riskatlas_bench`).
"""

import argparse
import http.client
import random
import statistics
import threading
import time
from dataclasses import dataclass, field

from sqlalchemy import create_engine, text

from app.auth.scope import Scope
from app.geo.webmercator import lonlat_to_tile
from app.tiles.catalog import LAYERS
from app.tiles.service import parse_filters, render_tile
from bench import national
from bench.harness import in_threads, sampled_locations, start_server
from bench.load import sign_in

LAYER_MIX = [
    "enterprises",
    "risk_points",
    "regions",
    "public_zones",
    "hazard_sources",
    "emergency_resources",
    "grid",
]
ZOOMS = range(4, 15)
MAX_TILE_BYTES = 500 * 1024
ADMIN = Scope(role="admin", user_id=0, username="bench-tiles")


def tile_list(engine, count: int, seed: int = 1) -> list[tuple[str, int, int, int]]:
    """Tiles where the data is, z4–z14, every layer: anchored on sampled enterprises."""
    with engine.connect() as connection:
        anchors = sampled_locations(connection, count * 2, seed=seed)
    rng = random.Random(seed)
    tiles: list[tuple[str, int, int, int]] = []
    seen = set()
    while len(tiles) < count and anchors:
        lon, lat = rng.choice(anchors)
        z = rng.choice(ZOOMS)
        layer = rng.choice(LAYER_MIX)
        x, y = lonlat_to_tile(lon, lat, z)
        if (layer, z, x, y) not in seen:
            seen.add((layer, z, x, y))
            tiles.append((layer, z, x, y))
    return tiles


@dataclass
class Run:
    name: str
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    hits: int = 0
    size_by_tile: dict = field(default_factory=dict)

    def row(self, floor: "Run | None") -> str:
        rate = len(self.latencies_ms) / self.seconds if self.seconds else 0
        q = (
            statistics.quantiles(self.latencies_ms, n=100)
            if len(self.latencies_ms) > 1
            else [0] * 99
        )
        ratio = f"{rate / (len(floor.latencies_ms) / floor.seconds):.2f}×" if floor else "1.00×"
        return (
            f"{self.name:<22}{rate:>10.1f}{ratio:>9}{q[49]:>9.2f}{q[94]:>9.2f}{q[98]:>9.2f}"
            f"{statistics.mean(self.sizes) / 1024 if self.sizes else 0:>10.1f}"
            f"{max(self.sizes, default=0) / 1024:>10.1f}"
            f"{self.hits / max(len(self.latencies_ms), 1) * 100:>7.0f}%"
        )


def run_floor(url: str, tiles: list, parallel: int) -> Run:
    """The server's own SQL, straight to PostGIS, `parallel` connections."""
    from sqlalchemy.orm import Session

    engine = create_engine(url, pool_size=parallel)
    run = Run("raw SQL (floor)")
    lock = threading.Lock()
    chunks = [tiles[i::parallel] for i in range(parallel)]

    def work(chunk: list) -> None:
        with Session(engine) as session:
            for layer, z, x, y in chunk:
                found = LAYERS[layer]
                started = time.perf_counter()
                tile = render_tile(
                    session,
                    layer=found,
                    z=z,
                    x=x,
                    y=y,
                    filters=parse_filters(found, scope=ADMIN),
                )
                elapsed = (time.perf_counter() - started) * 1000
                with lock:
                    run.latencies_ms.append(elapsed)
                    run.sizes.append(len(tile))
                    run.size_by_tile[(layer, z, x, y)] = len(tile)

    run.seconds = in_threads(work, chunks)
    engine.dispose()
    return run


def run_http(name: str, port: int, tiles: list, clients: int, headers: dict) -> Run:
    """Request every tile once over HTTP/1.1 keep-alive from `clients` connections."""
    run = Run(name)
    lock = threading.Lock()
    chunks = [tiles[i::clients] for i in range(clients)]

    def work(chunk: list) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        for layer, z, x, y in chunk:
            started = time.perf_counter()
            connection.request("GET", f"/tiles/{layer}/{z}/{x}/{y}.mvt", headers=headers)
            response = connection.getresponse()
            body = response.read()
            elapsed = (time.perf_counter() - started) * 1000
            if response.status != 200:
                raise RuntimeError(f"{layer}/{z}/{x}/{y}: HTTP {response.status} {body[:200]!r}")
            with lock:
                run.latencies_ms.append(elapsed)
                run.sizes.append(len(body))
                run.hits += response.getheader("X-Tile-Cache") == "hit"
        connection.close()

    run.seconds = in_threads(work, chunks)
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--tiles", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    url = national.bench_database_url(args.database_url)
    engine = create_engine(url)
    with engine.connect() as connection:
        counts = connection.execute(
            text(
                "SELECT (SELECT count(*) FROM enterprises), (SELECT count(*) FROM risk_points),"
                " (SELECT count(*) FROM hazard_sources), (SELECT count(*) FROM public_zones)"
            )
        ).one()
    tiles = tile_list(engine, args.tiles)
    engine.dispose()
    print(
        f"data: {counts[0]:,} enterprises, {counts[1]:,} risk points, {counts[2]:,} hazard "
        f"sources, {counts[3]:,} public zones; {len(tiles)} tiles z{min(ZOOMS)}–z{max(ZOOMS)}"
    )

    # Warm PostgreSQL's buffers the same way for every contender: one untimed floor pass.
    run_floor(url, tiles, args.workers)
    floor = run_floor(url, tiles, args.workers)
    process, port = start_server(url, args.workers)
    try:
        headers = sign_in(f"http://127.0.0.1:{port}", url)
        cold = run_http(f"server cold ({args.workers} procs)", port, tiles, args.clients, headers)
        warm = Run("")
        for _ in range(4):  # every process must have cached every tile
            warm = run_http(
                f"server warm ({args.workers} procs)", port, tiles, args.clients, headers
            )
            if warm.hits == len(tiles):
                break
        # The same warm pass from one client: latency without the load generator and
        # four connections competing for this machine's two cores.
        warm_single = run_http("server warm, 1 client", port, tiles, 1, headers)
    finally:
        process.terminate()
        process.wait(timeout=30)

    header = (
        f"{'':<22}{'tiles/s':>10}{'ratio':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
        f"{'mean KB':>10}{'max KB':>10}{'hits':>8}"
    )
    print(header)
    print("-" * len(header))
    print(floor.row(None))
    print(cold.row(floor))
    print(warm.row(floor))
    print(warm_single.row(floor))
    oversize = sum(size > MAX_TILE_BYTES for size in floor.sizes)
    warm_p95 = statistics.quantiles(warm_single.latencies_ms, n=100)[94]
    cold_ratio = (len(cold.latencies_ms) / cold.seconds) / (len(floor.latencies_ms) / floor.seconds)
    print(
        f"\ntargets: warm p95 (1 client) {warm_p95:.2f} ms (< 5) {'OK' if warm_p95 < 5 else 'MISSED'}; "
        f"cold throughput {cold_ratio:.2f}× floor (≥ 0.8) {'OK' if cold_ratio >= 0.8 else 'MISSED'}; "
        f"tiles over 500 KB: {oversize} {'OK' if oversize == 0 else 'MISSED'}"
    )
    by_zoom: dict[int, list[int]] = {}
    for (_, z, _, _), size in floor.size_by_tile.items():
        by_zoom.setdefault(z, []).append(size)
    print(
        "bytes per tile by zoom (mean / max KB): "
        + ", ".join(
            f"z{z} {statistics.mean(s) / 1024:.0f}/{max(s) / 1024:.0f}"
            for z, s in sorted(by_zoom.items())
        )
    )


if __name__ == "__main__":
    main()
