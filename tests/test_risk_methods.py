"""LEC, LS matrix, direct determination and level arithmetic (pure, no database)."""

import hashlib
import itertools
import json

import pytest

from app.errors import InvalidInput
from app.risk.methods import (
    LEVELS,
    LecResult,
    LsResult,
    assess_lec,
    assess_ls,
    derived_rules,
    direct_level,
    direct_rules,
    higher_level,
    lec_factors,
    lec_level,
    ls_variants,
    raise_level,
    ruleset_version,
)
from app.settings import GEODATA_DIR

# D = 160 and D = 320 are not products of table values, so those two edges are checked on
# lec_level directly and the nearest real products on assess_lec.
LEC_CASES = [
    ((3, 3, 7), 63, "blue"),
    ((10, 1, 7), 70, "blue"),
    ((10, 0.5, 15), 75, "yellow"),
    ((0.2, 10, 40), 80, "yellow"),
    ((10, 1, 15), 150, "yellow"),
    ((10, 6, 3), 180, "orange"),
    ((10, 10, 3), 300, "orange"),
    ((3, 3, 40), 360, "red"),
    ((10, 10, 100), 10000, "red"),
    ((0.1, 0.5, 1), 0.05, "blue"),
]


@pytest.mark.parametrize(("lec", "d", "level"), LEC_CASES)
def test_lec_hand_computed(lec: tuple[float, float, float], d: float, level: str) -> None:
    assert assess_lec(*lec) == LecResult(d=d, level=level)


@pytest.mark.parametrize(
    ("d", "level"),
    [
        (70, "blue"),
        (70.01, "yellow"),
        (160, "yellow"),
        (160.01, "orange"),
        (320, "orange"),
        (320.01, "red"),
        (0, "blue"),
    ],
)
def test_lec_band_edges(d: float, level: str) -> None:
    assert lec_level(d) == level


def test_lec_every_product_has_a_level() -> None:
    f = lec_factors()
    for l, e, c in itertools.product(f["L"], f["E"], f["C"]):
        assert assess_lec(l, e, c).level in LEVELS


def test_lec_tables_match_domain() -> None:
    assert lec_factors() == {
        "L": [10, 6, 3, 1, 0.5, 0.2, 0.1],
        "E": [10, 6, 3, 2, 1, 0.5],
        "C": [100, 40, 15, 7, 3, 1],
    }


@pytest.mark.parametrize(
    ("lec", "field", "allowed"),
    [
        ((4, 6, 7), "l", [10, 6, 3, 1, 0.5, 0.2, 0.1]),
        ((3, 5, 7), "e", [10, 6, 3, 2, 1, 0.5]),
        ((3, 6, 50), "c", [100, 40, 15, 7, 3, 1]),
        ((-3, 6, 7), "l", [10, 6, 3, 1, 0.5, 0.2, 0.1]),
        ((True, 6, 7), "l", [10, 6, 3, 1, 0.5, 0.2, 0.1]),
    ],
)
def test_lec_rejects_values_outside_tables(lec: tuple, field: str, allowed: list) -> None:
    with pytest.raises(InvalidInput) as err:
        assess_lec(*lec)
    assert err.value.field == field
    assert err.value.detail["allowed"] == allowed


def test_lec_error_message() -> None:
    with pytest.raises(InvalidInput, match="L=4 is not a value of the LEC L table"):
        assess_lec(4, 6, 7)


LS_COMMON = [
    (1, 1, 1, "blue"),
    (2, 3, 6, "blue"),
    (3, 3, 9, "yellow"),
    (2, 5, 10, "yellow"),
    (3, 4, 12, "yellow"),
    (3, 5, 15, "orange"),
    (4, 4, 16, "orange"),
    (4, 5, 20, "red"),
    (5, 5, 25, "red"),
]


@pytest.mark.parametrize("variant", [None, "shandong", "alt"])
@pytest.mark.parametrize(("l", "s", "r", "level"), LS_COMMON)
def test_ls_band_edges(variant: str | None, l: int, s: int, r: int, level: str) -> None:
    assert assess_ls(l, s, variant) == LsResult(r=r, level=level)


def test_ls_variants_differ_only_at_8() -> None:
    assert assess_ls(2, 4) == LsResult(r=8, level="blue")
    assert assess_ls(2, 4, "shandong") == LsResult(r=8, level="blue")
    assert assess_ls(4, 2, "alt") == LsResult(r=8, level="yellow")
    differ = {
        l * s
        for l, s in itertools.product(range(1, 6), repeat=2)
        if assess_ls(l, s, "shandong").level != assess_ls(l, s, "alt").level
    }
    assert differ == {8}


def test_ls_default_variant_is_shandong() -> None:
    assert ls_variants() == ["shandong", "alt"]


