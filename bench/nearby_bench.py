"""Nearby search benchmark: GET /api/nearby at national table sizes and the densest density.

    python -m bench.nearby_bench [--database-url URL] [--queries 500] [--workers 2]
                                 [--enterprises 1000000] [--risk-points 3000000]

Data: database `riskatlas_bench_nearby` on the embedded cluster (or --database-url, the
owner's): Ningxia's divisions, the Ningxia demo, and a synthetic densification with the
national set's table sizes (1 M enterprises, 3 M risk points, 50 k hazard sources, 200 k
public zones) plus 20 k hidden dangers and 5 k emergency resources, all inside Ningxia
(66,400 km²): every 5 km circle holds about 1,200 enterprises and 3,600 risk points, the
density of the national set's busiest industrial districts, everywhere. Generated once in
SQL (ST_GeneratePoints per county by area, risk points and hazard sources 10–265 m from
their enterprise), with the row triggers off; `region_counts` and grid codes are not
maintained for these rows (nearby reads neither). Later runs reuse it.

Measured in one run, over the same query points (random enterprises' locations moved up
to 2 km, and demo enterprises), radius 5 km, limit 50, every kind (an admin), and again
with levels=red,orange (what a warden's phone asks):
  1. the raw-SQL floor: per kind, the bare KNN (`ORDER BY geom <-> point LIMIT 50` inside
     the box, ids only, no scope, no geodesic distance, no card), six tables, UNION ALL;
  2. the service's SQL without HTTP (`find_nearby` in a session; statements per search);
  3. the server over HTTP: `--workers` uvicorn processes, one client with keep-alive.
Payload: bytes of the answers (raw, and gzip level 6 as a compressing proxy would send).
"""

import argparse
import gzip
import json
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

from app import embedded_db, migrate
from app.auth.scope import Scope
from app.db import create_search_engine
from app.geo.geodesic import search_box
from app.nearby import service
from app.progress import ProgressBar
from app.regions.loader import load_regions
from app.risk import grading
from app.settings import get_settings
from app.sites.demo import generate_demo
from bench.harness import start_server
from bench.load import sign_in

DATABASE = "riskatlas_bench_nearby"
PROVINCE_PREFIX = "64"
RADIUS_M = 5000
LIMIT = 50
ADMIN = Scope(role="admin", user_id=0, username="bench-nearby")
TABLES = (
    "risk_points",
    "enterprises",
    "hazard_sources",
    "public_zones",
    "hidden_dangers",
    "emergency_resources",
)


def database_urls(database_url: str | None) -> tuple[str, str]:
    """(owner URL, app-role URL) of the bench database; one URL for both with --database-url."""
    if database_url:
        return database_url, database_url
    settings = get_settings()
    embedded_db.start(settings)
    embedded_db.ensure_database(settings, DATABASE)
    return (
        make_url(settings.owner_sqlalchemy_url)
        .set(database=DATABASE)
        .render_as_string(hide_password=False),
        make_url(settings.sqlalchemy_url)
        .set(database=DATABASE)
        .render_as_string(hide_password=False),
    )


def prepare(owner_url: str, app_url: str, *, enterprises: int, risk_points: int) -> None:
    """Migrate; load Ningxia, the demo and the densification when missing."""
    migrate.upgrade(owner_url, app_url=app_url)
    engine = create_engine(owner_url)
    try:
        with Session(engine) as session, session.begin():
            if not session.scalar(text("SELECT count(*) FROM regions WHERE is_leaf")):
                load_regions(session.connection(), provinces={PROVINCE_PREFIX})
                print("loaded Ningxia's divisions")
            if not session.scalar(text("SELECT count(*) FROM enterprises")):
                started = time.perf_counter()
                counts = generate_demo(session, seed=1)
                grading.rebuild(session, regrade=True)
                print(f"demo: {counts} in {time.perf_counter() - started:.0f} s")
        synthetic = _count(engine, "SELECT count(*) FROM enterprises WHERE credit_code LIKE 'SYN%'")
        if synthetic < enterprises:
            densify(engine, enterprises=enterprises, risk_points=risk_points)
    finally:
        engine.dispose()


