"""Bulk import: read, check every row, then write all rows or none, set-based.

Rows are checked on their own first (values, geometry, credit codes), then COPY'd into a
temporary staging table where set-based SQL finds each row's county (the same
point-in-region rule as the `assign_region_codes` trigger), its enterprise and the stored
row it updates. A dry run stops there and reports; a commit with any refused row writes
nothing. A clean commit writes with INSERT … SELECT / UPDATE … FROM in batches: the
existing triggers keep region counts and tile cells exact, each batch statement writes its
audit entries set-based (the row trigger stands aside for it) and keeps the region codes
staging derived with the same rule, and the existing grading functions re-derive what
depends on the rows.
"""

import json
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import shapely
from psycopg import Connection as PsycopgConnection
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.audit.service import audit_table, set_for_transaction
from app.auth.scope import Scope, region_prefix
from app.cluster.routing import colocated, same_shard
from app.dangers import rules
from app.errors import Forbidden, InvalidInput
from app.ingest.checks import (
    Candidate,
    Mapping,
    RowError,
    check_rows,
    ewkt_of,
    map_columns,
    shifted_by_datum,
    to_wgs84,
)
from app.ingest.layers import Layer, layers
from app.ingest.readers import read_table
from app.models import Base
from app.progress import Progress, silent
from app.regions import grids
from app.risk import grading, methods
from app.sites.service import hold_credit_codes

CRS_NAMES = ("wgs84", "cgcs2000", "gcj02", "bd09")
SHIFTED = (
    "the stored point moved by exactly a GCJ-02/BD-09 offset: coordinates in another CRS?"
    " choose crs (gcj02 for AMap/Tencent, bd09 for Baidu)"
)
SHIFTED_ZH = (
    "与已存位置相差正好一个 GCJ-02/BD-09 偏移：坐标系是否选错？"
    "高德、腾讯坐标请选 GCJ-02，百度坐标请选 BD-09"
)
BATCH_ROWS = 10_000
# An import of 100,000 rows takes tens of seconds: more than an API statement may.
IMPORT_STATEMENT_TIMEOUT = "600s"

_STAGING = """
CREATE TEMPORARY TABLE import_staging (
    row int PRIMARY KEY, data jsonb NOT NULL, geom geometry(Geometry, 4326),
    declared char(6), credit text, county_code char(6), grid_code text, enterprise_id int,
    enterprise_sector text, enterprise_county char(6), target_id int, target_county char(6),
    new_id int, stored_lon float8, stored_lat float8, stored_doc jsonb
) ON COMMIT DROP
"""

# How a staged row finds the stored row it updates (alias t: the table, s: staging).
_MATCH = {
    "enterprises": "t.credit_code = s.data->>'credit_code'",
    "risk_points": "t.enterprise_id = s.enterprise_id AND t.name = s.data->>'name'",
    "hazard_sources": "t.enterprise_id = s.enterprise_id AND t.name = s.data->>'name'",
    "hidden_dangers": (
        "t.enterprise_id = s.enterprise_id AND t.title = s.data->>'title' AND t.status <> 'closed'"
    ),
    "public_zones": "t.name = s.data->>'name' AND t.county_code = s.county_code",
    "emergency_resources": "t.name = s.data->>'name' AND t.county_code = s.county_code",
    "grid_cells": "t.code = s.data->>'code'",
    "parks": "t.name = s.data->>'name'",
}
# Tables whose geometry column holds MultiPolygons only: a Polygon row is made one.
_MULTI = {"chemical_parks"}


