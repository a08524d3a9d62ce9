"""GB 18218-2018 identification and grading of major hazard sources (pure, no database)."""

import pytest

from app.errors import InvalidInput
from app.risk.gb18218 import (
    HazardAssessment,
    SubstanceInput,
    alpha_for,
    assess_hazard_source,
    categories,
    category_betas,
    grade_for,
    lookup_substance,
    table1,
)

H2S, PH3, CL2 = "7783-06-4", "7803-51-2", "7782-50-5"  # (Q 5, β 5), (Q 1, β 20), (Q 5, β 4)


def test_worked_example_with_named_gases() -> None:
    """domain.md §3: R = 2 × (2·5/5 + 2·20/1 + 1·4/5) = 85.6 → 二级."""
    result = assess_hazard_source(
        [SubstanceInput(2, cas=H2S), SubstanceInput(2, cas=PH3), SubstanceInput(1, cas=CL2)],
        exposed_people=102,
    )
    assert result == HazardAssessment(
        s=2.6, is_major=True, alpha=2.0, exposed_people=102, r=85.6, grade=2, level="orange"
    )
    assert [(t.critical_t, t.beta, t.beta_table) for t in result.terms] == [
        (5, 5, 3),
        (1, 20, 3),
        (5, 4, 3),
    ]


def test_worked_example_term_by_category() -> None:
    """The third term (Q 5, β 4) is also category J1."""
    result = assess_hazard_source(
        [
            SubstanceInput(2, name="硫化氢"),
            SubstanceInput(2, name="磷化氢"),
            SubstanceInput(1, category="J1"),
        ],
        exposed_people=102,
    )
    assert result.r == pytest.approx(85.6)
    assert (result.grade, result.level) == (2, "orange")
    assert result.terms[2].table1_no is None and result.terms[2].beta_table == 4


def test_below_one_is_not_major() -> None:
    result = assess_hazard_source([SubstanceInput(4.9, cas=H2S)], exposed_people=500)
    assert result.s == pytest.approx(0.98)
    assert not result.is_major
    assert result.grade is None and result.level is None
    assert result.r == pytest.approx(2 * 5 * 0.98)


def test_exactly_one_is_major() -> None:
    # 0.33 + 0.33 + 0.34 is 0.9999999999999999 in floats; S must still reach 1.
    assert 3.3 / 10 + 3.3 / 10 + 3.4 / 10 < 1
    result = assess_hazard_source([SubstanceInput(q, category="W2") for q in (3.3, 3.3, 3.4)], 0)
    assert result.s == 1.0 and result.is_major
    assert result.r == pytest.approx(0.5 * 1.5)
    assert (result.grade, result.level) == (4, "blue")


@pytest.mark.parametrize(
    ("people", "alpha"),
    [
        (0, 0.5),
        (1, 1.0),
        (29, 1.0),
        (30, 1.2),
        (49, 1.2),
        (50, 1.5),
        (99, 1.5),
        (100, 2.0),
        (100_000, 2.0),
    ],
)
def test_alpha_bands(people: int, alpha: float) -> None:
    assert alpha_for(people) == alpha


@pytest.mark.parametrize("people", [-1, 2.5, True])
def test_alpha_rejects_bad_counts(people: object) -> None:
    with pytest.raises(InvalidInput) as err:
        alpha_for(people)  # type: ignore[arg-type]
    assert err.value.field == "exposed_people"


@pytest.mark.parametrize(
    ("r", "grade", "level"),
    [
        (150, 1, "red"),
        (100, 1, "red"),
        (99.99, 2, "orange"),
        (50, 2, "orange"),
        (49.99, 3, "yellow"),
        (10, 3, "yellow"),
        (9.99, 4, "blue"),
        (0.5, 4, "blue"),
    ],
)
def test_grade_bands(r: float, grade: int, level: str) -> None:
    assert grade_for(r) == (grade, level)


def test_grade_one_boundary_through_assessment() -> None:
    # Chlorine: 25 t / Q 5 × β 4 = 20, α 2 (≥ 100 people) → R = 40 … 62.5 t → R = 100.
    result = assess_hazard_source([SubstanceInput(62.5, cas=CL2)], exposed_people=100)
    assert result.r == 100 and (result.grade, result.level) == (1, "red")
    result = assess_hazard_source([SubstanceInput(31.25, cas=CL2)], exposed_people=100)
    assert result.r == 50 and result.grade == 2


