"""Major hazard sources (重大危险源) by GB 18218-2018: identification (S) and grading (R).

S and R are summed as exact fractions of the decimal inputs and compared unrounded with the
thresholds (S ≥ 1, R ≥ 100 / 50 / 10): 0.1 + 0.2 + 0.7 t of a Q = 1 t substance is a major
hazard source, 0.9999999 is not.
"""

import math
import unicodedata
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cache
from typing import Any

from app.errors import InvalidInput
from app.risk.methods import read_csv, ruleset_version
from app.settings import GEODATA_DIR

GB_DIR = GEODATA_DIR / "gb18218"
METHOD = "gb18218"


@dataclass(frozen=True)
class SubstanceInput:
    quantity_t: float
    cas: str | None = None
    name: str | None = None
    category: str | None = None


@dataclass(frozen=True)
class SubstanceTerm:
    """How one substance entered S and R: its critical quantity Q, its β and their tables."""

    quantity_t: float
    critical_t: float
    beta: float
    table1_no: int | None
    category: str | None
    beta_table: int


@dataclass(frozen=True)
class HazardAssessment:
    """S and R as the nearest floats of their exact values (never rounded before the tests)."""

    s: float
    is_major: bool
    alpha: float
    exposed_people: int
    r: float
    grade: int | None
    level: str | None
    terms: tuple[SubstanceTerm, ...] = field(default=(), compare=False)
    method: str = field(default=METHOD, compare=False)
    variant: str = field(default="", compare=False)
    ruleset_version: str = field(default="", compare=False)


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(";") if part.strip()]


def normalise_name(text: str) -> str:
    """A substance name as compared: NFKC (full-width brackets and letters), no spaces."""
    return "".join(unicodedata.normalize("NFKC", text).split()).casefold()


def variant() -> str:
    """The reading of the standard in force: the edition and the contested J2 β (Table 4)."""
    return f"GB 18218-2018, J2 β = {category_betas()['J2']:g}"


@cache
def table1() -> list[dict[str, Any]]:
    """Return the named substances of Table 1 with CAS lists and all accepted names."""
    rows = []
    for row in read_csv(GB_DIR / "substances.csv"):
        rows.append(
            {
                "no": int(row["no"]),
                "name": row["name"],
                "names": (row["name"], *_split(row["aliases"])),
                "keys": frozenset(
                    normalise_name(n) for n in (row["name"], *_split(row["aliases"]))
                ),
                "cas": tuple(_split(row["cas"])),
                "q_t": float(row["q_t"]),
                "category": row["category"] or None,
            }
        )
    return rows


@cache
def categories() -> dict[str, float]:
    """Return the critical quantity Q (t) of each Table 2 hazard category."""
    return {row["code"]: float(row["q_t"]) for row in read_csv(GB_DIR / "categories.csv")}


@cache
def category_betas() -> dict[str, float]:
    """Return β of each hazard category (Table 4)."""
    return {row["category"]: float(row["beta"]) for row in read_csv(GB_DIR / "beta_categories.csv")}


@cache
def _toxic_gases() -> list[tuple[frozenset[str], str, float]]:
    return [
        (frozenset([row["name"], *_split(row["aliases"])]), row["cas"], float(row["beta"]))
        for row in read_csv(GB_DIR / "beta_toxic_gases.csv")
    ]


@cache
def _alpha_bands() -> list[tuple[int, float]]:
    rows = read_csv(GB_DIR / "alpha.csv")
    return sorted(((int(row["min_people"]), float(row["alpha"])) for row in rows), reverse=True)


@cache
def _grades() -> list[tuple[float, int, str]]:
    grades = [
        (float(row["r_min"]), int(row["grade"]), row["level"])
        for row in read_csv(GB_DIR / "grades.csv")
    ]
    return sorted(grades, reverse=True)


def alpha_for(exposed_people: int) -> float:
    """Return α for the number of people outside the plant within 500 m of its boundary."""
    n = exposed_people
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise InvalidInput(
            f"exposed_people={n} must be a non-negative integer", field="exposed_people"
        )
    for min_people, alpha in _alpha_bands():
        if n >= min_people:
            return alpha
    raise InvalidInput(f"no α band for {n} people", field="exposed_people")


def grade_for(r: float | Fraction) -> tuple[int, str]:
    """Return the grade (1 highest) and its colour for a major hazard source's R."""
    for r_min, grade, level in _grades():
        if r >= r_min:
            return grade, level
    raise InvalidInput(f"R={r} falls in no grade band", field="r")


def grade_level(grade: int) -> str:
    """Return the colour of a hazard-source grade (一级 red … 四级 blue)."""
    for _, known, level in _grades():
        if known == grade:
            return level
    raise InvalidInput(
        f"grade {grade} is not a GB 18218 grade",
        field="grade",
        allowed=[g for _, g, _ in sorted(_grades(), key=lambda t: t[1])],
    )


def _clean(text: str | None) -> str | None:
    return text.strip() or None if text else None


def _names(rows: list[dict[str, Any]]) -> str:
    return "; ".join(f"no. {row['no']} {row['name']}" for row in rows)


