"""A deterministic synthetic national data set, generated entirely inside PostGIS.

    python -m bench.national --enterprises 1000000 --risk-points 3000000 \\
        --hazard-sources 50000 --public-zones 200000 [--seed 1] [--database-url URL] [--truncate]

Without --database-url the embedded cluster's database `riskatlas_bench` is used (created,
migrated and loaded with all of China's divisions when missing; never `riskatlas` or
`riskatlas_test`). Every row is made by INSERT … SELECT / CREATE TABLE … AS SELECT from
generate_series and ST_GeneratePoints: no data row passes through Python.

Where things go
  * Enterprises per province follow a fixed table of industrial weight (Guangdong, Jiangsu,
    Zhejiang, Shandong … first; Tibet, Qinghai last; Hong Kong, Macao and Taiwan get none,
    they are outside the mainland's work-safety supervision). Inside a province, a county's
    share grows with area^0.35 and is 2.5× for city districts (…区), 1.8× for county-level
    cities (…市) and 5× for the city-level leaves (东莞, 中山, 儋州, 嘉峪关).
  * Inside a county, 75 % of its enterprises sit in 1–8 industrial parks (one per ~600
    enterprises, shares ∝ 1/rank^0.8), each a 0.8–3 km disc around a centre drawn with
    ST_GeneratePoints in the county, intersected with the county's region_parts; the other
    25 % are scattered uniformly over the county.
  * Risk points and major hazard sources lie 10–265 m from their enterprise. Public zones
    follow a population table by province (area^0.25, 2× districts), 60 % within 3–8 km of
    the county's label point, 40 % scattered.
  * A management grid (1 km cells, app.regions.grids.generate_grid) covers the N counties
    with the most enterprises (--grid-counties, default 40), so grid aggregates exist.

Levels (consistent with the enterprise rule, so `grading.rebuild` changes nothing)
  * enterprises: red 2 %, orange 8 %, yellow 30 %, blue 50 %, none 10 %;
  * each graded enterprise has one "anchor" risk point at its own level; the other risk
    points go to random graded enterprises at a level ≤ the enterprise's, skewed low;
    LEC scores are real L×E×C products inside the level's band; inputs are '{}';
  * hazard sources: grade 1 4 %, 2 12 %, 3 30 %, 4 54 % (level red/orange/yellow/blue);
    grades that force red (1, 2) only go to red enterprises, all to hazardous sectors
    when there are any; unit_type 'storage', substances '[]';
  * public zones: kinds and level mixes of geodata/demo/public.json (point kinds only),
    5 % ungraded.

How it is fast
  The row trigger that sets county_code/grid_code does one point-in-polygon lookup per row
  against region_parts (~60–150 µs) and never runs in parallel. The generator computes
  the very same result (the least region_parts.code / grid_cells.code whose geometry
  intersects the point, i.e. the trigger's ORDER BY code LIMIT 1) set-based: the staged
  points get a GiST index and a parallel join visits each part once with the points
  inside it, so PostGIS's prepared-geometry cache applies (schema bench_stage, UNLOGGED).
  Rows are then inserted with the `*_region_codes` row trigger and the `*_counts_*`
  statement triggers disabled, in the same transaction that re-enables them, and
  `SELECT rebuild_region_counts()` runs at the end. `--verify N` (default 2000) re-fires
  the real trigger (UPDATE … SET geom = geom in a rolled-back transaction) on ~1.5·N rows
  of each table (half of them gridded) and fails if any code differs.
"""

import argparse
import json
import sys
import time
from dataclasses import dataclass
from itertools import product

import psycopg
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from app import embedded_db, migrate
from app.regions.loader import load_regions, read_index
from app.risk import grading, methods
from app.settings import GEODATA_DIR, get_settings
from app.sites.credit_code import is_valid_credit_code, is_valid_org_code

BENCH_DATABASE = "riskatlas_bench"
STAGE = "bench_stage"
LOCATED = ("enterprises", "risk_points", "hazard_sources", "public_zones")
EVENTS = ("insert", "update", "delete")
LEVELS_LOW_TO_HIGH = ("blue", "yellow", "orange", "red")  # rank 1 … 4, as in grading.RANKS

# Province code → (industrial weight ≈ share of industrial enterprises, population, millions).
PROVINCES = {
    "110000": (1.8, 22),
    "120000": (1.5, 14),
    "130000": (3.2, 75),
    "140000": (1.6, 35),
    "150000": (1.3, 24),
    "210000": (2.0, 42),
    "220000": (0.9, 24),
    "230000": (0.9, 31),
    "310000": (2.8, 25),
    "320000": (11.0, 85),
    "330000": (10.5, 65),
    "340000": (4.0, 61),
    "350000": (4.5, 42),
    "360000": (3.0, 45),
    "370000": (7.5, 101),
    "410000": (4.5, 99),
    "420000": (4.0, 58),
    "430000": (3.5, 66),
    "440000": (11.0, 126),
    "450000": (1.6, 50),
    "460000": (0.35, 10),
    "500000": (2.2, 32),
    "510000": (3.8, 84),
    "520000": (1.3, 39),
    "530000": (1.4, 47),
    "540000": (0.1, 4),
    "610000": (2.0, 40),
    "620000": (0.6, 25),
    "630000": (0.2, 6),
    "640000": (0.45, 7),
    "650000": (1.0, 26),
    "710000": (0, 0),
    "810000": (0, 0),
    "820000": (0, 0),
}
ENTERPRISE_LEVEL_BOUNDS = (0.02, 0.10, 0.40, 0.90)  # red / orange / yellow / blue / none
HAZARD_GRADE_BOUNDS = (0.04, 0.16, 0.46)  # grade 1 / 2 / 3 / 4
HAZARD_R_BANDS = {1: (100, 300), 2: (50, 100), 3: (10, 50), 4: (1, 10)}  # GB 18218 R
PARALLEL_WORKERS = 2  # staging lookups: workers besides the leader (the bench machine has 2 cores)
GRID_MAX_AREA_KM2 = 500  # grids go to dense urban districts
HAZARDOUS_SECTORS = ("危险化学品", "城镇燃气", "烟花爆竹", "涉氨制冷", "冶金")
ZONE_KINDS = ("school", "hospital", "market", "station", "residential")
PARK_KINDS = (
    "经济技术开发区",
    "工业园区",
    "高新技术产业开发区",
    "产业园",
    "化工园区",
    "物流园区",
    "工业集中区",
    "科技园",
)
ROADS = (
    "人民路",
    "建设路",
    "解放路",
    "中山路",
    "工业路",
    "新华路",
    "长江路",
    "黄河路",
    "朝阳路",
    "文化路",
    "胜利路",
    "和平路",
    "园区路",
    "科技路",
    "创业大道",
    "发展大道",
    "滨江路",
    "兴业路",
    "纬一路",
    "经二路",
    "开发大道",
    "迎宾大道",
    "南环路",
    "北环路",
)
SURNAMES = tuple(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜"
    "叶程苏魏吕丁任沈"
)
SUFFIXES = ("有限公司",) * 6 + ("有限责任公司",) * 3 + ("股份有限公司",)


@dataclass(frozen=True)
class Scale:
    enterprises: int
    risk_points: int
    hazard_sources: int
    public_zones: int


# Connection and SQL helpers


def bench_database_url(database_url: str | None = None) -> str:
    """The SQLAlchemy URL of the bench database (embedded `riskatlas_bench` by default).

    The owner's: generating the data set creates staging tables and truncates.
    """
    if database_url:
        url = make_url(database_url)
        if url.drivername in ("postgresql", "postgres"):
            url = url.set(drivername="postgresql+psycopg")
        return url.render_as_string(hide_password=False)
    settings = get_settings()
    if settings.embedded:
        # The roles' passwords exist once the cluster has been set up.
        embedded_db.start(settings)
    url = make_url(settings.owner_sqlalchemy_url).set(database=BENCH_DATABASE)
    return url.render_as_string(hide_password=False)