def import_file(
    session: Session,
    *,
    path: Path,
    file_name: str,
    layer: str,
    crs: str,
    dry_run: bool,
    scope: Scope,
    progress: Progress = silent,
) -> dict[str, Any]:
    """Check a file's rows and, unless a dry run, write them all (or none: 422)."""
    spec = _layer_or_raise(layer)
    if crs not in CRS_NAMES:
        raise InvalidInput(f"unknown CRS {crs!r}", field="crs", allowed=list(CRS_NAMES))
    _require_write(scope, spec)
    progress("read", 0, 0)
    table = read_table(path, name=file_name)
    total = len(table.rows)
    if total == 0:
        raise InvalidInput("the file holds no rows", field="file")
    mapping = map_columns(spec, table)
    progress("check", 0, total)
    candidates = check_rows(spec, table, mapping, progress=lambda n: progress("check", n, total))
    to_wgs84(candidates, crs)
    progress("check", total, total)
    session.execute(text(f"SET LOCAL statement_timeout = '{IMPORT_STATEMENT_TIMEOUT}'"))
    if spec.name == "enterprises" and not dry_run:
        # Held until the commit: no other writer adds one of these codes between the
        # look-up by code below and the write (the cluster's rule, app/sites/service.py).
        hold_credit_codes(session, (c.data["credit_code"] for c in candidates if not c.error))
    _stage(session, spec, candidates)
    _resolve(session, spec, candidates, mapping, scope)
    report = _report(candidates, mapping)
    if dry_run:
        session.execute(text("DROP TABLE import_staging"))
        return report
    if report["rejected"]:
        first = next(r for r in report["rows"] if r["status"] == "rejected")
        raise InvalidInput(
            f"{report['rejected']} of {total} rows refused (first: row {first['row']}, "
            f"{first['field']}: {first['reason']}); nothing was imported",
            field="file",
            accepted=report["accepted"],
            rejected=report["rejected"],
            rows=[r for r in report["rows"] if r["status"] == "rejected"],
        )
    written = _write(session, spec, mapping, scope, lambda n: progress("write", n, total))
    session.execute(
        text("""
        INSERT INTO imports (layer, file_name, crs, rows, inserted, updated, user_id, username)
        VALUES (:layer, :file, :crs, :rows, :inserted, :updated, :user_id, :username)"""),
        {
            "layer": layer,
            "file": file_name[:255],
            "crs": crs,
            "rows": total,
            **written,
            "user_id": scope.user_id,
            "username": scope.username,
        },
    )
    session.execute(text("DROP TABLE import_staging"))
    progress("write", total, total)
    return {**report, **written}


def _layer_or_raise(layer: str) -> Layer:
    known = layers()
    if layer not in known:
        raise InvalidInput(f"unknown layer {layer!r}", field="layer", allowed=list(known))
    return known[layer]


def _require_write(scope: Scope, spec: Layer) -> None:
    if spec.table == "grid_cells":
        scope.require_role("admin")
    else:
        scope.require_write(spec.table)


def _stage(session: Session, spec: Layer, candidates: list[Candidate]) -> None:
    """COPY the rows that passed their own checks into the staging table."""
    session.execute(text(_STAGING))
    raw = session.connection().connection.driver_connection
    assert isinstance(raw, PsycopgConnection)
    credit_field = "credit_code" if spec.name == "enterprises" else "enterprise_credit_code"
    with (
        raw.cursor() as cursor,
        cursor.copy("COPY import_staging (row, data, geom, declared, credit) FROM STDIN") as copy,
    ):
        for c in candidates:
            if c.error is None:
                copy.write_row(
                    (
                        c.row,
                        json.dumps(c.data, ensure_ascii=False),
                        ewkt_of(c),
                        c.declared_county,
                        c.data.get(credit_field),
                    )
                )
    session.execute(text("ANALYZE import_staging"))