def _find_substance(cas: str | None, name: str | None, prefix: str) -> dict[str, Any] | None:
    """The Table 1 entry a CAS number and/or a name designate, None when neither is listed.

    A name that is a Table 1 name must agree with the CAS number when both are given: the
    CAS must belong to that entry (entries without a CAS, like 煤气, accept any). A name
    unknown to Table 1 (a trade name) does not contradict a listed CAS.
    """
    cas, name = _clean(cas), _clean(name)
    rows = table1()
    by_cas = [row for row in rows if cas in row["cas"]] if cas else []
    key = normalise_name(name) if name else None
    by_name = [row for row in rows if key in row["keys"]] if key else []
    found = by_cas or by_name
    if by_cas and by_name:
        found = [row for row in by_cas if row in by_name]
    elif cas and by_name and all(row["cas"] for row in by_name):
        found = []
    if cas and by_name and not found:
        raise InvalidInput(
            f"CAS {cas} and name {name!r} disagree: {name!r} is GB 18218 Table 1 "
            f"{_names(by_name)} (CAS {', '.join(c for row in by_name for c in row['cas'])}), "
            + (f"CAS {cas} is {_names(by_cas)}" if by_cas else f"CAS {cas} is not in Table 1"),
            field=f"{prefix}cas,{prefix}name",
        )
    if len(found) > 1:
        # One CAS or base name can cover rows with different Q (nitrocellulose, ammonium nitrate).
        raise InvalidInput(
            f"{cas or name} matches {len(found)} entries of GB 18218 Table 1; give the full name",
            field=f"{prefix}name",
            allowed=[row["name"] for row in found],
        )
    return found[0] if found else None


def lookup_substance(cas: str | None, name: str | None) -> dict[str, Any] | None:
    """Return the Table 1 entry for a CAS number or exact name/alias, None when not listed."""
    row = _find_substance(cas, name, "")
    return None if row is None else dict(row)


def _toxic_gas_beta(cas: set[str], names: set[str]) -> float | None:
    for gas_names, gas_cas, beta in _toxic_gases():
        if gas_cas in cas or gas_names & names:
            return beta
    return None


def _term(sub: SubstanceInput, i: int) -> SubstanceTerm:
    prefix = f"substances[{i}]."
    q = sub.quantity_t
    if isinstance(q, bool) or not isinstance(q, int | float) or not math.isfinite(q) or q <= 0:
        raise InvalidInput(
            f"quantity_t={q} must be a positive number of tonnes", field=f"{prefix}quantity_t"
        )
    category = _clean(sub.category)
    if category is not None:
        category = category.upper()
        if category not in categories():
            raise InvalidInput(
                f"{sub.category!r} is not a GB 18218 hazard category",
                field=f"{prefix}category",
                allowed=list(categories()),
            )
    row = _find_substance(sub.cas, sub.name, prefix)
    if row is not None:
        critical = row["q_t"]
        category = category or row["category"]
    elif category is not None:
        critical = categories()[category]
    elif _clean(sub.cas):
        raise InvalidInput(
            f"CAS {sub.cas} is not in GB 18218 Table 1; give its hazard category",
            field=f"{prefix}cas",
        )
    elif _clean(sub.name):
        raise InvalidInput(
            f"{sub.name!r} is not in GB 18218 Table 1; give its hazard category",
            field=f"{prefix}name",
        )
    else:
        raise InvalidInput(
            "give a CAS number, a Table 1 name or a hazard category",
            field=f"{prefix}category",
            allowed=list(categories()),
        )
    cas = {c for c in [_clean(sub.cas), *(row["cas"] if row else ())] if c}
    names = {n for n in [_clean(sub.name), *(row["names"] if row else ())] if n}
    beta = _toxic_gas_beta(cas, names)
    beta_table = 3
    if beta is None:
        if category is None:
            raise InvalidInput(
                f"{row['name'] if row else sub.name} is not a Table 3 toxic gas; "
                "give its hazard category to find β",
                field=f"{prefix}category",
                allowed=list(categories()),
            )
        beta, beta_table = category_betas()[category], 4
    return SubstanceTerm(
        quantity_t=float(q),
        critical_t=critical,
        beta=beta,
        table1_no=row["no"] if row else None,
        category=category,
        beta_table=beta_table,
    )


def _exact(value: float) -> Fraction:
    """The decimal a float was written as (0.1 → 1/10), so sums carry no float noise."""
    return Fraction(repr(float(value)))


def assess_hazard_source(substances: list[SubstanceInput], exposed_people: int) -> HazardAssessment:
    """Identify (S = Σ q/Q ≥ 1) and grade (R = α·Σ β·q/Q) a production or storage unit."""
    if not substances:
        raise InvalidInput("a hazard source needs at least one substance", field="substances")
    terms = tuple(_term(sub, i) for i, sub in enumerate(substances))
    alpha = alpha_for(exposed_people)
    ratios = [_exact(t.quantity_t) / _exact(t.critical_t) for t in terms]
    s = sum(ratios, Fraction(0))
    r = _exact(alpha) * sum(
        (_exact(t.beta) * q for t, q in zip(terms, ratios, strict=True)), Fraction(0)
    )
    is_major = s >= 1
    grade, level = grade_for(r) if is_major else (None, None)
    return HazardAssessment(
        s=float(s),
        is_major=is_major,
        alpha=alpha,
        exposed_people=exposed_people,
        r=float(r),
        grade=grade,
        level=level,
        terms=terms,
        variant=variant(),
        ruleset_version=ruleset_version(),
    )