def libpq_url(url: str) -> str:
    """The same URL without the SQLAlchemy driver suffix, for psycopg.connect."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def lit(value) -> str:
    """An SQL literal for a str, number, or list of either (constants only, never data rows)."""
    if isinstance(value, (list, tuple)):
        if all(isinstance(v, str) for v in value):
            return "ARRAY[" + ",".join(lit(v) for v in value) + "]::text[]"
        return "ARRAY[" + ",".join(lit(v) for v in value) + "]::float8[]"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


class Progress:
    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.last = self.started
        self.steps: list[tuple[str, float]] = []

    def __call__(self, message: str) -> None:
        now = time.perf_counter()
        self.steps.append((message, now - self.last))
        print(f"[{now - self.started:7.1f}s] (+{now - self.last:6.1f}s) {message}", flush=True)
        self.last = now

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started


def _helpers(seed: int) -> str:
    """Session-local SQL functions (pg_temp): seeded hashing, array picks, credit codes,
    and county_of/grid_of, assign_region_codes()'s own queries for a point (used only for
    the rare rows whose generated point no region contains; the bulk lookups are the
    set-based joins of _lookup_sql)."""
    return f"""
    CREATE OR REPLACE FUNCTION pg_temp.u(i bigint, salt bigint) RETURNS float8
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
    $$ SELECT (hashint8extended(i, {seed} * 1000003 + salt) & 9007199254740991)::float8
              / 9007199254740992.0 $$;
    CREATE OR REPLACE FUNCTION pg_temp.iseed(i bigint, salt bigint) RETURNS int
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
    $$ SELECT 1 + (hashint8extended(i, {seed} * 1000003 + salt) & 1073741823)::int $$;
    CREATE OR REPLACE FUNCTION pg_temp.pick(arr text[], x float8) RETURNS text
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
    $$ SELECT arr[1 + floor(x * array_length(arr, 1))::int] $$;
    CREATE OR REPLACE FUNCTION pg_temp.county_of(g geometry) RETURNS char(6)
        LANGUAGE sql STABLE PARALLEL SAFE COST 5000 AS
    $$ SELECT p.code FROM public.region_parts p
        WHERE p.geom && g AND ST_Intersects(p.geom, g) ORDER BY p.code LIMIT 1 $$;
    CREATE OR REPLACE FUNCTION pg_temp.grid_of(g geometry) RETURNS varchar
        LANGUAGE sql STABLE PARALLEL SAFE COST 1000 AS
    $$ SELECT c.code FROM public.grid_cells c
        WHERE c.geom && g AND ST_Intersects(c.geom, g) ORDER BY c.code LIMIT 1 $$;
    -- A unified social credit code (GB 32100) with valid GB 11714 and GB 32100 check
    -- characters: 91 + division + 'MA' + base-31 serial (6) + org check + check.
    -- One arithmetic expression, so the planner inlines it.
    CREATE OR REPLACE FUNCTION pg_temp.credit_code(county text, n bigint) RETURNS text
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
    $$ SELECT {_credit_code_expr("county", "n")} $$;
    """


CREDIT_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def _credit_code_expr(county: str, n: str) -> str:
    """SQL for '91' + county + 'MA' + six base-31 digits of n + GB 11714 check + GB 32100
    check (see app/sites/credit_code.py), as closed-form arithmetic."""
    cs = CREDIT_CHARSET
    org_values = [int(ch) if ch.isdigit() else ord(ch) - 55 for ch in cs]
    digits = [f"((({n}) / {31**k}) % 31)::int" for k in range(5, -1, -1)]
    org_sum = " + ".join(
        [f"{_org('M') * ORG_WEIGHTS[0] + _org('A') * ORG_WEIGHTS[1]}"]
        + [f"(ARRAY{org_values})[{d} + 1] * {w}" for d, w in zip(digits, ORG_WEIGHTS[2:])]
    )
    org_check = f"(11 - ({org_sum}) % 11)"
    org_char = f"(CASE {org_check} WHEN 10 THEN 'X' WHEN 11 THEN '0' ELSE {org_check}::text END)"
    org_index = (
        f"(CASE {org_check} WHEN 10 THEN {cs.index('X')} WHEN 11 THEN 0 ELSE {org_check} END)"
    )
    fixed = (
        cs.index("9") * CREDIT_WEIGHTS[0]
        + cs.index("1") * CREDIT_WEIGHTS[1]
        + cs.index("M") * CREDIT_WEIGHTS[8]
        + cs.index("A") * CREDIT_WEIGHTS[9]
    )
    total = " + ".join(
        [str(fixed)]
        + [
            f"(ascii(substr({county}, {i + 1}, 1)) - 48) * {CREDIT_WEIGHTS[2 + i]}"
            for i in range(6)
        ]
        + [f"{d} * {w}" for d, w in zip(digits, CREDIT_WEIGHTS[10:16])]
        + [f"{org_index} * {CREDIT_WEIGHTS[16]}"]
    )
    body = " || ".join(f"substr('{cs}', {d} + 1, 1)" for d in digits)
    return (
        f"'91' || {county} || 'MA' || {body} || {org_char} || "
        f"substr('{cs}', ((31 - ({total}) % 31) % 31) + 1, 1)"
    )


def _org(ch: str) -> int:
    return int(ch) if ch.isdigit() else ord(ch) - 55


def _session_settings() -> str:
    return """
    SET max_parallel_workers_per_gather = 4;
    SET parallel_setup_cost = 100;
    SET work_mem = '256MB';
    SET maintenance_work_mem = '1GB';
    SET synchronous_commit = off;
    SET jit = off;
    """


# Database preparation


def prepare_database(url: str, *, embedded_name: str | None = BENCH_DATABASE, log=print) -> None:
    """Create (embedded only), migrate and load China's divisions when missing."""
    settings = get_settings()
    if embedded_name and settings.embedded and make_url(url).database == embedded_name:
        embedded_db.start(settings)
        embedded_db.ensure_database(settings, embedded_name)
    migrate.upgrade(url)
    engine = create_engine(url)
    try:
        _, code_version = read_index()
        with engine.begin() as connection:
            loaded = connection.execute(
                text("SELECT count(*) FROM regions WHERE code_version = :v AND is_leaf"),
                {"v": code_version},
            ).scalar_one()
            if loaded < 2800:
                log("loading all of China's divisions (about 100 s) …")
                report = load_regions(connection)
                log(
                    f"loaded {report.regions} regions ({report.leaves} leaves) "
                    f"in {report.seconds:.0f} s"
                )
    finally:
        engine.dispose()


def ensure_grids(
    url: str,
    conn: psycopg.Connection,
    *,
    counties: int,
    size_m: int,
    max_area_km2: float = GRID_MAX_AREA_KM2,
    log,
) -> None:
    """Give the `counties` urban counties (≤ max_area_km2) with the most enterprises a
    generated square grid; other generated grids are removed. Idempotent."""
    chosen = [
        row[0]
        for row in conn.execute(
            f"SELECT code FROM {STAGE}.counties WHERE area_km2 <= {float(max_area_km2)} "
            f"ORDER BY w_e DESC, code LIMIT {max(int(counties), 0)}"
        )
    ]
    have = {
        row[0]
        for row in conn.execute(
            "SELECT DISTINCT county_code FROM grid_cells WHERE source = 'generated' "
            f"AND cell_size_m = {int(size_m)}"
        )
    }
    stale = conn.execute(
        "DELETE FROM grid_cells WHERE source = 'generated' AND NOT (county_code = ANY(%s) "
        "AND cell_size_m = %s)",
        (chosen, size_m),
    ).rowcount
    missing = [code for code in chosen if code not in have]
    if not missing:
        log(
            f"grids present in {len(chosen)} counties"
            + (f" ({stale} stale cells removed)" if stale else "")
        )
        return
    from app.regions.grids import generate_grid

    engine = create_engine(url)
    try:
        with Session(engine) as session:
            cells = sum(
                generate_grid(session, county_code=code, cell_size_m=size_m) for code in missing
            )
            session.commit()
    finally:
        engine.dispose()
    log(
        f"generated {cells} grid cells of {size_m} m in {len(missing)} counties"
        + (f" ({stale} stale cells removed)" if stale else "")
    )


# Static tables (a few dozen rows of constants from geodata/demo)


def _demo(name: str) -> dict:
    return json.loads((GEODATA_DIR / "demo" / f"{name}.json").read_text(encoding="utf-8"))


