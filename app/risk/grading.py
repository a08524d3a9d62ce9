"""Applying the grading methods to stored things, and re-deriving levels after a change.

Risk points are graded from their own inputs; major hazard sources by GB 18218 with α from
the people around the plant (a spatial query); enterprises by the configurable rule in
geodata/risk/enterprise_rule.json. Every grading is appended to `assessments`.
"""

import json
from dataclasses import asdict
from datetime import date
from functools import cache
from typing import Any, TypedDict, cast

from sqlalchemy import CursorResult, text
from sqlalchemy.orm import Session

from app.auth.scope import RowFilters
from app.blacklist.models import in_force_sql
from app.datetimes import china_today
from app.errors import InvalidInput
from app.progress import Progress, silent
from app.risk import gb18218, methods
from app.risk.models import Assessment
from app.settings import GEODATA_DIR

PLANT_RADIUS_M = 500  # GB 18218-2018 α: people within 500 m of the plant boundary
# Degrees that cover 500 m in any direction up to ~60° N: a bounding-box prefilter so the
# geometry GiST index is used before the exact geodesic ST_DWithin.
_PREFILTER_DEG = 0.011


class EnterpriseRule(TypedDict):
    """geodata/risk/enterprise_rule.json (its `source` and `note` explain it)."""

    source: str
    base: str
    hazard_source_grades_forcing_red: list[int]
    open_major_danger_raise: int
    ungraded_with_open_major_danger: str
    blacklist_raise: int
    blacklist_at_least: str | None
    ungraded_blacklisted: str
    blacklist_source: str
    note: str


@cache
def enterprise_rule() -> EnterpriseRule:
    """Return the enterprise-level rule (see geodata/risk/enterprise_rule.json)."""
    path = GEODATA_DIR / "risk" / "enterprise_rule.json"
    return cast(EnterpriseRule, json.loads(path.read_text(encoding="utf-8")))


def grade_risk_point(
    method: str, inputs: dict[str, Any]
) -> tuple[float | None, str, dict[str, Any]]:
    """Grade a risk point's inputs: (score, level, result) by LEC, LS or direct rules.

    `inputs` may carry `direct` flags ({rule_id: bool}); an enabled rule that applies makes
    the point red whatever its score (直接判定).
    """
    flags = inputs.get("direct") or {}
    if not isinstance(flags, dict):
        raise InvalidInput(
            "direct must map rule ids to true/false",
            field="inputs.direct",
            allowed=list(methods.direct_rules()),
        )
    forced = methods.direct_level(flags)
    score: float | None
    detail: dict[str, Any]
    version = methods.ruleset_version()
    if method == "lec":
        values = _numbers(inputs, ("l", "e", "c"))
        result = methods.assess_lec(**values)
        score, level = result.d, result.level
        detail = {"d": result.d, "method": "lec", "variant": result.variant}
    elif method == "ls":
        values = _numbers(inputs, ("l", "s"))
        ls = methods.assess_ls(values["l"], values["s"], inputs.get("variant"))
        score, level = float(ls.r), ls.level
        detail = {"r": ls.r, "method": "ls", "variant": ls.variant}
    elif method == "direct":
        if forced is None:
            raise InvalidInput(
                "method 'direct' needs at least one applicable enabled rule",
                field="inputs.direct",
                allowed=list(methods.direct_rules()),
            )
        score, level, detail = None, forced, {"method": "direct", "variant": ""}
    else:
        raise InvalidInput(
            f"unknown method {method!r}", field="method", allowed=["lec", "ls", "direct"]
        )
    if forced is not None:
        level = methods.higher_level(level, forced)
        detail["direct"] = sorted(k for k, v in flags.items() if v)
    return score, level, {**detail, "level": level, "ruleset_version": version}


