"""Setback and siting checks of proposed projects, both ways, and the reverse view.

A proposed protection target (a school, a residential area …) is checked against every
hazard within the largest setback any hazard needs from its class; a proposed hazard (an
LPG station, a hazardous-chemical plant …) against every protection target within its own
setbacks. Distances are geodesic metres between the nearest points of the two geometries
(PostGIS geography on the WGS 84 ellipsoid). GeoJSON edges are straight in lon/lat while
geography reads them as geodesics; cut into ≤ 0.002° pieces the two differ by
millimetres, so polygons are measured where they were drawn (as in app/nearby).

A hazard source's own study (hazard_safety_zones) overrides the table when stricter: an
external safety distance per target class, or GB 36894 individual-risk contours.
A check writes nothing.
"""

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.auth.scope import RowFilters, Scope, region_prefix
from app.cluster import routing
from app.crud import get_or_raise
from app.errors import InvalidInput
from app.geo.geodesic import M_MIN, WGS84_A, search_box
from app.geo.location import ewkt, parse_location
from app.planning.rules import (
    RuleSet,
    check_attributes,
    kind_or_raise,
    rule_set,
    substance_class,
)
from app.risk import gb18218, grading
from app.sites.models import Enterprise, HazardSource

SEGMENT_DEG = 0.002
PROJECT = "ST_GeomFromEWKT(:project)"


def geodesic_sql(a: str, b: str) -> str:
    """SQL of the geodesic distance (m) between the nearest points of two geometries."""
    return (
        f"ST_Distance(ST_Segmentize({a}, {SEGMENT_DEG})::geography,"
        f" ST_Segmentize({b}, {SEGMENT_DEG})::geography)"
    )


def within_sql(a: str, b: str, radius: str) -> str:
    """SQL: the two geometries lie within `radius` metres of each other (geodesic)."""
    return (
        f"ST_DWithin(ST_Segmentize({a}, {SEGMENT_DEG})::geography,"
        f" ST_Segmentize({b}, {SEGMENT_DEG})::geography, {radius})"
    )


@dataclass
class Proposal:
    """A proposed project, parsed and classified."""

    kind: str
    definition: dict[str, Any]
    attributes: dict[str, Any]
    shape: BaseGeometry
    role: str
    target_class: str | None = None
    hazard_kind: str | None = None
    hazard_attributes: dict[str, Any] = field(default_factory=dict)
    high_risk: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def ewkt(self) -> str:
        """The geometry as EWKT (WGS 84)."""
        return ewkt(self.shape)


def parse_proposal(
    rules: RuleSet,
    *,
    kind: str,
    attributes: dict[str, Any],
    geometry: dict[str, Any],
    crs: str,
) -> Proposal:
    """Check a proposal's kind, attributes and geometry (422 naming what is wrong)."""
    definition = kind_or_raise(rules, kind)
    checked = check_attributes(definition, attributes)
    shape = parse_location(
        lon=None,
        lat=None,
        geometry=geometry,
        crs=crs,
        allowed=tuple(definition.get("geometry", ("Point", "Polygon"))),
    )
    proposal = Proposal(
        kind=kind,
        definition=definition,
        attributes=checked,
        shape=shape,
        role=definition["role"],
        high_risk=bool(definition.get("high_risk")),
    )
    if proposal.role == "target":
        proposal.target_class = rules.target_class_for(
            definition["target_class"], checked.get("people")
        )
    else:
        proposal.hazard_kind = definition["hazard_kind"]
        proposal.hazard_attributes = checked
    return proposal


def _box_params(shape: BaseGeometry, radius_m: float) -> dict[str, float]:
    """A lon/lat box holding everything within `radius_m` of the shape."""
    min_x, min_y, max_x, max_y = shape.bounds
    far_lat = max_y if abs(max_y) > abs(min_y) else min_y
    box = search_box(0.0, far_lat, radius_m)
    d_lon, d_lat = box.max_lon, box.max_lat - far_lat
    return {
        "min_lon": min_x - d_lon,
        "min_lat": min_y - d_lat,
        "max_lon": max_x + d_lon,
        "max_lat": max_y + d_lat,
    }


