"""What lies around a point, nearest first by geodesic distance, within the caller's scope.

One SQL statement answers a search: per kind, a KNN scan of the GiST index on `geom`
(`ORDER BY geom <-> point`, inside a box that holds the whole radius) takes a few
candidates; PostGIS measures them on the WGS 84 ellipsoid; the nearest within
the radius are ranked and rendered as a GeoJSON FeatureCollection by PostgreSQL itself.

KNN orders by distance in degrees, which is not geodesic order (a degree of longitude is
cos φ shorter than one of latitude), so a candidate list cut after N rows may miss a row
that is nearer on the ground. `app.geo.geodesic` bounds how near an unseen row can be: at
least `geodesic_lower_bound(last degree distance)`. An answer is returned only when that
bound lies beyond what the answer holds for every kind whose list was cut; otherwise that
kind's list is widened and the statement run again.
"""

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import TextClause, text
from sqlalchemy.orm import Session

from app.auth.scope import RowFilters, Scope
from app.cluster import routing
from app.errors import Forbidden, InvalidInput
from app.geo.geodesic import SearchBox, search_box
from app.risk.methods import LEVELS

POINT = "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)"
# ST_DistanceSpheroid on the stored geometry gives geography's ellipsoidal distance at a
# quarter of the cost (no conversion to geography), but measures a polygon from its outline
# even from inside: a point in a zone is at 0.
DISTANCE = (
    f"CASE WHEN ST_Intersects(c.geom, {POINT}) THEN 0 ELSE ST_DistanceSpheroid("
    f"c.geom, {POINT}, 'SPHEROID[\"WGS 84\",6378137,298.257223563]') END"
)
# GeoJSON edges are straight in lon/lat (RFC 7946 §3.1.1) while geography reads them as
# geodesics; cut into ≤ 0.002° pieces the two differ by millimetres, so zones are measured
# where they were drawn and the degree bound holds for them too.
SEGMENT_DEG = 0.002
# A hidden danger has a grade, not a colour: a major one is as urgent as a red risk.
DANGER_LEVEL = "CASE t.grade WHEN 'major' THEN 'red' WHEN 'larger' THEN 'orange' ELSE 'yellow' END"
WIDEN = 4
# The colours a warden's phone asks for, indexed apart (partial GiST indexes, migration 0012).
SEVERE = LEVELS[:2]
SEVERE_SQL = "(" + ", ".join(f"'{level}'" for level in SEVERE) + ")"


@dataclass(frozen=True)
class Kind:
    """How one kind of located row is searched and shown on a warden's card."""

    table: str
    # SQL (alias t) of the row's colour, None for kinds without one.
    level: str | None
    name: str = "t.name"
    # Extra condition (alias t).
    condition: str = "TRUE"
    # Card fields beyond kind, id, name, risk_level, distance and bearing: name → SQL over
    # t and, where `joins_enterprise`, its enterprise e. Null fields are left out.
    card: tuple[tuple[str, str], ...] = ()
    joins_enterprise: bool = False

    @property
    def has_level_column(self) -> bool:
        """True when the table stores the colour (the scope's level filter applies)."""
        return self.level == "t.risk_level"


PERSONS = (
    ("responsible_person", "t.responsible_person"),
    ("responsible_phone", "t.responsible_phone"),
    ("government_person", "t.government_person"),
)
OF_ENTERPRISE = (("enterprise_id", "t.enterprise_id"), ("enterprise_name", "e.name"))