def with_derived_flags(
    session: Session,
    *,
    enterprise_id: int | None,
    method: str,
    inputs: dict[str, Any],
    sent: bool,
) -> dict[str, Any]:
    """Return `inputs` with the derived direct flags set from the enterprise's hazard sources.

    A derived flag (major_hazard_grade_1_2: the enterprise has a 一级/二级 major hazard
    source) is RiskAtlas's to set: inputs `sent` by a client may repeat its true value but
    not contradict it (422 naming the flag). A 'direct' point needs a rule of its own, so
    that losing a derived flag later never leaves it without a grade.
    """
    flags = inputs.get("direct") or {}
    if not isinstance(flags, dict):
        raise InvalidInput(
            "direct must map rule ids to true/false",
            field="inputs.direct",
            allowed=list(methods.direct_rules()),
        )
    flags = dict(flags)
    for rule_id, grades in methods.derived_rules().items():
        has = enterprise_id is not None and bool(
            session.execute(
                text(
                    "SELECT EXISTS (SELECT 1 FROM hazard_sources "
                    "WHERE enterprise_id = :e AND grade = ANY(:g))"
                ),
                {"e": enterprise_id, "g": grades},
            ).scalar_one()
        )
        if sent and rule_id in flags and flags[rule_id] is not has:
            raise InvalidInput(
                f"{rule_id} follows the enterprise's major hazard sources of grade "
                f"{'/'.join(map(str, grades))} (it {'has' if has else 'has none'}); leave it out",
                field=f"inputs.direct.{rule_id}",
            )
        if has:
            flags[rule_id] = True
        else:
            flags.pop(rule_id, None)
    derived = methods.derived_rules()
    if method == "direct" and not any(v for k, v in flags.items() if k not in derived):
        raise InvalidInput(
            "method 'direct' needs a rule of its own: "
            + ", ".join(derived)
            + " follows the enterprise's hazard sources",
            field="inputs.direct",
            allowed=[k for k in methods.direct_rules() if k not in derived],
        )
    out = {k: v for k, v in inputs.items() if k != "direct"}
    if flags:
        out["direct"] = flags
    return out


# Children meet their enterprise's other children through joins to grouped subqueries, not
# correlated subqueries: Citus (issue 17) runs the former across shards, not the latter.
_MISMATCHED_FLAG_SQL = """
    SELECT p.id, p.method, p.inputs, coalesce(x.has, false) AS has
      FROM risk_points p
      LEFT JOIN (SELECT h.enterprise_id, true AS has FROM hazard_sources h
                  WHERE h.grade = ANY(CAST(:grades AS int[]))
                    AND (CAST(:ids AS int[]) IS NULL OR h.enterprise_id = ANY(:ids))
                  GROUP BY h.enterprise_id) AS x ON x.enterprise_id = p.enterprise_id
     WHERE (CAST(:ids AS int[]) IS NULL OR p.enterprise_id = ANY(:ids))
       AND coalesce(p.inputs -> 'direct' ->> :rule = 'true', false)
           IS DISTINCT FROM coalesce(x.has, false)
"""


def follow_hazard_sources(session: Session, *, ids: list[int] | None = None) -> int:
    """Set or clear the derived direct flags of the enterprises' risk points (all when ids
    is None) to match their hazard sources, re-grade those points and record the grades."""
    changed: list[dict[str, Any]] = []
    for rule_id, grades in methods.derived_rules().items():
        rows = session.execute(
            text(_MISMATCHED_FLAG_SQL), {"ids": ids, "grades": grades, "rule": rule_id}
        ).all()
        for row in rows:
            flags = dict(row.inputs.get("direct") or {})
            if row.has:
                flags[rule_id] = True
            else:
                flags.pop(rule_id, None)
            inputs = {k: v for k, v in row.inputs.items() if k != "direct"}
            if flags:
                inputs["direct"] = flags
            try:
                score, level, result = grade_risk_point(row.method, inputs)
            except InvalidInput:
                # A "direct" point stored before flags were derived, relying on this one
                # flag alone: it keeps its grade rather than losing it.
                continue
            changed.append(
                {
                    "id": row.id,
                    "score": score,
                    "level": level,
                    "method": row.method,
                    "inputs": inputs,
                    "result": result,
                }
            )
    _write_point_grades(session, changed, assessed_by="system")
    return len(changed)