ENVELOPE = "ST_MakeEnvelope(:min_lon, :min_lat, :max_lon, :max_lat, 4326)"


@dataclass(frozen=True)
class SiteFacts:
    """What one query tells about a site before the candidate searches."""

    # The county the site lies in (by the one point-to-region rule).
    county_code: str
    # Hazard sources whose own contours touch the site, however far their points lie.
    contour_hits: list[int]
    # The largest own external safety distance per target class.
    farthest_own: dict[str, float]


# A proposed project is a plant, a station, a school: a site larger than this is a mistake
# (a whole district drawn by accident), and would search every row around it.
MAX_SITE_AREA_KM2 = 100


def _site_facts_or_raise(session: Session, proposal: Proposal, scope: Scope) -> SiteFacts:
    """The site lies wholly in China and within the caller's region, and is not absurdly
    large (else 422 naming `geometry`); the own studies that may reach it."""
    row = session.execute(
        text(
            f"""
            SELECT county_at(region_anchor({PROJECT})) AS county_code,
                   (SELECT count(*) FROM ST_DumpPoints({PROJECT}) d
                     WHERE county_at(d.geom) IS NULL) AS points_outside,
                   ST_Area({PROJECT}::geography) / 1e6 AS area_km2,
                   (SELECT coalesce(array_agg(DISTINCT z.hazard_source_id), '{{}}')
                      FROM hazard_safety_zones z
                     WHERE z.kind = 'contour' AND z.geom && {PROJECT}
                       AND ST_Intersects(z.geom, {PROJECT})) AS hits,
                   (SELECT coalesce(jsonb_object_agg(target_class, farthest), '{{}}')
                      FROM (SELECT target_class, max(distance_m) AS farthest
                              FROM hazard_safety_zones WHERE kind = 'distance'
                             GROUP BY target_class) d) AS farthest"""
        ),
        {"project": proposal.ewkt},
    ).one()
    if row.county_code is None or row.points_outside:
        x, y = proposal.shape.representative_point().coords[0]
        where = "the site" if row.county_code is None else "part of the site"
        raise InvalidInput(f"{where} near ({x:.5f}, {y:.5f}) lies outside China", field="geometry")
    if row.area_km2 > MAX_SITE_AREA_KM2:
        raise InvalidInput(
            f"the site covers {row.area_km2:,.0f} km², over the {MAX_SITE_AREA_KM2} km² a"
            " proposed project may have",
            field="geometry",
        )
    if scope.region_code and not row.county_code.startswith(region_prefix(scope.region_code)):
        # The check sees only the caller's rows: elsewhere it would pass for want of data.
        raise InvalidInput(
            f"the site lies in county {row.county_code}, outside the region of"
            f" {scope.username} ({scope.region_code}), whose data the check reads",
            field="geometry",
        )
    return SiteFacts(
        row.county_code, list(row.hits), {k: float(v) for k, v in row.farthest.items()}
    )


def _zone_hazard_kinds(rules: RuleSet) -> list[str]:
    return list(rules.existing["public_zone_hazards"])


def zone_class(rules: RuleSet, kind: str, population: int | None) -> str:
    """The protection-target class of a stored public zone."""
    declared = rules.existing["public_zone_targets"].get(
        kind, rules.existing["default_target_class"]
    )
    return rules.target_class_for(declared, population)


def _dense(rules: RuleSet, target_class: str, people: int | None) -> bool:
    dense = rules.zoning["dense_site"]
    return target_class in dense["classes"] or (people or 0) >= dense["min_people"]


