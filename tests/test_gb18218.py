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
from app.risk.methods import ruleset_version

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
        ("67-56-1", "甲醇", 65),
        ("67-56-1", "工业甲醇", 65),  # a trade name unknown to Table 1 does not contradict
        (None, "丙烷", 52),
        (None, "丁烷", 52),
        (None, "氯（液氯；氯气）", 12),  # full-width brackets and semicolons
        ("630-08-0", None, 13),
        ("97-93-8", "烷基铝", 74),  # a row without a CAS accepts the unit's own
        ("9004-70-0", "硝化纤维素 [ethanol ≥ 25%]", 39),
    ],
)
def test_lookup_substance(cas: str | None, name: str | None, no: int) -> None:
    row = lookup_substance(cas, name)
    assert row is not None and row["no"] == no


@pytest.mark.parametrize(
    ("name", "q", "critical"),
    [("丙烷", 60, 50), ("丁烷", 60, 50), ("液化天然气", 60, 50), ("LPG", 60, 50)],
)
def test_table1_name_without_cas_gets_table1_q(name: str, q: float, critical: float) -> None:
    """Propane and butane are Table 1 no. 52 (液化石油气, Q 50 t), not Table 2 W2 (Q 10 t)."""
    result = assess_hazard_source([SubstanceInput(q, name=name, category="W2")], 0)
    (term,) = result.terms
    assert (term.critical_t, term.table1_no is not None) == (critical, True)
    assert result.s == pytest.approx(q / critical)


@pytest.mark.parametrize(
    ("cas", "name", "says"),
    [
        ("64-17-5", "甲醇", "no. 67 乙醇"),  # ethanol's CAS, methanol's name
        ("0000-00-0", "甲醇", "not in Table 1"),
        ("7782-50-5", "液氨", "no. 12 氯"),
    ],
)
def test_cas_and_name_that_disagree_are_refused_naming_both(cas: str, name: str, says: str) -> None:
    with pytest.raises(InvalidInput) as err:
        assess_hazard_source(
            [SubstanceInput(1, cas=H2S), SubstanceInput(20, cas=cas, name=name)], 0
        )
    assert err.value.field == "substances[1].cas,substances[1].name"
    assert cas in err.value.message and name in err.value.message and says in err.value.message


def test_s_is_compared_unrounded() -> None:
    """S = 0.9999999 is below 1 (rounding to 6 decimals made it a major hazard source)."""
    result = assess_hazard_source([SubstanceInput(4.9999995, cas=H2S)], exposed_people=0)
    assert not result.is_major and result.s < 1 and result.grade is None
    # 0.7 + 0.2 + 0.1 is 0.9999999999999999 in floats; exactly 1 all the same.
    assert 0.7 + 0.2 + 0.1 < 1
    result = assess_hazard_source([SubstanceInput(q, category="W1.1") for q in (0.7, 0.2, 0.1)], 0)
    assert result.is_major and result.s == 1


def test_r_is_compared_unrounded() -> None:
    """R = 99.9999996 is 二级, not 一级; R exactly 100 is 一级."""
    # Chlorine Q 5, β 4, α 2: R = 1.6 q; q = 62.49999975 → R = 99.9999996.
    result = assess_hazard_source([SubstanceInput(62.49999975, cas=CL2)], exposed_people=100)
    assert result.r < 100 and (result.grade, result.level) == (2, "orange")
    result = assess_hazard_source([SubstanceInput(62.5, cas=CL2)], exposed_people=100)
    assert result.r == 100 and result.grade == 1


def test_assessment_names_method_variant_and_ruleset() -> None:
    result = assess_hazard_source([SubstanceInput(10, cas=CL2)], exposed_people=0)
    assert result.method == "gb18218"
    assert result.variant == "GB 18218-2018, J2 β = 1"
    assert result.ruleset_version == ruleset_version()


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