def _lec_scores() -> dict[str, list[float]]:
    """Every L×E×C product of the LEC tables, by the level it grades to."""
    factors = methods.lec_factors()
    scores: dict[str, set[float]] = {level: set() for level in LEVELS_LOW_TO_HIGH}
    for l, e, c in product(factors["L"], factors["E"], factors["C"]):
        d = round(float(l) * e * c, 6)
        scores[methods.lec_level(d)].add(d)
    return {level: sorted(values) for level, values in scores.items()}


def _static_tables_sql() -> str:
    sectors = _demo("sectors")
    common = sectors["common_risk_points"]
    total_weight = sum(s["weight"] for s in sectors["sectors"])
    sector_rows, template_rows = [], []
    cumulative = 0.0
    for sno, sector in enumerate(sectors["sectors"], start=1):
        low = cumulative / total_weight
        cumulative += sector["weight"]
        templates = sector["risk_points"] + common
        sector_rows.append(
            f"({sno}, {lit(sector['name'])}, {low!r}, {lit(sector['terms'])}, "
            f"{lit(sector['name'] in HAZARDOUS_SECTORS)}, {len(templates)})"
        )
        for k, t in enumerate(templates, start=1):
            template_rows.append(
                f"({sno}, {k}, {lit(t['name'])}, {lit(t.get('hazard_type'))}, "
                f"{lit(t.get('measures'))})"
            )
    public = _demo("public")["public_zones"]
    names = _demo("names")
    kinds = [k for k in ZONE_KINDS if k in public]
    kind_weight = sum(public[k]["per_5000"] for k in kinds)
    kind_rows, low = [], 0.0
    for kno, kind in enumerate(kinds, start=1):
        spec = public[kind]
        mix = spec["risk_mix"]
        mix_total = sum(mix.values())
        bounds, acc = [], 0.0
        for level in ("red", "orange", "yellow"):
            acc += mix[level] / mix_total
            bounds.append(round(0.95 * acc, 6))  # 5 % ungraded at the top end
        pattern_key = {
            "school": "school_patterns",
            "hospital": "hospital_patterns",
            "market": "market_patterns",
            "station": "station_patterns",
        }.get(kind)
        patterns = names[pattern_key] if pattern_key else ["{word}{suffix}"]
        cap = spec.get("capacity_ratio") or [None, None]
        kind_rows.append(
            f"({kno}, {lit(kind)}, {lit(spec['label'])}, {low!r}, {spec['population'][0]}, "
            f"{spec['population'][1]}, {cap[0] if cap[0] is not None else 'NULL'}, "
            f"{cap[1] if cap[1] is not None else 'NULL'}, {lit(spec.get('department') or '')}, "
            f"{bounds[0]}, {bounds[1]}, {bounds[2]}, {lit(patterns)})"
        )
        low += spec["per_5000"] / kind_weight
    units = [u for u in _demo("hazard_units")["units"] if u["unit_type"] == "storage"]
    unit_names = [u["name"] for u in units for _ in range(u["weight"])]
    return f"""
    CREATE UNLOGGED TABLE {STAGE}.sectors (sno int PRIMARY KEY, name text, low float8,
        terms text[], hazardous bool, n_templates int);
    INSERT INTO {STAGE}.sectors VALUES {", ".join(sector_rows)};
    CREATE UNLOGGED TABLE {STAGE}.rp_templates (sno int, k int, name text, hazard_type text,
        measures text, PRIMARY KEY (sno, k));
    INSERT INTO {STAGE}.rp_templates VALUES {", ".join(template_rows)};
    CREATE UNLOGGED TABLE {STAGE}.zone_kinds (kno int PRIMARY KEY, kind text, label text,
        low float8, pop_lo int, pop_hi int, cap_lo float8, cap_hi float8, department text,
        b_red float8, b_orange float8, b_yellow float8, patterns text[]);
    INSERT INTO {STAGE}.zone_kinds VALUES {", ".join(kind_rows)};
    CREATE UNLOGGED TABLE {STAGE}.consts AS SELECT
        {lit(list(names["trade_chars"]))} AS trade_chars,
        {lit(list(names["given_chars"]))} AS given_chars,
        {lit(list(names["place_words"]))} AS place_words,
        {lit(list(names["ordinals"]))} AS ordinals,
        {lit(list(names["residential_suffixes"]))} AS res_suffixes,
        {lit(list(names["mobile_prefixes"]))} AS mobile_prefixes,
        {lit(list(SURNAMES))} AS surnames,
        {lit(list(SUFFIXES))} AS suffixes,
        {lit(list(ROADS))} AS roads,
        {lit(list(PARK_KINDS))} AS park_kinds,
        {lit(unit_names)} AS hazard_units;
    """


# Placement


def _largest_remainder(
    table: str,
    weight: str,
    total: str,
    target: str,
    partition: str | None = None,
    key: str = "code",
) -> str:
    """UPDATE table SET target = an integer split of `total` ∝ `weight` (exact sum)."""
    part = partition or "0"
    return f"""
    WITH s AS (SELECT {key} AS k, {part} AS part, {total} AS total, {weight} AS w FROM {table}),
    sh AS (SELECT k, part, total,
                  CASE WHEN sum(w) OVER (PARTITION BY part) > 0
                       THEN total * w / sum(w) OVER (PARTITION BY part) ELSE 0 END AS share
             FROM s),
    f AS (SELECT k, part, total, floor(share)::int AS base, share - floor(share) AS frac FROM sh),
    r AS (SELECT k, base, total - sum(base) OVER (PARTITION BY part) AS missing,
                 row_number() OVER (PARTITION BY part ORDER BY frac DESC, k) AS rk
            FROM f)
    UPDATE {table} t SET {target} = r.base + (r.rk <= r.missing)::int
      FROM r WHERE r.k = t.{key}
    """


def _counties_sql() -> str:
    weights = ", ".join(f"('{code}', {ind}, {pop})" for code, (ind, pop) in PROVINCES.items())
    return f"""
    CREATE UNLOGGED TABLE {STAGE}.counties AS
    WITH w(province_code, ind, pop) AS (VALUES {weights}),
    c AS (
        SELECT r.code, r.name, r.level, r.province_code, r.area_km2, r.geom, r.label_point,
               coalesce(nullif(regexp_replace(r.name, '(自治县|自治旗|林区|新区|特区|县|区|市|旗)$', ''), ''),
                        r.name) AS short,
               w.ind, w.pop,
               CASE WHEN r.level = 'city' THEN 5.0 WHEN r.name ~ '区$' THEN 2.5
                    WHEN r.name ~ '市$' THEN 1.8 ELSE 1.0 END
                 * power(greatest(r.area_km2, 1), 0.35) AS rel_e,
               CASE WHEN r.level = 'city' THEN 4.0 WHEN r.name ~ '区$' THEN 2.0
                    WHEN r.name ~ '市$' THEN 1.5 ELSE 1.0 END
                 * power(greatest(r.area_km2, 1), 0.25) AS rel_z
          FROM public.regions r JOIN w ON w.province_code = r.province_code
         WHERE r.is_leaf AND w.ind > 0)
    SELECT row_number() OVER (ORDER BY code)::int AS idx, code, name, short, level,
           province_code, area_km2, geom, label_point,
           ind * rel_e / sum(rel_e) OVER (PARTITION BY province_code) AS w_e,
           pop * rel_z / sum(rel_z) OVER (PARTITION BY province_code) AS w_z,
           0 AS quota_e, 0 AS quota_z
      FROM c;
    ALTER TABLE {STAGE}.counties ADD PRIMARY KEY (idx);
    """