def _zones_near(
    session: Session, rules: RuleSet, proposal: Proposal, filters: RowFilters, radius_m: float
) -> list[dict[str, Any]]:
    """Public zones within `radius_m` of the proposal, nearest first: protection targets
    with their class, and hazards (gas pipelines) with `target_class` None."""
    if radius_m <= 0:
        return []
    sql = f"""
        SELECT t.id, t.name, t.kind, t.population, ST_AsGeoJSON(t.geom, 7) AS geometry,
               {geodesic_sql("t.geom", PROJECT)} AS distance_m
          FROM public_zones t
         WHERE t.geom && {ENVELOPE} AND {filters.where("t")}
           AND {within_sql("t.geom", PROJECT, ":radius")}
         ORDER BY distance_m, t.id"""
    rows = session.execute(
        text(sql),
        {
            **filters.params(),
            **_box_params(proposal.shape, radius_m),
            "project": proposal.ewkt,
            "radius": radius_m,
        },
    ).mappings()
    hazards = rules.existing["public_zone_hazards"]
    return [
        {
            **row,
            "target_class": None
            if row["kind"] in hazards
            else zone_class(rules, row["kind"], row["population"]),
        }
        for row in rows
    ]


# A hazard source's own studies (contours, distances) as a JSON list.
_OWN_ZONES = """coalesce(jsonb_agg(jsonb_build_object(
    'kind', z.kind, 'risk_per_year', z.risk_per_year, 'target_class', z.target_class,
    'distance_m', z.distance_m, 'reference', z.reference)), '[]'::jsonb)"""
_OWN_ZONES_OF = "hazard_safety_zones z WHERE z.hazard_source_id"


def _hazard_sources_near(
    session: Session, proposal: Proposal, filters: RowFilters, radius_m: float, extra: list[int]
) -> list[dict[str, Any]]:
    """Graded major hazard sources within `radius_m` (and those listed in `extra`)."""
    # On Citus the own studies (a coordinator table) cannot be read by a subquery per
    # distributed row: they are read apart, by the sources' ids, after the search.
    colocated = routing.colocated(session.connection())
    own = "NULL" if colocated else f"(SELECT {_OWN_ZONES} FROM {_OWN_ZONES_OF} = t.id)"
    same_shard = routing.same_shard(session.connection(), ("e", "t"))
    sql = f"""
        SELECT t.id, t.name, t.grade, t.substances, e.name AS enterprise_name,
               ST_AsGeoJSON(t.geom, 7) AS geometry, {geodesic_sql("t.geom", PROJECT)} AS distance_m,
               {own} AS own
          FROM hazard_sources t
          JOIN enterprises e ON e.id = t.enterprise_id{same_shard}
         WHERE t.grade IS NOT NULL AND {filters.where("t")}
           AND ((t.geom && {ENVELOPE} AND {within_sql("t.geom", PROJECT, ":radius")})
                OR t.id = ANY(CAST(:extra AS integer[])))"""
    rows = [
        dict(row)
        for row in session.execute(
            text(sql),
            {
                **filters.params(),
                **_box_params(proposal.shape, radius_m),
                "project": proposal.ewkt,
                "radius": radius_m,
                "extra": extra,
            },
        ).mappings()
    ]
    if colocated and rows:
        studies: dict[int, list[dict[str, Any]]] = dict(
            session.execute(
                text(
                    f"SELECT z.hazard_source_id, {_OWN_ZONES} FROM {_OWN_ZONES_OF}"
                    " = ANY(:ids) GROUP BY z.hazard_source_id"
                ),
                {"ids": [row["id"] for row in rows]},
            ).all()
        )
        for row in rows:
            row["own"] = studies.get(row["id"], [])
    return rows


def hazard_kind_of_source(rules: RuleSet, source: dict[str, Any]) -> str:
    """The setback kind of a stored major hazard source: by its substances' class."""
    terms: tuple[gb18218.SubstanceTerm, ...] = ()
    try:
        parsed = grading.parse_substances(source["substances"])
        terms = gb18218.assess_hazard_source(parsed, 0).terms
    except InvalidInput:
        pass  # stored before GB 18218's tables knew it: graded as "other"
    return f"major_hazard_source.{substance_class(rules, terms)}"