def _write_point_grades(
    session: Session, changed: list[dict[str, Any]], *, assessed_by: str
) -> None:
    """Store re-graded risk points (inputs, score, level) and append their grades."""
    if not changed:
        return
    payload = json.dumps(changed, ensure_ascii=False)
    session.execute(
        text("""
        UPDATE risk_points p SET inputs = x.inputs, score = x.score, risk_level = x.level
          FROM jsonb_to_recordset(CAST(:rows AS jsonb))
               AS x(id int, inputs jsonb, score float, level text)
         WHERE p.id = x.id"""),
        {"rows": payload},
    )
    session.execute(
        text("""
        INSERT INTO assessments (subject_type, subject_id, method, inputs, result, risk_level,
                                 ruleset_version, assessed_by)
        SELECT 'risk_point', x.id, x.method, x.inputs, x.result, x.level, :version, :who
          FROM jsonb_to_recordset(CAST(:rows AS jsonb))
               AS x(id int, method text, inputs jsonb, result jsonb, level text)"""),
        {"rows": payload, "version": methods.ruleset_version(), "who": assessed_by},
    )


def _numbers(inputs: dict[str, Any], names: tuple[str, ...]) -> dict[str, float]:
    values = {}
    for name in names:
        value = inputs.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidInput(f"{name} must be a number", field=f"inputs.{name}")
        values[name] = value
    return values


def record_assessment(
    session: Session,
    *,
    subject_type: str,
    subject_id: int,
    method: str,
    inputs: dict[str, Any],
    result: dict[str, Any],
    level: str | None,
    assessed_by: str,
) -> None:
    """Append one grading to the history."""
    session.add(
        Assessment(
            subject_type=subject_type,
            subject_id=subject_id,
            method=method,
            inputs=inputs,
            result=result,
            risk_level=level,
            ruleset_version=methods.ruleset_version(),
            assessed_by=assessed_by,
        )
    )


# China's largest crude-oil bases hold a few million tonnes: ten million bounds any real
# unit, and keeps R = α·Σβq/Q finite (1e308 t gave grade 1 with R null).
MAX_QUANTITY_T = 1e7
MAX_SUBSTANCE_TEXT = 200


def parse_substances(raw: Any) -> list[gb18218.SubstanceInput]:
    """Validate a list of {cas|name|category, quantity_t} into SubstanceInputs."""
    if not isinstance(raw, list) or not raw:
        raise InvalidInput("substances must be a non-empty list", field="substances")
    parsed = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise InvalidInput("each substance must be an object", field=f"substances[{i}]")
        quantity = item.get("quantity_t")
        if (
            isinstance(quantity, bool)
            or not isinstance(quantity, int | float)
            or not 0 < quantity <= MAX_QUANTITY_T
        ):
            raise InvalidInput(
                f"quantity_t must be a positive number of tonnes up to {MAX_QUANTITY_T:g}",
                field=f"substances[{i}].quantity_t",
            )
        for key in ("cas", "name", "category"):
            if item.get(key) is not None and (
                not isinstance(item[key], str) or len(item[key]) > MAX_SUBSTANCE_TEXT
            ):
                raise InvalidInput(
                    f"{key} must be text of at most {MAX_SUBSTANCE_TEXT} characters",
                    field=f"substances[{i}].{key}",
                )
        parsed.append(
            gb18218.SubstanceInput(
                quantity_t=float(quantity),
                cas=item.get("cas"),
                name=item.get("name"),
                category=item.get("category"),
            )
        )
    return parsed