def _park_groups_sql(salt: int) -> str:
    """Enterprise placement groups: parks (grp ≥ 1) and the county-wide scatter (grp 0)."""
    return f"""
    CREATE UNLOGGED TABLE {STAGE}.parks AS
    WITH k AS (
        SELECT c.idx, c.code, c.short, c.geom, c.quota_e,
               least(8, greatest(1, ceil(c.quota_e / 600.0)))::int AS k
          FROM {STAGE}.counties c WHERE c.quota_e > 0),
    centres AS (
        SELECT k.idx, k.code, k.short, k.k, k.quota_e, d.geom AS centre,
               row_number() OVER (PARTITION BY k.idx
                                  ORDER BY pg_temp.u((d.path)[1], {salt} + k.idx), (d.path)[1])
                 AS park_no
          FROM k, LATERAL ST_Dump(ST_GeneratePoints(
                    k.geom, k.k + ST_NumGeometries(k.geom) + 2, pg_temp.iseed(k.idx, {salt}))) d)
    SELECT c.idx, c.code, c.park_no::int AS park_no, c.centre,
           800 + 2200 * pg_temp.u(c.idx * 16 + c.park_no, {salt + 1}) AS radius_m,
           c.short || pg_temp.pick(k.park_kinds, pg_temp.u(c.idx * 16 + c.park_no, {salt + 2}))
             AS name,
           round(c.quota_e * 0.75) AS in_parks, power(c.park_no, -0.8) AS weight, 0 AS n
      FROM centres c, {STAGE}.consts k
     WHERE c.park_no <= c.k;
    ALTER TABLE {STAGE}.parks ADD COLUMN pk text;
    UPDATE {STAGE}.parks SET pk = idx || '/' || park_no;
    {_largest_remainder(f"{STAGE}.parks", "weight", "in_parks", "n", partition="idx", key="pk")};
    CREATE UNLOGGED TABLE {STAGE}.e_groups AS
    SELECT p.idx, p.park_no AS grp, p.n,
           CASE WHEN a.area IS NULL OR ST_IsEmpty(a.area) OR ST_Area(a.area) = 0
                THEN c.geom ELSE a.area END AS area
      FROM {STAGE}.parks p
      JOIN {STAGE}.counties c USING (idx)
      LEFT JOIN LATERAL (
          SELECT ST_Multi(ST_CollectionExtract(ST_Union(ST_Intersection(rp.geom, b.buf)), 3)) AS area
            FROM (SELECT ST_Buffer(p.centre::geography, p.radius_m, 'quad_segs=8')::geometry
                         AS buf) b
            JOIN public.region_parts rp ON rp.code = p.code AND rp.geom && b.buf) a ON true
     WHERE p.n > 0
    UNION ALL
    SELECT c.idx, 0, c.quota_e - coalesce((SELECT sum(p.n) FROM {STAGE}.parks p
                                            WHERE p.idx = c.idx), 0)::int, c.geom
      FROM {STAGE}.counties c WHERE c.quota_e > 0;
    """


def _zone_groups_sql(salt: int) -> str:
    """Public-zone placement groups: around the county's label point (1) and scatter (0)."""
    return f"""
    CREATE UNLOGGED TABLE {STAGE}.z_groups AS
    WITH seat AS (
        SELECT c.idx, c.code, c.geom, c.quota_z, round(c.quota_z * 0.6)::int AS n1,
               ST_Buffer(c.label_point::geography,
                         3000 + 5000 * pg_temp.u(c.idx, {salt}), 'quad_segs=8')::geometry AS buf
          FROM {STAGE}.counties c WHERE c.quota_z > 0)
    SELECT s.idx, 1 AS grp, s.n1 AS n,
           CASE WHEN a.area IS NULL OR ST_IsEmpty(a.area) OR ST_Area(a.area) = 0
                THEN s.geom ELSE a.area END AS area
      FROM seat s
      LEFT JOIN LATERAL (
          SELECT ST_Multi(ST_CollectionExtract(ST_Union(ST_Intersection(rp.geom, s.buf)), 3)) AS area
            FROM public.region_parts rp WHERE rp.code = s.code AND rp.geom && s.buf) a ON true
     WHERE s.n1 > 0
    UNION ALL
    SELECT s.idx, 0, s.quota_z - s.n1, s.geom FROM seat s WHERE s.quota_z - s.n1 > 0;
    """


def _points_sql(prefix: str, salt: int) -> str:
    """{prefix}_pts(i, idx, grp, geom): exactly n points per group, numbered 1…N in order.

    ST_GeneratePoints splits a MultiPolygon's points by rounded area shares, so it may
    return fewer than asked: ask for n + parts + 2 and keep a hashed-order sample of n.
    """
    return f"""
    CREATE UNLOGGED TABLE {STAGE}.{prefix}_cand AS
    SELECT g.idx, g.grp, (d.path)[1] AS k, d.geom
      FROM {STAGE}.{prefix}_groups g,
           LATERAL ST_Dump(ST_GeneratePoints(g.area, g.n + ST_NumGeometries(g.area) + 2,
                                             pg_temp.iseed(g.idx * 16 + g.grp, {salt}))) d
     WHERE g.n > 0;
    CREATE UNLOGGED TABLE {STAGE}.{prefix}_pts AS
    SELECT row_number() OVER (ORDER BY s.idx, s.grp, s.r) AS i, s.idx, s.grp, s.geom
      FROM (SELECT c.*, row_number() OVER (
                       PARTITION BY c.idx, c.grp
                       ORDER BY pg_temp.u(c.k, {salt + 1} + c.idx * 16 + c.grp), c.k) AS r
              FROM {STAGE}.{prefix}_cand c) s
      JOIN {STAGE}.{prefix}_groups g ON g.idx = s.idx AND g.grp = s.grp
     WHERE s.r <= g.n;
    DROP TABLE {STAGE}.{prefix}_cand;
    ANALYZE {STAGE}.{prefix}_pts;
    """


def _lookup_sql(source: str, key: str) -> str:
    """{source}_loc(key, county_code, grid_code): what assign_region_codes() would set for
    every (point) row of {source}: the least region_parts.code / grid_cells.code whose
    geometry intersects the point (the trigger's ORDER BY code LIMIT 1).

    Set-based and parallel: the points get a GiST index and each part is joined to the
    points inside it, so consecutive ST_Intersects calls share one polygon and PostGIS's
    prepared-geometry cache applies (about 4× faster than one lookup per point).
    """
    return f"""
    CREATE INDEX ON {STAGE}.{source} USING gist (geom);
    ANALYZE {STAGE}.{source};
    CREATE UNLOGGED TABLE {STAGE}.{source}_c AS
    SELECT s.{key}, min(p.code) AS code
      FROM {STAGE}.parts p JOIN {STAGE}.{source} s
        ON s.geom && p.geom AND ST_Intersects(p.geom, s.geom)
     GROUP BY s.{key};
    CREATE UNLOGGED TABLE {STAGE}.{source}_g AS
    SELECT s.{key}, min(g.code) AS code
      FROM {STAGE}.cells g JOIN {STAGE}.{source} s
        ON s.geom && g.geom AND ST_Intersects(g.geom, s.geom)
     GROUP BY s.{key};
    CREATE UNLOGGED TABLE {STAGE}.{source}_loc AS
    SELECT s.{key}, c.code AS county_code, g.code AS grid_code
      FROM {STAGE}.{source} s
      LEFT JOIN {STAGE}.{source}_c c USING ({key})
      LEFT JOIN {STAGE}.{source}_g g USING ({key});
    DROP TABLE {STAGE}.{source}_c, {STAGE}.{source}_g;
    ALTER TABLE {STAGE}.{source}_loc ADD PRIMARY KEY ({key});
    ANALYZE {STAGE}.{source}_loc;
    """


def _lookup_tables_sql() -> str:
    """Copies of region_parts and grid_cells that parallel scans may split between workers."""
    return f"""
    CREATE UNLOGGED TABLE {STAGE}.parts WITH (parallel_workers = {PARALLEL_WORKERS}) AS
    SELECT code, geom FROM public.region_parts;
    CREATE UNLOGGED TABLE {STAGE}.cells WITH (parallel_workers = {PARALLEL_WORKERS}) AS
    SELECT code, geom FROM public.grid_cells;
    ANALYZE {STAGE}.parts;
    ANALYZE {STAGE}.cells;
    """


def _level_case(u: str, bounds, levels=("red", "orange", "yellow", "blue")) -> str:
    whens = " ".join(f"WHEN {u} < {b} THEN '{lvl}'" for b, lvl in zip(bounds, levels))
    return f"CASE {whens} END"


