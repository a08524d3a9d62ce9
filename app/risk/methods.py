"""Risk-point grading methods (LEC, LS matrix, direct determination) driven by geodata/risk."""

import csv
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cache
from pathlib import Path
from typing import Any, overload

from app.errors import InvalidInput
from app.settings import GEODATA_DIR

RISK_DIR = GEODATA_DIR / "risk"

LEVELS = ("red", "orange", "yellow", "blue")


def read_csv(path: Path) -> list[dict[str, str]]:
    """Read a UTF-8 data file into rows of stripped strings."""
    with path.open(encoding="utf-8", newline="") as f:
        return [{k: (v or "").strip() for k, v in row.items()} for row in csv.DictReader(f)]


def number(text: str) -> float | int:
    """Parse a data cell, keeping whole numbers as int so allowed lists read naturally."""
    value = float(text)
    return int(value) if value.is_integer() else value


def _optional(text: str) -> float | None:
    return float(text) if text else None


def _level_or_raise(level: str, field: str = "level") -> int:
    if level not in LEVELS:
        raise InvalidInput(f"{level!r} is not a risk level", field=field, allowed=list(LEVELS))
    return LEVELS.index(level)


@overload
def higher_level(a: str, b: str | None) -> str: ...
@overload
def higher_level(a: str | None, b: str) -> str: ...
@overload
def higher_level(a: str | None, b: str | None) -> str | None: ...


def higher_level(a: str | None, b: str | None) -> str | None:
    """Return the higher of two risk levels; None counts as no level."""
    if a is None:
        return b
    if b is None:
        return a
    return a if _level_or_raise(a) <= _level_or_raise(b) else b


def raise_level(level: str, steps: int = 1) -> str:
    """Raise a level by `steps` (blue→yellow→orange→red), capped at red."""
    if steps < 0:
        raise InvalidInput(f"steps={steps} must not be negative", field="steps")
    return LEVELS[max(_level_or_raise(level) - steps, 0)]


@cache
def ruleset_version() -> str:
    """Return the version of the whole rule set (geodata/risk and geodata/gb18218, listed
    with their digests in geodata/risk/RULESET_FILES), stored with every grade."""
    return (RISK_DIR / "RULESET_VERSION").read_text(encoding="utf-8").strip()


# LEC (作业条件危险性评价法): D = L × E × C


@dataclass(frozen=True)
class LecResult:
    d: float
    level: str
    method: str = field(default="lec", compare=False)
    variant: str = field(default="", compare=False)
    ruleset_version: str = field(default="", compare=False)


@cache
def lec_factors() -> dict[str, list[float | int]]:
    """Return the allowed values of L, E and C, highest first."""
    factors: dict[str, list[float | int]] = {"L": [], "E": [], "C": []}
    for row in read_csv(RISK_DIR / "lec_factors.csv"):
        factors[row["factor"]].append(number(row["value"]))
    return factors


@cache
def _lec_bands() -> list[tuple[str, float | None, float | None]]:
    return [
        (row["level"], _optional(row["d_min_exclusive"]), _optional(row["d_max_inclusive"]))
        for row in read_csv(RISK_DIR / "lec_bands.csv")
    ]


@cache
def lec_variant() -> str:
    """The band convention of lec_bands.csv (copies of the method differ at the edges)."""
    variants = {row["variant"] for row in read_csv(RISK_DIR / "lec_bands.csv")}
    if len(variants) != 1:
        raise ValueError(f"lec_bands.csv: expected one variant, found {sorted(variants)}")
    return variants.pop()


def lec_level(d: float | Fraction) -> str:
    """Return the level of an LEC score D."""
    for level, low, high in _lec_bands():
        if (low is None or d > low) and (high is None or d <= high):
            return level
    raise InvalidInput(f"D={d} falls in no LEC band", field="d")


