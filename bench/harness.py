"""What several benchmarks need: threads over chunks of work, a server to measure, and
places where the data is."""

import http.client
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Connection, text

from app.settings import PROJECT_ROOT, get_settings

_SAMPLED_LOCATIONS = text(
    "SELECT ST_X(geom), ST_Y(geom) FROM enterprises"
    " TABLESAMPLE SYSTEM (CAST(:percent AS real)) REPEATABLE (:seed) LIMIT :n"
)


def sampled_locations(
    connection: Connection, count: int, *, seed: int, percent: float = 1
) -> list[tuple[float, float]]:
    """Up to `count` enterprise locations (lon, lat) from a repeatable sample of `percent`
    of the table's pages: the same for the same seed and data."""
    rows = connection.execute(_SAMPLED_LOCATIONS, {"percent": percent, "seed": seed, "n": count})
    return [(lon, lat) for lon, lat in rows]


def in_threads(work: Callable[[list], None], chunks: list[list]) -> float:
    """Run `work` on every chunk in its own thread; return the wall-clock seconds."""
    started = time.perf_counter()
    threads = [threading.Thread(target=work, args=(chunk,)) for chunk in chunks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def start_server(
    url: str,
    workers: int,
    app_dir: Path = PROJECT_ROOT,
    settings: dict[str, str] | None = None,
    app: str = "app.main:app",
) -> tuple[subprocess.Popen, int]:
    """uvicorn with `workers` processes on a free loopback port, once /api/health answers.

    `app_dir` serves another checkout's code (e.g. `git archive` of an older commit);
    `settings` are environment variables of the server's own; `app` another ASGI app
    (bench.ceiling's).
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, **(settings or {}), "DATABASE_URL": url}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            app,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            "--timeout-keep-alive",
            str(get_settings().keep_alive_s),
            "--no-access-log",
        ],
        env=env,
        cwd=app_dir,
    )
    for _ in range(150):
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", "/api/health")
            if connection.getresponse().status == 200:
                return process, port
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("server did not start")