# α counts the resident population (常住人口, `public_zones.population`) of the zones within
# 500 m outside the plant boundary; `capacity` (the most people a place holds at once) is
# transient and never counted (GB 18218-2018, α: resident population within 500 m outward
# of the plant-area boundary, per shared/data/gb18218_2018.json "alpha_basis").
ALPHA_BASIS = (
    "常住人口: public_zones.population of the zones within 500 m (geodesic, inclusive) "
    "outside the plant boundary; capacity (transient) is not counted"
)
# ST_DWithin on geography rounds at the edge (half the points exactly 500 m away fall
# outside): it only narrows the candidates, with a metre to spare, and the exact spheroid
# distance decides, so exactly 500 m counts as within 500 m.
_WITHIN_RING = """
    z.geom && ST_Expand({plant}, :prefilter)
    AND ST_DWithin(z.geom::geography, {plant}::geography, :radius + 1)
    AND ST_Distance(z.geom::geography, {plant}::geography) <= :radius
    AND NOT ST_Within(z.geom, {plant})
"""
_EXPOSURE_COLUMNS = """
    least(coalesce(sum(z.population), 0), 2147483647)::int AS people,
    coalesce(jsonb_agg(jsonb_build_object('id', z.id, 'name', z.name, 'kind', z.kind,
                                          'population', z.population) ORDER BY z.id),
             '[]'::jsonb) AS zones
"""


class Exposure(TypedDict):
    """What α was computed from: the people counted and the zones they were counted in."""

    basis: str
    boundary: str
    radius_m: int
    people: int
    zones: list[dict[str, Any]]  # id, name, kind, population (null: not counted)


def exposure_given(people: int) -> Exposure:
    """The exposure of a what-if assessment whose caller gave the number of people."""
    return {
        "basis": "given by the caller",
        "boundary": "",
        "radius_m": PLANT_RADIUS_M,
        "people": people,
        "zones": [],
    }


def exposed_people_around(
    session: Session, *, plant_ewkt: str, visible: RowFilters | None = None
) -> Exposure:
    """The resident population within 500 m outside a plant boundary, and where it lives.

    Official grading counts every zone; a what-if assessment for a user counts only the
    zones `visible` to that user, so it cannot reveal what the user may not read.
    """
    sql = f"SELECT {_EXPOSURE_COLUMNS} FROM public_zones z WHERE " + _WITHIN_RING.format(
        plant="CAST(:plant AS geometry)"
    )
    params: dict[str, object] = {
        "plant": plant_ewkt,
        "prefilter": _PREFILTER_DEG,
        "radius": PLANT_RADIUS_M,
    }
    if visible is not None:
        sql += " AND " + visible.where("z")
        params.update(visible.params())
    row = session.execute(text(sql), params).one()
    return {
        "basis": ALPHA_BASIS,
        "boundary": "the geometry given",
        "radius_m": PLANT_RADIUS_M,
        "people": row.people,
        "zones": row.zones,
    }


# A join and GROUP BY rather than a LATERAL aggregate per plant: on Citus (issue 17) the
# plants are gathered first and sent to every shard of public_zones, the zones near them
# found there (a plant's zones may lie in another county, so on another shard).
_HAZARD_EXPOSURE_SQL = f"""
    WITH plant AS MATERIALIZED (
        SELECT h.id, h.substances, coalesce(e.footprint, h.geom) AS boundary,
               e.footprint IS NOT NULL AS has_footprint
          FROM hazard_sources h JOIN enterprises e ON e.id = h.enterprise_id
         WHERE CAST(:ids AS int[]) IS NULL OR h.id = ANY(:ids)),
    exposed AS (
        SELECT plant.id, {_EXPOSURE_COLUMNS}
          FROM plant JOIN public_zones z ON {_WITHIN_RING.format(plant="plant.boundary")}
         GROUP BY plant.id)
    SELECT plant.id, plant.substances, plant.has_footprint,
           coalesce(x.people, 0) AS people, coalesce(x.zones, '[]'::jsonb) AS zones
      FROM plant LEFT JOIN exposed x ON x.id = plant.id
"""


def hazard_result(assessment: gb18218.HazardAssessment) -> dict[str, Any]:
    """A GB 18218 assessment as stored and answered: S, R, α, grade, method and version."""
    result = asdict(assessment)
    result["terms"] = [asdict(term) for term in assessment.terms]
    return result


