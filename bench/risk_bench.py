"""Risk-aggregate benchmark on the national data set (python -m bench.national first).

    python -m bench.risk_bench [--database-url URL] [--writes 200] [--seed 1]

(a) Full rebuild: grading.rebuild(session) (enterprise levels + rebuild_region_counts()),
    its two parts alone, and SELECT rebuild_region_counts(), each in a transaction that
    is rolled back. Baseline: SELECT county_code, risk_level, count(*) … GROUP BY 1, 2 over
    risk_points and enterprises, single process, i.e. the floor of scanning the data.
    A "what-if" row reruns rebuild_region_counts() with region_lineage() comparing the
    char(6) key as bpchar (so pk_regions is used) — in a rolled-back transaction, checked to
    give byte-identical counts; the schema is left as it is.
(b) One write visible: a transaction inserting one risk point (plain INSERT, triggers
    fire) and committing, until a second connection reads the county, city, province and
    grid rows of region_counts showing it; --writes times at random graded enterprises
    (half of them in gridded counties). The same for UPDATE of one risk point's level
    (old level −1, new level +1 everywhere) and, when the API modules import, for the
    service functions create_risk_point / update_risk_point through the ORM (the API path:
    insert, grade, assessment, enterprise level). Baseline: the same statements with the
    count triggers disabled in a setup phase (re-enabled right after).
(c) Contention: one writer blocked by another's uncommitted insert in the same province
    (and, for contrast, another province), and concurrent single-row writers.
(d) Bulk insert cost per row of the triggers: INSERT … SELECT of 20,000 risk points with
    all triggers, without the count triggers, and without any trigger (rolled back).

Every row the benchmark writes is removed at the end (with the same trigger state it was
written with) and region_counts is checked to be exactly as before.
"""

import argparse
import random
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from itertools import product

import psycopg
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from app.risk import grading, methods
from bench import national
from bench.harness import in_threads

COUNTED = "bench:risk_bench"  # rows written with the count triggers on
UNCOUNTED = "bench:risk_bench:uncounted"  # rows written with them off
COUNT_TRIGGERS = ("counts_insert", "counts_update", "counts_delete")
LEVELS = ("blue", "yellow", "orange", "red")  # low → high
TARGET_REBUILD_S = 60
TARGET_VISIBLE_MS = 50

FIXED_LINEAGE = """
CREATE OR REPLACE FUNCTION region_lineage(leaf text) RETURNS SETOF text LANGUAGE sql STABLE AS $$
    WITH RECURSIVE up AS (
        SELECT r.code, r.parent_code FROM regions r WHERE r.code = CAST(leaf AS bpchar)
        UNION ALL
        SELECT p.code, p.parent_code FROM regions p JOIN up ON p.code = up.parent_code)
    SELECT code::text FROM up
$$"""


# Results table


@dataclass
class Row:
    section: str
    label: str
    value: str
    baseline: str = ""
    ratio: str = ""
    target: str = ""
    note: str = ""


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)

    def add(self, *args, **kwargs) -> None:
        row = Row(*args, **kwargs)
        self.rows.append(row)
        print(
            f"  {row.label}: {row.value}"
            + (f" (baseline {row.baseline}, ×{row.ratio})" if row.baseline else "")
            + (f" — {row.note}" if row.note else ""),
            flush=True,
        )

    def print(self) -> None:
        widths = [max(len(r.label) for r in self.rows) + 2, 26, 26, 8, 12]
        header = (
            "measure".ljust(widths[0])
            + "result".rjust(widths[1])
            + "baseline".rjust(widths[2])
            + "×base".rjust(widths[3])
            + "target".rjust(widths[4])
        )
        print("\n" + header)
        print("─" * len(header))
        section = None
        for r in self.rows:
            if r.section != section:
                section = r.section
                print(section)
            print(
                r.label.ljust(widths[0])
                + r.value.rjust(widths[1])
                + r.baseline.rjust(widths[2])
                + r.ratio.rjust(widths[3])
                + r.target.rjust(widths[4])
                + (f"  {r.note}" if r.note else "")
            )


def _s(seconds: float) -> str:
    return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.1f} s"


def _ms_stats(samples: list[float]) -> tuple[float, float, float]:
    ms = sorted(x * 1000 for x in samples)
    p95 = ms[min(len(ms) - 1, max(0, round(0.95 * len(ms)) - 1))]
    return statistics.median(ms), p95, ms[-1]