def _resolve(
    session: Session, spec: Layer, candidates: list[Candidate], mapping: Mapping, scope: Scope
) -> None:
    """Find each staged row's enterprise, county and stored twin; refuse what does not fit."""
    if spec.name != "enterprises":
        session.execute(
            text("""
            UPDATE import_staging s SET enterprise_id = e.id, enterprise_sector = e.sector,
                   enterprise_county = e.county_code, geom = coalesce(s.geom, e.geom)
              FROM enterprises e WHERE e.credit_code = s.credit""")
        )
    # The region-codes trigger's rule (migrations/sql/0017_bulk_writes.sql), set-based.
    session.execute(
        text("""
        UPDATE import_staging s SET county_code = county_at(x.anchor), grid_code = grid_at(x.anchor)
          FROM (SELECT row, region_anchor(geom) AS anchor
                  FROM import_staging WHERE geom IS NOT NULL) x
         WHERE x.row = s.row""")
    )
    key = "code" if spec.table == "grid_cells" else "id"
    session.execute(
        text(f"""
        UPDATE import_staging s SET target_id = m.id, target_county = m.county_code,
               stored_lon = m.lon, stored_lat = m.lat
          FROM (SELECT DISTINCT ON (s.row) s.row, t.{key} AS id, t.county_code,
                       CASE WHEN GeometryType(t.geom) = 'POINT' THEN ST_X(t.geom) END AS lon,
                       CASE WHEN GeometryType(t.geom) = 'POINT' THEN ST_Y(t.geom) END AS lat
                  FROM import_staging s JOIN {spec.table} t ON {_MATCH[spec.name]}
                 ORDER BY s.row, t.{key}) m
         WHERE m.row = s.row""")
        if key == "id"
        else text(f"""
        UPDATE import_staging s SET target_county = t.county_code
          FROM {spec.table} t WHERE {_MATCH[spec.name]}""")
    )
    staged = {
        r.row: r
        for r in session.execute(
            text(
                "SELECT row, credit, geom IS NOT NULL AS located, county_code, enterprise_id,"
                " enterprise_sector, target_id, target_county, stored_lon, stored_lat,"
                " CASE WHEN GeometryType(geom) = 'POINT' THEN ST_X(geom) END AS lon,"
                " CASE WHEN GeometryType(geom) = 'POINT' THEN ST_Y(geom) END AS lat"
                " FROM import_staging"
            )
        )
    }
    moved = [r for r in staged.values() if r.stored_lon is not None and r.lon is not None]
    shifted = set(
        shifted_by_datum(
            [r.row for r in moved],
            stored=([r.stored_lon for r in moved], [r.stored_lat for r in moved]),
            new=([r.lon for r in moved], [r.lat for r in moved]),
        )
    )
    seen: Counter[tuple[Any, ...]] = Counter()
    for candidate in candidates:
        row = staged.get(candidate.row)
        if row is None:
            continue
        try:
            if candidate.row in shifted:
                raise RowError("geometry", SHIFTED, SHIFTED_ZH)
            _check_staged(spec, candidate, row, mapping, scope)
            duplicate = tuple(
                row.county_code if f == "county_code" else candidate.data.get(f) for f in spec.key
            )
            seen[duplicate] += 1
            if seen[duplicate] > 1:
                raise RowError(
                    spec.column(spec.key[0]).header_zh,
                    "duplicate of an earlier row of the file",
                    "与文件中前面的行重复",
                )
        except RowError as error:
            candidate.error = error
        candidate.extra["action"] = "update" if row.target_county is not None else "insert"


def _check_staged(spec: Layer, c: Candidate, row: Any, mapping: Mapping, scope: Scope) -> None:
    if row.credit and spec.name != "enterprises" and row.enterprise_id is None:
        raise RowError(
            "所属企业信用代码",
            "no stored enterprise has this credit code",
            "系统中没有此信用代码的企业",
        )
    if not row.located:
        raise RowError("geometry", "no location", "没有位置")
    if row.county_code is None:
        raise RowError("geometry", "outside every county of China", "不在中国任何区县内")
    if c.declared_county and not row.county_code.startswith(region_prefix(c.declared_county)):
        raise RowError(
            mapping.county or "所在区县代码",
            f"the location lies in {row.county_code}, not in {c.declared_county}"
            " (coordinates in another CRS?)",
            f"位置在 {row.county_code}，不在填报的 {c.declared_county}（坐标系是否选错？）",
        )
    if spec.name == "hidden_dangers":
        if row.target_county is not None:
            raise RowError(
                "隐患名称",
                "the enterprise already has this open hidden danger",
                "该企业已有同名的未销号隐患",
            )
        grade = rules.grades()[c.data["grade"]]
        if not grade.used_in(row.county_code):
            raise RowError(
                "隐患等级",
                f"grade {grade.grade} is not used in this province",
                f"本省不使用“{grade.grade}”这一隐患等级",
            )
    _check_scope(spec, row, scope)


def _check_scope(spec: Layer, row: Any, scope: Scope) -> None:
    """The same rule as `check_written`: the row lands where the importer may write."""
    if spec.table == "grid_cells":
        return
    sector = row.enterprise_sector
    try:
        for county in filter(None, (row.county_code, row.target_county)):
            scope.check_written(
                spec.table,
                county_code=county,
                enterprise_id=row.target_id if spec.name == "enterprises" else row.enterprise_id,
                sector=sector,
            )
    except Forbidden as error:
        raise RowError(
            error.field or "geometry", error.message, "不在您可写的范围内（区域、行业或企业）"
        ) from error


