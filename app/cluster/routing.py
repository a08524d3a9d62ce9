"""On a Citus database the coordinator routes every located write by county_code.

On one PostgreSQL the `assign_region_codes` trigger derives county_code from the
geometry. On Citus county_code is the distribution column: it must be in the INSERT
before the row reaches a shard, and a shard trigger that changed it would leave the row
on the wrong shard (Citus refuses to UPDATE it). So, only where the database has
distributed tables (migration 0020), this module

- adds county_code to INSERTs of located tables that lack it: the county of the row's
  enterprise for an enterprise's hazard sources, risk points and hidden dangers (they
  share its shard, docs/scaling.md), else the county containing the geometry
  (`region_county_at`, the trigger's rule; the shard trigger checks it);
- moves a row whose new geometry lies in another county before the ORM updates it
  (`move_to_county`: copy to the new county, delete the old, with an enterprise's rows).

Single-node databases are untouched: nothing here runs unless pg_dist_partition lists the
table.
"""

from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine, Insert, Table, event, inspect, text
from sqlalchemy.orm import Session, UOWTransaction
from sqlalchemy.orm.attributes import set_committed_value

_DISTRIBUTED: WeakKeyDictionary[Engine, frozenset[str]] = WeakKeyDictionary()
# Where a row outside every region is sent: the shard's trigger then refuses it with the
# single node's error (RA001, "no region contains POINT(…)"), not Citus's about a NULL key.
OUTSIDE = "000000"
_PROBE = text("SELECT to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL")
_TABLES = text(
    "SELECT logicalrelid::regclass::text FROM pg_dist_partition"
    " WHERE partmethod = 'h' AND column_to_column_name(logicalrelid, partkey) = 'county_code'"
)


def distributed_tables(connection: Connection) -> frozenset[str]:
    """The tables distributed by county_code on this connection's database (cached)."""
    engine = connection.engine
    known = _DISTRIBUTED.get(engine)
    if known is None:
        known = frozenset()
        if connection.execute(_PROBE).scalar():
            known = frozenset(connection.execute(_TABLES).scalars())
        _DISTRIBUTED[engine] = known
    return known


def colocated(connection: Connection) -> bool:
    """True where an enterprise and everything of it share one county and shard.

    On the cluster an enterprise, its hazard sources, risk points and hidden dangers, their
    history and its inspections are stored in one county (docs/scaling.md §1.2), so adding
    `a.county_code = b.county_code` to a join on their ids changes no answer and lets Citus
    run the join shard by shard (a join, outer join or correlated subquery on the ids alone
    is refused or repartitioned). On one PostgreSQL a child keeps the county of its own
    point: there statements stay as they were (and their plans with them).
    """
    return "enterprises" in distributed_tables(connection)


def region_counts_table(connection: Connection) -> str:
    """The table to read region counts from, filtered by region_code and then summed.

    On the cluster `region_counts` is a view summing the per-county rows (docs/scaling.md
    §1.3), and Citus evaluates such a view whole before applying a filter on it (1.8 s for
    one region at national scale); the per-county table read with the filter, then summed,
    takes each shard's few matching rows. On one PostgreSQL the table holds one row per
    region and measure, so the same sum is over one row.
    """
    if "region_county_counts" in distributed_tables(connection):
        return "region_county_counts"
    return "region_counts"


# How far outside a searched box an enterprise's county may lie for its rows inside the box
# to be found on the cluster, where they are stored in its county (docs/scaling.md §1.2):
# about 5 km, as an enterprise's hazard sources and risk points lie on or near its site.
CHILD_REACH_DEG = 0.05
_COUNTIES_NEAR = text(
    "SELECT coalesce(array_agg(DISTINCT code ORDER BY code), '{}') FROM region_parts"
    " WHERE geom && ST_Expand(ST_MakeEnvelope(:min_lon, :min_lat, :max_lon, :max_lat, 4326),"
    " :reach)"
)


def counties_near(
    connection: Connection, min_lon: float, min_lat: float, max_lon: float, max_lat: float
) -> list[str]:
    """The counties whose parts' bounding boxes come within CHILD_REACH_DEG of the box.

    A superset of the counties that store rows inside the box (an enterprise's rows within
    CHILD_REACH_DEG of its county); read from the coordinator's copy of region_parts.
    """
    counties: list[str] = connection.execute(
        _COUNTIES_NEAR,
        {
            "min_lon": min_lon,
            "min_lat": min_lat,
            "max_lon": max_lon,
            "max_lat": max_lat,
            "reach": CHILD_REACH_DEG,
        },
    ).scalar_one()
    return counties


