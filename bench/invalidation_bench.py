"""How much of a realistic tile cache one write invalidates (issue 16: target < 1 %).

    nice -n 10 python -m bench.invalidation_bench [--database-url URL] [--tiles 2000]
        [--rounds 5] [--clients 4]

The cache is the tipg benchmark's kind of list (bench/tipg_bench.py): enterprise tiles
z4–z14, one per sampled enterprise, zoom 4 + i % 11, duplicates dropped (until --tiles
distinct tiles), filled over HTTP
from one RiskAtlas process. Then single writes to the enterprises table, each committed
on its own as a field edit would be, at a sampled enterprise's place: an insert ~100 m
from it, a colour change of that row, a move of ~300 m, its delete (so the data set ends
as it began). After each write every cached tile is asked again with its ETag
(If-None-Match): a 200 is a tile the write invalidated, a 304 one it left valid. Printed
per write kind: the fraction of the list invalidated (mean, max), the tiles per zoom, and
the tiles that hold the written point at each zoom of the list that still answered 304
(a stale tile: must be 0). Before per-cell versions, every write invalidated 100 %.
"""

import argparse
import http.client
import random
import statistics
import threading
import time
from collections import Counter

import psycopg
from sqlalchemy import create_engine, text

from app.geo.webmercator import lonlat_to_tile
from app.sites.credit_code import make_credit_code
from bench import national
from bench.harness import in_threads, start_server
from bench.load import sign_in

Tile = tuple[int, int, int]
KINDS = ("insert", "colour change", "move", "delete")
# Versions are announced by NOTIFY at commit; the server's listener applies them within
# milliseconds. Asking before that would count a tile as valid that is not (yet).
SETTLE_S = 0.5
# ~100 m and ~300 m in degrees of latitude.
NEAR_DEG = 0.0009
MOVE_DEG = 0.0027


def tile_list(url: str, count: int) -> tuple[list[Tile], list[tuple[float, float, str]]]:
    """`count` distinct tiles (on sampled enterprises; fewer if the data set has fewer)
    and the other sampled enterprises, to write at."""
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT ST_X(geom), ST_Y(geom), county_code FROM enterprises"
                " ORDER BY md5(id::text) LIMIT :n"
            ),
            {"n": count * 3},
        ).all()
    engine.dispose()
    seen: dict[Tile, None] = {}
    used = 0
    for used, (lon, lat, _) in enumerate(rows, start=1):
        z = 4 + (used - 1) % 11
        seen.setdefault((z, *lonlat_to_tile(lon, lat, z)), None)
        if len(seen) == count:
            break
    return list(seen), [tuple(row) for row in rows[used:]]


def revalidate(port: int, etags: dict[Tile, str], clients: int, headers: dict) -> set[Tile]:
    """Ask every tile with its ETag; return those that changed (and keep their new ETag)."""
    changed: set[Tile] = set()
    lock = threading.Lock()
    tiles = list(etags)

    def work(chunk: list[Tile]) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for tile in chunk:
            z, x, y = tile
            connection.request(
                "GET",
                f"/tiles/enterprises/{z}/{x}/{y}.mvt",
                headers={**headers, "If-None-Match": etags[tile]},
            )
            response = connection.getresponse()
            response.read()
            if response.status == 304:
                continue
            if response.status != 200:
                raise RuntimeError(f"tile {tile}: HTTP {response.status}")
            with lock:
                changed.add(tile)
                etags[tile] = response.getheader("ETag") or ""
        connection.close()

    in_threads(work, [tiles[i::clients] for i in range(clients)])
    return changed


def fill(port: int, tiles: list[Tile], clients: int, headers: dict) -> dict[Tile, str]:
    """Request every tile once (it is rendered and cached); return the ETags."""
    etags = dict.fromkeys(tiles, '"none"')
    revalidate(port, etags, clients, headers)
    return etags