KINDS: dict[str, Kind] = {
    kind.table: kind
    for kind in (
        Kind(
            "risk_points",
            "t.risk_level",
            joins_enterprise=True,
            card=(
                *OF_ENTERPRISE,
                ("hazard_type", "t.hazard_type"),
                ("control_measures", "t.control_measures"),
                *PERSONS,
            ),
        ),
        Kind(
            "enterprises",
            "t.risk_level",
            card=(("sector", "t.sector"), ("address", "t.address"), *PERSONS),
        ),
        Kind(
            "hazard_sources",
            "t.risk_level",
            joins_enterprise=True,
            card=(*OF_ENTERPRISE, ("hazard_grade", "t.grade"), *PERSONS),
        ),
        Kind(
            "public_zones",
            "t.risk_level",
            card=(
                ("zone_kind", "t.kind"),
                ("address", "t.address"),
                ("managing_department", "t.managing_department"),
            ),
        ),
        Kind(
            "hidden_dangers",
            DANGER_LEVEL,
            name="t.title",
            condition="t.status <> 'closed'",
            joins_enterprise=True,
            card=(
                *OF_ENTERPRISE,
                ("danger_grade", "t.grade"),
                ("status", "t.status"),
                ("deadline", "t.deadline"),
                *PERSONS,
            ),
        ),
        Kind(
            "emergency_resources",
            None,
            condition=(
                "(CAST(:resource_kind AS text) IS NULL OR t.kind = CAST(:resource_kind AS text))"
            ),
            card=(
                ("resource_kind", "t.kind"),
                ("capacity", "t.capacity"),
                ("contact_person", "t.contact_person"),
                ("contact_phone", "t.contact_phone"),
            ),
        ),
    )
}


@dataclass(frozen=True)
class Search:
    """One nearby search, its point already in WGS 84."""

    lon: float
    lat: float
    radius_m: float
    limit: int
    kinds: tuple[str, ...] | None = None
    levels: tuple[str, ...] | None = None
    resource_kind: str | None = None


def searched_kinds(
    scope: Scope, *, kinds: tuple[str, ...] | None, levels: tuple[str, ...] | None
) -> tuple[str, ...]:
    """The kinds to search: those asked for (each readable, else 401/403 naming `kinds`),
    or every kind the scope reads (with `levels`: every one that has a colour)."""
    if kinds is None:
        readable = tuple(kind for kind in KINDS if scope.can_read(kind))
        if not readable:
            scope.require_signed_in()
        return tuple(kind for kind in readable if levels is None or KINDS[kind].level)
    for kind in kinds:
        try:
            scope.require_read(kind)
        except Forbidden as error:
            raise Forbidden(error.message, field="kinds") from error
        if levels and KINDS[kind].level is None:
            raise InvalidInput(f"{kind} have no risk level", field="levels")
    return kinds


def first_candidates(limit: int, lat: float) -> int:
    """Candidates to take per kind at first: a geodesic disc is an ellipse in degrees,
    1 / cos φ wider east–west, so KNN by degrees needs about limit / cos φ rows to cover
    it (plus slack for the bound's own margin and uneven density)."""
    return math.ceil(limit * 1.2 / math.cos(math.radians(lat))) + 8


def _scope_sql(kind: Kind, filters: RowFilters) -> tuple[str, dict[str, Any]]:
    """The scope's own filters of one kind with parameters named after the kind (the
    filters of different kinds bind different values to the same names)."""
    where = filters.where("t", has_level=kind.has_level_column)
    params: dict[str, Any] = {}
    for name, value in filters.params().items():
        where = re.sub(rf"(?<!:):{name}\b", f":{kind.table}_{name}", where)
        params[f"{kind.table}_{name}"] = value
    return where, params


def _candidates_sql(kind: Kind, scope_where: str, severe_only: bool, distributed: bool) -> str:
    """The nearest rows of one kind, by KNN in degrees.

    On Citus (issue 17) they carry their cards too, read on their shard (an enterprise's
    rows and the enterprise share one: docs/scaling.md §1.2) from the shards of the
    counties near the point only: a second pass for the cards of the ranked rows cost a
    dozen more distributed steps per search. One PostgreSQL reads cards per ranked row
    (`_card_sql`).
    """
    level = (
        "TRUE"
        if kind.level is None or kind.has_level_column
        else (f"(CAST(:levels AS text[]) IS NULL OR {kind.level} = ANY(CAST(:levels AS text[])))")
    )
    if severe_only and kind.has_level_column:
        # Written out, so every plan (a prepared statement's generic one too) may walk the
        # partial GiST index of red and orange rows (migration 0012) instead of the whole.
        level = f"t.risk_level IN {SEVERE_SQL}"
    card = ""
    join = ""
    if distributed:
        card = f", {_card_columns(kind)}"
        join = (
            " LEFT JOIN enterprises e ON e.county_code = t.county_code AND e.id = t.enterprise_id"
            if kind.joins_enterprise
            else ""
        )
    return f"""(
        SELECT '{kind.table}' AS kind, t.id, t.geom,
               t.geom <-> {POINT} AS degrees{card}
          FROM {kind.table} t{join}
         WHERE t.geom && ST_MakeEnvelope(:min_lon, :min_lat, :max_lon, :max_lat, 4326)
           AND {scope_where} AND {level} AND {kind.condition}{_near_shards(distributed)}
         ORDER BY t.geom <-> {POINT}
         LIMIT :{kind.table}_candidates)"""