def _count(engine: Engine, sql: str) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text(sql)).scalar_one())


def _with_triggers_off(engine: Engine, table: str, sql: str, **params: Any) -> None:
    """One INSERT … SELECT with the table's own triggers off (region codes are given, and
    counts are not kept for synthetic rows), back on in the same transaction."""
    started = time.perf_counter()
    with engine.begin() as connection:
        connection.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
        rows = connection.execute(text(sql), params).rowcount
        connection.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
        connection.execute(text(f"ANALYZE {table}"))
    print(f"  {table}: {rows} rows in {time.perf_counter() - started:.0f} s")


LEVEL_OF = (
    "CASE WHEN {u} < {r} THEN 'red' WHEN {u} < {o} THEN 'orange' "
    "WHEN {u} < {y} THEN 'yellow' WHEN {u} < {b} THEN 'blue' END"
)


def _level(u: str, red: float, orange: float, yellow: float, blue: float) -> str:
    return LEVEL_OF.format(
        u=u, r=red, o=red + orange, y=red + orange + yellow, b=red + orange + yellow + blue
    )


def _near_enterprise(per: str) -> str:
    """SQL of synthetic enterprises with `per` rows each at 10–265 m (aliases e, j)."""
    return (
        f"FROM enterprises e CROSS JOIN LATERAL generate_series(1, {per}) j "
        "WHERE e.credit_code LIKE 'SYN%'"
    )


