"""Deterministic demo data for one province (Ningxia, 640000, by default).

`plan_demo` builds every row in memory from a seed, reading the database only to learn the
province's counties and to check, with the very rule the `assign_region_codes` trigger
uses, which county each candidate geometry falls in: candidates outside the county they
are meant for are drawn again. The plan is therefore identical for the same seed (and the
same regions), and every row lands in the county its address names. `generate_demo`
writes a plan in bulk and returns the number of rows per table; it never deletes.

Name lists, sectors, parks, hazard-source templates and public-zone kinds are data, in
geodata/demo/*.json. Risk points are graded through app.risk.methods; hazard sources,
enterprises' levels and everything the risk engine derives are left NULL.
"""

import json
import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from functools import cache
from itertools import product
from typing import Any, Literal, NotRequired, TypedDict, overload

from sqlalchemy import Table, insert, text
from sqlalchemy.orm import Session

from app.dangers import demo as danger_demo
from app.dangers.models import DangerEvent, HiddenDanger
from app.errors import InvalidInput
from app.orm import Base
from app.regions import models as _regions  # noqa: F401  (the FK target of county_code)
from app.risk import gb18218
from app.risk.grading import grade_risk_point
from app.risk.methods import LEVELS, assess_lec, assess_ls, lec_factors, ruleset_version
from app.risk.models import Assessment, RiskPoint
from app.settings import GEODATA_DIR
from app.sites.credit_code import make_credit_code
from app.sites.models import EmergencyResource, Enterprise, HazardSource, PublicZone

DEMO_DIR = GEODATA_DIR / "demo"
KM_PER_DEG = 111.32
CHINA_TZ = timezone(timedelta(hours=8))
# Counts of hazard sources and hidden dangers are given per this many enterprises.
REFERENCE_ENTERPRISES = 5000
HAZARD_SOURCES_PER_REFERENCE = 150
DANGERS_PER_REFERENCE = {"general": 300, "major": 30}
MAX_ROUNDS = 200

Row = dict[str, Any]


# The shapes of geodata/demo/*.json (keys starting with "_" are comments, never read).


class CountyPlace(TypedDict, total=False):
    seat: list[float]  # lon, lat
    weight: float


class ParkPlace(TypedDict):
    name: str
    counties: list[str]
    centre: list[float]  # lon, lat
    sigma_km: float
    share: float
    roads: list[str]
    sectors: dict[str, float]  # sector name -> weight


class ProvincePlaces(TypedDict, total=False):
    short_name: str
    counties: dict[str, CountyPlace]  # by county code
    parks: list[ParkPlace]


PatternKey = Literal[
    "school_patterns",
    "hospital_patterns",
    "market_patterns",
    "station_patterns",
    "pipeline_patterns",
]


class Names(TypedDict):
    surnames: dict[str, float]  # surname -> weight
    given_chars: list[str]
    trade_chars: list[str]
    roads: list[str]
    place_words: list[str]
    residential_suffixes: list[str]
    school_patterns: list[str]
    hospital_patterns: list[str]
    market_patterns: list[str]
    station_patterns: list[str]
    pipeline_patterns: list[str]
    ordinals: list[str]
    mobile_prefixes: list[str]
    inspections: list[str]


class RiskPointTemplate(TypedDict):
    name: str
    hazard_type: str
    measures: str


class Sector(TypedDict):
    name: str
    weight: float
    danger_weight: float
    lec_share: float
    terms: list[str]
    scattered_terms: NotRequired[list[str]]
    spread_km: NotRequired[float]
    employees: list[float]  # low, high
    regulator: str
    risk_mix: dict[str, float]  # level -> weight
    risk_points: list[RiskPointTemplate]
    dangers: dict[str, list[str]]  # danger grade -> titles


class Sectors(TypedDict):
    sectors: list[Sector]
    suffixes: dict[str, float]  # company-name suffix -> weight
    lec_factor_weights: dict[str, dict[str, float]]  # factor -> value -> weight
    common_risk_points: list[RiskPointTemplate]
    common_dangers: dict[str, list[str]]  # danger grade -> titles


class UnitSubstance(TypedDict):
    cas: str
    name: str
    category: str | None
    share: float


class HazardUnitTemplate(TypedDict):
    name: str
    unit_type: str
    weight: float
    substances: list[UnitSubstance]


class Neighbours(TypedDict):
    label: str
    department: str
    bands: list[list[int]]  # [low, high, weight] people; the first plants take one each
    distance_m: list[float]  # low, high: how far outside the plant boundary
    risk_mix: dict[str, float]  # level -> weight


class HazardUnits(TypedDict):
    s_range: list[float]  # low, high
    neighbours: Neighbours
    units: list[HazardUnitTemplate]


class CountyHospital(TypedDict):
    name: str
    population: list[int]  # low, high
    beds: list[int]  # low, high


class ZoneKind(TypedDict):
    label: str
    department: str
    per_5000: float
    min_per_county: int
    sigma_km: float
    population: list[float] | None  # low, high
    capacity_ratio: list[float] | None  # low, high
    risk_mix: dict[str, float]  # level -> weight
    patterns: NotRequired[PatternKey]
    shape: NotRequired[Literal["point", "polygon", "line"]]
    size_m: NotRequired[list[float]]  # low, high
    length_km: NotRequired[list[float]]  # low, high
    near_park_share: NotRequired[float]


class ResourceSpec(TypedDict):
    kind: str
    label: str
    scope: Literal["county_hospital", "county", "city", "park"]
    count: NotRequired[list[int]]  # low, high
    names: NotRequired[list[str]]
    # "text" with {n1}, {n2} … and, for each of those, [low, high]
    capacity: NotRequired[dict[str, Any]]


class Public(TypedDict):
    county_hospital: CountyHospital
    public_zones: dict[str, ZoneKind]
    emergency_resources: list[ResourceSpec]


@cache
def _read_demo_json(name: str) -> Any:
    return json.loads((DEMO_DIR / f"{name}.json").read_text(encoding="utf-8"))


