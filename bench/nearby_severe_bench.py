"""Red and orange near a warden: with and without the partial GiST indexes of migration 0012,
in one run over the same points (service SQL in a session, no HTTP).

    python -m bench.nearby_severe_bench [--queries 200]

Data: `riskatlas_bench_nearby` as prepared by `bench.nearby_bench` (1 M enterprises, 3 M risk
points in Ningxia). Three passes over the same query points (`nearby_bench.query_points`):
with the indexes, without them (dropped inside a transaction that is rolled back, so the
data set keeps them; run as the owner), and with them again (to show drift on a shared
machine). Each search is `find_nearby(levels=red,orange)`, radius 5 km, limit 50, as an
admin.
"""

import argparse
import statistics
import time

from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from app.db import SEARCH_SETTINGS, server_options
from app.nearby import service
from app.settings import get_settings
from bench.nearby_bench import ADMIN, LIMIT, RADIUS_M, database_urls, query_points

INDEXES = ("ix_risk_points_geom_red_orange", "ix_enterprises_geom_red_orange")


def _pass(session: Session, points: list[tuple[float, float]]) -> list[float]:
    times = []
    for lon, lat in points:
        search = service.Search(lon, lat, radius_m=RADIUS_M, limit=LIMIT, levels=("red", "orange"))
        started = time.perf_counter()
        service.find_nearby(session, scope=ADMIN, search=search)
        times.append((time.perf_counter() - started) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    owner_url, _ = database_urls(args.database_url)
    # Set up as the server's searches (app.db.SEARCH_SETTINGS), in transactions: the
    # indexes are dropped in one that is rolled back.
    engine = create_engine(
        owner_url, connect_args={"options": server_options(get_settings(), SEARCH_SETTINGS)}
    )
    points = query_points(engine, args.queries)
    runs: list[tuple[str, list[float]]] = []
    with Session(engine) as session:
        runs.append(("partial indexes", _pass(session, points)))
        session.rollback()
        session.execute(text(f"DROP INDEX {', '.join(INDEXES)}"))
        runs.append(("without them (before)", _pass(session, points)))
        session.rollback()  # the indexes are back
        runs.append(("partial indexes again", _pass(session, points)))
        session.rollback()
    print(f"{len(points)} searches, levels=red,orange, radius {RADIUS_M} m, limit {LIMIT}")
    print(f"{'service SQL':24}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}")
    for name, values in runs:
        q = statistics.quantiles(values, n=100)
        print(f"{name:24}{q[49]:8.2f}{q[94]:8.2f}{q[98]:8.2f}")


if __name__ == "__main__":
    main()
