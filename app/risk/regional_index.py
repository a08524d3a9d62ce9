"""The composite regional index (综合风险指数): the default regional level.

A region's score is a weighted sum of what the seeds care about — major hazard sources by
grade, open major hidden dangers (overdue ones twice), enterprises, risk points and public
zones by colour — normalised per area or per enterprise. Four classes are cut by quantile
breaks computed over every unit of the same level (province, city, county, grid cell) in
the whole country, stored in `regional_index_breaks` with the time they were computed and
recomputed by `riskatlas risk rebuild`. Weights, normalisations and class shares live in
geodata/risk/regional_index.json with their rationale.
"""

import json
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from typing import Any, TypedDict, cast

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.cluster import routing
from app.dangers import rules as danger_rules
from app.datetimes import china_today
from app.risk.methods import ruleset_version
from app.settings import GEODATA_DIR

UNIT_LEVELS = ("province", "city", "county", "grid")
# Lowest class first: a score at or above a class's break is in that class or a higher one.
CLASSES = ("yellow", "orange", "red")


class Weight(TypedDict):
    measure: str
    weight: float
    label_zh: str
    unit_zh: str


class NormaliseOption(TypedDict, total=False):
    per_km2: float
    unit_zh: str


class Normalise(TypedDict):
    default: str
    options: dict[str, NormaliseOption]


class BreakRule(TypedDict):
    method: str
    lower_quantiles: dict[str, float]
    min_units: int
    min_units_why: str
    over: str


class IndexConfig(TypedDict):
    """geodata/risk/regional_index.json."""

    version: str
    default_method: str
    source: str
    rationale: dict[str, str]
    weights: list[Weight]
    normalise: Normalise
    breaks: BreakRule
    levels_zh: dict[str, str]


@cache
def config() -> IndexConfig:
    """The composite index's weights, normalisations and break rule."""
    path = GEODATA_DIR / "risk" / "regional_index.json"
    return cast(IndexConfig, json.loads(path.read_text(encoding="utf-8")))


@dataclass(frozen=True)
class Breaks:
    """The lowest normalised score of yellow, orange and red for one unit level."""

    unit_level: str
    normalise: str
    values: dict[str, float]
    units: int  # how many units (score > 0) they were computed from
    computed_at: datetime | None  # None: computed on the fly, nothing stored yet

    @property
    def version(self) -> str:
        stamp = self.computed_at.strftime("%Y%m%dT%H%M%S") if self.computed_at else "live"
        return f"{ruleset_version()}+b{stamp}"


def raw_score(counts: dict[str, int]) -> float:
    """Weighted sum of a unit's counts (before normalisation)."""
    return sum(w["weight"] * counts.get(w["measure"], 0) for w in config()["weights"])


def denominator(counts: dict[str, int], *, area_km2: float, normalise: str) -> float:
    """What the score is divided by: area in units of per_km2, or the enterprises."""
    option = config()["normalise"]["options"][normalise]
    if normalise == "area":
        return area_km2 / option.get("per_km2", 1.0)
    return float(counts.get("enterprises.total", 0))


def score(counts: dict[str, int], *, area_km2: float, normalise: str) -> float:
    """The normalised score; 0 when nothing is registered (or nothing to divide by)."""
    raw = raw_score(counts)
    below = denominator(counts, area_km2=area_km2, normalise=normalise)
    return raw / below if raw and below else 0.0


def classify(value: float, breaks: Breaks | None) -> str | None:
    """The class of a normalised score; None when it is zero (nothing registered) or when
    too few units of its level have a score for classes to mean anything."""
    if value <= 0 or breaks is None or breaks.units < config()["breaks"]["min_units"]:
        return None
    for level in reversed(CLASSES):
        if value >= breaks.values[level]:
            return level
    return "blue"


def quantile_breaks(scores: list[float]) -> dict[str, float]:
    """Lower bounds of yellow, orange and red: the scores at the configured quantiles of
    the positive scores (the unit at rank floor(q·n) and all above it are in the class)."""
    positive = sorted(s for s in scores if s > 0)
    if not positive:
        return {level: math.inf for level in CLASSES}
    shares = config()["breaks"]["lower_quantiles"]
    last = len(positive) - 1
    return {level: positive[min(last, int(shares[level] * len(positive)))] for level in CLASSES}


_UNITS_SQL = {
    "grid": "SELECT code, ST_Area(geom::geography) / 1e6 AS area_km2 FROM grid_cells",
    **{
        level: f"SELECT code::text AS code, area_km2 FROM regions WHERE level = '{level}'"
        for level in ("province", "city", "county")
    },
}


def unit_scores(session: Session, *, unit_level: str, normalise: str) -> dict[str, float]:
    """The normalised score of every unit of one level in the country (zeros left out)."""
    table = routing.region_counts_table(session.connection())
    rows = session.execute(
        text(f"""
        WITH u AS ({_UNITS_SQL[unit_level]})
        SELECT u.code, u.area_km2, c.measure, sum(c.value)
          FROM u JOIN {table} c ON c.region_code = u.code
         GROUP BY u.code, u.area_km2, c.measure HAVING sum(c.value) <> 0
    """)
    ).all()
    counts: dict[str, dict[str, int]] = {}
    areas: dict[str, float] = {}
    for code, area, measure, value in rows:
        counts.setdefault(code, {})[measure] = value
        areas[code] = area
    overdue = overdue_major_counts(session, list(counts))
    scores = {}
    for code, unit_counts in counts.items():
        unit_counts["dangers.overdue_major"] = overdue.get(code, 0)
        value = score(unit_counts, area_km2=areas[code], normalise=normalise)
        if value > 0:
            scores[code] = value
    return scores


