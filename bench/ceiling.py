"""The most this machine can give a tile list, whatever the server: the bounds that
`bench.tipg_bench` prints beside its targets.

- `app`: a FastAPI app that answers every tile path with the same bytes, no database and
  no logic. The benchmark's own client against it (one uvicorn process, like the servers
  compared) measures what the client and the HTTP stack alone cost on these cores.
- `database_alone`: the list rendered by RiskAtlas's own statements
  (`app.tiles.service.render_tile`) from N connections at once, no HTTP at all: what
  PostgreSQL alone can render on these cores.

    uvicorn bench.ceiling:app   (BENCH_TILE_BYTES: the answer's size, default 12 KB)
"""

import os
import threading
import time

from fastapi import FastAPI, Response
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from app.auth.scope import RowFilters
from app.tiles.catalog import layer_or_raise
from app.tiles.service import render_tile
from bench.harness import in_threads

app = FastAPI()
_TILE = b"\x1a" * int(os.environ.get("BENCH_TILE_BYTES", "12288"))


@app.get("/api/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/tiles/{layer}/{z}/{x}/{y}.mvt")
async def tile(layer: str, z: int, x: int, y: int) -> Response:
    return Response(_TILE, media_type="application/vnd.mapbox-vector-tile")


def database_alone(
    url: str, tiles: list[tuple[int, int, int]], connections: int
) -> tuple[float, list[float], list[int]]:
    """Render every enterprise tile once with the national (admin) filters, from
    `connections` threads each on its own connection, after an untimed pass that opens
    the connections and prepares the statements; return (seconds, latencies in ms,
    tile sizes in bytes)."""
    engine = create_engine(url, pool_size=connections)
    layer = layer_or_raise("enterprises")
    filters = RowFilters("enterprises")
    latencies: list[float] = []
    sizes: list[int] = []
    lock = threading.Lock()

    def render_all(chunk: list[tuple[int, int, int]], timed: bool = True) -> None:
        with Session(engine) as session:
            session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
            for z, x, y in chunk:
                started = time.perf_counter()
                tile = render_tile(session, layer=layer, z=z, x=x, y=y, filters=filters)
                if timed:
                    with lock:
                        latencies.append((time.perf_counter() - started) * 1000)
                        sizes.append(len(tile))

    chunks = [tiles[i::connections] for i in range(connections)]
    in_threads(lambda chunk: render_all(chunk, timed=False), chunks)
    seconds = in_threads(render_all, chunks)
    engine.dispose()
    return seconds, latencies, sizes