@overload
def demo_data(name: Literal["places"]) -> dict[str, ProvincePlaces]: ...
@overload
def demo_data(name: Literal["names"]) -> Names: ...
@overload
def demo_data(name: Literal["sectors"]) -> Sectors: ...
@overload
def demo_data(name: Literal["hazard_units"]) -> HazardUnits: ...
@overload
def demo_data(name: Literal["public"]) -> Public: ...


def demo_data(name: str) -> Any:
    """Return one of the geodata/demo/*.json files (typed by the overloads above: JSON is
    not checked when read, the files are the repository's own)."""
    return _read_demo_json(name)


# Places


@dataclass(frozen=True)
class County:
    code: str
    name: str
    short: str
    city_name: str  # "" when the county hangs directly under the province
    city_code: str
    seat: tuple[float, float]
    weight: float


@dataclass(frozen=True)
class Park:
    name: str
    counties: tuple[str, ...]
    centre: tuple[float, float]
    sigma_km: float
    share: float
    roads: tuple[str, ...]
    sectors: dict[str, float]


@dataclass(frozen=True)
class Province:
    code: str
    name: str
    short: str
    counties: tuple[County, ...]
    parks: tuple[Park, ...]

    def county(self, code: str) -> County:
        return next(c for c in self.counties if c.code == code)

    @property
    def cities(self) -> list[tuple[str, str, list[County]]]:
        """(code, name, counties) of each city, in code order."""
        cities: dict[str, tuple[str, list[County]]] = {}
        for c in self.counties:
            cities.setdefault(c.city_code, (c.city_name or self.name, []))[1].append(c)
        return [(code, name, cs) for code, (name, cs) in sorted(cities.items())]


def _short(name: str) -> str:
    for suffix in (
        "回族自治区",
        "维吾尔自治区",
        "壮族自治区",
        "自治区",
        "特别行政区",
        "省",
        "自治州",
        "地区",
        "盟",
        "市",
        "区",
        "县",
        "旗",
    ):
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)]
    return name


def load_province(session: Session, province: str) -> Province:
    """Read a province's leaf counties and cities, and its parks and seats from places.json."""
    row = session.execute(
        text("SELECT code, name FROM regions WHERE code = :p AND level = 'province'"),
        {"p": province},
    ).first()
    if row is None:
        raise InvalidInput(f"{province} is not a loaded province", field="province")
    names: dict[str, str] = {
        code: name
        for code, name in session.execute(
            text("SELECT code, name FROM regions WHERE province_code = :p"), {"p": province}
        ).all()
    }
    leaves = session.execute(
        text("""
        SELECT code, name, parent_code, ST_X(label_point) AS x, ST_Y(label_point) AS y, area_km2
          FROM regions WHERE province_code = :p AND is_leaf ORDER BY code
    """),
        {"p": province},
    ).all()
    if not leaves:
        raise InvalidInput(f"province {province} has no county-level regions", field="province")
    places: ProvincePlaces = demo_data("places").get(province, {})
    seats = places.get("counties", {})
    counties = []
    for leaf in leaves:
        city_code = leaf.parent_code if leaf.parent_code and leaf.parent_code != province else ""
        known: CountyPlace = seats.get(leaf.code, {})
        seat_lon, seat_lat = known.get("seat", (leaf.x, leaf.y))
        counties.append(
            County(
                code=leaf.code,
                name=leaf.name,
                short=_short(leaf.name),
                # A municipality's city level repeats the province (北京市 → 北京市): drop it.
                city_name="" if names.get(city_code, row.name) == row.name else names[city_code],
                city_code=city_code or leaf.code,
                seat=(seat_lon, seat_lat),
                weight=float(known.get("weight", math.sqrt(max(leaf.area_km2, 1.0)))),
            )
        )
    codes = {c.code for c in counties}
    parks = tuple(
        Park(
            name=p["name"],
            counties=tuple(c for c in p["counties"] if c in codes),
            centre=(p["centre"][0], p["centre"][1]),
            sigma_km=p["sigma_km"],
            share=p["share"],
            roads=tuple(p["roads"]),
            sectors=p["sectors"],
        )
        for p in places.get("parks", [])
        if any(c in codes for c in p["counties"])
    )
    return Province(
        code=province,
        name=row.name,
        short=places.get("short_name", _short(row.name)),
        counties=tuple(counties),
        parks=parks,
    )


# Geometry helpers (WKT with 6 decimals, ~0.1 m, so what is checked is what is stored)


def _fmt(lon: float, lat: float) -> str:
    return f"{lon:.6f} {lat:.6f}"


def point_wkt(lon: float, lat: float) -> str:
    return f"SRID=4326;POINT({_fmt(lon, lat)})"


def _offset(lon: float, lat: float, dx_km: float, dy_km: float) -> tuple[float, float]:
    return (lon + dx_km / (KM_PER_DEG * math.cos(math.radians(lat))), lat + dy_km / KM_PER_DEG)


def _gauss(rng: random.Random, centre: tuple[float, float], sigma_km: float) -> tuple[float, float]:
    return _offset(centre[0], centre[1], rng.gauss(0, sigma_km), rng.gauss(0, sigma_km))


def _ring(lon: float, lat: float, w_m: float, h_m: float, angle: float) -> str:
    cos, sin = math.cos(angle), math.sin(angle)
    corners = []
    for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1), (-1, -1)):
        x, y = sx * w_m / 2, sy * h_m / 2
        corners.append(
            _fmt(*_offset(lon, lat, (x * cos - y * sin) / 1000, (x * sin + y * cos) / 1000))
        )
    return "(" + ", ".join(corners) + ")"


def _parse_point(wkt: str) -> tuple[float, float]:
    lon, lat = wkt[wkt.index("(") + 1 : wkt.index(")")].split()
    return float(lon), float(lat)


_COUNTY_SQL = text("""
    SELECT county_at(region_anchor(ST_GeomFromEWKT(o.w))) AS code
      FROM unnest(CAST(:wkts AS text[])) WITH ORDINALITY AS o(w, i)
     ORDER BY o.i
""")