def _enterprise_rows_sql(salt: int) -> str:
    sector_bounds = f"(SELECT array_agg(low ORDER BY sno) FROM {STAGE}.sectors WHERE sno > 1)"
    return f"""
    {_lookup_sql("e_pts", "i")}
    CREATE UNLOGGED TABLE {STAGE}.e_rows AS
    WITH loc AS (
        SELECT p.i, p.idx, p.grp, p.geom, l.county_code, l.grid_code
          FROM {STAGE}.e_pts p JOIN {STAGE}.e_pts_loc l USING (i)),
    attrs AS (
        SELECT l.*, width_bucket(pg_temp.u(l.i, {salt}), b.bounds) + 1 AS sno,
               pg_temp.u(l.i, {salt + 1}) AS u_level
          FROM loc l, (SELECT {sector_bounds} AS bounds) b)
    SELECT a.i AS id, a.idx, a.grp, a.geom, a.county_code, a.grid_code, s.sno,
           s.name AS sector,
           c.short || pg_temp.pick(k.trade_chars, pg_temp.u(a.i, {salt + 2}))
                   || pg_temp.pick(k.trade_chars, pg_temp.u(a.i, {salt + 3}))
                   || pg_temp.pick(s.terms, pg_temp.u(a.i, {salt + 4}))
                   || pg_temp.pick(k.suffixes, pg_temp.u(a.i, {salt + 5})) AS name,
           CASE WHEN a.county_code IS NOT NULL THEN pg_temp.credit_code(a.county_code, a.i) END
             AS credit_code,
           c.name || pg_temp.pick(k.roads, pg_temp.u(a.i, {salt + 6}))
                  || (1 + floor(pg_temp.u(a.i, {salt + 7}) * 400))::int || '号' AS address,
           pk.name AS park,
           (5 + floor(2995 * power(pg_temp.u(a.i, {salt + 8}), 3)))::int AS employees,
           {_level_case("a.u_level", ENTERPRISE_LEVEL_BOUNDS)} AS risk_level,
           pg_temp.pick(k.surnames, pg_temp.u(a.i, {salt + 9}))
             || pg_temp.pick(k.given_chars, pg_temp.u(a.i, {salt + 10}))
             || CASE WHEN pg_temp.u(a.i, {salt + 11}) < 0.6
                     THEN pg_temp.pick(k.given_chars, pg_temp.u(a.i, {salt + 12})) ELSE '' END
             AS responsible_person,
           pg_temp.pick(k.mobile_prefixes, pg_temp.u(a.i, {salt + 13}))
             || lpad(floor(pg_temp.u(a.i, {salt + 14}) * 1e8)::bigint::text, 8, '0')
             AS responsible_phone
      FROM attrs a
      JOIN {STAGE}.sectors s ON s.sno = a.sno
      JOIN {STAGE}.counties c ON c.idx = a.idx
      LEFT JOIN {STAGE}.parks pk ON pk.idx = a.idx AND pk.park_no = a.grp
      CROSS JOIN {STAGE}.consts k;
    """


def _fallback_sql(table: str, fallback_geom: str, extra_set: str = "", join: str = "") -> str:
    """Rows whose candidate point no region_part contains (none expected) move to a point
    that one does, and are looked up again."""
    return f"""
    UPDATE {STAGE}.{table} t
       SET geom = {fallback_geom},
           county_code = pg_temp.county_of({fallback_geom}),
           grid_code = pg_temp.grid_of({fallback_geom}) {extra_set}
      {join}
       AND t.county_code IS NULL
    """


def _graded_sql() -> str:
    return f"""
    CREATE UNLOGGED TABLE {STAGE}.graded AS
    SELECT row_number() OVER (ORDER BY e.id) AS gi, e.id, e.sno, s.hazardous,
           array_position({lit(list(LEVELS_LOW_TO_HIGH))}, e.risk_level::text) AS rank,
           e.geom, e.county_code, e.grid_code
      FROM {STAGE}.e_rows e JOIN {STAGE}.sectors s USING (sno)
     WHERE e.risk_level IS NOT NULL;
    ALTER TABLE {STAGE}.graded ADD PRIMARY KEY (gi);
    """


def _offset_point(base: str, dist: str, az: str) -> str:
    return (
        f"ST_SetSRID(ST_MakePoint("
        f"ST_X({base}) + {dist} * cos({az}) / (111320 * cos(radians(ST_Y({base})))), "
        f"ST_Y({base}) + {dist} * sin({az}) / 110574), 4326)"
    )


def _risk_point_rows_sql(total: int, graded: int, salt: int) -> str:
    anchors = min(total, graded)
    scores = _lec_scores()
    score_case = (
        "CASE m.rank "
        + " ".join(
            f"WHEN {rank} THEN ({lit(scores[level])})"
            f"[1 + floor(pg_temp.u(m.j, {salt + 5}) * {len(scores[level])})::int]"
            for rank, level in enumerate(LEVELS_LOW_TO_HIGH, start=1)
        )
        + " END"
    )
    return f"""
    CREATE UNLOGGED TABLE {STAGE}.rp_src AS
    SELECT j, CASE WHEN j <= {anchors} THEN j
                   ELSE 1 + floor(pg_temp.u(j, {salt}) * {graded})::bigint END AS gi,
           j <= {anchors} AS anchor
      FROM generate_series(1, {total}::bigint) j;
    ANALYZE {STAGE}.rp_src;
    CREATE UNLOGGED TABLE {STAGE}.rp_moved AS
    WITH src AS (
        SELECT s.j, g.id AS enterprise_id, g.geom AS e_geom, g.county_code AS e_county,
               g.grid_code AS e_grid, g.sno,
               CASE WHEN s.anchor THEN g.rank
                    ELSE 1 + floor(g.rank * power(pg_temp.u(s.j, {salt + 1}), 1.6))::int END
                 AS rank,
               1 + floor(pg_temp.u(s.j, {salt + 2}) * sec.n_templates)::int AS tk,
               15 + 250 * pg_temp.u(s.j, {salt + 3}) AS dist,
               2 * pi() * pg_temp.u(s.j, {salt + 4}) AS az
          FROM {STAGE}.rp_src s
          JOIN {STAGE}.graded g ON g.gi = s.gi
          JOIN {STAGE}.sectors sec ON sec.sno = g.sno)
    SELECT src.*, {_offset_point("src.e_geom", "src.dist", "src.az")} AS geom FROM src;
    ANALYZE {STAGE}.rp_moved;
    {_lookup_sql("rp_moved", "j")}
    CREATE UNLOGGED TABLE {STAGE}.rp_rows AS
    WITH loc AS (SELECT m.*, l.county_code, l.grid_code
                   FROM {STAGE}.rp_moved m JOIN {STAGE}.rp_moved_loc l USING (j))
    SELECT m.j, m.enterprise_id,
           CASE WHEN m.county_code IS NULL THEN m.e_geom ELSE m.geom END AS geom,
           coalesce(m.county_code, m.e_county) AS county_code,
           CASE WHEN m.county_code IS NULL THEN m.e_grid ELSE m.grid_code END AS grid_code,
           m.county_code IS NULL AS fell_back,
           t.name, t.hazard_type, t.measures AS control_measures,
           {score_case} AS score,
           ({lit(list(LEVELS_LOW_TO_HIGH))})[m.rank] AS risk_level,
           pg_temp.pick(k.surnames, pg_temp.u(m.j, {salt + 6}))
             || pg_temp.pick(k.given_chars, pg_temp.u(m.j, {salt + 7})) AS responsible_person
      FROM loc m
      JOIN {STAGE}.rp_templates t ON t.sno = m.sno AND t.k = m.tk
      CROSS JOIN {STAGE}.consts k;
    ANALYZE {STAGE}.rp_rows;
    """