def regrade_hazard_sources(
    session: Session, *, ids: list[int] | None = None, assessed_by: str = "system"
) -> list[int]:
    """Re-grade hazard sources (all when ids is None); return the enterprises touched."""
    rows = session.execute(
        text(_HAZARD_EXPOSURE_SQL),
        {
            "ids": ids,
            "prefilter": _PREFILTER_DEG,
            "radius": PLANT_RADIUS_M,
        },
    ).all()
    updates = []
    for row in rows:
        assessment = gb18218.assess_hazard_source(parse_substances(row.substances), row.people)
        exposure: Exposure = {
            "basis": ALPHA_BASIS,
            "boundary": "enterprise footprint" if row.has_footprint else "hazard source point",
            "radius_m": PLANT_RADIUS_M,
            "people": row.people,
            "zones": row.zones,
        }
        updates.append(
            {
                "id": row.id,
                "s": assessment.s,
                "r": assessment.r,
                "alpha": assessment.alpha,
                "exposed": assessment.exposed_people,
                "grade": assessment.grade,
                "level": assessment.level,
                # Objects, not JSON text: the batch is encoded once, below.
                "result": hazard_result(assessment),
                "inputs": {"substances": row.substances, "exposure": exposure},
            }
        )
    if not updates:
        return []
    # Only rows whose grade changed are written, and each change is recorded in the history.
    changed = session.execute(
        text("""
        WITH incoming AS (
            SELECT * FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS x(
                id int, s float, r float, alpha float, exposed int, grade int, level text,
                result jsonb, inputs jsonb))
        UPDATE hazard_sources h
           SET s_value = i.s, r_value = i.r, alpha = i.alpha, exposed_people = i.exposed,
               grade = i.grade, risk_level = i.level
          FROM incoming i
         WHERE h.id = i.id
           AND (h.s_value, h.r_value, h.alpha, h.exposed_people, h.grade, h.risk_level)
               IS DISTINCT FROM (i.s, i.r, i.alpha, i.exposed, i.grade, i.level)
        RETURNING h.id, h.enterprise_id, i.result, i.inputs, i.level
    """),
        {"rows": json.dumps(updates, ensure_ascii=False)},
    ).all()
    session.execute(
        text("""
        INSERT INTO assessments (subject_type, subject_id, method, inputs, result, risk_level,
                                 ruleset_version, assessed_by)
        SELECT 'hazard_source', x.id, 'gb18218', x.inputs, x.result, x.level, :version, :who
          FROM jsonb_to_recordset(CAST(:rows AS jsonb))
               AS x(id int, inputs jsonb, result jsonb, level text)
    """),
        {
            "rows": json.dumps(
                [
                    {"id": c.id, "inputs": c.inputs, "result": c.result, "level": c.level}
                    for c in changed
                ],
                ensure_ascii=False,
            ),
            "version": methods.ruleset_version(),
            "who": assessed_by,
        },
    )
    return sorted({c.enterprise_id for c in changed})


def regrade_hazard_sources_near(session: Session, *, geometry_ewkt: str) -> list[int]:
    """Re-grade the hazard sources whose 500 m ring reaches a changed public zone."""
    ids = session.scalars(
        text("""
        SELECT h.id FROM hazard_sources h JOIN enterprises e ON e.id = h.enterprise_id
         WHERE coalesce(e.footprint, h.geom) && ST_Expand(CAST(:g AS geometry), :prefilter)
           AND ST_DWithin(coalesce(e.footprint, h.geom)::geography,
                          CAST(:g AS geometry)::geography, :radius + 1)
    """),
        {"g": geometry_ewkt, "prefilter": _PREFILTER_DEG, "radius": PLANT_RADIUS_M},
    ).all()
    return regrade_hazard_sources(session, ids=list(ids)) if ids else []