def _near_shards(distributed: bool) -> str:
    """On Citus: only the shards of the counties near the point (routing.counties_near)."""
    return f" AND {routing.in_counties('t')}" if distributed else ""


def _card_columns(kind: Kind) -> str:
    return (
        f"{kind.name} AS name, {kind.level or 'NULL'} AS risk_level,"
        f" jsonb_strip_nulls(jsonb_build_object({_card_fields(kind)})) AS card"
    )


def _card_sql(kind: Kind) -> str:
    """The card of a ranked row of one kind (`r`) on one PostgreSQL: a look-up by primary
    key, ≈ 0.1 ms for 50 (on Citus the candidates carry their cards)."""
    join = " LEFT JOIN enterprises e ON e.id = t.enterprise_id" if kind.joins_enterprise else ""
    return f"""
        SELECT '{kind.table}' AS kind, t.id, t.geom, {_card_columns(kind)}
          FROM {kind.table} t{join}
         WHERE r.kind = '{kind.table}' AND t.id = r.id"""


def _card_fields(kind: Kind) -> str:
    return ", ".join(f"'{name}', {sql}" for name, sql in kind.card)


# What a search of no kind at all (a role that reads none with a colour) selects.
NO_CANDIDATES = (
    "SELECT NULL::text AS kind, NULL::integer AS id, NULL::geometry AS geom,"
    " NULL::float8 AS degrees, NULL::text AS name, NULL::text AS risk_level,"
    " NULL::jsonb AS card WHERE FALSE"
)


@lru_cache(maxsize=256)
def _statement(
    kinds: tuple[Kind, ...],
    scope_wheres: tuple[str, ...],
    severe_only: bool = False,
    distributed: bool = False,
) -> TextClause:
    """The search of these kinds with these scope filters (built and parsed once)."""
    taken = (
        "\n UNION ALL ".join(
            _candidates_sql(kind, where, severe_only, distributed)
            for kind, where in zip(kinds, scope_wheres, strict=True)
        )
        or NO_CANDIDATES
    )
    # Cards per ranked row (one PostgreSQL), or those the candidates carry (Citus).
    card_source = (
        "ranked r JOIN candidates d ON d.kind = r.kind AND d.id = r.id"
        if distributed or not kinds
        else "ranked r CROSS JOIN LATERAL ("
        + "\n UNION ALL ".join(_card_sql(kind) for kind in kinds)
        + ") d"
    )
    # bearing: to the nearest point of a zone; none when the point lies on or in it.
    # measured is materialised: each distance is computed once, not in filter and sort.
    return text(f"""
    WITH candidates AS ({taken}),
    measured AS MATERIALIZED (
        SELECT c.*, {DISTANCE} AS distance_m
          FROM (SELECT kind, id, degrees, ST_Segmentize(geom, {SEGMENT_DEG}) AS geom
                  FROM candidates) c),
    ranked AS (
        SELECT * FROM measured WHERE distance_m <= :radius_m
         ORDER BY distance_m, kind, id LIMIT :limit),
    features AS (
        SELECT r.distance_m, r.kind, r.id, json_build_object(
                 'type', 'Feature', 'id', r.kind || '.' || r.id,
                 'geometry', ST_AsGeoJSON(d.geom, 6)::json,
                 'properties', jsonb_build_object(
                     'kind', r.kind, 'id', r.id, 'name', d.name, 'risk_level', d.risk_level,
                     'distance_m', round(r.distance_m::numeric, 1),
                     'bearing_deg', round(degrees(ST_Azimuth(
                         {POINT}::geography,
                         ST_ClosestPoint(r.geom, {POINT})::geography))::numeric, 1) % 360
                 ) || d.card) AS feature
          FROM {card_source})
    SELECT county_at({POINT}) IS NOT NULL AS in_china,
           (SELECT json_object_agg(kind, json_build_array(n, last_degrees))
              FROM (SELECT kind, count(*) AS n, max(degrees) AS last_degrees
                      FROM candidates GROUP BY kind) s) AS taken,
           (SELECT count(*) FROM ranked) AS found,
           (SELECT max(distance_m) FROM ranked) AS farthest_m,
           json_build_object(
               'type', 'FeatureCollection',
               'center', json_build_array(:lon, :lat), 'radius_m', :radius_m,
               'kinds', CAST(:kinds AS text[]),
               'features', (SELECT coalesce(json_agg(feature ORDER BY distance_m, kind, id),
                                            '[]'::json) FROM features))::text AS body""")