def _hazard_rows_sql(total: int, salt: int) -> str:
    g1, g2, g3 = HAZARD_GRADE_BOUNDS
    r_case = (
        "CASE x.grade "
        + " ".join(
            f"WHEN {grade} THEN {lo} + {hi - lo} * pg_temp.u(x.j, {salt + 5})"
            for grade, (lo, hi) in HAZARD_R_BANDS.items()
        )
        + " END"
    )
    return f"""
    CREATE UNLOGGED TABLE {STAGE}.hz_red AS
    SELECT row_number() OVER (ORDER BY id) AS pi, id FROM {STAGE}.graded
     WHERE rank = 4 AND (hazardous OR NOT EXISTS (
           SELECT 1 FROM {STAGE}.graded WHERE rank = 4 AND hazardous));
    CREATE UNLOGGED TABLE {STAGE}.hz_any AS
    SELECT row_number() OVER (ORDER BY id) AS pi, id FROM {STAGE}.graded
     WHERE hazardous OR NOT EXISTS (SELECT 1 FROM {STAGE}.graded WHERE hazardous);
    ANALYZE {STAGE}.hz_red;
    ANALYZE {STAGE}.hz_any;
    CREATE UNLOGGED TABLE {STAGE}.hz_moved AS
    WITH n AS (SELECT (SELECT count(*) FROM {STAGE}.hz_red) AS red,
                      (SELECT count(*) FROM {STAGE}.hz_any) AS anyp),
    src AS (
        SELECT j, pg_temp.u(j, {salt}) AS ug, pg_temp.u(j, {salt + 1}) AS up
          FROM generate_series(1, {total}::bigint) j),
    graded AS (
        SELECT s.j, s.up, n.red, n.anyp,
               CASE WHEN s.ug < {g2} AND n.red > 0 THEN CASE WHEN s.ug < {g1} THEN 1 ELSE 2 END
                    WHEN s.ug < {g3} THEN 3 ELSE 4 END AS grade
          FROM src s, n),
    x AS (
        SELECT gr.j, gr.grade, coalesce(r.id, a.id) AS enterprise_id
          FROM graded gr
          LEFT JOIN {STAGE}.hz_red r
                 ON gr.grade <= 2 AND r.pi = 1 + floor(gr.up * gr.red)::bigint
          LEFT JOIN {STAGE}.hz_any a
                 ON gr.grade > 2 AND a.pi = 1 + floor(gr.up * gr.anyp)::bigint),
    moved AS (
        SELECT x.*, e.geom AS e_geom, e.county_code AS e_county, e.grid_code AS e_grid,
               {
        _offset_point(
            "e.geom",
            f"(10 + 140 * pg_temp.u(x.j, {salt + 2}))",
            f"(2 * pi() * pg_temp.u(x.j, {salt + 3}))",
        )
    } AS geom
          FROM x JOIN {STAGE}.e_rows e ON e.id = x.enterprise_id)
    SELECT * FROM moved;
    ANALYZE {STAGE}.hz_moved;
    {_lookup_sql("hz_moved", "j")}
    CREATE UNLOGGED TABLE {STAGE}.hz_rows AS
    WITH loc AS (SELECT m.*, l.county_code, l.grid_code
                   FROM {STAGE}.hz_moved m JOIN {STAGE}.hz_moved_loc l USING (j))
    SELECT x.j, x.enterprise_id, x.grade,
           CASE WHEN x.county_code IS NULL THEN x.e_geom ELSE x.geom END AS geom,
           coalesce(x.county_code, x.e_county) AS county_code,
           CASE WHEN x.county_code IS NULL THEN x.e_grid ELSE x.grid_code END AS grid_code,
           x.county_code IS NULL AS fell_back,
           pg_temp.pick(k.hazard_units, pg_temp.u(x.j, {salt + 4})) AS name,
           round(({r_case})::numeric, 2)::float8 AS r_value,
           ({lit(["red", "orange", "yellow", "blue"])})[x.grade] AS risk_level,
           pg_temp.pick(k.surnames, pg_temp.u(x.j, {salt + 6}))
             || pg_temp.pick(k.given_chars, pg_temp.u(x.j, {salt + 7})) AS responsible_person
      FROM loc x CROSS JOIN {STAGE}.consts k;
    ANALYZE {STAGE}.hz_rows;
    """


def _zone_rows_sql(salt: int) -> str:
    kind_bounds = f"(SELECT array_agg(low ORDER BY kno) FROM {STAGE}.zone_kinds WHERE kno > 1)"
    return f"""
    {_lookup_sql("z_pts", "i")}
    CREATE UNLOGGED TABLE {STAGE}.z_rows AS
    WITH loc AS (
        SELECT p.i, p.idx, p.grp, p.geom, l.county_code, l.grid_code
          FROM {STAGE}.z_pts p JOIN {STAGE}.z_pts_loc l USING (i)),
    attrs AS (
        SELECT l.*, width_bucket(pg_temp.u(l.i, {salt}), b.bounds) + 1 AS kno,
               pg_temp.u(l.i, {salt + 1}) AS u_level, pg_temp.u(l.i, {salt + 2}) AS u_pop
          FROM loc l, (SELECT {kind_bounds} AS bounds) b)
    SELECT a.i AS id, a.idx, a.geom, a.county_code, a.grid_code, z.kind,
           replace(replace(replace(replace(
               pg_temp.pick(z.patterns, pg_temp.u(a.i, {salt + 3})),
               '{{county}}', c.short),
               '{{n}}', pg_temp.pick(k.ordinals, pg_temp.u(a.i, {salt + 4}))),
               '{{word}}', pg_temp.pick(k.place_words, pg_temp.u(a.i, {salt + 5}))),
               '{{suffix}}', pg_temp.pick(k.res_suffixes, pg_temp.u(a.i, {salt + 6}))) AS name,
           (z.pop_lo + floor((z.pop_hi - z.pop_lo) * a.u_pop))::int AS population,
           CASE WHEN z.cap_lo IS NOT NULL THEN
               ((z.pop_lo + floor((z.pop_hi - z.pop_lo) * a.u_pop))
                * (z.cap_lo + (z.cap_hi - z.cap_lo) * pg_temp.u(a.i, {salt + 7})))::int END
             AS capacity,
           c.name || pg_temp.pick(k.roads, pg_temp.u(a.i, {salt + 8}))
                  || (1 + floor(pg_temp.u(a.i, {salt + 9}) * 400))::int || '号' AS address,
           c.short || z.department AS managing_department,
           CASE WHEN a.u_level < z.b_red THEN 'red' WHEN a.u_level < z.b_orange THEN 'orange'
                WHEN a.u_level < z.b_yellow THEN 'yellow' WHEN a.u_level < 0.95 THEN 'blue'
           END AS risk_level
      FROM attrs a
      JOIN {STAGE}.zone_kinds z ON z.kno = a.kno
      JOIN {STAGE}.counties c ON c.idx = a.idx
      CROSS JOIN {STAGE}.consts k;
    ANALYZE {STAGE}.z_rows;
    """


# Loading into the real tables


def _insert_with_triggers_off(conn: psycopg.Connection, table: str, sql: str) -> int:
    """Run one INSERT … SELECT with the table's region-code row trigger, its count and
    tile-cell triggers and its deferred layer-version trigger disabled, re-enabled in the
    same transaction (so a failure leaves them on). The deferred trigger must be off too:
    its queued events would forbid re-enabling ("pending trigger events")."""
    triggers = [
        f"{table}_region_codes",
        f"{table}_layer_versions",
        *(f"{table}_{kind}_{event}" for kind in ("counts", "tiles") for event in EVENTS),
    ]
    with conn.transaction():
        for trigger in triggers:
            conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
        rows = conn.execute(sql).rowcount
        for trigger in triggers:
            conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}")
    return rows


def _insert_on_cluster(conn: psycopg.Connection, sql: str) -> int:
    """Run one INSERT … SELECT into a distributed table with every trigger on.

    Citus sends the rows to the shards in batches; there the row trigger checks and codes
    each row and the statement triggers add a batch's counts and tile cells, on both
    workers at once, so nothing needs switching off (nor a recount).
    """
    with conn.transaction():
        return conn.execute(sql).rowcount


def is_distributed(conn: psycopg.Connection) -> bool:
    """Whether migration 0020 distributed this database (Citus installed in it)."""
    row = conn.execute("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')")
    return bool(row.fetchone()[0])