def counties_of(session: Session, wkts: list[str]) -> list[str | None]:
    """Return the county the region trigger would assign to each EWKT geometry (None: none)."""
    if not wkts:
        return []
    return list(session.execute(_COUNTY_SQL, {"wkts": wkts}).scalars())


Maker = Callable[[random.Random], list[str]]


def _gauss_maker(centre: tuple[float, float], sigma_km: float) -> Maker:
    """A maker of a point drawn normally around `centre`."""
    return lambda r: [point_wkt(*_gauss(r, centre, sigma_km))]


def _scattered_maker(seat: tuple[float, float], spread_km: float | None) -> Maker:
    """A maker of a point around a county seat: `spread_km`, else mostly near, some far."""
    return lambda r: [
        point_wkt(
            *_gauss(r, seat, spread_km if spread_km else (3.0 if r.random() < 0.75 else 12.0))
        )
    ]


def _fixed_maker(ewkt: str) -> Maker:
    """A maker that always gives the same geometry."""
    return lambda r: [ewkt]


def place(
    session: Session,
    rng: random.Random,
    makers: list[Maker],
    allowed: list[tuple[str, ...]],
    province_codes: tuple[str, ...],
    fallbacks: list[str | None] | None = None,
) -> list[tuple[str, str]]:
    """Draw a geometry for each maker until it falls in one of its allowed counties.

    A maker returns [geometry, probe, ...]: the geometry's anchor (the point the trigger
    uses) must fall in `allowed[i]`, every probe point in the province. Returns
    (ewkt, county_code) per maker; after MAX_ROUNDS a maker takes its fallback (an EWKT
    known to lie in an allowed county) or the run fails.
    """
    result: dict[int, tuple[str, str]] = {}
    pending = list(range(len(makers)))
    in_province = set(province_codes)
    for _ in range(MAX_ROUNDS):
        if not pending:
            break
        drawn = [(i, makers[i](rng)) for i in pending]
        flat = [w for _, geoms in drawn for w in geoms]
        codes = iter(counties_of(session, flat))
        still = []
        for i, geoms in drawn:
            found = [next(codes) for _ in geoms]
            if found[0] in allowed[i] and all(c in in_province for c in found[1:]):
                result[i] = (geoms[0], found[0])
            else:
                still.append(i)
        pending = still
    for i in pending:
        fallback = fallbacks[i] if fallbacks else None
        if fallback is None:
            raise RuntimeError(f"could not place demo geometry {i} in {allowed[i]}")
        result[i] = (fallback, allowed[i][0])
    return [result[i] for i in range(len(makers))]


# Random helpers


def _pick(rng: random.Random, weights: Mapping[str, float]) -> str:
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


def _log_uniform(rng: random.Random, low: float, high: float) -> float:
    return math.exp(rng.uniform(math.log(low), math.log(high)))


def allocate(total: int, weights: list[float], minimum: int = 0) -> list[int]:
    """Split `total` by weights (largest remainder), giving each at least `minimum` if it can."""
    n = len(weights)
    base = [minimum] * n if total >= minimum * n else [0] * n
    rest = total - sum(base)
    wsum = sum(weights) or 1.0
    exact = [rest * w / wsum for w in weights]
    counts = [b + int(e) for b, e in zip(base, exact, strict=True)]
    order = sorted(range(n), key=lambda i: (-(exact[i] - int(exact[i])), i))
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


class People:
    """Chinese personal names and mobile numbers."""

    def __init__(self, rng: random.Random) -> None:
        names = demo_data("names")
        self.rng = rng
        self.surnames = names["surnames"]
        self.given = names["given_chars"]
        self.prefixes = names["mobile_prefixes"]

    def name(self) -> str:
        rng = self.rng
        given = rng.sample(self.given, 2) if rng.random() < 0.7 else [rng.choice(self.given)]
        return _pick(rng, self.surnames) + "".join(given)

    def phone(self) -> str:
        return self.rng.choice(self.prefixes) + f"{self.rng.randrange(10**8):08d}"


# Grading inputs

GradedInputs = tuple[dict[str, float], float, float]  # (inputs, score, weight)


@cache
def _graded_inputs() -> dict[str, dict[str, list[GradedInputs]]]:
    """All plausible LEC and LS inputs grouped by method and level: (inputs, score, weight)."""
    weights = demo_data("sectors")["lec_factor_weights"]
    factors = lec_factors()
    groups: dict[str, dict[str, list[GradedInputs]]] = {
        "lec": {lv: [] for lv in LEVELS},
        "ls": {lv: [] for lv in LEVELS},
    }
    for l, e, c in product(factors["L"], factors["E"], factors["C"]):
        w = weights["L"].get(str(l), 0) * weights["E"].get(str(e), 0) * weights["C"].get(str(c), 0)
        if w:
            res = assess_lec(l, e, c)
            groups["lec"][res.level].append(({"l": l, "e": e, "c": c}, res.d, w))
    for l, s in product(range(1, 6), range(1, 6)):
        res_ls = assess_ls(l, s)
        groups["ls"][res_ls.level].append(({"l": l, "s": s}, float(res_ls.r), 1.0))
    return groups


def draw_grading(
    rng: random.Random, level: str, method: str
) -> tuple[dict[str, float], float, str]:
    """Draw inputs of `method` that grade to `level`; returns (inputs, score, level)."""
    options = _graded_inputs()[method][level] or _graded_inputs()["ls"][level]
    inputs, _, _ = rng.choices(options, weights=[o[2] for o in options])[0]
    if "e" in inputs:
        res = assess_lec(inputs["l"], inputs["e"], inputs["c"])
        return dict(inputs), res.d, res.level
    res_ls = assess_ls(inputs["l"], inputs["s"])
    return dict(inputs), float(res_ls.r), res_ls.level


# Hazard-source templates


class HazardUnit(HazardUnitTemplate):
    critical: list[float]  # Q (t) of each substance


class Substance(TypedDict):
    """A substance as stored in `hazard_sources.substances`."""

    cas: str | None
    name: str | None
    category: str | None
    quantity_t: float