def holders(tiles: set[Tile], lon: float, lat: float) -> set[Tile]:
    """The tiles of the list that contain a point."""
    return {(z, *lonlat_to_tile(lon, lat, z)) for z in range(4, 15)} & tiles


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--tiles", type=int, default=2000, help="distinct tiles cached")
    parser.add_argument("--rounds", type=int, default=5, help="writes of each kind")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seed", type=int, default=16)
    args = parser.parse_args()
    url = national.bench_database_url(args.database_url)
    tiles, places = tile_list(url, args.tiles)
    listed = set(tiles)
    per_zoom = Counter(z for z, _, _ in tiles)
    print(
        f"{len(tiles)} cached enterprise tiles z4–z14 ("
        + ", ".join(f"z{z} {n}" for z, n in sorted(per_zoom.items()))
        + f"); {args.rounds} writes of each kind"
    )
    rng = random.Random(args.seed)
    fractions: dict[str, list[float]] = {kind: [] for kind in KINDS}
    by_zoom: dict[str, Counter[int]] = {kind: Counter() for kind in KINDS}
    stale: Counter[str] = Counter()
    process, port = start_server(url, 1)
    try:
        headers = sign_in(f"http://127.0.0.1:{port}", url)
        etags = fill(port, tiles, args.clients, headers)
        with psycopg.connect(national.libpq_url(url), autocommit=True) as db:
            for lon, lat, county in rng.sample(places, args.rounds):
                here = (lon + NEAR_DEG, lat)
                there = (here[0], here[1] + MOVE_DEG)
                row_id = db.execute(
                    "INSERT INTO enterprises (name, credit_code, sector, risk_level, geom)"
                    " VALUES ('失效测试企业', %s, '危险化学品', 'blue',"
                    " ST_SetSRID(ST_MakePoint(%s, %s), 4326)) RETURNING id",
                    (make_credit_code(rng, county), *here),
                ).fetchone()
                assert row_id is not None
                writes = (
                    ("insert", None, [here]),
                    ("colour change", "UPDATE enterprises SET risk_level = 'red'", [here]),
                    (
                        "move",
                        "UPDATE enterprises SET geom = ST_SetSRID(ST_MakePoint(%s, %s), 4326)",
                        [here, there],
                    ),
                    ("delete", "DELETE FROM enterprises", [there]),
                )
                for kind, sql, points in writes:
                    if sql is not None:
                        values = there if kind == "move" else ()
                        db.execute(f"{sql} WHERE id = %s", (*values, row_id[0]))
                    time.sleep(SETTLE_S)
                    changed = revalidate(port, etags, args.clients, headers)
                    fractions[kind].append(len(changed) / len(tiles))
                    by_zoom[kind].update(z for z, _, _ in changed)
                    must = set().union(*(holders(listed, *p) for p in points))
                    stale[kind] += len(must - changed)
    finally:
        process.terminate()
        process.wait(timeout=30)

    header = (
        f"{'write':<16}{'mean %':>8}{'max %':>8}{'tiles':>7}{'stale':>7}  tiles per write by zoom"
    )
    print(header)
    print("-" * (len(header) + 30))
    for kind in KINDS:
        mean = statistics.mean(fractions[kind])
        zooms = ", ".join(f"z{z} {n / args.rounds:.1f}" for z, n in sorted(by_zoom[kind].items()))
        print(
            f"{kind:<16}{mean * 100:>8.2f}{max(fractions[kind]) * 100:>8.2f}"
            f"{mean * len(tiles):>7.1f}{stale[kind]:>7}  {zooms}"
        )
    worst = max(statistics.mean(f) for f in fractions.values())
    print(
        f"\ntarget: a write invalidates < 1 % of the cached tiles of its layer: worst kind "
        f"{worst * 100:.2f} % {'OK' if worst < 0.01 else 'MISSED'}; stale tiles: "
        f"{sum(stale.values())} {'OK' if sum(stale.values()) == 0 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