def _ms(stats: tuple[float, float, float]) -> str:
    return "{:.1f} / {:.1f} / {:.1f} ms".format(*stats)


def _ok(value: float, target: float) -> str:
    return "ok" if value < target else "MISSED"


# Database helpers


def counts_checksum(conn: psycopg.Connection) -> tuple[int, str]:
    """(rows, md5) of the non-zero counts: the triggers leave a row at 0 when a count drops
    to zero, rebuild_region_counts() does not write zeros; both mean the same."""
    return conn.execute(
        "SELECT count(*), coalesce(md5(string_agg(region_code || '|' || measure || '|' || value,"
        " ',' ORDER BY region_code, measure)), '') FROM region_counts WHERE value <> 0"
    ).fetchone()


def set_count_triggers(conn: psycopg.Connection, tables: tuple[str, ...], enabled: bool) -> None:
    action = "ENABLE" if enabled else "DISABLE"
    with conn.transaction():
        for table in tables:
            for suffix in COUNT_TRIGGERS:
                conn.execute(f"ALTER TABLE {table} {action} TRIGGER {table}_{suffix}")


def disabled_triggers(conn: psycopg.Connection) -> list[str]:
    return [
        r[0]
        for r in conn.execute(
            "SELECT tgrelid::regclass || '.' || tgname FROM pg_trigger "
            "WHERE NOT tgisinternal AND tgenabled = 'D'"
        )
    ]


def cleanup(conn: psycopg.Connection) -> int:
    """Remove rows a previous (interrupted) run left, each with its trigger state."""
    removed = 0
    with conn.transaction():
        removed += conn.execute("DELETE FROM risk_points WHERE name = %s", (COUNTED,)).rowcount
    leftovers = conn.execute(
        "SELECT count(*) FROM risk_points WHERE name = %s", (UNCOUNTED,)
    ).fetchone()[0]
    if leftovers:
        with conn.transaction():
            for suffix in COUNT_TRIGGERS:
                conn.execute(f"ALTER TABLE risk_points DISABLE TRIGGER risk_points_{suffix}")
            removed += conn.execute(
                "DELETE FROM risk_points WHERE name = %s", (UNCOUNTED,)
            ).rowcount
            for suffix in COUNT_TRIGGERS:
                conn.execute(f"ALTER TABLE risk_points ENABLE TRIGGER risk_points_{suffix}")
    conn.execute("DELETE FROM assessments WHERE assessed_by = %s", (COUNTED,))
    return removed


@dataclass(frozen=True)
class Place:
    enterprise_id: int
    enterprise_level: str
    lon: float
    lat: float
    county: str
    grid: str | None
    keys: tuple[str, ...]  # county, city, province (those that exist) and grid


def lineage(conn: psycopg.Connection, county: str) -> list[str]:
    chain, code = [], county
    while code:
        chain.append(code)
        code = conn.execute("SELECT parent_code FROM regions WHERE code = %s", (code,)).fetchone()[
            0
        ]
    return chain


def pick_places(conn: psycopg.Connection, n: int, seed: int) -> list[Place]:
    """n places next to graded enterprises, half in gridded counties, each checked to lie in
    a region (the row trigger's query) with its expected county and grid."""
    half = n // 2
    rows = conn.execute(
        """
        (SELECT id, risk_level, ST_X(geom), ST_Y(geom) FROM enterprises
          WHERE grid_code IS NOT NULL AND risk_level IS NOT NULL
          ORDER BY hashint8extended(id, %(seed)s) LIMIT %(half)s)
        UNION ALL
        (SELECT id, risk_level, ST_X(geom), ST_Y(geom) FROM enterprises
          WHERE risk_level IS NOT NULL
          ORDER BY hashint8extended(id, %(seed)s + 1) LIMIT %(rest)s)""",
        {"seed": seed, "half": half, "rest": n - half},
    ).fetchall()
    rng = random.Random(seed)
    places = []
    for enterprise_id, level, lon, lat in rows:
        for attempt in range(2):
            if attempt == 0:
                dx, dy = rng.uniform(-60, 60), rng.uniform(-60, 60)
                x, y = lon + dx / 96000, lat + dy / 111000
            else:
                x, y = lon, lat
            county, grid = conn.execute(
                """
                SELECT (SELECT p.code FROM region_parts p WHERE p.geom && g AND ST_Intersects(p.geom, g)
                         ORDER BY p.code LIMIT 1),
                       (SELECT c.code FROM grid_cells c WHERE c.geom && g AND ST_Intersects(c.geom, g)
                         ORDER BY c.code LIMIT 1)
                  FROM (SELECT ST_SetSRID(ST_MakePoint(%s, %s), 4326) AS g) x""",
                (x, y),
            ).fetchone()
            if county:
                break
        keys = tuple(lineage(conn, county)) + ((grid,) if grid else ())
        places.append(Place(enterprise_id, level, x, y, county, grid, keys))
    return places