def densify(engine: Engine, *, enterprises: int, risk_points: int) -> None:
    """Add the synthetic rows (levels drawn like the national set's)."""
    print(f"densifying Ningxia: {enterprises} enterprises, {risk_points} risk points …")
    offset = "ST_Project(e.geom::geography, 10 + 255 * random(), 2 * pi() * random())::geometry"
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM enterprises WHERE credit_code LIKE 'SYN%'"))
        connection.execute(text("DROP TABLE IF EXISTS bench_nearby_points"))
        connection.execute(
            text("""
            CREATE UNLOGGED TABLE bench_nearby_points AS
            SELECT c.code, (ST_Dump(ST_GeneratePoints(c.geom, c.n, 7))).geom AS geom
              FROM (SELECT code, geom, ceil(CAST(:n AS float8) * area_km2
                                            / sum(area_km2) OVER ())::int AS n
                      FROM regions WHERE is_leaf AND code LIKE :prefix) c"""),
            # ST_GeneratePoints may return fewer points than asked for a MultiPolygon.
            {"n": enterprises * 1.05, "prefix": PROVINCE_PREFIX + "%"},
        )
    _with_triggers_off(
        engine,
        "enterprises",
        f"""
        INSERT INTO enterprises (name, credit_code, sector, address, responsible_person,
                                 responsible_phone, risk_level, county_code, geom)
        SELECT '宁夏合成' || i || '化工有限公司', 'SYN' || lpad(i::text, 15, '0'),
               (ARRAY['危险化学品', '工贸', '建筑施工', '冶金', '烟花爆竹'])[1 + i % 5],
               '银川市兴庆区合成路' || i % 900 || '号', '张伟', '13912345678',
               {_level("u", 0.02, 0.08, 0.30, 0.50)}, code, geom
          FROM (SELECT row_number() OVER () AS i, random() AS u, code, geom
                  FROM bench_nearby_points LIMIT :n) p""",
        n=enterprises,
    )
    per = f"{max(1, round(risk_points / enterprises))}"
    _with_triggers_off(
        engine,
        "risk_points",
        f"""
        INSERT INTO risk_points (enterprise_id, name, hazard_type, control_measures, method,
                                 inputs, score, risk_level, responsible_person,
                                 responsible_phone, county_code, geom)
        SELECT e.id, '反应釜区', '火灾爆炸', '双人操作，配备可燃气体报警仪，每班巡检', 'lec',
               '{{}}', 90, {_level("random()", 0.009, 0.044, 0.203, 0.744)}, '王五',
               '13700000000', e.county_code, {offset}
          {_near_enterprise(per)}""",
    )
    _with_triggers_off(
        engine,
        "hazard_sources",
        f"""
        INSERT INTO hazard_sources (enterprise_id, name, unit_type, substances, grade,
                                    risk_level, responsible_person, responsible_phone,
                                    county_code, geom)
        SELECT e.id, '液氯储罐区', 'storage', '[]', g, (ARRAY['red', 'orange', 'yellow',
               'blue'])[g], '李四', '13600000000', e.county_code, {offset}
          FROM (SELECT *, 1 + (id % 4) AS g FROM enterprises
                 WHERE credit_code LIKE 'SYN%' AND id % 20 = 0) e""",
    )
    _with_triggers_off(
        engine,
        "public_zones",
        f"""
        INSERT INTO public_zones (name, kind, population, address, managing_department,
                                  risk_level, county_code, geom)
        SELECT '合成广场' || e.id, 'square', 500, '合成路', '住房和城乡建设局',
               {_level("random()", 0.016, 0.076, 0.401, 0.458)}, e.county_code,
               ST_Project(e.geom::geography, 300 + 700 * random(), 2 * pi() * random())
               ::geometry
          FROM enterprises e WHERE e.credit_code LIKE 'SYN%' AND e.id % 5 = 0""",
    )
    _with_triggers_off(
        engine,
        "hidden_dangers",
        f"""
        INSERT INTO hidden_dangers (enterprise_id, title, grade, status, responsible_person,
                                    responsible_phone, county_code, geom)
        SELECT e.id, '消防通道堵塞', (ARRAY['major', 'larger', 'general', 'general',
               'general'])[1 + e.id % 5], CASE WHEN e.id % 3 = 0 THEN 'closed'
               ELSE 'reported' END, '赵六', '13500000000', e.county_code, {offset}
          FROM enterprises e WHERE e.credit_code LIKE 'SYN%' AND e.id % 50 = 0""",
    )
    _with_triggers_off(
        engine,
        "emergency_resources",
        f"""
        INSERT INTO emergency_resources (name, kind, capacity, contact_person, contact_phone,
                                         county_code, geom)
        SELECT '合成消防救援站' || e.id, 'fire_station', '消防车8辆，指战员40人', '钱七',
               '13400000000', e.county_code, {offset}
          FROM enterprises e WHERE e.credit_code LIKE 'SYN%' AND e.id % 200 = 0""",
    )
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE bench_nearby_points"))