def _short_kinds(
    row: Any, *, search: Search, box: SearchBox, candidates: dict[str, int]
) -> list[str]:
    """Kinds whose cut-off candidate list might hide a row that belongs in the answer.

    A row not taken lies at least `box.geodesic_lower_bound(last degrees)` away. It could
    displace the answer's farthest row when the answer is full, or join it within the
    radius when it is not: only a bound beyond that proves the answer exact.
    """
    reach = row.farthest_m if row.found == search.limit else search.radius_m
    return [
        kind
        for kind, (taken, last_degrees) in (row.taken or {}).items()
        if taken == candidates[kind] and box.geodesic_lower_bound(last_degrees) <= reach
    ]


def find_nearby(session: Session, *, scope: Scope, search: Search) -> str:
    """The rows around the point, nearest first, as GeoJSON FeatureCollection text.

    `session` should be a search session (`app.db.get_search_session`): with bitmap scans
    on, the planner may sort whole boxes instead of walking the indexes in distance order
    (same answer, many times slower)."""
    kinds = searched_kinds(scope, kinds=search.kinds, levels=search.levels)
    level = ",".join(search.levels) if search.levels else None
    scope_wheres: list[str] = []
    params: dict[str, Any] = {}
    for table in kinds:
        kind = KINDS[table]
        filters = scope.filters(
            table, level=level if kind.has_level_column else None, has_level=kind.has_level_column
        )
        where, kind_params = _scope_sql(kind, filters)
        scope_wheres.append(where)
        params.update(kind_params)
    box = search_box(search.lon, search.lat, search.radius_m)
    params.update(
        lon=search.lon,
        lat=search.lat,
        radius_m=search.radius_m,
        limit=search.limit,
        kinds=list(kinds),
        levels=list(search.levels) if search.levels else None,
        resource_kind=search.resource_kind,
        min_lon=box.min_lon,
        min_lat=box.min_lat,
        max_lon=box.max_lon,
        max_lat=box.max_lat,
    )
    candidates = {table: first_candidates(search.limit, search.lat) for table in kinds}
    severe_only = search.levels is not None and set(search.levels) <= set(SEVERE)
    distributed = "enterprises" in routing.distributed_tables(session.connection())
    if distributed:
        params["counties"] = routing.counties_near(
            session.connection(), box.min_lon, box.min_lat, box.max_lon, box.max_lat
        )
    statement = _statement(
        tuple(KINDS[table] for table in kinds), tuple(scope_wheres), severe_only, distributed
    )
    while True:
        row = session.execute(
            statement, {**params, **{f"{table}_candidates": n for table, n in candidates.items()}}
        ).one()
        if not row.in_china:
            raise InvalidInput(
                f"lon={search.lon}, lat={search.lat} lies outside China", field="lon,lat"
            )
        short = _short_kinds(row, search=search, box=box, candidates=candidates)
        if not short:
            return str(row.body)
        for table in short:
            candidates[table] *= WIDEN