def read_counts(
    reader: psycopg.Connection, keys: tuple[str, ...], measures: tuple[str, ...]
) -> dict[tuple[str, str], int]:
    values = {(k, m): 0 for k in keys for m in measures}
    for code, measure, value in reader.execute(
        "SELECT region_code, measure, value FROM region_counts "
        "WHERE region_code = ANY(%s) AND measure = ANY(%s)",
        (list(keys), list(measures)),
    ):
        values[(code, measure)] = value
    return values


def counts_after_regrade(
    reader: psycopg.Connection, target: "Target", counted: bool
) -> dict[tuple[str, str], int]:
    """The counts the target's regions should show once its risk point moved old → new
    (unchanged when the write is not counted)."""
    measures = (f"risk_points.{target.old}", f"risk_points.{target.new}")
    delta = {measures[0]: -1, measures[1]: 1} if counted else {measures[0]: 0, measures[1]: 0}
    before = read_counts(reader, target.keys, measures)
    return {key: value + delta[key[1]] for key, value in before.items()}


def wait_visible(reader, keys, expected: dict, started: float, timeout: float = 10.0) -> float:
    measures = tuple({m for _, m in expected})
    while True:
        now = read_counts(reader, keys, measures)
        if all(now[k] == v for k, v in expected.items()):
            return time.perf_counter() - started
        if time.perf_counter() - started > timeout:
            raise RuntimeError(f"counts not visible after {timeout} s: {now} vs {expected}")


# (a) Rebuild


def bench_rebuild(url: str, conn: psycopg.Connection, report: Report, what_if: bool) -> None:
    section = "(a) full rebuild (each in a transaction, rolled back)"
    print(section, flush=True)
    groups = sum(
        conn.execute(
            f"SELECT count(*) FROM (SELECT DISTINCT r.county_code, r.grid_code, m FROM {table} r "
            f"CROSS JOIN LATERAL unnest({measures}) m WHERE m IS NOT NULL) x"
        ).fetchone()[0]
        for table, measures in conn.execute("SELECT table_name, measures_sql FROM count_sources")
    )
    baseline_sql = """
        SELECT (SELECT count(*) FROM (SELECT county_code, risk_level, count(*) FROM risk_points
                                       GROUP BY 1, 2) a),
               (SELECT count(*) FROM (SELECT county_code, risk_level, count(*) FROM enterprises
                                       GROUP BY 1, 2) b)"""
    conn.execute("SET max_parallel_workers_per_gather = 0")
    conn.execute(baseline_sql)  # warm the cache
    started = time.perf_counter()
    conn.execute(baseline_sql)
    base = time.perf_counter() - started
    conn.execute("RESET max_parallel_workers_per_gather")
    base_s = _s(base)
    report.add(
        section,
        "baseline: GROUP BY county, level over risk_points + enterprises",
        base_s,
        note="single process, warm cache",
    )

    engine = create_engine(url)
    try:
        with Session(engine) as session:
            started = time.perf_counter()
            result = grading.rebuild(session)
            total = time.perf_counter() - started
            session.rollback()
        report.add(
            section,
            "grading.rebuild(session)",
            _s(total),
            base_s,
            f"{total / base:.0f}",
            f"< {TARGET_REBUILD_S} s",
            f"{_ok(total, TARGET_REBUILD_S)}; "
            f"{result['enterprise_levels_changed']} levels changed, "
            f"{result['count_rows']} count rows",
        )
        with Session(engine) as session:
            started = time.perf_counter()
            changed = grading.refresh_enterprise_levels(session)
            part = time.perf_counter() - started
            session.rollback()
        report.add(
            section,
            "  of which refresh_enterprise_levels()",
            _s(part),
            base_s,
            f"{part / base:.0f}",
            note=f"{changed} changed",
        )
    finally:
        engine.dispose()

    before = counts_checksum(conn)
    with conn.transaction():
        started = time.perf_counter()
        conn.execute("SELECT rebuild_region_counts()")
        counts_s = time.perf_counter() - started
        official = counts_checksum(conn)
        raise_rollback()
    report.add(
        section,
        "SELECT rebuild_region_counts()",
        _s(counts_s),
        base_s,
        f"{counts_s / base:.0f}",
        f"< {TARGET_REBUILD_S} s",
        f"{_ok(counts_s, TARGET_REBUILD_S)}; {groups} (county, grid, measure) groups, "
        f"one region_lineage() call each; "
        + (
            "result equals the stored counts"
            if official == before
            else "RESULT DIFFERS from the stored counts"
        ),
    )
    if what_if:
        with conn.transaction():
            conn.execute(FIXED_LINEAGE)
            started = time.perf_counter()
            conn.execute("SELECT rebuild_region_counts()")
            fixed_s = time.perf_counter() - started
            same = counts_checksum(conn) == official
            raise_rollback()
        report.add(
            section,
            "what-if: same, region_lineage() compares bpchar",
            _s(fixed_s),
            base_s,
            f"{fixed_s / base:.0f}",
            f"< {TARGET_REBUILD_S} s",
            f"{_ok(fixed_s, TARGET_REBUILD_S)}; "
            + ("identical counts" if same else "COUNTS DIFFER")
            + "; rolled back, schema unchanged",
        )