@cache
def hazard_units() -> list[HazardUnit]:
    """The unit templates with each substance's critical quantity Q, checked by GB 18218."""
    units: list[HazardUnit] = []
    for unit in demo_data("hazard_units")["units"]:
        subs = [
            gb18218.SubstanceInput(
                quantity_t=1.0, cas=s["cas"], name=s["name"], category=s["category"]
            )
            for s in unit["substances"]
        ]
        terms = gb18218.assess_hazard_source(subs, 0).terms
        units.append({**unit, "critical": [t.critical_t for t in terms]})
    return units


def draw_substances(rng: random.Random, unit: HazardUnit) -> list[Substance]:
    """Quantities for a unit template so that S = Σ q/Q lands in the configured range (≥ 1)."""
    low, high = demo_data("hazard_units")["s_range"]
    target = _log_uniform(rng, low, high)
    subs: list[Substance] = []
    for s, critical in zip(unit["substances"], unit["critical"], strict=True):
        q = max(round(s["share"] * target * critical * rng.uniform(0.85, 1.15), 1), 0.1)
        subs.append(
            {"cas": s["cas"], "name": s["name"], "category": s["category"], "quantity_t": q}
        )
    total = sum(sub["quantity_t"] / c for sub, c in zip(subs, unit["critical"], strict=True))
    if total < 1:
        factor = 1.05 / total
        for sub in subs:
            sub["quantity_t"] = round(sub["quantity_t"] * factor + 0.1, 1)
    return subs


def substance_inputs(substances: Sequence[Mapping[str, Any]]) -> list[gb18218.SubstanceInput]:
    """Turn a stored `substances` JSON list into GB 18218 inputs."""
    return [
        gb18218.SubstanceInput(
            quantity_t=s["quantity_t"],
            cas=s.get("cas"),
            name=s.get("name"),
            category=s.get("category"),
        )
        for s in substances
    ]


# The plan


@dataclass
class DemoPlan:
    """Every row of a demo run; children refer to enterprises and risk points by index
    (keys `_enterprise`, `_risk_point`), turned into ids when written."""

    province: str
    enterprises: list[Row] = field(default_factory=list)
    hazard_sources: list[Row] = field(default_factory=list)
    risk_points: list[Row] = field(default_factory=list)
    hidden_dangers: list[Row] = field(default_factory=list)
    # Each hidden danger's history up to its status (`_danger`: its index).
    danger_events: list[Row] = field(default_factory=list)
    public_zones: list[Row] = field(default_factory=list)
    emergency_resources: list[Row] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "enterprises": len(self.enterprises),
            "hazard_sources": len(self.hazard_sources),
            "risk_points": len(self.risk_points),
            "hidden_dangers": len(self.hidden_dangers),
            "public_zones": len(self.public_zones),
            "emergency_resources": len(self.emergency_resources),
        }