def query_points(engine: Engine, count: int, seed: int = 1) -> list[tuple[float, float]]:
    """Enterprise locations (a tenth from the demo) moved up to 2 km in a random direction
    (unless that leaves Ningxia)."""
    rng = random.Random(seed)
    with engine.connect() as connection:
        synthetic = connection.execute(
            text(
                "SELECT ST_X(geom), ST_Y(geom) FROM enterprises TABLESAMPLE SYSTEM (1) "
                "REPEATABLE (:seed) WHERE credit_code LIKE 'SYN%' LIMIT :n"
            ),
            {"seed": seed, "n": count},
        ).all()
        demo = connection.execute(
            text(
                "SELECT ST_X(geom), ST_Y(geom) FROM enterprises WHERE credit_code NOT LIKE 'SYN%' "
                "ORDER BY id LIMIT :n"
            ),
            {"n": count},
        ).all()
        anchors = [tuple(row) for row in synthetic[: count - count // 10]] + [
            tuple(row) for row in rng.sample(list(demo), count // 10)
        ]
        points = []
        for lon, lat in anchors:
            # Only Ningxia is loaded: a point moved across its border is outside "China".
            moved = connection.execute(
                text(
                    "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Project(ST_SetSRID(ST_MakePoint("
                    ":lon, :lat), 4326)::geography, :d, :a)::geometry AS p) s WHERE EXISTS ("
                    "SELECT 1 FROM region_parts r WHERE ST_Intersects(r.geom, s.p))"
                ),
                {"lon": lon, "lat": lat, "d": rng.uniform(0, 2000), "a": rng.uniform(0, 6.283)},
            ).first()
            points.append((float(moved[0]), float(moved[1])) if moved else (lon, lat))
    return points


@dataclass
class Run:
    name: str
    latencies_ms: list[float] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    gzip_sizes: list[int] = field(default_factory=list)
    statements: list[int] = field(default_factory=list)
    features: list[int] = field(default_factory=list)

    def row(self, floor: "Run | None") -> str:
        q = statistics.quantiles(self.latencies_ms, n=100)
        ratio = (
            f"{q[94] / statistics.quantiles(floor.latencies_ms, n=100)[94]:.2f}×"
            if floor
            else "1.00×"
        )
        sizes = (
            (
                f"{statistics.median(self.sizes) / 1024:.1f} / "
                f"{statistics.median(self.gzip_sizes) / 1024:.1f} / "
                f"{max(self.sizes) / 1024:.1f}"
            )
            if self.sizes
            else ""
        )
        statements = f"{statistics.mean(self.statements):.3f}" if self.statements else ""
        features = f"{statistics.mean(self.features):.1f}" if self.features else ""
        return (
            f"{self.name:<34}{q[49]:>8.2f}{q[94]:>8.2f}{q[98]:>8.2f}{ratio:>8}"
            f"{features:>10}{statements:>12}   {sizes}"
        )


def _timed(
    run: Run,
    points: list[tuple[float, float]],
    search: Callable[[float, float], Any],
    warm_up: int = 30,
) -> list[Any]:
    """Time `search` at every point (after a warm-up); its answers, for a look afterwards.
    Progress goes to stderr (a bar on a terminal), the figures to stdout."""
    for lon, lat in points[:warm_up]:
        search(lon, lat)
    answers = []
    bar = ProgressBar(unit="searches")
    for done, (lon, lat) in enumerate(points, 1):
        started = time.perf_counter()
        answers.append(search(lon, lat))
        run.latencies_ms.append((time.perf_counter() - started) * 1000)
        bar(run.name, done, len(points))
    bar.finish()
    return answers


def floor_run(
    engine: Engine, points: list[tuple[float, float]], name: str, levels: tuple[str, ...] | None
) -> Run:
    """The bare KNN of every kind: what any exact answer has to read at least."""

    def branch(table: str) -> str:
        level = (
            (
                ""
                if table == "emergency_resources"
                else " AND t.grade = ANY(CAST(:grades AS text[]))"
                if table == "hidden_dangers"
                else " AND t.risk_level = ANY(CAST(:levels AS text[]))"
            )
            if levels
            else ""
        )
        if table == "hidden_dangers":
            level += " AND t.status <> 'closed'"
        return (
            f"(SELECT '{table}' AS kind, t.id FROM {table} t WHERE t.geom && "
            "ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)"
            + level
            + " ORDER BY t.geom <-> ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) LIMIT :limit)"
        )

    tables = [t for t in TABLES if not (levels and t == "emergency_resources")]
    statement = text(" UNION ALL ".join(branch(t) for t in tables))
    with engine.connect() as connection:

        def search(lon: float, lat: float) -> None:
            box = search_box(lon, lat, RADIUS_M)
            connection.execute(
                statement,
                {
                    "lon": lon,
                    "lat": lat,
                    "limit": LIMIT,
                    "x0": box.min_lon,
                    "y0": box.min_lat,
                    "x1": box.max_lon,
                    "y1": box.max_lat,
                    "levels": list(levels or ()),
                    "grades": ["major", "larger"],
                },
            ).all()

        run = Run(name)
        _timed(run, points, search)
    return run


def service_run(
    engine: Engine, points: list[tuple[float, float]], name: str, levels: tuple[str, ...] | None
) -> Run:
    """The service's own statement(s) in a session, no HTTP."""
    run = Run(name)
    executed = [0]

    def count(*_: Any) -> None:
        executed[0] += 1

    event.listen(engine, "before_cursor_execute", count)
    try:
        with Session(engine) as session:

            def search(lon: float, lat: float) -> tuple[int, str]:
                executed[0] = 0
                body = service.find_nearby(
                    session,
                    scope=ADMIN,
                    search=service.Search(lon, lat, radius_m=RADIUS_M, limit=LIMIT, levels=levels),
                )
                return executed[0], body

            for statements, body in _timed(run, points, search):
                run.statements.append(statements)
                run.features.append(len(json.loads(body)["features"]))
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return run


def http_run(
    base_url: str,
    headers: dict[str, str],
    points: list[tuple[float, float]],
    name: str,
    levels: tuple[str, ...] | None,
) -> Run:
    """GET /api/nearby over HTTP/1.1 keep-alive, one client."""
    run = Run(name)
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:

        def search(lon: float, lat: float) -> bytes:
            params: dict[str, Any] = {"lon": lon, "lat": lat, "radius_m": RADIUS_M, "limit": LIMIT}
            if levels:
                params["levels"] = ",".join(levels)
            response = client.get("/api/nearby", params=params)
            response.raise_for_status()
            return response.content

        for content in _timed(run, points, search):
            run.sizes.append(len(content))
            run.gzip_sizes.append(len(gzip.compress(content, 6)))
            run.features.append(len(json.loads(content)["features"]))
    return run


def baseline_run(base_url: str, headers: dict[str, str], path: str, count: int) -> Run:
    """A signed-in GET that does next to nothing: the server's own floor over HTTP."""
    run = Run(f"server HTTP, GET {path}")
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:

        def fetch(_: float, __: float) -> None:
            client.get(path).raise_for_status()

        _timed(run, [(0.0, 0.0)] * count, fetch)
    return run


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", help=f"default: embedded {DATABASE} (owner's)")
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--enterprises", type=int, default=1_000_000)
    parser.add_argument("--risk-points", type=int, default=3_000_000)
    args = parser.parse_args(argv)

    owner_url, app_url = database_urls(args.database_url)
    prepare(owner_url, app_url, enterprises=args.enterprises, risk_points=args.risk_points)
    engine = create_engine(app_url)
    # The floor and the service's SQL on connections set up as the server's searches.
    search_engine = create_search_engine(app_url)
    with engine.connect() as connection:
        sizes = {
            t: connection.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES
        }
    print("rows: " + ", ".join(f"{t} {n}" for t, n in sizes.items()))
    points = query_points(engine, args.queries)
    server, port = start_server(app_url, args.workers)
    try:
        base_url = f"http://127.0.0.1:{port}"
        headers = sign_in(base_url, owner_url)
        runs: list[tuple[Run, Run | None]] = [
            (baseline_run(base_url, headers, "/api/auth/me", len(points)), None),
            (baseline_run(base_url, headers, "/api/regions/640104", len(points)), None),
        ]
        for label, levels in (("every kind", None), ("levels=red,orange", ("red", "orange"))):
            floor = floor_run(search_engine, points, f"raw SQL floor, {label}", levels)
            runs.append((floor, None))
            runs.append(
                (service_run(search_engine, points, f"service SQL, {label}", levels), floor)
            )
            runs.append(
                (http_run(base_url, headers, points, f"server HTTP, {label}", levels), floor)
            )
    finally:
        server.terminate()
        server.wait(timeout=30)
        engine.dispose()
        search_engine.dispose()
    print(
        f"\n{len(points)} searches, radius {RADIUS_M} m, limit {LIMIT}, "
        f"{args.workers} server processes, 1 client"
    )
    print(
        f"{'':<34}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}{'p95 ×':>8}{'features':>10}"
        f"{'statements':>12}   KB median raw / gzip / max"
    )
    for run, floor in runs:
        print(run.row(floor))


if __name__ == "__main__":
    main()