def _report(candidates: list[Candidate], mapping: Mapping) -> dict[str, Any]:
    rows = []
    for c in candidates:
        if c.error is None:
            rows.append({"row": c.row, "status": "accepted", "action": c.extra.get("action")})
        else:
            rows.append(
                {
                    "row": c.row,
                    "status": "rejected",
                    "field": c.error.field,
                    "reason": c.error.reason,
                    "reason_zh": c.error.reason_zh,
                }
            )
    rejected = sum(1 for c in candidates if c.error is not None)
    return {
        "accepted": len(candidates) - rejected,
        "rejected": rejected,
        "ignored_columns": list(mapping.ignored),
        "rows": rows,
    }


# Writing


def _columns(spec: Layer, mapping: Mapping) -> list[str]:
    """The table's columns the file feeds (derived ones included)."""
    stored = set(Base.metadata.tables[spec.table].columns.keys())
    fields = [f for f in mapping.fields if f in stored]
    derived = {
        "risk_points": ["inputs", "score", "risk_level", "enterprise_id"],
        "hazard_sources": ["enterprise_id"],
        "hidden_dangers": ["enterprise_id", "status", "found_at"],
    }.get(spec.name, [])
    return fields + [d for d in derived if d not in fields]


def _write(
    session: Session,
    spec: Layer,
    mapping: Mapping,
    scope: Scope,
    progress: Callable[[int], None],
) -> dict[str, int]:
    if spec.table == "grid_cells":
        return _write_grids(session)
    table = spec.table
    if spec.name == "hidden_dangers":
        session.execute(
            text(
                "UPDATE import_staging SET data = data || jsonb_build_object('status',"
                " CAST(:status AS text), 'found_at', coalesce(data->>'found_at',"
                " CAST(now() AS text)))"
            ),
            {"status": rules.initial_status()},
        )
    moved = _positions_before(session, spec)
    session.execute(
        text(
            f"UPDATE import_staging SET new_id = nextval(pg_get_serial_sequence('{table}', 'id'))"
            " WHERE target_id IS NULL"
        )
    )
    # On the cluster an enterprise's rows are stored in its county (docs/scaling.md §1.2),
    # and a row changing county moves to that county's shard before it is updated.
    cluster = colocated(session.connection())
    county = "coalesce(s.enterprise_county, s.county_code)" if cluster else "s.county_code"
    set_county = "" if cluster else " county_code = s.county_code,"
    # Where the entries of located rows are kept (on the cluster, distributed by county).
    audit = f"INSERT INTO {audit_table(session.connection())} {_AUDIT_COLUMNS}"
    if cluster:
        _keep_stored_rows(session, table)
        _move_across_counties(session, table, county)
    columns = _columns(spec, mapping)
    select = ", ".join("s.enterprise_id" if c == "enterprise_id" else f"r.{c}" for c in columns)
    assign = ", ".join(
        "enterprise_id = s.enterprise_id"
        if c == "enterprise_id"
        else f"{c} = CASE WHEN s.data ? '{c}' THEN r.{c} ELSE t.{c} END"
        for c in columns
    )
    last = session.execute(text("SELECT coalesce(max(row), 0) FROM import_staging")).scalar_one()
    geom = "ST_Multi(s.geom)" if table in _MULTI else "s.geom"
    progress(0)
    insert = text(f"""
        WITH written AS (
            INSERT INTO {table} AS t (id, {", ".join(columns)}, geom, county_code, grid_code)
            SELECT s.new_id, {select}, {geom}, {county}, s.grid_code
              FROM import_staging s
             CROSS JOIN LATERAL jsonb_populate_record(NULL::{table}, s.data) r
             WHERE s.target_id IS NULL AND s.row BETWEEN :a AND :b
             ORDER BY s.row
         RETURNING t.*)
        {audit}
        SELECT e.* FROM written w
         CROSS JOIN LATERAL audit_entry('insert', '{table}', NULL, to_jsonb(w)) e""")
    update = text(f"""
        WITH stored AS (
            SELECT t.id, coalesce(s.stored_doc, to_jsonb(t)) AS doc FROM {table} t
              JOIN import_staging s ON t.id = s.target_id AND s.row BETWEEN :a AND :b),
        written AS (
            UPDATE {table} t SET {assign}, geom = {geom},{set_county}
                   grid_code = s.grid_code, version = t.version + 1, updated_at = now()
              FROM import_staging s
             CROSS JOIN LATERAL jsonb_populate_record(NULL::{table}, s.data) r
             WHERE t.id = s.target_id AND s.row BETWEEN :a AND :b
         RETURNING t.*)
        {audit}
        SELECT e.* FROM written w JOIN stored ON stored.id = w.id
         CROSS JOIN LATERAL audit_entry('update', '{table}', stored.doc, to_jsonb(w)) e""")
    for start in range(0, last + 1, BATCH_ROWS):
        bounds = {"a": start, "b": start + BATCH_ROWS - 1}
        with _set_based_triggers(session):
            session.execute(insert, bounds)
            session.execute(update, bounds)
        progress(min(last, start + BATCH_ROWS))
    inserted, updated = session.execute(
        text(
            "SELECT count(*) FILTER (WHERE target_id IS NULL),"
            " count(*) FILTER (WHERE target_id IS NOT NULL) FROM import_staging"
        )
    ).one()
    _derive(session, spec, scope, moved)
    return {"inserted": inserted, "updated": updated}