class _Planner:
    def __init__(
        self, session: Session, seed: int, enterprises: int, province: str, as_of: date
    ) -> None:
        self.session = session
        self.seed = seed
        self.n = enterprises
        self.prov = load_province(session, province)
        self.codes = tuple(c.code for c in self.prov.counties)
        self.as_of = as_of
        self.names = demo_data("names")
        self.sectors: dict[str, Sector] = {s["name"]: s for s in demo_data("sectors")["sectors"]}
        self.plan = DemoPlan(province=province)
        self.used_names: set[str] = set()

    def rng(self, part: str) -> random.Random:
        # One stream per part, so changing one part leaves the others' rows unchanged.
        return random.Random(f"riskatlas-demo/{self.seed}/{self.prov.code}/{part}")

    def place(
        self,
        rng: random.Random,
        makers: list[Maker],
        allowed: list[tuple[str, ...]],
        fallbacks: list[str | None] | None = None,
    ) -> list[tuple[str, str]]:
        return place(self.session, rng, makers, allowed, self.codes, fallbacks)

    def unique(self, make: Callable[[], str]) -> str:
        name = make()
        for _ in range(50):
            if name not in self.used_names:
                break
            name = make()
        base, k = name, 2
        while name in self.used_names:
            name, k = f"{base}（{k}）", k + 1
        self.used_names.add(name)
        return name

    def region_prefix(self, county: County) -> str:
        """Province, city and county names, each once (北京市东城区, 台湾省)."""
        parts: list[str] = []
        for part in (self.prov.name, county.city_name, county.name):
            if part and part not in parts:
                parts.append(part)
        return "".join(parts)

    def address(self, county: County, road: str, rng: random.Random, park: str = "") -> str:
        return f"{self.region_prefix(county)}{park}{road}{rng.randint(1, 399)}号"

    # Enterprises

    def enterprises(self) -> None:
        rng = self.rng("enterprises")
        prov, n = self.prov, self.n
        park_counts = [round(n * p.share) for p in prov.parks]
        if sum(park_counts) > n:
            park_counts = allocate(n, [p.share for p in prov.parks])
        scattered = allocate(n - sum(park_counts), [c.weight for c in prov.counties], minimum=1)
        mix = {name: s["weight"] for name, s in self.sectors.items()}

        # (sector, the park or the county the enterprise is drawn in)
        slots: list[tuple[str, Park | County]] = []
        for park, count in zip(prov.parks, park_counts, strict=True):
            slots += [(_pick(rng, park.sectors), park) for _ in range(count)]
        for county, count in zip(prov.counties, scattered, strict=True):
            slots += [(_pick(rng, mix), county) for _ in range(count)]

        makers: list[Maker] = []
        allowed: list[tuple[str, ...]] = []
        for sector_name, where in slots:
            if isinstance(where, Park):
                makers.append(_gauss_maker(where.centre, where.sigma_km))
                allowed.append(where.counties)
            else:
                spread = self.sectors[sector_name].get("spread_km")
                makers.append(_scattered_maker(where.seat, spread))
                allowed.append((where.code,))
        placed = self.place(rng, makers, allowed)

        people = People(rng)
        suffixes = demo_data("sectors")["suffixes"]
        trade = self.names["trade_chars"]
        codes: set[str] = set()
        for (sector_name, where), (wkt, county_code) in zip(slots, placed, strict=True):
            in_park = where if isinstance(where, Park) else None
            sector = self.sectors[sector_name]
            county = prov.county(county_code)
            terms = (
                sector["terms"]
                if in_park or "scattered_terms" not in sector
                else (sector["scattered_terms"] if rng.random() < 0.7 else sector["terms"])
            )

            def make_name(t: list[str] = terms, c: County = county) -> str:
                r = rng.random()
                prefix = (
                    prov.short
                    if r < 0.5
                    else (_short(c.city_name) if r < 0.8 and c.city_name else c.short)
                )
                return prefix + "".join(rng.sample(trade, 2)) + rng.choice(t) + _pick(rng, suffixes)

            name = self.unique(make_name)
            code = make_credit_code(rng, county.code)
            while code in codes:
                code = make_credit_code(rng, county.code)
            codes.add(code)
            road = rng.choice(in_park.roads) if in_park else rng.choice(self.names["roads"])
            low, high = sector["employees"]
            lon, lat = _parse_point(wkt)
            footprint: str | None = None
            size: tuple[float, float] | None = None
            if in_park is not None and sector_name == "危险化学品":
                size = (rng.uniform(200, 600), rng.uniform(200, 600))
                footprint = f"SRID=4326;MULTIPOLYGON(({_ring(lon, lat, *size, 0.0)}))"
            self.plan.enterprises.append(
                {
                    "name": name,
                    "credit_code": code,
                    "sector": sector_name,
                    "address": self.address(county, road, rng, in_park.name if in_park else ""),
                    "park": in_park.name if in_park else None,
                    "employees": int(_log_uniform(rng, low, high)),
                    "footprint": footprint,
                    "responsible_person": people.name(),
                    "responsible_phone": people.phone(),
                    "government_person": f"{people.name()}（{county.name}{sector['regulator']}）",
                    "geom": wkt,
                    "_county": county.code,
                    "_size": size,
                }
            )

    def _near_enterprise(self, e: Row, inset: float = 0.8, sigma_m: float = 60.0) -> Maker:
        lon, lat = _parse_point(e["geom"])
        size = e["_size"]
        if size:
            w, h = size

            def maker(r: random.Random) -> list[str]:
                return [
                    point_wkt(
                        *_offset(
                            lon,
                            lat,
                            r.uniform(-0.5, 0.5) * w * inset / 1000,
                            r.uniform(-0.5, 0.5) * h * inset / 1000,
                        )
                    )
                ]
        else:

            def maker(r: random.Random) -> list[str]:
                dx, dy = (max(-150.0, min(150.0, r.gauss(0, sigma_m))) for _ in range(2))
                return [point_wkt(*_offset(lon, lat, dx / 1000, dy / 1000))]

        return maker

    # Risk points

    def risk_points(self) -> None:
        rng = self.rng("risk_points")
        people = People(rng)
        common = demo_data("sectors")["common_risk_points"]
        rows: list[Row] = []
        makers: list[Maker] = []
        for i, e in enumerate(self.plan.enterprises):
            sector = self.sectors[e["sector"]]
            k = rng.choices([1, 2, 3, 4, 5], weights=[15, 25, 30, 18, 12])[0]
            own = rng.sample(sector["risk_points"], min(k, len(sector["risk_points"])))
            kept = [t if rng.random() < 0.75 else None for t in own]
            extra = iter(rng.sample(common, len(common)))
            templates = [t or next(extra) for t in kept]
            for t in templates:
                level = _pick(rng, sector["risk_mix"])
                method = "lec" if rng.random() < sector["lec_share"] else "ls"
                inputs, score, level = draw_grading(rng, level, method)
                rows.append(
                    {
                        "name": t["name"],
                        "hazard_type": t["hazard_type"],
                        "control_measures": t["measures"],
                        "method": "lec" if "e" in inputs else "ls",
                        "inputs": inputs,
                        "score": score,
                        "risk_level": level,
                        "responsible_person": people.name(),
                        "responsible_phone": people.phone(),
                        "government_person": e["government_person"],
                        "_enterprise": i,
                    }
                )
                makers.append(self._near_enterprise(e))
        ents = [self.plan.enterprises[r["_enterprise"]] for r in rows]
        placed = self.place(rng, makers, [(e["_county"],) for e in ents], [e["geom"] for e in ents])
        for row, (wkt, county) in zip(rows, placed, strict=True):
            row["geom"], row["_county"] = wkt, county
        self.plan.risk_points = rows

    # Major hazard sources

    def hazard_sources(self) -> None:
        rng = self.rng("hazard_sources")
        people = People(rng)
        total = round(HAZARD_SOURCES_PER_REFERENCE * self.n / REFERENCE_ENTERPRISES)
        ents = self.plan.enterprises
        candidates = [i for i, e in enumerate(ents) if e["footprint"]] or [
            i for i, e in enumerate(ents) if e["sector"] == "危险化学品"
        ]
        units = hazard_units()
        rows: list[Row] = []
        candidates = rng.sample(candidates, len(candidates))
        for i in candidates:
            if len(rows) >= total:
                break
            k = min(rng.choices([1, 2, 3, 4], weights=[45, 30, 15, 10])[0], total - len(rows))
            chosen: list[HazardUnit] = []
            while len(chosen) < k:
                unit = rng.choices(units, weights=[u["weight"] for u in units])[0]
                if unit not in chosen:
                    chosen.append(unit)
            for unit in chosen:
                rows.append(
                    {
                        "name": unit["name"],
                        "unit_type": unit["unit_type"],
                        "substances": draw_substances(rng, unit),
                        "responsible_person": people.name(),
                        "responsible_phone": people.phone(),
                        "government_person": ents[i]["government_person"],
                        "_enterprise": i,
                    }
                )
        owners = [ents[r["_enterprise"]] for r in rows]
        placed = self.place(
            rng,
            [self._near_enterprise(e) for e in owners],
            [(e["_county"],) for e in owners],
            [e["geom"] for e in owners],
        )
        for row, (wkt, county) in zip(rows, placed, strict=True):
            row["geom"], row["_county"] = wkt, county
        self.plan.hazard_sources = rows

    def plant_neighbours(self) -> None:
        """Villages just outside plants with hazard sources, so α meets every band."""
        rng = self.rng("plant_neighbours")
        cfg = demo_data("hazard_units")["neighbours"]
        ents = self.plan.enterprises
        plants = sorted({r["_enterprise"] for r in self.plan.hazard_sources})
        bands = cfg["bands"]
        rows: list[Row] = []
        makers: list[Maker] = []
        for k, i in enumerate(plants):
            low, high, _ = (
                bands[k] if k < len(bands) else rng.choices(bands, [b[2] for b in bands])[0]
            )
            if high == 0:
                continue
            e = ents[i]
            lon, lat = _parse_point(e["geom"])
            park = next((p for p in self.prov.parks if p.name == e["park"]), None)
            away = (
                math.atan2(
                    lat - park.centre[1], (lon - park.centre[0]) * math.cos(math.radians(lat))
                )
                if park
                else rng.uniform(0, 2 * math.pi)
            )
            rows.append({"population": rng.randint(low, high), "_county": e["_county"]})
            makers.append(self._outside(e, away, cfg["distance_m"]))
        placed = self.place(rng, makers, [self.codes] * len(makers))
        for row, (wkt, code) in zip(rows, placed, strict=True):
            county = self.prov.county(code)

            def village_name(c: County = county) -> str:
                return c.short + rng.choice(self.names["place_words"]) + "村"

            self.plan.public_zones.append(
                {
                    "name": self.unique(village_name),
                    "kind": "village",
                    "population": row["population"],
                    "capacity": None,
                    "address": f"{self.region_prefix(county)}{rng.choice(self.names['roads'])}旁",
                    "managing_department": f"{county.name}{cfg['department']}",
                    "risk_level": _pick(rng, cfg["risk_mix"]),
                    "geom": wkt,
                    "_county": code,
                }
            )

    @staticmethod
    def _outside(e: Row, away: float, distance_m: list[float]) -> Maker:
        """A maker of a point `distance_m` outside the plant boundary, roughly towards `away`."""
        lon, lat = _parse_point(e["geom"])
        w, h = e["_size"] or (0.0, 0.0)

        def maker(r: random.Random) -> list[str]:
            angle = away + r.uniform(-0.6, 0.6)
            dx, dy = math.cos(angle), math.sin(angle)
            # From the centre of the (axis-aligned) footprint to its edge along the ray.
            edge = min(w / 2 / max(abs(dx), 1e-9), h / 2 / max(abs(dy), 1e-9))
            reach = edge + r.uniform(*distance_m)
            return [point_wkt(*_offset(lon, lat, dx * reach / 1000, dy * reach / 1000))]

        return maker

    # Hidden dangers

    def hidden_dangers(self) -> None:
        rng = self.rng("hidden_dangers")
        ents = self.plan.enterprises
        if not ents:
            return
        common = demo_data("sectors")["common_dangers"]
        points_of: dict[int, list[int]] = {}
        for j, point in enumerate(self.plan.risk_points):
            points_of.setdefault(point["_enterprise"], []).append(j)
        statuses = {
            "general": {
                "reported": 10,
                "assessed": 10,
                "rectifying": 25,
                "accepted": 15,
                "closed": 40,
            },
            "major": {
                "reported": 5,
                "assessed": 15,
                "rectifying": 50,
                "accepted": 15,
                "closed": 15,
            },
        }
        span = {"general": (7, 30), "major": (30, 120)}
        inspections = self.names["inspections"]
        # Their own streams: supervision and histories leave the dangers themselves as before.
        supervision_rng, history_rng = self.rng("danger_supervision"), self.rng("danger_history")
        for grade, per_reference in DANGERS_PER_REFERENCE.items():
            count = max(1, round(per_reference * self.n / REFERENCE_ENTERPRISES))
            weights = [
                self.sectors[e["sector"]]["danger_weight"]
                * (self.sectors[e["sector"]]["risk_mix"]["red"] if grade == "major" else 1)
                for e in ents
            ]
            for i in rng.choices(range(len(ents)), weights=weights, k=count):
                e = ents[i]
                own = self.sectors[e["sector"]]["dangers"][grade]
                title = rng.choice(own if rng.random() < 0.7 else common[grade])
                rp = rng.choice(points_of[i]) if i in points_of and rng.random() < 0.7 else None
                geom = self.plan.risk_points[rp]["geom"] if rp is not None else e["geom"]
                found = datetime.combine(
                    self.as_of - timedelta(days=rng.randint(0, 365 if grade == "general" else 540)),
                    time(rng.randint(8, 17), rng.randint(0, 59)),
                    CHINA_TZ,
                )
                status = _pick(rng, statuses[grade])
                deadline = found.date() + timedelta(days=rng.randint(*span[grade]))
                closed_at: datetime | None = None
                if status == "closed":
                    closed_at = min(
                        found
                        + timedelta(
                            days=rng.randint(1, span[grade][1] + 15), hours=rng.randint(0, 6)
                        ),
                        datetime.combine(self.as_of, time(18), CHINA_TZ),
                    )
                level = danger_demo.supervision_for(supervision_rng, grade, status)
                danger: Row = {
                    "title": title,
                    "description": f"{rng.choice(inspections)}中发现：{title}。",
                    "grade": grade,
                    "status": status,
                    "deadline": deadline,
                    "found_at": found,
                    "closed_at": closed_at,
                    "responsible_person": e["responsible_person"],
                    "responsible_phone": e["responsible_phone"],
                    "government_person": e["government_person"],
                    "geom": geom,
                    "_enterprise": i,
                    "_risk_point": rp,
                    "_county": (
                        self.plan.risk_points[rp]["_county"] if rp is not None else e["_county"]
                    ),
                    "supervision_level": level,
                    "supervision_deadline": deadline if level else None,
                }
                index = len(self.plan.hidden_dangers)
                self.plan.hidden_dangers.append(danger)
                self.plan.danger_events.extend(
                    {**event, "_danger": index}
                    for event in danger_demo.events(history_rng, danger, as_of=self.as_of)
                )

    # Public zones and emergency resources

    def _zone_name(self, rng: random.Random, pattern_key: PatternKey, county: County) -> str:
        patterns = self.names[pattern_key]
        return self.unique(
            lambda: rng.choice(patterns).format(
                county=county.name,
                n=rng.choice(self.names["ordinals"]),
                word=rng.choice(self.names["place_words"]),
                road=rng.choice(self.names["roads"]),
            )
        )

    def public_zones(self) -> None:
        rng = self.rng("public_zones")
        prov = self.prov
        config = demo_data("public")
        counties = list(prov.counties)
        weights = [c.weight for c in counties]
        rows: list[Row] = []
        makers: list[Maker] = []
        allowed: list[tuple[str, ...]] = []

        # One people's hospital per county: a crowded place and an emergency resource.
        hospital = config["county_hospital"]
        self.county_hospitals: list[Row] = []
        for c in counties:
            rows.append(
                {
                    "kind": "hospital",
                    "_name": hospital["name"].format(county=c.name),
                    "_cfg": "hospital",
                    "_population": hospital["population"],
                    "_capacity": hospital["beds"],
                }
            )
            makers.append(_gauss_maker(c.seat, 1.5))
            allowed.append((c.code,))

        for kind, cfg in config["public_zones"].items():
            total = max(
                round(cfg["per_5000"] * self.n / REFERENCE_ENTERPRISES),
                cfg["min_per_county"] * len(counties),
            )
            near_parks = round(total * cfg.get("near_park_share", 0)) if prov.parks else 0
            park_counts = allocate(near_parks, [p.share for p in prov.parks]) if near_parks else []
            per_county = allocate(total - near_parks, weights, cfg["min_per_county"])
            anchors: list[tuple[tuple[float, float], float, tuple[str, ...]]] = []
            for park, k in zip(prov.parks, park_counts, strict=False):
                anchors += [(park.centre, park.sigma_km * 1.2, park.counties)] * k
            for c, k in zip(counties, per_county, strict=True):
                anchors += [(c.seat, cfg["sigma_km"], (c.code,))] * k
            for centre, sigma, codes in anchors:
                rows.append({"kind": kind, "_cfg": kind})
                makers.append(self._zone_maker(cfg, centre, sigma))
                allowed.append(codes)

        placed = self.place(rng, makers, allowed)
        for row, (wkt, code) in zip(rows, placed, strict=True):
            county = prov.county(code)
            kind = row["kind"]
            cfg = config["public_zones"][row["_cfg"]]
            population: int | None
            capacity: int | None
            if "_name" in row:

                def fixed_name(n: str = row["_name"]) -> str:
                    return n

                name = self.unique(fixed_name)
                population = rng.randint(*row["_population"])
                capacity = rng.randint(*row["_capacity"])
            else:
                if kind == "residential":

                    def residential_name(c: County = county) -> str:
                        return (
                            c.short
                            + rng.choice(self.names["place_words"])
                            + rng.choice(self.names["residential_suffixes"])
                        )

                    name = self.unique(residential_name)
                else:
                    name = self._zone_name(rng, cfg["patterns"], county)
                population = capacity = None
                if cfg["population"]:
                    population = int(_log_uniform(rng, *cfg["population"]))
                    if cfg["capacity_ratio"]:
                        capacity = int(population * rng.uniform(*cfg["capacity_ratio"]))
            road = rng.choice(self.names["roads"])
            address = (
                f"{self.region_prefix(county)}{road}沿线"
                if kind == "gas_pipeline"
                else self.address(county, road, rng)
            )
            out = {
                "name": name,
                "kind": kind,
                "population": population,
                "capacity": capacity,
                "address": address,
                "managing_department": f"{county.name}{cfg['department']}",
                "risk_level": _pick(rng, cfg["risk_mix"]),
                "geom": wkt,
                "_county": code,
            }
            self.plan.public_zones.append(out)
            if "_name" in row:
                self.county_hospitals.append(out)

    def _zone_maker(self, cfg: ZoneKind, centre: tuple[float, float], sigma: float) -> Maker:
        shape = cfg.get("shape", "point")
        if shape == "polygon":
            low, high = cfg["size_m"]

            def polygon(r: random.Random) -> list[str]:
                lon, lat = _gauss(r, centre, sigma)
                ring = _ring(
                    lon, lat, r.uniform(low, high), r.uniform(low, high), r.uniform(0, math.pi / 2)
                )
                return [f"SRID=4326;POLYGON({ring})"]

            return polygon
        if shape == "line":
            low, high = cfg["length_km"]

            def line(r: random.Random) -> list[str]:
                lon, lat = _gauss(r, centre, sigma)
                vertices = [(lon, lat)]
                heading = r.uniform(0, 2 * math.pi)
                segments = r.randint(2, 5)
                step = r.uniform(low, high) / segments
                for _ in range(segments):
                    heading += r.uniform(-0.5, 0.5)
                    lon, lat = _offset(lon, lat, step * math.cos(heading), step * math.sin(heading))
                    vertices.append((lon, lat))
                wkt = "SRID=4326;LINESTRING(" + ", ".join(_fmt(*v) for v in vertices) + ")"
                return [wkt, point_wkt(*vertices[0]), point_wkt(*vertices[-1])]

            return line
        return lambda r: [point_wkt(*_gauss(r, centre, sigma))]

    def emergency_resources(self) -> None:
        rng = self.rng("emergency_resources")
        people = People(rng)
        prov = self.prov
        rows: list[Row] = []
        makers: list[Maker] = []
        allowed: list[tuple[str, ...]] = []
        for spec in demo_data("public")["emergency_resources"]:
            scope = spec["scope"]
            if scope == "county_hospital":
                for h in self.county_hospitals:
                    rows.append(
                        {
                            "name": h["name"],
                            "kind": spec["kind"],
                            "capacity": f"床位{h['capacity']}张，急诊科24小时接诊",
                            "_fixed": (h["geom"], h["_county"]),
                        }
                    )
                    makers.append(_fixed_maker(h["geom"]))
                    allowed.append((h["_county"],))
                continue
            targets: list[tuple[dict[str, str], tuple[float, float], float, tuple[str, ...]]] = []
            if scope == "county":
                targets = [({"county": c.name}, c.seat, 2.5, (c.code,)) for c in prov.counties]
            elif scope == "city":
                targets = [
                    ({"city": name}, cs[0].seat, 3.0, tuple(c.code for c in cs))
                    for _, name, cs in prov.cities
                ]
            elif scope == "park":
                targets = [({"park": p.name}, p.centre, 1.5, p.counties) for p in prov.parks]
            for names, centre, sigma, codes in targets:
                for _ in range(rng.randint(*spec["count"])):
                    words = {"word": rng.choice(self.names["place_words"]), **names}

                    def resource_name(
                        w: dict[str, str] = words, patterns: list[str] = spec["names"]
                    ) -> str:
                        return rng.choice(patterns).format(**w)

                    name = self.unique(resource_name)
                    cap = spec["capacity"]
                    values = {k: rng.randint(*v) for k, v in cap.items() if k != "text"}
                    rows.append(
                        {
                            "name": name,
                            "kind": spec["kind"],
                            "capacity": cap["text"].format(**values),
                        }
                    )
                    makers.append(_gauss_maker(centre, sigma))
                    allowed.append(codes)
        placed = self.place(rng, makers, allowed)
        for row, (wkt, code) in zip(rows, placed, strict=True):
            row.pop("_fixed", None)
            row.update(
                {
                    "contact_person": people.name(),
                    "contact_phone": people.phone(),
                    "geom": wkt,
                    "_county": code,
                }
            )
        self.plan.emergency_resources = rows


