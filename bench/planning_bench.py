"""Planning check benchmark: POST /api/planning/check's work at national table sizes.

    python -m bench.planning_bench [--database-url URL] [--checks 200] [--seed 1]

Data: the national synthetic set is not generated on this machine, so the default is
database `riskatlas_bench14` on the embedded cluster: a copy of `riskatlas_bench_nearby`
(bench/nearby_bench.py: the national set's table sizes — 50 k hazard sources, 200 k public
zones, 1 M enterprises — all inside Ningxia, every 5 km circle as dense as the national
set's busiest districts), migrated to 0013, with the demo chemical parks drawn around the
demo's park enterprises (app/planning/demo.py). Make it once with

    CREATE DATABASE riskatlas_bench14 TEMPLATE riskatlas_bench_nearby OWNER riskatlas_owner;

and migrate it (`app.migrate.upgrade`); this script draws the parks when there are none.

Measured in one run over the same sites (random enterprises' locations moved up to 2 km):
  1. the raw-SQL floor: for each site, the bare candidate search of the same radius — ids
     and geodesic distances of the hazard sources (for a school) or public zones (for an LPG
     station or a chemical plant) within it, no scope, no rules, no rings, no people count;
  2. the service's check (`app.planning.service.check`, an admin's scope) in a session, the
     whole of what the endpoint does but HTTP and JSON encoding.
Three kinds: a school (a protection target: every hazard within 1 km), an LPG station of
300 m³ (a hazard: every target within 70 m, dense sites within 500 m), a new
hazardous-chemical plant (GB 18218 grading, park zoning, targets within its setbacks).
"""

import argparse
import random
import statistics
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from app.auth.scope import Scope
from app.planning import service
from app.planning.demo import load_demo_parks
from app.settings import get_settings
from bench.harness import sampled_locations

ADMIN = Scope(role="admin", user_id=0, username="bench-planning", read_prefix="")
KINDS: dict[str, tuple[dict[str, Any], str, float]] = {
    # kind: (attributes, table searched by the floor, its radius in metres)
    "school": ({"people": 1200}, "hazard_sources", 1000.0),
    "lpg_station": ({"volume_m3": 300}, "public_zones", 500.0),
    "hazchem_production": (
        {"substances": [{"cas": "7782-50-5", "quantity_t": 20}]},
        "public_zones",
        1000.0,
    ),
}
FLOOR = """
    SELECT t.id, ST_Distance(t.geom::geography, ST_GeomFromEWKT(:site)::geography) AS d
      FROM {table} t
     WHERE t.geom && ST_Expand(ST_GeomFromEWKT(:site), :deg)
       AND ST_DWithin(t.geom::geography, ST_GeomFromEWKT(:site)::geography, :radius)"""


def default_url() -> str:
    """The owner's URL of riskatlas_bench14 on the embedded cluster."""
    url = make_url(get_settings().owner_sqlalchemy_url).set(database="riskatlas_bench14")
    return url.render_as_string(hide_password=False)


def sites(session: Session, count: int, seed: int) -> list[tuple[float, float]]:
    """Random enterprises' locations moved up to 2 km (deterministic for a seed)."""
    rng = random.Random(seed)
    rows = sampled_locations(session.connection(), count, seed=seed)
    return [(x + rng.uniform(-0.02, 0.02), y + rng.uniform(-0.015, 0.015)) for x, y in rows]


def timed(work: Callable[[], Any]) -> tuple[float, Any]:
    """Milliseconds one call takes, and what it returned."""
    start = time.perf_counter()
    value = work()
    return (time.perf_counter() - start) * 1000, value


def summary(name: str, latencies: list[float]) -> str:
    q = statistics.quantiles(latencies, n=100)
    return f"{name:<34} p50 {q[49]:7.1f} ms   p95 {q[94]:7.1f} ms   max {max(latencies):7.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--checks", type=int, default=200, help="sites per kind")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    engine = create_engine(args.database_url or default_url())
    with Session(engine) as session:
        counts = {
            t: session.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
            for t in ("hazard_sources", "public_zones", "enterprises", "chemical_parks")
        }
        if counts["chemical_parks"] == 0:
            counts.update(load_demo_parks(session))
            session.commit()
        print("data:", ", ".join(f"{k} {v:,}" for k, v in counts.items()))
        points = sites(session, args.checks, args.seed)
        print(f"{len(points)} sites per kind, seed {args.seed}")
        for kind, (attributes, table, radius) in KINDS.items():
            measure(session, kind, attributes, table, radius, points)


def measure(
    session: Session,
    kind: str,
    attributes: dict[str, Any],
    table: str,
    radius: float,
    points: list[tuple[float, float]],
) -> None:
    """Time the floor and the check of one kind over the sites; print both."""
    floor_sql = text(FLOOR.format(table=table))
    floor, checks, conflicts = [], [], 0
    for lon, lat in points:
        site = f"SRID=4326;POINT({lon} {lat})"
        ms, _ = timed(
            partial(
                session.execute, floor_sql, {"site": site, "radius": radius, "deg": radius / 80000}
            )
        )
        floor.append(ms)
        ms, result = timed(
            partial(
                service.check,
                session,
                scope=ADMIN,
                kind=kind,
                attributes=dict(attributes),
                geometry={"type": "Point", "coordinates": [lon, lat]},
                crs="wgs84",
            )
        )
        checks.append(ms)
        conflicts += len(result["conflicts"])
        session.rollback()
    print(f"\n{kind} ({conflicts / len(points):.1f} conflicts a check)")
    print(summary(f"  raw SQL floor ({table} ≤ {radius:g} m)", floor))
    print(summary("  service check (no HTTP)", checks))


if __name__ == "__main__":
    main()