def _insert_sqls(rule: dict, *, distributed: bool = False) -> dict[str, str]:
    """The loading statements. On a distributed database an enterprise's risk points and
    hazard sources take its county (docs/scaling.md §1.2: they share its shard)."""
    forcing = lit([float(g) for g in rule["hazard_source_grades_forcing_red"]])
    child_county = (
        f"(SELECT o.county_code FROM {STAGE}.e_rows o WHERE o.id = {{alias}}.enterprise_id)"
        if distributed
        else "{alias}.county_code"
    )
    return {
        "enterprises": f"""
            INSERT INTO enterprises (id, name, credit_code, sector, address, park, employees,
                risk_level, level_basis, responsible_person, responsible_phone,
                county_code, grid_code, geom)
            SELECT e.id, e.name, e.credit_code, e.sector, e.address, e.park, e.employees,
                   e.risk_level,
                   CASE WHEN e.risk_level IS NOT NULL THEN jsonb_build_object(
                       'rule', {lit(methods.ruleset_version())}, 'highest_risk_point', e.risk_level,
                       'red_hazard_source', r.enterprise_id IS NOT NULL,
                       'open_major_danger', false) END,
                   e.responsible_person, e.responsible_phone, e.county_code, e.grid_code, e.geom
              FROM {STAGE}.e_rows e
              LEFT JOIN (SELECT DISTINCT enterprise_id FROM {STAGE}.hz_rows
                          WHERE grade = ANY({forcing})) r ON r.enterprise_id = e.id
             ORDER BY e.id""",
        "risk_points": f"""
            INSERT INTO risk_points (id, enterprise_id, name, hazard_type, control_measures,
                method, inputs, score, risk_level, responsible_person,
                county_code, grid_code, geom)
            SELECT row_number() OVER (ORDER BY r.enterprise_id, r.j), r.enterprise_id, r.name,
                   r.hazard_type, r.control_measures, 'lec', '{{}}'::jsonb, r.score,
                   r.risk_level, r.responsible_person, {child_county.format(alias="r")},
                   r.grid_code, r.geom
              FROM {STAGE}.rp_rows r ORDER BY r.enterprise_id, r.j""",
        "hazard_sources": f"""
            INSERT INTO hazard_sources (id, enterprise_id, name, unit_type, substances,
                r_value, grade, risk_level, responsible_person, county_code, grid_code, geom)
            SELECT row_number() OVER (ORDER BY h.enterprise_id, h.j), h.enterprise_id, h.name,
                   'storage', '[]'::jsonb, h.r_value, h.grade, h.risk_level,
                   h.responsible_person, {child_county.format(alias="h")}, h.grid_code, h.geom
              FROM {STAGE}.hz_rows h ORDER BY h.enterprise_id, h.j""",
        "public_zones": f"""
            INSERT INTO public_zones (id, name, kind, population, capacity, address,
                managing_department, risk_level, county_code, grid_code, geom)
            SELECT z.id, z.name, z.kind, z.population, z.capacity, z.address,
                   z.managing_department, z.risk_level, z.county_code, z.grid_code, z.geom
              FROM {STAGE}.z_rows z ORDER BY z.id""",
    }


def verify_region_codes(conn: psycopg.Connection, sample: int) -> dict[str, tuple[int, int]]:
    """Fire the real assign_region_codes trigger on `sample` rows of each table (half of
    them gridded) in a rolled-back transaction; return {table: (checked, mismatches)}."""
    results = {}
    for table in LOCATED:
        total = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        if not total or sample <= 0:
            results[table] = (0, 0)
            continue
        step = max(1, total // sample)
        try:
            with conn.transaction():
                conn.execute(f"""
                    CREATE TEMP TABLE chk ON COMMIT DROP AS
                    (SELECT id, county_code, grid_code FROM {table} WHERE id % {step} = 0
                     LIMIT {sample})
                    UNION
                    (SELECT id, county_code, grid_code FROM {table}
                      WHERE grid_code IS NOT NULL ORDER BY id LIMIT {max(1, sample // 2)})""")
                row = conn.execute(f"""
                    WITH u AS (UPDATE {table} t SET geom = t.geom
                                WHERE t.id IN (SELECT id FROM chk)
                            RETURNING t.id, t.county_code, t.grid_code)
                    SELECT count(*), count(*) FILTER (
                               WHERE (u.county_code, u.grid_code)
                                     IS DISTINCT FROM (c.county_code, c.grid_code))
                      FROM u JOIN chk c USING (id)""").fetchone()
                results[table] = (row[0], row[1])
                raise psycopg.Rollback
        except psycopg.Rollback:
            pass
    return results


# The generator


def generate(
    url: str,
    scale: Scale,
    *,
    seed: int = 1,
    truncate: bool = False,
    grid_counties: int = 40,
    grid_size: int = 1000,
    verify: int = 2000,
    keep_stage: bool = False,
    log: Progress | None = None,
) -> dict:
    """Generate the national data set into the (prepared) database at `url`."""
    log = log or Progress()
    if scale.hazard_sources and not scale.enterprises:
        raise SystemExit("hazard sources and risk points need enterprises")
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute(_session_settings())
        existing = {
            t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in (*LOCATED, "hidden_dangers", "emergency_resources")
        }
        if any(existing.values()):
            if not truncate:
                raise SystemExit(
                    f"the database already holds data {existing}; pass --truncate to replace it"
                )
            conn.execute(
                "TRUNCATE enterprises, risk_points, hazard_sources, public_zones, "
                "hidden_dangers, emergency_resources, assessments, region_counts, "
                "region_count_snapshots RESTART IDENTITY CASCADE"
            )
            log(f"truncated {existing}")
        conn.execute(f"DROP SCHEMA IF EXISTS {STAGE} CASCADE")
        conn.execute(f"CREATE SCHEMA {STAGE}")
        conn.execute(_helpers(seed))
        conn.execute(_static_tables_sql())
        conn.execute(_counties_sql())
        _analyze(conn, "sectors", "rp_templates", "zone_kinds", "consts", "counties")
        conn.execute(
            _largest_remainder(
                f"{STAGE}.counties", "w_e", str(scale.enterprises), "quota_e", key="idx"
            )
        )
        conn.execute(
            _largest_remainder(
                f"{STAGE}.counties", "w_z", str(scale.public_zones), "quota_z", key="idx"
            )
        )
        counties = conn.execute(
            f"SELECT count(*), count(*) FILTER (WHERE quota_e > 0) FROM {STAGE}.counties"
        ).fetchone()
        log(f"county weights: {counties[0]} counties, {counties[1]} with enterprises")
        ensure_grids(url, conn, counties=grid_counties, size_m=grid_size, log=log)
        conn.execute(_lookup_tables_sql())

        # Enterprises: parks + scatter → exact points → parallel lookup + attributes.
        conn.execute(_park_groups_sql(salt=100))
        _analyze(conn, "parks", "e_groups")
        parks = conn.execute(f"SELECT count(*) FROM {STAGE}.parks").fetchone()[0]
        log(f"{parks} industrial parks placed")
        conn.execute(_points_sql("e", salt=200))
        _check_count(conn, "e_pts", scale.enterprises)
        log(f"{scale.enterprises} enterprise locations generated")
        conn.execute(_enterprise_rows_sql(salt=300))
        fell_back = conn.execute(
            _fallback_sql(
                "e_rows",
                "c.label_point",
                extra_set=", credit_code = pg_temp.credit_code("
                "pg_temp.county_of(c.label_point), t.id)",
                join=f"FROM {STAGE}.counties c WHERE c.idx = t.idx",
            )
        ).rowcount
        conn.execute(f"ALTER TABLE {STAGE}.e_rows ADD PRIMARY KEY (id)")
        _analyze(conn, "e_rows")
        log(
            f"enterprise rows staged (region lookup in parallel; {fell_back} moved to a "
            f"label point)"
        )
        conn.execute(_graded_sql())
        _analyze(conn, "graded")
        graded = conn.execute(f"SELECT count(*) FROM {STAGE}.graded").fetchone()[0]

        conn.execute(
            _risk_point_rows_sql(scale.risk_points, graded, salt=400)
            if graded
            else f"CREATE UNLOGGED TABLE {STAGE}.rp_rows AS SELECT NULL::bigint AS j WHERE false"
        )
        rp_fell = (
            conn.execute(
                f"SELECT count(*) FILTER (WHERE fell_back) FROM {STAGE}.rp_rows"
            ).fetchone()[0]
            if graded
            else 0
        )
        log(
            f"{scale.risk_points} risk point rows staged ({rp_fell} kept their enterprise's "
            f"point: the offset left every region)"
        )
        conn.execute(_hazard_rows_sql(scale.hazard_sources, salt=500))
        hz_fell = conn.execute(
            f"SELECT count(*) FILTER (WHERE fell_back) FROM {STAGE}.hz_rows"
        ).fetchone()[0]
        log(
            f"{scale.hazard_sources} hazard source rows staged ({hz_fell} at their "
            f"enterprise's point)"
        )
        conn.execute(_zone_groups_sql(salt=600))
        _analyze(conn, "z_groups")
        conn.execute(_points_sql("z", salt=700))
        _check_count(conn, "z_pts", scale.public_zones)
        conn.execute(_zone_rows_sql(salt=800))
        z_fell = conn.execute(
            _fallback_sql(
                "z_rows", "c.label_point", join=f"FROM {STAGE}.counties c WHERE c.idx = t.idx"
            )
        ).rowcount
        log(f"{scale.public_zones} public zone rows staged ({z_fell} moved to a label point)")
        missing = conn.execute(f"""
            SELECT (SELECT count(*) FROM {STAGE}.e_rows WHERE county_code IS NULL)
                 + (SELECT count(*) FROM {STAGE}.z_rows WHERE county_code IS NULL)""").fetchone()[0]
        if missing:
            raise SystemExit(f"{missing} staged rows have no county")
        staged = log.elapsed

        # Load: on one PostgreSQL the row trigger and the count triggers are off for the bulk
        # inserts only; on Citus they stay on (they run on the workers, in parallel).
        distributed = is_distributed(conn)
        inserts = _insert_sqls(grading.enterprise_rule(), distributed=distributed)
        for table in LOCATED:
            if table == "risk_points" and not graded:
                continue
            rows = (
                _insert_on_cluster(conn, inserts[table])
                if distributed
                else _insert_with_triggers_off(conn, table, inserts[table])
            )
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"greatest((SELECT max(id) FROM {table}), 1))"
            )
            log(f"inserted {rows} {table}")
        for table in LOCATED:
            conn.execute(f"ANALYZE {table}")
        log("analyzed")
        started = time.perf_counter()
        conn.execute("SELECT rebuild_region_counts()")
        rebuild_s = time.perf_counter() - started
        conn.execute("ANALYZE region_counts")
        count_rows = conn.execute("SELECT count(*) FROM region_counts").fetchone()[0]
        log(f"rebuild_region_counts(): {count_rows} count rows in {rebuild_s:.1f} s")
        started = time.perf_counter()
        conn.execute("SELECT rebuild_tile_cells()")
        conn.execute("ANALYZE tile_cells")
        cell_rows = conn.execute("SELECT count(*) FROM tile_cells").fetchone()[0]
        log(f"rebuild_tile_cells(): {cell_rows} cell rows in {time.perf_counter() - started:.1f} s")
        if not distributed:  # the loads bypassed the layer-version triggers: bump once
            conn.execute(
                "WITH bumped AS (UPDATE layer_versions SET version = version + 1"
                " WHERE layer = ANY(%s) RETURNING layer, version)"
                " SELECT pg_notify('riskatlas_layers', layer || '=' || version) FROM bumped",
                (list(LOCATED),),
            )
        generated = log.elapsed

        # On Citus the real trigger coded every row already: nothing to compare.
        checks = verify_region_codes(conn, 0 if distributed else verify)
        codes = [
            row[0]
            for row in conn.execute(
                f"SELECT credit_code FROM enterprises WHERE id % {max(1, scale.enterprises // 1000)} = 0"
            )
        ]
        invalid = [c for c in codes if not (is_valid_credit_code(c) and is_valid_org_code(c[8:17]))]
        duplicates = conn.execute(
            "SELECT count(*) - count(DISTINCT credit_code) FROM enterprises"
        ).fetchone()[0]
        log(f"credit codes: {len(codes)} checked, {len(invalid)} invalid, {duplicates} duplicated")
        if invalid or duplicates:
            raise SystemExit(f"bad credit codes: {invalid[:5]}")
        bad = {t: c for t, c in checks.items() if c[1]}
        log(
            "trigger check: "
            + ", ".join(f"{t} {n} rows, {m} differ" for t, (n, m) in checks.items())
        )
        if bad:
            raise SystemExit(f"county_code/grid_code differ from the trigger's: {bad}")
        if not keep_stage:
            conn.execute(f"DROP SCHEMA {STAGE} CASCADE")
        summary = _summary(conn)
    return {"staged_s": staged, "generated_s": generated, "checks": checks, **summary}