def plan_demo(
    session: Session,
    *,
    seed: int,
    enterprises: int = 5000,
    province: str = "640000",
    as_of: date | None = None,
) -> DemoPlan:
    """Build (without writing) every demo row for a province from a seed.

    Reads only the regions tables. Same seed, counts, province, `as_of` (the date hidden
    dangers are dated back from; default today) and regions → an identical plan. Private
    keys starting with "_" (county, enterprise/risk-point index, footprint size) are
    dropped when writing.
    """
    if enterprises < 1:
        raise InvalidInput("enterprises must be at least 1", field="enterprises")
    planner = _Planner(session, seed, enterprises, province, as_of or date.today())
    planner.enterprises()
    planner.risk_points()
    planner.hazard_sources()
    planner.hidden_dangers()
    planner.public_zones()
    planner.plant_neighbours()
    planner.emergency_resources()
    return planner.plan


def _public(row: Row) -> Row:
    return {k: v for k, v in row.items() if not k.startswith("_")}


def _grading_record(point_id: int, row: Row) -> Row:
    """The assessment of a demo risk point, by the method and rule set that graded it."""
    _, level, result = grade_risk_point(row["method"], row["inputs"])
    return {
        "subject_type": "risk_point",
        "subject_id": point_id,
        "method": row["method"],
        "inputs": row["inputs"],
        "result": result,
        "risk_level": level,
        "ruleset_version": ruleset_version(),
        "assessed_by": "demo",
    }