def in_counties(alias: str) -> str:
    """`alias`'s rows in the counties bound to :counties (e.g. from `counties_near`): with
    the list bound, Citus sends the statement to those counties' shards only, not to all."""
    return f"{alias}.county_code = ANY(CAST(:counties AS text[]))"


def same_shard(connection: Connection, *pairs: tuple[str, str]) -> str:
    """`AND a.county_code = b.county_code` for each pair of aliases where `colocated`."""
    if not colocated(connection):
        return ""
    return "".join(f" AND {a}.county_code = {b}.county_code" for a, b in pairs)


def _located(table: Any, connection: Connection) -> bool:
    return (
        isinstance(table, Table)
        and "geom" in table.c
        and "county_code" in table.c
        and table.name in distributed_tables(connection)
    )


def counties_for(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> list[str]:
    """The county each row is stored in: its enterprise's, else its geometry's."""
    by_enterprise: dict[int, str] = {}
    if "enterprise_id" in table.c and table.name != "enterprises":
        ids = sorted({r["enterprise_id"] for r in rows if r.get("enterprise_id") is not None})
        if ids:
            by_enterprise = dict(
                connection.execute(
                    text("SELECT id, county_code FROM enterprises WHERE id = ANY(:ids)"),
                    {"ids": ids},
                ).all()
            )
    process = table.c.geom.type.bind_processor(connection.dialect)
    geometries = [process(r["geom"]) if process else r["geom"] for r in rows]
    by_geometry = connection.execute(
        text(
            "SELECT region_county_at(g::geometry) FROM unnest(CAST(:g AS text[]))"
            " WITH ORDINALITY AS p(g, n) ORDER BY n"
        ),
        {"g": geometries},
    ).scalars()
    return [
        by_enterprise.get(r.get("enterprise_id")) or county or OUTSIDE  # type: ignore[arg-type]
        for r, county in zip(rows, by_geometry, strict=True)
    ]


@event.listens_for(Engine, "before_execute", retval=True)
def _route_inserts(
    connection: Connection,
    statement: Any,
    multiparams: list[dict[str, Any]],
    params: dict[str, Any],
    _options: Any,
) -> tuple[Any, list[dict[str, Any]], dict[str, Any]]:
    if not isinstance(statement, Insert) or not _located(statement.table, connection):
        return statement, multiparams, params
    rows = multiparams or [params]
    if not rows or all("county_code" in r for r in rows) or any("geom" not in r for r in rows):
        return statement, multiparams, params
    counties = counties_for(connection, statement.table, rows)  # type: ignore[arg-type]
    routed = [{**r, "county_code": c} for r, c in zip(rows, counties, strict=True)]
    return (statement, routed, {}) if multiparams else (statement, [], routed[0])


@event.listens_for(Session, "before_flush")
def _move_across_counties(session: Session, _flush: UOWTransaction, _instances: Any) -> None:
    """Before an UPDATE puts a row in another county, move it to that county's shard."""
    candidates = [
        o
        for o in session.dirty
        if isinstance(table := getattr(type(o), "__table__", None), Table) and "geom" in table.c
    ]
    if not candidates:
        return
    connection = session.connection()
    for row in candidates:
        table = type(row).__table__
        if not _located(table, connection) or not inspect(row).attrs.geom.history.added:
            continue
        if getattr(row, "enterprise_id", None) is not None and table.name != "enterprises":
            continue  # stored with its enterprise, wherever the point lies
        state = inspect(row)
        current = state.attrs.county_code.loaded_value
        (county,) = counties_for(connection, table, [{"geom": row.geom}])
        if county != current:
            process = table.c.geom.type.bind_processor(connection.dialect)
            connection.execute(
                text(
                    "SELECT move_to_county(CAST(:t AS regclass), :id, :county,"
                    " CAST(:g AS geometry))"
                ),
                {
                    "t": table.name,
                    "id": row.id,
                    "county": county,
                    "g": process(row.geom) if process else row.geom,
                },
            )
            # The row is there now: the UPDATE must not set the shard key again.
            set_committed_value(row, "county_code", county)