def assess_lec(l: float, e: float, c: float) -> LecResult:
    """Grade a risk point by LEC: D = L × E × C."""
    factors = lec_factors()
    for name, value in (("L", l), ("E", e), ("C", c)):
        allowed = factors[name]
        if isinstance(value, bool) or not isinstance(value, int | float) or value not in allowed:
            raise InvalidInput(
                f"{name}={value} is not a value of the LEC {name} table",
                field=name.lower(),
                allowed=allowed,
            )
    # Exact product of the decimals as written, compared unrounded with the band edges
    # (0.2 × 6 × 100 in floats is 120.00000000000001; the exact D is 120).
    d = Fraction(repr(float(l))) * Fraction(repr(float(e))) * Fraction(repr(float(c)))
    return LecResult(
        d=float(d),
        level=lec_level(d),
        variant=lec_variant(),
        ruleset_version=ruleset_version(),
    )


# Risk matrix LS: R = L × S


@dataclass(frozen=True)
class LsResult:
    r: int
    level: str
    method: str = field(default="ls", compare=False)
    variant: str = field(default="", compare=False)
    ruleset_version: str = field(default="", compare=False)


@cache
def _ls_bands() -> tuple[str, dict[str, dict[int, str]]]:
    default = None
    variants: dict[str, dict[int, str]] = {}
    for row in read_csv(RISK_DIR / "ls_bands.csv"):
        table = variants.setdefault(row["variant"], {})
        for r in range(int(row["r_min"]), int(row["r_max"]) + 1):
            if r in table:
                raise ValueError(f"ls_bands.csv: R={r} has two levels in {row['variant']}")
            table[r] = row["level"]
        if row["is_default"].lower() == "true":
            default = row["variant"]
    for name, table in variants.items():
        if set(table) != set(range(1, 26)):
            raise ValueError(f"ls_bands.csv: variant {name} does not cover R = 1..25")
    if default is None:
        raise ValueError("ls_bands.csv: no default variant")
    return default, variants


def ls_variants() -> list[str]:
    """Return the names of the LS band variants, the default first."""
    default, variants = _ls_bands()
    return [default] + [v for v in variants if v != default]


def _ls_scale(name: str, value: float) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
        raise InvalidInput(
            f"{name}={value} is not a value of the LS {name} scale (integers 1..5)",
            field=name.lower(),
            allowed=[1, 2, 3, 4, 5],
        )
    return value


def assess_ls(l: float, s: float, variant: str | None = None) -> LsResult:
    """Grade a risk point by the risk matrix: R = L × S, both integers in 1..5.

    Any other number (graded inputs are unchecked JSON) is refused with InvalidInput.
    """
    default, variants = _ls_bands()
    l_scale, s_scale = _ls_scale("L", l), _ls_scale("S", s)
    name = default if variant is None else variant
    if name not in variants:
        raise InvalidInput(
            f"{variant!r} is not an LS band variant", field="variant", allowed=ls_variants()
        )
    r = l_scale * s_scale
    return LsResult(r=r, level=variants[name][r], variant=name, ruleset_version=ruleset_version())


# Direct determination (直接判定)


@cache
def direct_rules() -> dict[str, dict[str, Any]]:
    """Return the direct-determination rules by id, with `enabled` as a bool and
    `derived_from_hazard_grades` as a list of hazard-source grades (empty: set by the client)."""
    rules: dict[str, dict[str, Any]] = {}
    for row in read_csv(RISK_DIR / "direct_rules.csv"):
        rules[row["rule_id"]] = {
            **row,
            "enabled": row["enabled"].lower() == "true",
            "derived_from_hazard_grades": [
                int(g) for g in _split(row["derived_from_hazard_grades"])
            ],
        }
    return rules


def derived_rules() -> dict[str, list[int]]:
    """The rules whose flag follows the enterprise's hazard sources: {rule_id: grades}."""
    return {
        rule_id: rule["derived_from_hazard_grades"]
        for rule_id, rule in direct_rules().items()
        if rule["derived_from_hazard_grades"]
    }


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(";") if part.strip()]


def direct_level(flags: dict[str, bool]) -> str | None:
    """Return the level forced by the enabled rules whose flag is true, else None."""
    rules = direct_rules()
    level: str | None = None
    for rule_id, on in flags.items():
        rule = rules.get(rule_id)
        if rule is None:
            raise InvalidInput(
                f"{rule_id!r} is not a direct-determination rule",
                field="flags",
                allowed=list(rules),
            )
        if on and rule["enabled"]:
            level = higher_level(level, rule["level"])
    return level