_ENTERPRISE_LEVEL_SQL = f"""
    WITH target AS (
        SELECT e.id, e.risk_level AS current, p.point_rank,
               coalesce(h.has, false) AS has_red_hazard, coalesce(d.has, false) AS has_open_major,
               {in_force_sql("e.id", "CAST(:today AS date)")} AS blacklisted
          FROM enterprises e
          LEFT JOIN (SELECT rp.enterprise_id,
                            max(array_position(CAST(:ranks AS text[]), rp.risk_level)) AS point_rank
                       FROM risk_points rp
                      WHERE CAST(:ids AS int[]) IS NULL OR rp.enterprise_id = ANY(:ids)
                      GROUP BY rp.enterprise_id) p ON p.enterprise_id = e.id
          LEFT JOIN (SELECT h.enterprise_id, true AS has FROM hazard_sources h
                      WHERE h.grade = ANY(CAST(:red_grades AS int[]))
                        AND (CAST(:ids AS int[]) IS NULL OR h.enterprise_id = ANY(:ids))
                      GROUP BY h.enterprise_id) h ON h.enterprise_id = e.id
          LEFT JOIN (SELECT d.enterprise_id, true AS has FROM hidden_dangers d
                      WHERE d.grade = 'major' AND d.status <> 'closed'
                        AND (CAST(:ids AS int[]) IS NULL OR d.enterprise_id = ANY(:ids))
                      GROUP BY d.enterprise_id) d ON d.enterprise_id = e.id
         WHERE CAST(:ids AS int[]) IS NULL OR e.id = ANY(:ids)),
    ranked AS (
        SELECT t.*,
               greatest(t.point_rank, CASE WHEN t.has_red_hazard THEN 4 END) AS base_rank
          FROM target t),
    adjusted AS (
        SELECT r.*,
               coalesce(r.base_rank,
                        CASE WHEN r.has_open_major
                             THEN array_position(CAST(:ranks AS text[]),
                                                 CAST(:ungraded AS text)) END,
                        CASE WHEN r.blacklisted
                             THEN array_position(CAST(:ranks AS text[]),
                                                 CAST(:ungraded_blacklisted AS text)) END)
               + CASE WHEN r.has_open_major THEN CAST(:raise AS int) ELSE 0 END
               + CASE WHEN r.blacklisted THEN CAST(:blacklist_raise AS int) ELSE 0 END
                   AS raised_rank
          FROM ranked r),
    finals AS (
        -- least() would skip a NULL rank: an ungraded enterprise must stay ungraded;
        -- greatest() skips the NULL floor of an unlisted one (or of no floor).
        SELECT a.*,
               CASE WHEN a.raised_rank IS NOT NULL
                    THEN least(4, greatest(a.raised_rank,
                                           CASE WHEN a.blacklisted
                                                THEN array_position(
                                                    CAST(:ranks AS text[]),
                                                    CAST(:blacklist_at_least AS text)) END))
               END AS final_rank
          FROM adjusted a),
    -- The new values computed here, not in SET: Citus (issue 17) refuses STABLE functions
    -- over columns in an UPDATE's SET.
    derived AS (
        SELECT f.id, f.blacklisted, (CAST(:ranks AS text[]))[f.final_rank] AS new_level,
               jsonb_build_object(
                   'rule', CAST(:rule_version AS text),
                   'highest_risk_point', (CAST(:ranks AS text[]))[f.point_rank],
                   'red_hazard_source', f.has_red_hazard,
                   'open_major_danger', f.has_open_major,
                   'blacklisted', f.blacklisted) AS new_basis
          FROM finals f)
    UPDATE enterprises e
       SET risk_level = d.new_level, level_basis = d.new_basis
      FROM derived d
     WHERE e.id = d.id
       -- A listing or its end rewrites the row even when the colour stays: the basis
       -- says why, and the row's tiles (filtered by the blacklist) are renewed.
       AND (e.risk_level IS DISTINCT FROM d.new_level
            OR coalesce((e.level_basis ->> 'blacklisted')::boolean, false) <> d.blacklisted)
"""
RANKS = ["blue", "yellow", "orange", "red"]  # array_position gives 1 (blue) … 4 (red)