def write_plan(session: Session, plan: DemoPlan) -> dict[str, int]:
    """Insert a plan in bulk (the trigger sets county_code and grid_code); return counts."""

    # Core INSERT … RETURNING goes through "insertmanyvalues" (1,000 rows a statement);
    # a plain executemany would cost one round trip per row.
    def insert_returning(model: type[Base], rows: list[Row]) -> list[int]:
        if not rows:
            return []
        table = model.__table__
        if not isinstance(table, Table):
            raise TypeError(f"{model.__name__} is not mapped to a table")
        stmt = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        return list(session.execute(stmt, [_public(r) for r in rows]).scalars())

    insert_plain = insert_returning

    enterprise_ids = insert_returning(Enterprise, plan.enterprises)
    insert_plain(
        HazardSource,
        [{**r, "enterprise_id": enterprise_ids[r["_enterprise"]]} for r in plan.hazard_sources],
    )
    point_ids = insert_returning(
        RiskPoint,
        [{**r, "enterprise_id": enterprise_ids[r["_enterprise"]]} for r in plan.risk_points],
    )
    # Every graded row has its grading record, as if graded through the API; hazard
    # sources get theirs when the risk engine grades them (`rebuild(regrade=True)`).
    insert_plain(
        Assessment,
        [_grading_record(i, r) for i, r in zip(point_ids, plan.risk_points, strict=True)],
    )
    danger_ids = insert_returning(
        HiddenDanger,
        [
            {
                **r,
                "enterprise_id": enterprise_ids[r["_enterprise"]],
                "risk_point_id": point_ids[r["_risk_point"]]
                if r["_risk_point"] is not None
                else None,
            }
            for r in plan.hidden_dangers
        ],
    )
    counties: dict[int, str] = {
        row.id: row.county_code
        for row in session.execute(
            text("SELECT id, county_code FROM hidden_dangers WHERE id = ANY(:ids)"),
            {"ids": danger_ids},
        )
    }
    insert_plain(
        DangerEvent,
        [
            {
                **r,
                "danger_id": danger_ids[r["_danger"]],
                "county_code": counties[danger_ids[r["_danger"]]],
            }
            for r in plan.danger_events
        ],
    )
    insert_plain(PublicZone, plan.public_zones)
    insert_plain(EmergencyResource, plan.emergency_resources)
    session.flush()
    return plan.counts()


def generate_demo(
    session: Session,
    *,
    seed: int,
    enterprises: int = 5000,
    province: str = "640000",
    as_of: date | None = None,
) -> dict[str, int]:
    """Plan and write the demo for a province; returns the number of rows per table.

    Does not delete anything: the caller clears the tables first if it wants a fresh set
    (credit codes are unique, so writing the same seed twice fails).
    """
    plan = plan_demo(session, seed=seed, enterprises=enterprises, province=province, as_of=as_of)
    return write_plan(session, plan)