@pytest.mark.parametrize(
    ("l", "s", "field"),
    [(6, 1, "l"), (1, 6, "s"), (0, 3, "l"), (-2, 3, "l"), (2.5, 3, "l"), (3, True, "s")],
)
def test_ls_rejects_out_of_scale(l: object, s: object, field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        assess_ls(l, s)  # type: ignore[arg-type]
    assert err.value.field == field
    assert err.value.detail["allowed"] == [1, 2, 3, 4, 5]


def test_ls_unknown_variant() -> None:
    with pytest.raises(InvalidInput) as err:
        assess_ls(2, 2, "hebei")
    assert err.value.field == "variant"
    assert err.value.detail["allowed"] == ["shandong", "alt"]


def test_direct_rules() -> None:
    rules = direct_rules()
    assert len(rules) == 4
    assert all(rule["enabled"] and rule["level"] == "red" for rule in rules.values())
    assert direct_level({}) is None
    assert direct_level({rule_id: False for rule_id in rules}) is None
    assert direct_level({"major_hazard_grade_1_2": True, "mandatory_clause_breach": False}) == "red"
    assert direct_level({"crowded_hazardous_workplace": True}) == "red"


def test_direct_unknown_rule() -> None:
    with pytest.raises(InvalidInput) as err:
        direct_level({"no_such_rule": True})
    assert err.value.field == "flags"
    assert "major_hazard_grade_1_2" in err.value.detail["allowed"]


def test_direct_disabled_rule_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    rules = {k: dict(v) for k, v in direct_rules().items()}
    rules["mandatory_clause_breach"]["enabled"] = False
    monkeypatch.setattr("app.risk.methods.direct_rules", lambda: rules)
    assert direct_level({"mandatory_clause_breach": True}) is None
    assert direct_level({"mandatory_clause_breach": True, "major_hazard_grade_1_2": True}) == "red"


def test_levels_order() -> None:
    assert LEVELS == ("red", "orange", "yellow", "blue")


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("blue", "red", "red"),
        ("orange", "yellow", "orange"),
        ("yellow", "yellow", "yellow"),
        (None, "blue", "blue"),
        ("orange", None, "orange"),
        (None, None, None),
    ],
)
def test_higher_level(a: str | None, b: str | None, expected: str | None) -> None:
    assert higher_level(a, b) == expected


@pytest.mark.parametrize(
    ("level", "steps", "expected"),
    [
        ("blue", 1, "yellow"),
        ("yellow", 1, "orange"),
        ("orange", 1, "red"),
        ("red", 1, "red"),
        ("blue", 2, "orange"),
        ("blue", 9, "red"),
        ("yellow", 0, "yellow"),
    ],
)
def test_raise_level(level: str, steps: int, expected: str) -> None:
    assert raise_level(level, steps) == expected


def test_bad_levels() -> None:
    with pytest.raises(InvalidInput) as err:
        raise_level("green")
    assert err.value.field == "level"
    with pytest.raises(InvalidInput):
        higher_level("purple", "red")
    with pytest.raises(InvalidInput) as err:
        raise_level("blue", -1)
    assert err.value.field == "steps"


def test_lec_is_exact_and_names_method_variant_and_ruleset() -> None:
    # 0.2 × 6 × 100 is 120.00000000000001 in floats: D is exactly 120.
    result = assess_lec(0.2, 6, 100)
    assert result.d == 120 and result.level == "yellow"
    assert (result.method, result.variant, result.ruleset_version) == (
        "lec",
        "upper-inclusive",
        ruleset_version(),
    )
    ls = assess_ls(2, 4, "alt")
    assert (ls.method, ls.variant, ls.ruleset_version) == ("ls", "alt", ruleset_version())
    assert assess_ls(2, 4).variant == "shandong"


def test_the_hazard_source_rule_is_derived() -> None:
    assert derived_rules() == {"major_hazard_grade_1_2": [1, 2]}


def test_ruleset_version() -> None:
    assert ruleset_version() == "2026.11-5"


RULESET_FILES = GEODATA_DIR / "risk" / "RULESET_FILES"


def test_one_ruleset_version_covers_every_rule_file() -> None:
    """Every rule file of geodata/risk and geodata/gb18218 is listed with its digest, so a
    rule edited without bumping RULESET_VERSION (and re-listing) fails here; no rule file
    carries a version of its own that could disagree."""
    listed = {}
    for line in RULESET_FILES.read_text(encoding="utf-8").splitlines():
        digest, path = line.split(maxsplit=1)
        listed[path] = digest
    on_disk = sorted(
        str(p.relative_to(GEODATA_DIR))
        for folder in ("risk", "gb18218")
        for p in (GEODATA_DIR / folder).iterdir()
        if p.suffix in (".csv", ".json")
    )
    assert sorted(listed) == on_disk
    fix = (
        "bump geodata/risk/RULESET_VERSION, then in geodata/: "
        "sha256sum risk/*.csv risk/*.json gb18218/*.csv > risk/RULESET_FILES"
    )
    for path, digest in listed.items():
        assert hashlib.sha256((GEODATA_DIR / path).read_bytes()).hexdigest() == digest, (
            f"{path} changed: {fix}"
        )
        if path.endswith(".json"):
            version = json.loads((GEODATA_DIR / path).read_text(encoding="utf-8")).get("version")
            assert version in (None, ruleset_version()), path