def test_ammonia_by_cas() -> None:
    result = assess_hazard_source([SubstanceInput(20, cas="7664-41-7")], exposed_people=40)
    (term,) = result.terms
    assert (term.critical_t, term.beta, term.beta_table, term.table1_no) == (10, 2, 3, 1)
    assert result.s == 2 and result.alpha == 1.2
    assert result.r == pytest.approx(1.2 * 2 * 2)
    assert (result.grade, result.level) == (4, "blue")


def test_named_chemical_needs_category_for_beta() -> None:
    with pytest.raises(InvalidInput) as err:
        assess_hazard_source([SubstanceInput(10, name="氢气")], exposed_people=10)
    assert err.value.field == "substances[0].category"
    # Hydrogen is flammable gas W2: Q still from Table 1 (5 t), β from Table 4 (1.5).
    result = assess_hazard_source([SubstanceInput(10, name="氢气", category="w2")], 10)
    assert (result.terms[0].critical_t, result.terms[0].beta) == (5, 1.5)
    assert result.r == pytest.approx(3.0)


def test_unknown_cas() -> None:
    with pytest.raises(InvalidInput) as err:
        assess_hazard_source(
            [SubstanceInput(1, cas=H2S), SubstanceInput(1, cas="0000-00-0")], exposed_people=5
        )
    assert err.value.field == "substances[1].cas"


def test_unlisted_cas_with_category_uses_table2() -> None:
    result = assess_hazard_source([SubstanceInput(30, cas="109-66-0", category="W5.3")], 0)
    assert (result.terms[0].critical_t, result.terms[0].beta) == (1000, 1)


@pytest.mark.parametrize(
    ("sub", "field"),
    [
        (SubstanceInput(0, cas=H2S), "substances[0].quantity_t"),
        (SubstanceInput(-1, cas=H2S), "substances[0].quantity_t"),
        (SubstanceInput(float("nan"), cas=H2S), "substances[0].quantity_t"),
        (SubstanceInput(1, name="不存在的物质"), "substances[0].name"),
        (SubstanceInput(1), "substances[0].category"),
        (SubstanceInput(1, category="X9"), "substances[0].category"),
    ],
)
def test_bad_substances(sub: SubstanceInput, field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        assess_hazard_source([sub], exposed_people=0)
    assert err.value.field == field


def test_empty_unit() -> None:
    with pytest.raises(InvalidInput) as err:
        assess_hazard_source([], exposed_people=0)
    assert err.value.field == "substances"


@pytest.mark.parametrize(
    ("cas", "name", "no"),
    [
        (None, "液氯", 12),
        (None, "氯 (液氯; 氯气)", 12),
        (None, "光气", 6),
        (None, "天然气", 49),
        ("8006-14-2", None, 49),
        ("74-98-6", None, 52),
        (None, "TNT", 35),
        (None, "一氧化碳", 13),
        ("0000-00-0", "甲醇", 65),
        ("9004-70-0", "硝化纤维素 [ethanol ≥ 25%]", 39),
    ],
)
def test_lookup_substance(cas: str | None, name: str | None, no: int) -> None:
    row = lookup_substance(cas, name)
    assert row is not None and row["no"] == no


def test_lookup_misses() -> None:
    assert lookup_substance(None, "氯化") is None
    assert lookup_substance("0000-00-0", None) is None
    assert lookup_substance(None, None) is None


def test_lookup_ambiguous_cas_needs_full_name() -> None:
    with pytest.raises(InvalidInput) as err:
        lookup_substance("9004-70-0", None)
    assert err.value.field == "name"
    assert len(err.value.detail["allowed"]) == 6
    with pytest.raises(InvalidInput) as err:
        assess_hazard_source([SubstanceInput(1, name="硝酸铵")], exposed_people=0)
    assert err.value.field == "substances[0].name"


def test_carbon_monoxide_gets_table3_beta_through_coal_gas() -> None:
    result = assess_hazard_source([SubstanceInput(40, cas="630-08-0", name="一氧化碳")], 0)
    (term,) = result.terms
    assert (term.critical_t, term.beta, term.table1_no) == (20, 2, 13)


def test_tables_are_complete() -> None:
    assert len(table1()) == 85
    assert len({row["no"] for row in table1()}) == 85
    assert set(categories()) == set(category_betas())
    assert category_betas()["J2"] == 1
    assert (categories()["J1"], category_betas()["J1"]) == (5, 4)