def _analyze(conn: psycopg.Connection, *tables: str) -> None:
    for table in tables:
        conn.execute(f"ANALYZE {STAGE}.{table}")


def _check_count(conn: psycopg.Connection, table: str, expected: int) -> None:
    got = conn.execute(f"SELECT count(*) FROM {STAGE}.{table}").fetchone()[0]
    if got != expected:
        raise SystemExit(f"{STAGE}.{table} has {got} rows, expected {expected}")


def _summary(conn: psycopg.Connection) -> dict:
    summary = {"tables": {}, "levels": {}}
    for table in LOCATED:
        column = "grade::text" if table == "hazard_sources" else "risk_level"
        rows = conn.execute(
            f"SELECT coalesce({column}, '—'), count(*) FROM {table} GROUP BY 1 ORDER BY 1"
        ).fetchall()
        summary["levels"][table] = dict(rows)
        summary["tables"][table] = sum(n for _, n in rows)
    summary["gridded"] = {
        t: conn.execute(f"SELECT count(*) FROM {t} WHERE grid_code IS NOT NULL").fetchone()[0]
        for t in LOCATED
    }
    summary["provinces"] = conn.execute("""
        SELECT r.name, c.value FROM region_counts c JOIN regions r ON r.code = c.region_code
         WHERE r.level = 'province' AND c.measure = 'enterprises.total'
         ORDER BY c.value DESC""").fetchall()
    summary["size"] = conn.execute(
        "SELECT pg_size_pretty(pg_database_size(current_database()))"
    ).fetchone()[0]
    return summary


def print_summary(result: dict) -> None:
    print()
    print(f"{'table':<16}{'rows':>10}  levels (or grades)                          gridded")
    for table, rows in result["tables"].items():
        levels = ", ".join(f"{k} {v / rows:.1%}" for k, v in result["levels"][table].items())
        print(f"{table:<16}{rows:>10}  {levels:<44}{result['gridded'][table]:>8}")
    top = ", ".join(f"{name} {n}" for name, n in result["provinces"][:8])
    print(f"\nenterprises by province (top 8): {top}")
    print(f"database size: {result['size']}")
    print(f"staging {result['staged_s']:.0f} s, generation total {result['generated_s']:.0f} s")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.national",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--enterprises", type=int, default=1_000_000)
    parser.add_argument("--risk-points", type=int, default=3_000_000)
    parser.add_argument("--hazard-sources", type=int, default=50_000)
    parser.add_argument("--public-zones", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url", help=f"default: embedded {BENCH_DATABASE}")
    parser.add_argument(
        "--truncate",
        action="store_true",
        help="clear the located tables (and counts, assessments) first",
    )
    parser.add_argument(
        "--grid-counties",
        type=int,
        default=40,
        help="counties given a generated grid when there is none (default 40)",
    )
    parser.add_argument("--grid-size", type=int, default=1000, help="grid cell size, metres")
    parser.add_argument(
        "--verify",
        type=int,
        default=2000,
        help="rows per table re-checked against the real trigger",
    )
    parser.add_argument(
        "--keep-stage", action="store_true", help=f"keep the {STAGE} staging schema for inspection"
    )
    args = parser.parse_args(argv)
    if min(args.enterprises, args.risk_points, args.hazard_sources, args.public_zones) < 0:
        parser.error("counts must not be negative")
    if args.seed <= 0:
        parser.error("--seed must be positive")
    url = bench_database_url(args.database_url)
    log = Progress()
    prepare_database(url, embedded_name=None if args.database_url else BENCH_DATABASE, log=log)
    log(f"database ready: {make_url(url).render_as_string(hide_password=True)}")
    scale = Scale(args.enterprises, args.risk_points, args.hazard_sources, args.public_zones)
    result = generate(
        url,
        scale,
        seed=args.seed,
        truncate=args.truncate,
        grid_counties=args.grid_counties,
        grid_size=args.grid_size,
        verify=args.verify,
        keep_stage=args.keep_stage,
        log=log,
    )
    print_summary(result)


if __name__ == "__main__":
    sys.exit(main())