_AUDIT_COLUMNS = (
    "(user_id, username, action, table_name, row_id, county_code, before, after,"
    " client_address, request_id)"
)


@contextmanager
def _set_based_triggers(session: Session) -> Iterator[None]:
    """Within: the statements write their own audit entries and region codes
    (migrations/sql/0017_bulk_writes.sql); every other write is the row triggers' again.
    A failed statement needs no reset: its transaction rolls back, settings with it."""
    connection = session.connection()
    set_for_transaction(connection, {"audit": "bulk", "region_codes": "derived"})
    yield
    set_for_transaction(connection, {"audit": "", "region_codes": ""})


def _keep_stored_rows(session: Session, table: str) -> None:
    """On the cluster, keep the stored rows the import updates (their audit entries'
    `before`) in the staging table before anything is written. Citus runs a statement's
    CTEs one after another, so the update's `stored` CTE could read the rows after its
    own update (an entry with no change is no entry); on one PostgreSQL every CTE of a
    statement sees the same snapshot, and the CTE alone does."""
    # Read into a coordinator table first: Citus plans no UPDATE that calls to_jsonb() on
    # a distributed table's rows ("STABLE functions used in UPDATE queries cannot be
    # called with column references").
    session.execute(
        text(f"""
        CREATE TEMPORARY TABLE import_stored ON COMMIT DROP AS
        SELECT t.id, to_jsonb(t) AS doc FROM {table} t
         WHERE t.id IN (SELECT target_id FROM import_staging)""")
    )
    session.execute(
        text(
            "UPDATE import_staging s SET stored_doc = k.doc FROM import_stored k"
            " WHERE k.id = s.target_id"
        )
    )
    session.execute(text("DROP TABLE import_stored"))


def _move_across_counties(session: Session, table: str, county: str) -> None:
    """The cluster's updated rows that change county: each moved to its new county's shard
    (Citus updates no distribution column; `move_to_county`, as an edit by the API). The
    move writes no entry of its own: one update is audited (its `before` kept by
    `_keep_stored_rows`), as on one PostgreSQL."""
    moving = session.execute(
        text(
            "SELECT row FROM import_staging s"
            f" WHERE target_id IS NOT NULL AND {county} <> target_county ORDER BY row"
        )
    ).all()
    with _set_based_triggers(session):
        for (row,) in moving:
            session.execute(
                text(
                    f"SELECT move_to_county(CAST(:table AS regclass), s.target_id, {county},"
                    " s.geom) FROM import_staging s WHERE row = :row"
                ),
                {"table": table, "row": row},
            )


def _positions_before(session: Session, spec: Layer) -> list[str]:
    """Public zones: where updated zones stood (hazard sources near there lose people)."""
    if spec.name != "public_zones":
        return []
    return list(
        session.scalars(
            text(
                "SELECT ST_AsEWKT(t.geom) FROM public_zones t"
                " JOIN import_staging s ON s.target_id = t.id"
            )
        )
    )