def recompute_breaks(session: Session) -> dict[str, int]:
    """Compute and store the breaks of every unit level and normalisation; returns the
    number of units each level's breaks came from (normalised per area)."""
    now = datetime.now(UTC)
    report = {}
    session.execute(text("DELETE FROM regional_index_breaks"))
    for normalise in config()["normalise"]["options"]:
        for unit_level in UNIT_LEVELS:
            scores = list(unit_scores(session, unit_level=unit_level, normalise=normalise).values())
            values = quantile_breaks(scores)
            session.execute(
                text("""
                INSERT INTO regional_index_breaks
                       (config_version, normalise, unit_level, yellow, orange, red, units,
                        computed_at)
                VALUES (:version, :normalise, :unit_level, :yellow, :orange, :red, :units, :at)
            """),
                {
                    "version": ruleset_version(),
                    "normalise": normalise,
                    "unit_level": unit_level,
                    **{k: v if math.isfinite(v) else None for k, v in values.items()},
                    "units": len(scores),
                    "at": now,
                },
            )
            if normalise == config()["normalise"]["default"]:
                report[f"index_units_{unit_level}"] = len(scores)
    return report


def load_breaks(session: Session, *, unit_level: str, normalise: str) -> Breaks | None:
    """The stored breaks of a unit level (computed on the fly when none are stored yet, e.g.
    before the first rebuild); None for a level that has none (the country)."""
    if unit_level not in UNIT_LEVELS:
        return None
    row = session.execute(
        text("""
        SELECT yellow, orange, red, units, computed_at FROM regional_index_breaks
         WHERE config_version = :version AND normalise = :normalise AND unit_level = :level
    """),
        {"version": ruleset_version(), "normalise": normalise, "level": unit_level},
    ).first()
    if row is None or row.units == 0:  # none stored, or none when they were (re)computed
        scores = list(unit_scores(session, unit_level=unit_level, normalise=normalise).values())
        return Breaks(unit_level, normalise, quantile_breaks(scores), len(scores), None)
    values = {
        level: math.inf if getattr(row, level) is None else float(getattr(row, level))
        for level in CLASSES
    }
    return Breaks(unit_level, normalise, values, row.units, row.computed_at)


# Major dangers overdue on :day — `app.dangers.service.overdue_condition` as SQL text: a
# deadline (rectification or supervision) passed while one runs (:running statuses).
OVERDUE_MAJOR_SQL = """grade = 'major' AND status = ANY(CAST(:running AS text[]))
               AND (deadline < :day OR supervision_deadline < :day)"""


def overdue_params(day: date) -> dict[str, Any]:
    """The parameters of OVERDUE_MAJOR_SQL."""
    return {"running": danger_rules.deadline_running(), "day": day}


def overdue_major_counts(session: Session, codes: list[str]) -> dict[str, int]:
    """Major hidden dangers overdue today in China, as the hidden-danger list counts them,
    per region or grid cell (a count that changes with the date, so it is not kept by the
    count triggers)."""
    if not codes:
        return {}
    rows = session.execute(
        text(f"""
        WITH d AS (
            SELECT county_code, grid_code FROM hidden_dangers WHERE {OVERDUE_MAJOR_SQL})
        SELECT code, count(*) FROM (
            SELECT l.code FROM d CROSS JOIN LATERAL region_lineage(d.county_code) AS l(code)
            UNION ALL SELECT grid_code FROM d WHERE grid_code IS NOT NULL) x
         WHERE code = ANY(:codes) GROUP BY code
    """),
        {"codes": codes, **overdue_params(china_today())},
    ).all()
    return {code: int(n) for code, n in rows}


def explain(
    counts: dict[str, int],
    *,
    area_km2: float,
    normalise: str,
    breaks: Breaks | None,
    level: str | None,
) -> dict[str, Any]:
    """Why a unit has its level, in plain Chinese and in figures: what the level means,
    score, breaks, and the contributors, largest first."""
    raw = raw_score(counts)
    contributors: list[dict[str, Any]] = [
        {
            "measure": w["measure"],
            "label": w["label_zh"],
            "unit": w["unit_zh"],
            "count": counts.get(w["measure"], 0),
            "weight": w["weight"],
            "points": round(w["weight"] * counts.get(w["measure"], 0), 2),
            "share": round(w["weight"] * counts.get(w["measure"], 0) / raw, 3) if raw else 0.0,
        }
        for w in config()["weights"]
        if counts.get(w["measure"], 0)
    ]
    contributors.sort(key=lambda c: -c["points"])
    option = config()["normalise"]["options"][normalise]
    return {
        "meaning": config()["levels_zh"].get(level or "")
        or (
            "本单元无登记的企业、风险点、危险源或隐患，不分级。"
            if raw == 0
            else "全国只有一个单元，不与同级比较，不分级。"
            if breaks is None
            else f"全国同级有登记数据的单元仅{breaks.units}个，"
            f"少于{config()['breaks']['min_units']}个，排名无意义，不分级。"
        ),
        "raw_score": round(raw, 2),
        "denominator": round(denominator(counts, area_km2=area_km2, normalise=normalise), 3),
        "normalise_unit": option.get("unit_zh", normalise),
        "breaks": None
        if breaks is None
        else {
            "unit_level": breaks.unit_level,
            "units": breaks.units,
            "version": breaks.version,
            **{k: (None if math.isinf(v) else round(v, 4)) for k, v in breaks.values.items()},
        },
        "contributors": contributors,
    }