def raise_rollback() -> None:
    raise psycopg.Rollback


# (b) One write


def insert_point(writer: psycopg.Connection, place: Place, level: str, name: str) -> tuple:
    with writer.transaction():
        return writer.execute(
            "INSERT INTO risk_points (enterprise_id, name, method, inputs, score, risk_level, geom)"
            " VALUES (%s, %s, 'lec', '{}', 1, %s, ST_SetSRID(ST_MakePoint(%s, %s), 4326))"
            " RETURNING id, county_code, grid_code",
            (place.enterprise_id, name, level, place.lon, place.lat),
        ).fetchone()


def bench_inserts(writer, reader, places: list[Place], counted: bool) -> tuple[list, list, list]:
    """Return (visible seconds, commit seconds, inserted ids)."""
    visible, committed, ids = [], [], []
    for place in places:
        measure = f"risk_points.{place.enterprise_level}"
        before = read_counts(reader, place.keys, (measure,))
        expected = {k: v + (1 if counted else 0) for k, v in before.items()}
        started = time.perf_counter()
        row = insert_point(writer, place, place.enterprise_level, COUNTED if counted else UNCOUNTED)
        committed.append(time.perf_counter() - started)
        visible.append(wait_visible(reader, place.keys, expected, started))
        if row[1] != place.county or row[2] != place.grid:
            raise RuntimeError(
                f"trigger put {row} in {row[1]}/{row[2]}, expected {place.county}/{place.grid}"
            )
        ids.append(row[0])
    return visible, committed, ids


@dataclass(frozen=True)
class Target:
    id: int
    old: str
    new: str
    score: float | None
    keys: tuple[str, ...]