def _contour_for(zones: list[dict[str, Any]], criterion: float | None) -> float | None:
    """The contour level to test a target against: the criterion's own level, else the
    nearest drawn level below it (stricter, so still safe); None when no level fits."""
    if criterion is None:
        return None
    levels = sorted({z["risk_per_year"] for z in zones if z["kind"] == "contour"}, reverse=True)
    fitting = [level for level in levels if level <= criterion * (1 + 1e-9)]
    return fitting[0] if fitting else None


def _contour_shortfall(
    session: Session, hazard_source_id: int, level: float, project: str
) -> float | None:
    """How far (m) the project reaches into the hazard's contour of this level; None when
    it lies outside. Measured from the contour's outline to the deepest vertex inside."""
    value = session.execute(
        text(
            f"""
            SELECT max(ST_Distance(d.geom::geography,
                                   ST_Boundary(ST_Segmentize(z.geom, {SEGMENT_DEG}))::geography))
              FROM hazard_safety_zones z,
                   ST_DumpPoints(ST_Intersection(z.geom, ST_Segmentize({PROJECT}, {SEGMENT_DEG})))
                   d
             WHERE z.hazard_source_id = :id AND z.kind = 'contour' AND z.risk_per_year = :level
               AND ST_Intersects(z.geom, {PROJECT})"""
        ),
        {"id": hazard_source_id, "level": level, "project": project},
    ).scalar_one()
    return None if value is None else float(value)


def _geojson(value: str | None) -> dict[str, Any] | None:
    return json.loads(value) if value else None


def _conflict(
    *,
    rule: str,
    source_clause: str,
    other: dict[str, Any],
    other_kind: str,
    distance_m: float,
    required_m: float,
    basis: str,
    target_class: str,
    confirmed: str,
) -> dict[str, Any]:
    return {
        "rule": rule,
        "source_clause": source_clause,
        "other_id": other["id"],
        "other_name": other["name"],
        "other_kind": other_kind,
        "other_geometry": _geojson(other.get("geometry")),
        "target_class": target_class,
        "distance_m": round(distance_m, 1),
        "required_m": round(required_m, 1),
        "shortfall_m": round(required_m - distance_m, 1),
        "basis": basis,
        "confirmed": confirmed,
    }


def _check_against_source(
    session: Session,
    rules: RuleSet,
    *,
    source: dict[str, Any],
    own: list[dict[str, Any]],
    target_class: str,
    distance_m: float,
    project: str,
) -> dict[str, Any] | None:
    """The stricter of the table, the source's own distance and its contour, for a target
    of `target_class` at `distance_m` from a stored major hazard source."""
    kind = hazard_kind_of_source(rules, source)
    row = rules.setback(kind, {"grade": source["grade"]}, target_class)
    candidates: list[dict[str, Any]] = []
    name = source["enterprise_name"] + " · " + source["name"]
    other = {"id": source["id"], "name": name, "geometry": source.get("geometry")}
    if row and distance_m < row.distance_m:
        candidates.append(
            _conflict(
                rule=row.rule,
                source_clause=row.source_clause,
                other=other,
                other_kind="hazard_sources",
                distance_m=distance_m,
                required_m=row.distance_m,
                basis="table",
                target_class=target_class,
                confirmed=row.confirmed,
            )
        )
    for zone in own:
        if zone["kind"] == "distance" and zone["target_class"] == target_class:
            if distance_m < zone["distance_m"]:
                candidates.append(
                    _conflict(
                        rule="own_external_safety_distance",
                        source_clause="GB/T 37243-2019 外部安全防护距离"
                        + (f"（{zone['reference']}）" if zone["reference"] else ""),
                        other=other,
                        other_kind="hazard_sources",
                        distance_m=distance_m,
                        required_m=zone["distance_m"],
                        basis="own_distance",
                        target_class=target_class,
                        confirmed="study",
                    )
                )
    level = _contour_for(own, rules.criterion(target_class, existing_hazard=True))
    if level is not None:
        reach = _contour_shortfall(session, source["id"], level, project)
        if reach is not None:
            reference = next((z["reference"] for z in own if z["reference"]), None)
            candidates.append(
                _conflict(
                    rule=f"gb36894_contour_{level:.0e}",
                    source_clause=f"GB 36894-2018 表1 个人风险基准 {level:.0e}/年"
                    + (f"（{reference}）" if reference else ""),
                    other=other,
                    other_kind="hazard_sources",
                    distance_m=distance_m,
                    required_m=distance_m + max(reach, 0.1),
                    basis="contour",
                    target_class=target_class,
                    confirmed="study",
                )
            )
    return max(candidates, key=lambda c: c["shortfall_m"], default=None)


