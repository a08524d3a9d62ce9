"""The composite regional index: weights from the data file, national quantile breaks,
method and version in every answer, and why a region has its level."""

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.risk import regional_index
from app.risk.methods import ruleset_version

# Ningxia counties of similar size (≈ 950–1100 km²).
DAWUKOU, LONGDE, JINGYUAN, HUINONG = "640202", "640423", "640424", "640205"


def _enterprises(session: Session, county: str, colours: dict[str, int]) -> list[int]:
    """Enterprises of the given colours at points inside `county`."""
    ids: list[int] = []
    for colour, n in colours.items():
        ids += (
            session.execute(
                text("""
            INSERT INTO enterprises (name, credit_code, sector, risk_level, geom)
            SELECT '企业' || g, lpad((floor(random() * 1e17))::bigint::text, 18, '9'), '危险化学品',
                   :colour, (ST_Dump(ST_GeneratePoints(r.geom, :n, g))).geom
              FROM regions r, generate_series(1, 1) g WHERE r.code = :county
            RETURNING id
        """),
                {"colour": colour, "n": n, "county": county},
            )
            .scalars()
            .all()
        )
    return ids


def _hazard_source(session: Session, enterprise_id: int, grade: int) -> None:
    session.execute(
        text("""
        INSERT INTO hazard_sources (enterprise_id, name, unit_type, substances, grade, geom)
        SELECT id, '液氯储罐区', 'storage', '[]'::jsonb, :grade, geom FROM enterprises
         WHERE id = :id
    """),
        {"id": enterprise_id, "grade": grade},
    )


def _fixture(session: Session) -> None:
    """Four counties with the same enterprises; only 大武口 has a 一级 source."""
    mix = {"red": 2, "orange": 4, "yellow": 6, "blue": 8}
    ids = {code: _enterprises(session, code, mix) for code in (DAWUKOU, LONGDE, JINGYUAN)}
    _enterprises(session, HUINONG, {"yellow": 3, "blue": 5})
    _hazard_source(session, ids[DAWUKOU][0], 1)


def test_a_county_with_a_first_grade_source_ranks_above_one_without(
    client: TestClient, session: Session
) -> None:
    _fixture(session)
    regional_index.recompute_breaks(session)
    rows = {
        r["code"]: r
        for parent in ("640200", "640400")
        for r in client.get("/api/risk/summary", params={"parent": parent}).json()
    }
    dawukou, longde = rows[DAWUKOU], rows[LONGDE]
    assert dawukou["index"] > longde["index"] > 0
    assert dawukou["regional_level"] == "red"
    assert longde["regional_level"] != "red"
    assert rows[HUINONG]["regional_level"] == "blue"
    # Nothing registered: no level rather than blue.
    assert rows["640402"]["regional_level"] is None
    # The method is the default and names its version, breaks included.
    assert dawukou["method"].startswith("composite/area@" + ruleset_version())
    assert "+b" in dawukou["method"] and not dawukou["method"].endswith("+blive")


def test_explanation_names_the_top_contributor(client: TestClient, session: Session) -> None:
    _fixture(session)
    body = client.get(f"/api/risk/regions/{DAWUKOU}").json()
    explain = body["explain"]
    assert explain["contributors"][0]["label"] == "一级重大危险源"
    assert explain["contributors"][0]["points"] == 100
    assert explain["breaks"]["unit_level"] == "county" and explain["breaks"]["units"] == 4
    assert body["method"].endswith("+blive")  # no rebuild yet: breaks computed on the fly


def test_highest_stays_available(client: TestClient, session: Session) -> None:
    _fixture(session)
    body = client.get(f"/api/risk/regions/{LONGDE}", params={"method": "highest"}).json()
    assert body["regional_level"] == "red" and body["method"].startswith("highest@")
    bad = client.get(f"/api/risk/regions/{LONGDE}", params={"method": "nope"})
    assert bad.status_code == 422


def test_breaks_are_quantiles_of_positive_scores() -> None:
    breaks = regional_index.quantile_breaks([0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    assert breaks == {"yellow": 5, "orange": 8, "red": 10}
    assert all(v == float("inf") for v in regional_index.quantile_breaks([0, 0]).values())


def test_overdue_major_dangers_weigh_twice(session: Session) -> None:
    counts = {"dangers.open_major": 2}
    base = regional_index.raw_score(counts)
    assert regional_index.raw_score({**counts, "dangers.overdue_major": 1}) == base * 1.5


def test_overdue_major_dangers_are_counted_as_the_danger_list_counts_them(
    client: TestClient, session: Session
) -> None:
    # Over their deadline: assessed (a deadline runs) — overdue; accepted and reported (no
    # deadline runs then) — not; rectifying within its deadline but past its supervision
    # deadline — overdue; a general danger — not major.
    rows = [
        ("assessed", "major", "2025-01-01", None),
        ("accepted", "major", "2025-01-01", None),
        ("reported", "major", "2025-01-01", None),
        ("rectifying", "major", "2099-01-01", "2025-01-01"),
        ("assessed", "general", "2025-01-01", None),
    ]
    for status, grade, deadline, supervision_deadline in rows:
        session.execute(
            text("""
            INSERT INTO hidden_dangers (title, grade, status, deadline, supervision_deadline,
                                        geom)
            VALUES ('隐患', :grade, :status, :deadline, :supervision_deadline,
                    ST_SetSRID(ST_MakePoint(106.38, 39.01), 4326))
        """),
            {
                "status": status,
                "grade": grade,
                "deadline": deadline,
                "supervision_deadline": supervision_deadline,
            },
        )
    listed = client.get(
        "/api/hidden-dangers", params={"region": DAWUKOU, "grade": "major", "overdue": "true"}
    ).json()["total"]
    assert listed == 2
    assert regional_index.overdue_major_counts(session, [DAWUKOU, "640200"]) == {
        DAWUKOU: 2,
        "640200": 2,
    }


def test_too_few_units_are_not_classed(client: TestClient, session: Session) -> None:
    _enterprises(session, DAWUKOU, {"red": 2, "blue": 3})
    body = client.get(f"/api/risk/regions/{DAWUKOU}").json()
    # One county with data in the country: "the top 10 %" would say nothing.
    assert body["index"] > 0 and body["regional_level"] is None
    assert "不分级" in body["explain"]["meaning"]
    assert body["explain"]["breaks"]["units"] == 1