def pick_updates(conn: psycopg.Connection, n: int, seed: int) -> list[Target]:
    """n existing risk points below their enterprise's level, re-graded up to it (so the
    enterprise keeps its level and the service path changes nothing else); half of them
    in gridded counties."""
    rows = conn.execute(
        """
        WITH c AS (
            SELECT rp.id, rp.risk_level, e.risk_level AS top, rp.score, rp.county_code,
                   rp.grid_code
              FROM risk_points rp JOIN enterprises e ON e.id = rp.enterprise_id
             WHERE array_position(%(levels)s, rp.risk_level::text)
                   < array_position(%(levels)s, e.risk_level::text)
               AND rp.name NOT LIKE 'bench:%%')
        (SELECT * FROM c WHERE grid_code IS NOT NULL
          ORDER BY hashint8extended(id, %(seed)s) LIMIT %(half)s)
        UNION ALL
        (SELECT * FROM c ORDER BY hashint8extended(id, %(seed)s + 1) LIMIT %(rest)s)""",
        {"levels": list(LEVELS), "seed": seed, "half": n // 2, "rest": n - n // 2},
    ).fetchall()
    targets = []
    for id_, old, top, score, county, grid in rows:
        new = top
        keys = tuple(lineage(conn, county)) + ((grid,) if grid else ())
        targets.append(Target(id_, old, new, score, keys))
    return targets


def bench_updates(writer, reader, targets: list[Target], counted: bool) -> list[float]:
    visible = []
    for t in targets:
        expected = counts_after_regrade(reader, t, counted)
        started = time.perf_counter()
        with writer.transaction():
            writer.execute(
                "UPDATE risk_points SET risk_level = %s, score = 1 WHERE id = %s", (t.new, t.id)
            )
        visible.append(wait_visible(reader, t.keys, expected, started))
        with writer.transaction():  # put it back (same trigger state, not timed)
            writer.execute(
                "UPDATE risk_points SET risk_level = %s, score = %s WHERE id = %s",
                (t.old, t.score, t.id),
            )
    return visible


def lec_inputs_for(level: str) -> dict[str, float]:
    factors = methods.lec_factors()
    for l, e, c in product(factors["L"], factors["E"], factors["C"]):
        if methods.lec_level(round(float(l) * e * c, 6)) == level:
            return {"l": l, "e": e, "c": c}
    raise ValueError(level)


def service_functions():
    """The API's service functions, or None when they do not import (the API may change)."""
    try:
        import app.models  # noqa: F401  (every model, for the ORM's foreign keys)
        from app.risk import service
        from app.risk.schemas import RiskPointIn, RiskPointPatch
    except Exception as error:
        return None, f"{type(error).__name__}: {error}"
    return (service, RiskPointIn, RiskPointPatch), None


def bench_service_creates(
    engine, reader, places: list[Place], counted: bool, api
) -> tuple[list[float], list[int]]:
    service, RiskPointIn, _ = api
    visible, ids = [], []
    for place in places:
        measure = f"risk_points.{place.enterprise_level}"
        before = read_counts(reader, place.keys, (measure,))
        expected = {k: v + (1 if counted else 0) for k, v in before.items()}
        body = RiskPointIn(
            enterprise_id=place.enterprise_id,
            name=COUNTED if counted else UNCOUNTED,
            method="lec",
            inputs=lec_inputs_for(place.enterprise_level),
            lon=place.lon,
            lat=place.lat,
            assessed_by=COUNTED,
        )
        started = time.perf_counter()
        with Session(engine, expire_on_commit=False) as session:
            created = service.create_risk_point(session, body=body)
            session.commit()
        visible.append(wait_visible(reader, place.keys, expected, started))
        ids.append(created["id"])
    return visible, ids


def bench_service_updates(
    engine, writer, reader, targets: list[Target], counted: bool, api
) -> list[float]:
    service, _, RiskPointPatch = api
    visible = []
    for t in targets:
        expected = counts_after_regrade(reader, t, counted)
        body = RiskPointPatch(method="lec", inputs=lec_inputs_for(t.new), assessed_by=COUNTED)
        started = time.perf_counter()
        with Session(engine, expire_on_commit=False) as session:
            service.update_risk_point(session, id=t.id, body=body)
            session.commit()
        visible.append(wait_visible(reader, t.keys, expected, started))
        with writer.transaction():
            writer.execute(
                "UPDATE risk_points SET risk_level = %s, score = %s, inputs = '{}' WHERE id = %s",
                (t.old, t.score, t.id),
            )
    return visible


def bench_writes(url: str, conn, report: Report, n: int, seed: int, service: bool) -> None:
    section = f"(b) one write visible in county+city+province+grid counts (n={n}; p50 / p95 / max)"
    print(section, flush=True)
    places = pick_places(conn, n, seed)
    gridded = sum(1 for p in places if p.grid)
    targets = pick_updates(conn, n, seed)
    plain = national.libpq_url(url)
    with (
        psycopg.connect(plain, autocommit=True) as writer,
        psycopg.connect(plain, autocommit=True) as reader,
    ):
        # warm up both connections and the caches they use
        bench_inserts(writer, reader, places[:5], counted=True)
        writer.execute("DELETE FROM risk_points WHERE name = %s", (COUNTED,))
        visible, committed, ids = bench_inserts(writer, reader, places, counted=True)
        update_visible = bench_updates(writer, reader, targets, counted=True)
        set_count_triggers(conn, ("risk_points",), enabled=False)
        try:
            base_visible, base_committed, base_ids = bench_inserts(
                writer, reader, places, counted=False
            )
            base_update = bench_updates(writer, reader, targets, counted=False)
            writer.execute("DELETE FROM risk_points WHERE id = ANY(%s)", (base_ids,))
        finally:
            set_count_triggers(conn, ("risk_points",), enabled=True)
        writer.execute("DELETE FROM risk_points WHERE id = ANY(%s)", (ids,))

    stats, base = _ms_stats(visible), _ms_stats(base_visible)
    report.add(
        section,
        "INSERT 1 risk point + commit → visible",
        _ms(stats),
        _ms(base),
        f"{stats[0] / base[0]:.1f}",
        f"< {TARGET_VISIBLE_MS} ms",
        f"{_ok(stats[1], TARGET_VISIBLE_MS)} at p95; {gridded} of {n} in a grid cell",
    )
    c, cb = _ms_stats(committed), _ms_stats(base_committed)
    report.add(section, "  of which INSERT + COMMIT", _ms(c), _ms(cb), f"{c[0] / cb[0]:.1f}")
    u, ub = _ms_stats(update_visible), _ms_stats(base_update)
    report.add(
        section,
        "UPDATE 1 risk point's level + commit → visible",
        _ms(u),
        _ms(ub),
        f"{u[0] / ub[0]:.1f}",
        f"< {TARGET_VISIBLE_MS} ms",
        f"{_ok(u[1], TARGET_VISIBLE_MS)} at p95; old level −1, new +1",
    )

    if not service:
        return
    api, error = service_functions()
    if api is None:
        report.add(section, "service create/update (ORM)", "skipped", note=error)
        return
    engine = create_engine(url, pool_size=2)
    try:
        k = min(n, 100)
        bench_service_creates(engine, conn, places[:3], True, api)  # warm-up
        conn.execute("DELETE FROM risk_points WHERE name = %s", (COUNTED,))
        with (
            psycopg.connect(plain, autocommit=True) as reader,
            psycopg.connect(plain, autocommit=True) as writer,
        ):
            s_visible, s_ids = bench_service_creates(engine, reader, places[:k], True, api)
            s_update = bench_service_updates(engine, writer, reader, targets[:k], True, api)
            set_count_triggers(conn, ("risk_points", "enterprises"), enabled=False)
            try:
                sb_visible, sb_ids = bench_service_creates(engine, reader, places[:k], False, api)
                sb_update = bench_service_updates(engine, writer, reader, targets[:k], False, api)
                writer.execute("DELETE FROM risk_points WHERE id = ANY(%s)", (sb_ids,))
            finally:
                set_count_triggers(conn, ("risk_points", "enterprises"), enabled=True)
            writer.execute("DELETE FROM risk_points WHERE id = ANY(%s)", (s_ids,))
            writer.execute("DELETE FROM assessments WHERE assessed_by = %s", (COUNTED,))
    finally:
        engine.dispose()
    s, sb = _ms_stats(s_visible), _ms_stats(sb_visible)
    report.add(
        section,
        f"service create_risk_point (ORM, n={k}) → visible",
        _ms(s),
        _ms(sb),
        f"{s[0] / sb[0]:.1f}",
        f"< {TARGET_VISIBLE_MS} ms",
        f"{_ok(s[1], TARGET_VISIBLE_MS)} at p95; insert, grade, assessment, enterprise level",
    )
    su, sub = _ms_stats(s_update), _ms_stats(sb_update)
    report.add(
        section,
        f"service update_risk_point re-grade (ORM, n={k}) → visible",
        _ms(su),
        _ms(sub),
        f"{su[0] / sub[0]:.1f}",
        f"< {TARGET_VISIBLE_MS} ms",
        f"{_ok(su[1], TARGET_VISIBLE_MS)} at p95",
    )


# (c) Contention


LAYER_TRIGGERS = ("risk_points_layer_versions", "region_counts_layer_versions")


def set_triggers(conn: psycopg.Connection, names: tuple[str, ...], enabled: bool) -> list[str]:
    """Enable/disable the named triggers that exist; return those names."""
    existing = [
        r[0]
        for r in conn.execute(
            "SELECT tgrelid::regclass || '.' || tgname FROM pg_trigger "
            "WHERE NOT tgisinternal AND tgname = ANY(%s)",
            (list(names),),
        )
    ]
    with conn.transaction():
        for qualified in existing:
            table, trigger = qualified.rsplit(".", 1)
            conn.execute(
                f"ALTER TABLE {table} {'ENABLE' if enabled else 'DISABLE'} TRIGGER {trigger}"
            )
    return existing


def blocked_insert(
    plain: str, monitor, holder_place: Place, other: Place, hold: float, ids: list[int]
) -> tuple[float, str]:
    """Time one insert at `other` while another transaction holds an uncommitted insert at
    `holder_place` for `hold` seconds; name the table whose row it waited for, if any."""
    with psycopg.connect(plain) as holder, psycopg.connect(plain, autocommit=True) as writer:
        ids.append(
            holder.execute(
                "INSERT INTO risk_points (enterprise_id, name, method, inputs, risk_level, geom) "
                "VALUES (%s, %s, 'lec', '{}', 'blue', ST_SetSRID(ST_MakePoint(%s, %s), 4326)) "
                "RETURNING id",
                (holder_place.enterprise_id, COUNTED, holder_place.lon, holder_place.lat),
            ).fetchone()[0]
        )
        timer = threading.Timer(hold, holder.commit)
        result: dict = {}

        def write() -> None:
            t0 = time.perf_counter()
            result["id"] = insert_point(writer, other, "blue", COUNTED)[0]
            result["s"] = time.perf_counter() - t0

        timer.start()
        thread = threading.Thread(target=write)
        thread.start()
        time.sleep(hold / 3)
        pid = writer.info.backend_pid
        blocked = (
            holder.info.backend_pid
            in monitor.execute("SELECT pg_blocking_pids(%s)", (pid,)).fetchone()[0]
        )
        rows = sorted(
            {
                r[0]
                for r in monitor.execute(
                    "SELECT relation::regclass::text FROM pg_locks WHERE pid = %s AND locktype = 'tuple'",
                    (pid,),
                )
            }
        )
        thread.join()
        timer.join()
        ids.append(result["id"])
    if not blocked:
        return result["s"], "no wait"
    return result["s"], "blocked by the holder" + (f" (row of {', '.join(rows)})" if rows else "")


def bench_contention(
    url: str, conn, report: Report, seed: int, threads: int, per_thread: int
) -> None:
    section = "(c) contention: writers blocking writers"
    print(section, flush=True)
    plain = national.libpq_url(url)
    # Blue enterprises outside grids: two counties of Jiangsu (32) and one of Guangdong (44).
    rows = conn.execute("""
        WITH e AS (SELECT DISTINCT ON (county_code) id, county_code, ST_X(geom) x, ST_Y(geom) y
                     FROM enterprises WHERE risk_level = 'blue' AND grid_code IS NULL
                    ORDER BY county_code, id)
        (SELECT * FROM e WHERE left(county_code, 2) = '32' ORDER BY county_code LIMIT 2)
        UNION ALL
        (SELECT * FROM e WHERE left(county_code, 2) = '44' ORDER BY county_code LIMIT 1)""").fetchall()
    place = [Place(r[0], "blue", r[2], r[3], r[1], None, ()) for r in rows]
    hold = 1.0
    ids: list[int] = []
    places = pick_places(conn, threads * per_thread, seed + 7)
    spread = [
        [
            Place(p.enterprise_id, "blue", p.lon, p.lat, p.county, p.grid, p.keys)
            for p in places[i::threads]
        ]
        for i in range(threads)
    ]
    hot = [[place[0]] * per_thread for _ in range(threads)]

    def run(workload: list[list[Place]]) -> tuple[float, list[float]]:
        latencies: list[float] = []
        lock = threading.Lock()

        def worker(chunk: list[Place]) -> None:
            with psycopg.connect(plain, autocommit=True) as w:
                for p in chunk:
                    t0 = time.perf_counter()
                    row = insert_point(w, p, "blue", COUNTED)
                    dt = time.perf_counter() - t0
                    with lock:
                        latencies.append(dt)
                        ids.append(row[0])

        return in_threads(worker, workload), latencies

    layer_triggers = [
        r[0]
        for r in conn.execute(
            "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgname = ANY(%s)",
            (list(LAYER_TRIGGERS),),
        )
    ]
    variants = [("", True)] + ([("layer_versions triggers off: ", False)] if layer_triggers else [])
    for prefix, layers_on in variants:
        if not layers_on:
            set_triggers(conn, LAYER_TRIGGERS, enabled=False)
        try:
            for label, other in (
                ("same province, other county", place[1]),
                ("other province", place[2]),
            ):
                waited, note = blocked_insert(plain, conn, place[0], other, hold, ids)
                report.add(
                    section,
                    f"{prefix}insert while another tx holds one {hold:.0f} s: {label}",
                    f"{waited * 1000:.0f} ms",
                    note=note,
                )
            for label, workload in (("all of China", spread), ("one county", hot)):
                wall, lat = run(workload)
                report.add(
                    section,
                    f"{prefix}{threads} writers × {per_thread} inserts, {label}",
                    f"{len(lat) / wall:.0f} writes/s",
                    note=f"latency {_ms(_ms_stats(lat))}",
                )
        finally:
            if not layers_on:
                set_triggers(conn, LAYER_TRIGGERS, enabled=True)
    with conn.transaction():
        conn.execute("DELETE FROM risk_points WHERE id = ANY(%s)", (ids,))


# (d) Bulk trigger cost


def bench_bulk(conn, report: Report, rows: int) -> None:
    section = f"(d) bulk INSERT … SELECT of {rows} risk points (rolled back), per row"
    print(section, flush=True)
    step = max(1, conn.execute("SELECT max(id) FROM risk_points").fetchone()[0] // rows)
    timings = {}
    variants = (
        ("all triggers", ()),
        ("count triggers off", tuple(f"risk_points_{s}" for s in COUNT_TRIGGERS)),
        (
            "no triggers (codes given)",
            (*tuple(f"risk_points_{s}" for s in COUNT_TRIGGERS), "risk_points_region_codes"),
        ),
    )
    for label, disable in variants:
        with conn.transaction():
            conn.execute(f"""
                CREATE TEMP TABLE bulk_source ON COMMIT DROP AS
                SELECT enterprise_id, risk_level, county_code, grid_code,
                       ST_Translate(geom, 0.00001, 0.00001) AS geom
                  FROM risk_points WHERE id % {step} = 0 LIMIT {rows}""")
            for trigger in disable:
                conn.execute(f"ALTER TABLE risk_points DISABLE TRIGGER {trigger}")
            codes = "risk_points_region_codes" in disable
            cols = "county_code, grid_code, " if codes else ""
            started = time.perf_counter()
            n = conn.execute(
                f"INSERT INTO risk_points (enterprise_id, name, method, inputs, risk_level, "
                f"{cols}geom) SELECT enterprise_id, '{COUNTED}', 'lec', '{{}}', risk_level, "
                f"{cols}geom FROM bulk_source"
            ).rowcount
            timings[label] = (time.perf_counter() - started) / n
            raise_rollback()
    base = timings["no triggers (codes given)"]
    for label, per_row in timings.items():
        report.add(
            section,
            f"  {label}",
            f"{per_row * 1e6:.0f} µs",
            f"{base * 1e6:.0f} µs",
            f"{per_row / base:.1f}",
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.risk_bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--database-url", help=f"default: embedded {national.BENCH_DATABASE}")
    parser.add_argument("--writes", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--skip-rebuild", action="store_true")
    parser.add_argument(
        "--no-what-if",
        action="store_true",
        help="skip the rolled-back rebuild with a bpchar region_lineage()",
    )
    parser.add_argument(
        "--no-service", action="store_true", help="skip the ORM service-function rows"
    )
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--per-thread", type=int, default=50)
    parser.add_argument("--bulk-rows", type=int, default=20000)
    args = parser.parse_args(argv)
    url = national.bench_database_url(args.database_url)
    report = Report()
    with psycopg.connect(national.libpq_url(url), autocommit=True) as conn:
        disabled = disabled_triggers(conn)
        if disabled:
            raise SystemExit(
                f"triggers are disabled: {disabled}; an earlier run was interrupted."
                " Enable them and run SELECT rebuild_region_counts() first."
            )
        removed = cleanup(conn)
        if removed:
            print(f"removed {removed} rows left by an earlier run")
        sizes = {
            t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in national.LOCATED
        }
        if not sizes["risk_points"]:
            raise SystemExit("no data: run python -m bench.national first")
        print("data: " + ", ".join(f"{t} {n:,}" for t, n in sizes.items()), flush=True)
        before = counts_checksum(conn)
        started = time.perf_counter()
        try:
            if not args.skip_rebuild:
                bench_rebuild(url, conn, report, what_if=not args.no_what_if)
            bench_writes(url, conn, report, args.writes, args.seed, not args.no_service)
            bench_contention(url, conn, report, args.seed, args.threads, args.per_thread)
            bench_bulk(conn, report, args.bulk_rows)
        finally:
            cleanup(conn)
            after = counts_checksum(conn)
            print(
                f"\nregion_counts after the run: {'unchanged' if after == before else 'CHANGED'}"
                f" ({after[0]} rows); benchmark took {time.perf_counter() - started:.0f} s"
            )
    report.print()


if __name__ == "__main__":
    sys.exit(main())