def _check_target(
    session: Session,
    rules: RuleSet,
    proposal: Proposal,
    scope: Scope,
    zones: list[dict[str, Any]],
    facts: SiteFacts,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """A proposed protection target against stored hazards: conflicts, zoning, rings."""
    assert proposal.target_class is not None
    cls = proposal.target_class
    dense = _dense(rules, cls, proposal.attributes.get("people"))
    dense_radius = float(rules.zoning["dense_site"]["radius_m"]) if dense else 0.0
    radius = max(rules.largest_for_target(cls), facts.farthest_own.get(cls, 0.0), dense_radius)
    conflicts: list[dict[str, Any]] = []
    zoning: list[dict[str, Any]] = []
    sources = _hazard_sources_near(
        session, proposal, scope.filters("hazard_sources"), radius, facts.contour_hits
    )
    for source in sources:
        found = _check_against_source(
            session,
            rules,
            source=source,
            own=source["own"],
            target_class=cls,
            distance_m=float(source["distance_m"]),
            project=proposal.ewkt,
        )
        if found:
            conflicts.append(found)
        if dense and source["grade"] <= 2 and source["distance_m"] <= dense_radius:
            zoning.append(_dense_item(rules, source, "hazard_sources", source["distance_m"]))
    for zone in zones:
        if zone["target_class"] is not None or zone["distance_m"] > radius:
            continue
        hazard = rules.existing["public_zone_hazards"][zone["kind"]]
        row = rules.setback(hazard["hazard_kind"], hazard["attributes"], cls)
        if row and zone["distance_m"] < row.distance_m:
            conflicts.append(
                _conflict(
                    rule=row.rule,
                    source_clause=row.source_clause,
                    other=zone,
                    other_kind=f"public_zones.{zone['kind']}",
                    distance_m=float(zone["distance_m"]),
                    required_m=row.distance_m,
                    basis="table",
                    target_class=cls,
                    confirmed=row.confirmed,
                )
            )
    rings = [{"target_class": cls, "radius_m": radius, "purpose": "search"}]
    return conflicts, zoning, rings


def _dense_item(
    rules: RuleSet, other: dict[str, Any], other_kind: str, distance_m: float
) -> dict[str, Any]:
    dense = rules.zoning["dense_site"]
    return {
        "rule": "no_high_risk_beside_dense_site",
        "ok": False,
        "source_clause": f"{dense['standard']}（{dense['clause']}）",
        "other_id": other["id"],
        "other_name": other["name"],
        "other_kind": other_kind,
        "other_geometry": _geojson(other.get("geometry")),
        "distance_m": round(float(distance_m), 1),
        "required_m": float(dense["radius_m"]),
    }


def _grade_hazchem(rules: RuleSet, proposal: Proposal, people: int) -> None:
    """A hazardous-chemical project's setback kind from its GB 18218-2018 grade."""
    substances = grading.parse_substances(proposal.attributes["substances"])
    assessment = gb18218.assess_hazard_source(substances, people)
    proposal.attributes["substances"] = [
        {k: v for k, v in s.__dict__.items() if v is not None} for s in substances
    ]
    if not assessment.is_major:
        proposal.hazard_kind = None
        proposal.high_risk = False
        proposal.notes.append(
            f"S = {assessment.s:g} < 1: not a major hazard source (GB 18218-2018); "
            "the design codes' own distances apply"
        )
        return
    cls = substance_class(rules, assessment.terms)
    proposal.hazard_kind = f"major_hazard_source.{cls}"
    proposal.hazard_attributes = {"grade": assessment.grade}
    proposal.notes.append(
        f"GB 18218-2018: S = {assessment.s:g}, R = {assessment.r:g}, grade {assessment.grade}"
        f" ({cls}; α from {people} people within 500 m)"
    )


def _check_hazard(
    session: Session, rules: RuleSet, proposal: Proposal, scope: Scope, zones: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """A proposed hazard against stored protection targets: conflicts, zoning, rings."""
    dense_radius = float(rules.zoning["dense_site"]["radius_m"])
    if proposal.hazard_kind == "major_hazard_source":
        _grade_hazchem(rules, proposal, people_within(rules, zones)["people"])
    kind, attributes = proposal.hazard_kind, proposal.hazard_attributes
    setback = rules.largest_for_hazard(kind, attributes) if kind else 0.0
    radius = max(setback, dense_radius if proposal.high_risk else 0.0)
    conflicts: list[dict[str, Any]] = []
    zoning: list[dict[str, Any]] = []
    for target in zones:
        cls, distance = target["target_class"], float(target["distance_m"])
        if cls is None or distance > radius:
            continue
        row = rules.setback(kind, attributes, cls) if kind else None
        if row and distance < row.distance_m:
            conflicts.append(
                _conflict(
                    rule=row.rule,
                    source_clause=row.source_clause,
                    other=target,
                    other_kind=f"public_zones.{target['kind']}",
                    distance_m=distance,
                    required_m=row.distance_m,
                    basis="table",
                    target_class=cls,
                    confirmed=row.confirmed,
                )
            )
        if (
            proposal.high_risk
            and distance <= dense_radius
            and _dense(rules, cls, target["population"])
        ):
            zoning.append(_dense_item(rules, target, f"public_zones.{target['kind']}", distance))
    rings = []
    for cls in rules.target_classes:
        row = rules.setback(kind, attributes, cls) if kind else None
        if row:
            rings.append(
                {
                    "target_class": cls,
                    "radius_m": row.distance_m,
                    "rule": row.rule,
                    "source_clause": row.source_clause,
                    "purpose": "setback",
                }
            )
    return conflicts, zoning, rings


def _park_zoning(
    session: Session, rules: RuleSet, proposal: Proposal, scope: Scope
) -> list[dict[str, Any]]:
    """New hazardous-chemical production only inside a park of an allowed class."""
    if not proposal.definition.get("requires_park"):
        return []
    filters = scope.filters("chemical_parks", has_level=False)
    park = (
        session.execute(
            text(
                f"SELECT t.id, t.name, t.risk_class FROM chemical_parks t"
                f" WHERE t.geom && {PROJECT} AND ST_Covers(t.geom, {PROJECT})"
                f" AND {filters.where('t', has_level=False)}"
                f" ORDER BY t.risk_class DESC, t.id LIMIT 1"
            ),
            {**filters.params(), "project": proposal.ewkt},
        )
        .mappings()
        .first()
    )
    allowed = rules.zoning["park_allowed_classes"]
    rule = rules.zoning["park_rule"]
    item: dict[str, Any] = {
        "rule": "inside_allowed_chemical_park",
        "source_clause": f"{rule['standard']} {rule['clause']}",
        "allowed_classes": allowed,
        "park_id": park["id"] if park else None,
        "park_name": park["name"] if park else None,
        "park_class": park["risk_class"] if park else None,
    }
    item["ok"] = park is not None and park["risk_class"] in allowed
    item["detail"] = (
        "not inside any chemical park"
        if park is None
        else f"inside {park['name']} (class {park['risk_class']})"
    )
    return [item]


def _draw_rings(proposal: Proposal, rings: list[dict[str, Any]]) -> None:
    """Each ring's outline for the map: the site widened by its radius, drawn in a local
    equirectangular projection (over a few kilometres it is off by centimetres; the
    distances checked are the database's geodesic ones, not these outlines)."""
    centre = proposal.shape.representative_point()
    origin = np.array([centre.x, centre.y])
    scale = np.array(
        [math.radians(1) * WGS84_A * math.cos(math.radians(centre.y)), math.radians(1) * M_MIN]
    )
    local = shapely.transform(proposal.shape, lambda xy: (xy - origin) * scale)
    for ring in rings:
        if ring["radius_m"] <= 0:
            ring["geometry"] = None
            continue
        outline = shapely.transform(
            local.buffer(ring["radius_m"], quad_segs=16), lambda xy: xy / scale + origin
        )
        ring["geometry"] = json.loads(shapely.to_geojson(outline))


def people_within(rules: RuleSet, zones: list[dict[str, Any]]) -> dict[str, Any]:
    """People in the protection targets (that the caller reads) within the radius."""
    radius = float(rules.zoning["people_radius_m"])
    near = [z for z in zones if z["target_class"] is not None and z["distance_m"] <= radius]
    by_class: dict[str, int] = {}
    for target in near:
        by_class[target["target_class"]] = by_class.get(target["target_class"], 0) + 1
    return {
        "radius_m": radius,
        "people": sum(t["population"] or 0 for t in near),
        "zones": len(near),
        "zones_by_class": by_class,
    }


def _zone_radius(rules: RuleSet, proposal: Proposal) -> float:
    """How far public zones matter to this proposal: its setbacks (every grade a new
    hazardous-chemical unit might get), dense sites, the people count."""
    radii = [float(rules.zoning["people_radius_m"]), float(rules.zoning["dense_site"]["radius_m"])]
    if proposal.role == "target":
        assert proposal.target_class is not None
        radii.append(rules.largest_for_target(proposal.target_class))
    elif proposal.hazard_kind == "major_hazard_source":
        radii.append(rules.largest_for_kinds(proposal.hazard_kind + "."))
    elif proposal.hazard_kind:
        radii.append(rules.largest_for_hazard(proposal.hazard_kind, proposal.hazard_attributes))
    return max(radii)


def check(
    session: Session,
    *,
    scope: Scope,
    kind: str,
    attributes: dict[str, Any],
    geometry: dict[str, Any],
    crs: str,
    rule_set_version: str | None = None,
) -> dict[str, Any]:
    """Check a proposed project; writes nothing."""
    scope.require_role("admin", "official", "planner")
    rules = rule_set(session, rule_set_version)
    proposal = parse_proposal(rules, kind=kind, attributes=attributes, geometry=geometry, crs=crs)
    facts = _site_facts_or_raise(session, proposal, scope)
    zones = _zones_near(
        session,
        rules,
        proposal,
        scope.filters("public_zones"),
        _zone_radius(rules, proposal),
    )
    if proposal.role == "target":
        conflicts, zoning, rings = _check_target(session, rules, proposal, scope, zones, facts)
    else:
        conflicts, zoning, rings = _check_hazard(session, rules, proposal, scope, zones)
    zoning = _park_zoning(session, rules, proposal, scope) + zoning
    _draw_rings(proposal, rings)
    conflicts.sort(key=lambda c: (-c["shortfall_m"], c["distance_m"]))
    return {
        "verdict": "fail" if conflicts or not all(z["ok"] for z in zoning) else "pass",
        "rule_set_version": rules.version,
        "county_code": facts.county_code,
        "kind": proposal.kind,
        "role": proposal.role,
        "target_class": proposal.target_class,
        "hazard_kind": proposal.hazard_kind,
        "attributes": proposal.attributes,
        "geometry": json.loads(json.dumps(proposal.shape.__geo_interface__)),
        "conflicts": conflicts,
        "zoning": zoning,
        "people_within": people_within(rules, zones),
        "rings": rings,
        "notes": proposal.notes,
    }


def zones_of(session: Session, *, scope: Scope, hazard_source_id: int) -> dict[str, Any]:
    """A stored hazard source's setback zones per target class (polygons, GeoJSON) and the
    protection targets already inside them (existing violations)."""
    scope.require_read("public_zones")
    source_row = get_or_raise(session, HazardSource, id=hazard_source_id, scope=scope)
    rules = rule_set(session)
    source = {
        "id": source_row.id,
        "name": source_row.name,
        "grade": source_row.grade,
        "substances": source_row.substances,
        "enterprise_name": session.scalar(
            select(Enterprise.name).where(Enterprise.id == source_row.enterprise_id)
        ),
    }
    own = [
        dict(row)
        for row in session.execute(
            text(
                "SELECT kind, risk_per_year, target_class, distance_m, reference"
                " FROM hazard_safety_zones WHERE hazard_source_id = :id"
            ),
            {"id": source_row.id},
        ).mappings()
    ]
    kind = hazard_kind_of_source(rules, source)
    features: list[dict[str, Any]] = []
    radius = 0.0
    for cls in rules.target_classes:
        row = rules.setback(kind, {"grade": source_row.grade}, cls) if source_row.grade else None
        own_distance = max(
            (z["distance_m"] for z in own if z["kind"] == "distance" and z["target_class"] == cls),
            default=0.0,
        )
        required = max(row.distance_m if row else 0.0, own_distance)
        level = _contour_for(own, rules.criterion(cls, existing_hazard=True))
        if not required and level is None:
            continue
        radius = max(radius, required)
        polygon = session.execute(
            text(
                """
                SELECT ST_AsGeoJSON(ST_Union(g), 7) FROM (
                    SELECT ST_Buffer(h.geom::geography, :required)::geometry AS g
                      FROM hazard_sources h WHERE h.id = :id AND :required > 0
                    UNION ALL
                    SELECT z.geom FROM hazard_safety_zones z
                     WHERE z.hazard_source_id = :id AND z.kind = 'contour'
                       AND z.risk_per_year = :level) parts"""
            ),
            {"id": source_row.id, "required": required, "level": level},
        ).scalar_one()
        features.append(
            {
                "type": "Feature",
                "geometry": json.loads(polygon),
                "properties": {
                    "target_class": cls,
                    "label_zh": rules.target_classes[cls]["label_zh"],
                    "required_m": required,
                    "rule": row.rule if row else None,
                    "source_clause": row.source_clause if row else None,
                    "own_distance_m": own_distance or None,
                    "contour_level": level,
                },
            }
        )
    project = session.execute(
        text("SELECT ST_AsEWKT(geom) FROM hazard_sources WHERE id = :id"), {"id": source_row.id}
    ).scalar_one()
    proposal = Proposal(
        kind="existing", definition={}, attributes={}, shape=_shape(project), role="hazard"
    )
    violations = []
    far = max(radius, 1.0)
    for target in _zones_near(session, rules, proposal, scope.filters("public_zones"), far):
        if target["target_class"] is None:
            continue
        found = _check_against_source(
            session,
            rules,
            source=source,
            own=own,
            target_class=target["target_class"],
            distance_m=float(target["distance_m"]),
            project=_target_ewkt(session, target["id"]),
        )
        if found:
            found.update(
                other_id=target["id"],
                other_name=target["name"],
                other_kind=f"public_zones.{target['kind']}",
            )
            violations.append(found)
    violations.sort(key=lambda c: -c["shortfall_m"])
    return {
        "type": "FeatureCollection",
        "hazard_source_id": source_row.id,
        "hazard_kind": kind,
        "grade": source_row.grade,
        "rule_set_version": rules.version,
        "features": features,
        "violations": violations,
    }


def _shape(ewkt_text: str) -> BaseGeometry:
    return shapely.from_wkt(ewkt_text.split(";", 1)[1])


def _target_ewkt(session: Session, zone_id: int) -> str:
    return str(
        session.execute(
            text("SELECT ST_AsEWKT(geom) FROM public_zones WHERE id = :id"), {"id": zone_id}
        ).scalar_one()
    )