def _derive(session: Session, spec: Layer, scope: Scope, moved: list[str]) -> None:
    """Re-derive what depends on the written rows with the existing grading functions."""
    who = f"import:{scope.username or 'cli'}"
    if spec.name == "enterprises":
        hazards = list(
            session.scalars(
                text(
                    "SELECT h.id FROM hazard_sources h JOIN import_staging s"
                    " ON s.target_id = h.enterprise_id"
                )
            )
        )
        if hazards:
            touched = grading.regrade_hazard_sources(session, ids=hazards, assessed_by=who)
            grading.refresh_enterprise_levels(session, ids=touched)
    elif spec.name == "risk_points":
        session.execute(
            text("""
            INSERT INTO assessments (subject_type, subject_id, method, inputs, result,
                                     risk_level, ruleset_version, assessed_by)
            SELECT 'risk_point', coalesce(s.target_id, s.new_id), s.data->>'method',
                   s.data->'inputs',
                   jsonb_build_object('level', s.data->>'risk_level', 'score', s.data->'score'),
                   s.data->>'risk_level', :version, :who
              FROM import_staging s"""),
            {"version": methods.ruleset_version(), "who": who},
        )
        grading.refresh_enterprise_levels(session, ids=_enterprises(session))
    elif spec.name == "hazard_sources":
        ids = list(session.scalars(text("SELECT coalesce(target_id, new_id) FROM import_staging")))
        grading.regrade_hazard_sources(session, ids=ids, assessed_by=who)
        grading.refresh_enterprise_levels(session, ids=_enterprises(session))
    elif spec.name == "public_zones":
        shard = same_shard(session.connection(), ("e", "h"))
        near = session.scalars(
            text(f"""
            SELECT DISTINCT h.id FROM hazard_sources h
              JOIN enterprises e ON e.id = h.enterprise_id{shard}
              JOIN (SELECT geom FROM import_staging
                    UNION ALL SELECT CAST(g AS geometry) FROM unnest(CAST(:moved AS text[])) g) z
                ON coalesce(e.footprint, h.geom) && ST_Expand(z.geom, :prefilter)
               AND ST_DWithin(coalesce(e.footprint, h.geom)::geography, z.geom::geography,
                              :radius)"""),
            {"moved": moved, "prefilter": 0.011, "radius": grading.PLANT_RADIUS_M},
        ).all()
        if near:
            touched = grading.regrade_hazard_sources(session, ids=list(near), assessed_by=who)
            grading.refresh_enterprise_levels(session, ids=touched)
    elif spec.name == "hidden_dangers":
        session.execute(
            text("""
            INSERT INTO hidden_danger_events (county_code, danger_id, action, from_status,
                                              to_status, user_id, username, note, grade, geom)
            SELECT d.county_code, d.id, 'report', NULL, d.status, :user_id, :username,
                   'imported', d.grade, d.geom
              FROM hidden_dangers d JOIN import_staging s ON s.new_id = d.id"""),
            {"user_id": scope.user_id, "username": scope.username or "cli"},
        )
        grading.refresh_enterprise_levels(session, ids=_enterprises(session))


def _enterprises(session: Session) -> list[int]:
    return list(
        session.scalars(
            text(
                "SELECT DISTINCT enterprise_id FROM import_staging"
                " WHERE enterprise_id IS NOT NULL ORDER BY 1"
            )
        )
    )


def _write_grids(session: Session) -> dict[str, int]:
    """Grid cells go through the existing grid import (clipped to the county, re-assigned)."""
    features = [
        {
            "type": "Feature",
            "properties": json.loads(data) if isinstance(data, str) else data,
            "geometry": shapely.geometry.mapping(shapely.from_wkb(bytes(geom))),
        }
        for data, geom in session.execute(
            text("SELECT data, ST_AsBinary(geom) FROM import_staging ORDER BY row")
        )
    ]
    updated = session.execute(
        text("SELECT count(*) FROM import_staging WHERE target_county IS NOT NULL")
    ).scalar_one()
    grids.import_grids(
        session, feature_collection={"type": "FeatureCollection", "features": features}
    )
    return {"inserted": len(features) - updated, "updated": updated}