def refresh_enterprise_levels(
    session: Session, *, ids: list[int] | None = None, today: date | None = None
) -> int:
    """Re-derive enterprises' levels by the enterprise rule; return how many changed.

    Their risk points' derived direct flags follow the hazard sources first, so a 一级/二级
    source makes the points that involve it red without anyone setting the flag. A
    blacklist listing counts while in force on `today` (default: today in China).
    """
    if ids is not None and not ids:
        return 0
    follow_hazard_sources(session, ids=ids)
    rule = enterprise_rule()
    result = session.execute(
        text(_ENTERPRISE_LEVEL_SQL),
        {
            "ids": ids,
            "ranks": RANKS,
            "red_grades": rule["hazard_source_grades_forcing_red"],
            "raise": rule["open_major_danger_raise"],
            "ungraded": rule["ungraded_with_open_major_danger"],
            "blacklist_raise": rule["blacklist_raise"],
            "blacklist_at_least": rule["blacklist_at_least"],
            "ungraded_blacklisted": rule["ungraded_blacklisted"],
            "today": today or china_today(),
            "rule_version": methods.ruleset_version(),
        },
    )
    if not isinstance(result, CursorResult):  # what a statement run on a connection gives
        raise TypeError(f"expected a CursorResult, got {type(result).__name__}")
    return result.rowcount


def regrade_risk_points(
    session: Session,
    *,
    batch: int = 20_000,
    assessed_by: str = "system",
    progress: Progress = silent,
) -> dict[str, int]:
    """Re-grade every risk point by the current rules, in batches; record changed grades.

    A point whose stored inputs no longer fit the rules keeps its grade and is counted as
    `ungradable`, so a rule change never silently drops a colour.
    """
    report = {"risk_points_regraded": 0, "risk_points_ungradable": 0}
    total = session.execute(text("SELECT count(*) FROM risk_points")).scalar_one()
    done = last_id = 0
    progress("risk points", done, total)
    while True:
        rows = session.execute(
            text(
                "SELECT id, method, inputs, score, risk_level FROM risk_points "
                "WHERE id > :last ORDER BY id LIMIT :batch"
            ),
            {"last": last_id, "batch": batch},
        ).all()
        if not rows:
            return report
        last_id = rows[-1].id
        changed = []
        for row in rows:
            try:
                score, level, result = grade_risk_point(row.method, row.inputs)
            except InvalidInput:
                report["risk_points_ungradable"] += 1
                continue
            if (score, level) != (row.score, row.risk_level):
                changed.append(
                    {
                        "id": row.id,
                        "score": score,
                        "level": level,
                        "method": row.method,
                        "inputs": row.inputs,
                        "result": result,
                    }
                )
        _write_point_grades(session, changed, assessed_by=assessed_by)
        report["risk_points_regraded"] += len(changed)
        done += len(rows)
        progress("risk points", min(done, total), total)


def rebuild(
    session: Session, *, regrade: bool = False, progress: Progress = silent
) -> dict[str, int]:
    """Re-derive every level and recount the aggregates from scratch.

    With `regrade`, risk points and hazard sources are first re-graded by the current rules
    (after a rule-set change); without it, their stored grades are kept. Progress: risk
    points by the batch; the other stages, one statement each, announce themselves
    (total 0: a step, not rows).
    """
    report: dict[str, int] = {}
    if regrade:
        report.update(regrade_risk_points(session, progress=progress))
        progress("hazard sources", 0, 0)
        report["enterprises_touched_by_hazard_regrade"] = len(regrade_hazard_sources(session))
        # Only a rule change can leave a stored unit below S = 1 (writes refuse it): counted
        # here so an administrator corrects or deletes it.
        report["hazard_sources_below_threshold"] = session.execute(
            text("SELECT count(*) FROM hazard_sources WHERE s_value < 1")
        ).scalar_one()
    progress("enterprise levels", 0, 0)
    report["enterprise_levels_changed"] = refresh_enterprise_levels(session)
    progress("region counts", 0, 0)
    session.execute(text("SELECT rebuild_region_counts()"))
    report["count_rows"] = session.execute(text("SELECT count(*) FROM region_counts")).scalar_one()
    return report
