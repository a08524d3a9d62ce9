"""Many clients asking for cold tiles at once: queue bound off and on (issue 16, item 4).

    nice -n 10 python -m bench.burst_bench [--database-url URL] [--tiles 2000]
        [--clients 100] [--bounds 0,500] [--workers 1]

One RiskAtlas process (--workers: more) with its tile cache off serves the invalidation benchmark's
2,000 enterprise tiles z4–z14 (bench/invalidation_bench.py) to --clients threads, each on
its own keep-alive connection, taking the next tile of the list as soon as the last one
came back, until the list is done. Once per value of RISKATLAS_TILE_QUEUE_MS in --bounds
(0: the render queue is unbounded; else a render that would wait longer is refused with
503 + Retry-After, and the client, like the web map, asks again after Retry-After × 1–1.5,
at most 3 times). Printed per bound: tiles/s, quantiles of the time to get each tile
(retries included) and of each single response, the 503s, timeouts (30 s) and tiles
given up on.
"""

import argparse
import http.client
import os
import random
import statistics
import threading
import time
from dataclasses import dataclass, field

from bench import national
from bench.harness import in_threads, start_server
from bench.invalidation_bench import Tile, tile_list
from bench.load import sign_in

TIMEOUT_S = 30.0
RETRIES = 3


@dataclass
class Burst:
    bound_ms: int
    seconds: float = 0.0
    tile_ms: list[float] = field(default_factory=list)  # per tile, retries included
    response_ms: list[float] = field(default_factory=list)  # per HTTP response
    busy: int = 0
    timeouts: int = 0
    errors: int = 0
    given_up: int = 0

    def row(self) -> str:
        def q(values: list[float]) -> list[float]:
            return statistics.quantiles(values, n=100) if len(values) > 1 else [0.0] * 99

        tile, response = q(self.tile_ms), q(self.response_ms)
        bound = "unbounded" if not self.bound_ms else f"{self.bound_ms} ms"
        return (
            f"{bound:<11}{len(self.tile_ms) / self.seconds:>8.1f}"
            f"{tile[49]:>8.0f}{tile[94]:>8.0f}{tile[98]:>8.0f}{max(self.tile_ms, default=0):>8.0f}"
            f"{response[49]:>8.0f}{response[98]:>8.0f}"
            f"{self.busy:>7}{self.timeouts:>6}{self.errors:>6}{self.given_up:>7}"
        )


def run_burst(
    port: int, tiles: list[Tile], clients: int, headers: dict, bound_ms: int, seed: int
) -> Burst:
    burst = Burst(bound_ms)
    lock = threading.Lock()
    queue = iter(tiles)

    def next_tile() -> Tile | None:
        with lock:
            return next(queue, None)

    def work(_: list) -> None:
        rng = random.Random(seed + threading.get_ident())
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT_S)
        while (tile := next_tile()) is not None:
            z, x, y = tile
            started = time.perf_counter()
            for attempt in range(RETRIES + 1):
                asked = time.perf_counter()
                try:
                    connection.request(
                        "GET", f"/tiles/enterprises/{z}/{x}/{y}.mvt", headers=headers
                    )
                    response = connection.getresponse()
                    response.read()
                except TimeoutError:
                    connection.close()
                    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT_S)
                    with lock:
                        burst.timeouts += 1
                    break
                now = time.perf_counter()
                with lock:
                    burst.response_ms.append((now - asked) * 1000)
                if response.status == 200:
                    with lock:
                        burst.tile_ms.append((now - started) * 1000)
                    break
                if response.status != 503:
                    with lock:
                        burst.errors += 1
                    break
                with lock:
                    burst.busy += 1
                    burst.given_up += attempt == RETRIES
                if attempt < RETRIES:
                    after = float(response.getheader("Retry-After") or 1)
                    time.sleep(after * (1 + rng.random() * 0.5))
        connection.close()

    burst.seconds = in_threads(work, [[] for _ in range(clients)])
    return burst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--tiles", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--bounds", default="0,500", help="RISKATLAS_TILE_QUEUE_MS values")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1, help="server processes")
    args = parser.parse_args()
    url = national.bench_database_url(args.database_url)
    tiles, _ = tile_list(url, args.tiles)
    print(
        f"{len(tiles)} enterprise tiles z4–z14, cold (cache off), {args.clients} clients,"
        f" {args.workers} server process(es)"
    )
    os.environ["RISKATLAS_TILE_CACHE_MB"] = "0"
    # An untimed pass first, so every bound meets PostgreSQL's buffers filled alike.
    bounds = [int(b) for b in args.bounds.split(",")]
    results = []
    for index, bound in enumerate([bounds[0], *bounds]):
        os.environ["RISKATLAS_TILE_QUEUE_MS"] = str(bound)
        process, port = start_server(url, args.workers)
        try:
            headers = sign_in(f"http://127.0.0.1:{port}", url)
            burst = run_burst(port, tiles, args.clients, headers, bound, args.seed)
        finally:
            process.terminate()
            process.wait(timeout=30)
        if index:
            results.append(burst)
    header = (
        f"{'queue':<11}{'tiles/s':>8}{'p50':>8}{'p95':>8}{'p99':>8}{'max':>8}"
        f"{'r p50':>8}{'r p99':>8}{'503s':>7}{'t/o':>6}{'err':>6}{'gave up':>7}"
    )
    print("per tile (ms, retries included); r: per response")
    print(header)
    print("-" * len(header))
    for burst in results:
        print(burst.row())


if __name__ == "__main__":
    main()
