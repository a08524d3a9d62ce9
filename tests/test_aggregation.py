"""Four-colour aggregates: consistency across levels, freshness after writes, trends."""

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.datetimes import china_today
from app.regions.grids import generate_grid
from tests.factories import JINFENG, LINGWU, XINGQING, enterprise_payload, lec_point

LEVEL_INPUTS = {  # LEC inputs giving each colour
    "red": (6, 6, 15),
    "orange": (6, 2, 15),
    "yellow": (3, 6, 7),
    "blue": (1, 1, 7),
}


def _scatter_points(session: Session, per_county: int = 3) -> None:
    """Risk points of every colour in every Ningxia county, placed inside each county."""
    session.execute(
        text("""
        INSERT INTO risk_points (name, method, inputs, score, risk_level, geom)
        SELECT '风险点', 'lec', '{}'::jsonb, 0, colour.level, pt.geom
          FROM regions r,
               LATERAL (SELECT (ST_Dump(ST_GeneratePoints(r.geom, :n, 42))).geom) pt,
               unnest(ARRAY['red','orange','yellow','blue']) AS colour(level)
         WHERE r.is_leaf AND r.province_code = '640000'
    """),
        {"n": per_county},
    )


def _counts(client: TestClient, code: str) -> dict:
    return client.get(f"/api/risk/regions/{code}").json()


def test_children_sum_to_parent(client: TestClient, session: Session) -> None:
    _scatter_points(session)
    province = _counts(client, "640000")
    cities = client.get("/api/risk/summary", params={"parent": "640000"}).json()
    assert [c["name"] for c in cities] == ["银川市", "石嘴山市", "吴忠市", "固原市", "中卫市"]
    for level in ("red", "orange", "yellow", "blue"):
        assert sum(c["counts"][level] for c in cities) == province["counts"][level] == 22 * 3
    for city in cities:
        counties = client.get("/api/risk/summary", params={"parent": city["code"]}).json()
        assert sum(c["counts"]["red"] for c in counties) == city["counts"]["red"]


def test_incremental_counts_equal_a_full_rebuild(client: TestClient, session: Session) -> None:
    _scatter_points(session)
    client.post("/api/enterprises", json=enterprise_payload())
    before = session.execute(
        text("SELECT region_code, measure, value FROM region_counts WHERE value <> 0 ORDER BY 1, 2")
    ).all()
    session.execute(text("SELECT rebuild_region_counts()"))
    after = session.execute(
        text("SELECT region_code, measure, value FROM region_counts WHERE value <> 0 ORDER BY 1, 2")
    ).all()
    assert before == after and len(after) > 100


def test_a_write_shows_at_every_level_at_once(client: TestClient, session: Session) -> None:
    generate_grid(session, county_code="640104", cell_size_m=2000)
    codes = ["640104", "640100", "640000"]
    before = {code: _counts(client, code)["counts"]["red"] for code in codes}
    point = client.post("/api/risk-points", json=lec_point(None, *LEVEL_INPUTS["red"])).json()
    grid = point["grid_code"]
    assert grid and grid.startswith("640104-")
    for code in codes:
        assert _counts(client, code)["counts"]["red"] == before[code] + 1
    assert _counts(client, grid)["counts"]["red"] == 1
    highest = client.get("/api/risk/regions/640104", params={"method": "highest"}).json()
    assert highest["regional_level"] == "red"
    # The composite index does not class the only county with data (too few to rank).
    assert _counts(client, "640104")["regional_level"] is None

    # Re-grading moves the point between colours everywhere; moving it moves it between regions.
    client.patch(
        f"/api/risk-points/{point['id']}", json={"inputs": dict(zip("lec", LEVEL_INPUTS["blue"]))}
    )
    assert _counts(client, "640100")["counts"]["red"] == before["640100"]
    client.patch(f"/api/risk-points/{point['id']}", json={"lon": LINGWU[0], "lat": LINGWU[1]})
    assert _counts(client, "640104")["counts"]["blue"] == 0
    assert _counts(client, "640181")["counts"]["blue"] == 1
    assert _counts(client, "640100")["counts"]["blue"] == 1  # 灵武 is in 银川 too


def test_enterprise_and_danger_counts(client: TestClient, session: Session) -> None:
    enterprise = client.post("/api/enterprises", json=enterprise_payload(lon_lat=JINFENG)).json()
    client.post(
        "/api/risk-points",
        json=lec_point(enterprise["id"], *LEVEL_INPUTS["orange"], lon_lat=JINFENG),
    )
    county = _counts(client, "640106")
    assert county["enterprises"]["orange"] == 1 and county["enterprises_total"] == 1
    session.execute(
        text("""
        INSERT INTO hidden_dangers (title, grade, status, geom)
        VALUES ('消防通道堵塞', 'major', 'reported', ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))
    """),
        {"lon": JINFENG[0], "lat": JINFENG[1]},
    )
    assert _counts(client, "640106")["open_major_dangers"] == 1
    assert _counts(client, "640000")["open_major_dangers"] >= 1


def test_summary_of_a_county_lists_its_grid_cells(client: TestClient, session: Session) -> None:
    created = generate_grid(session, county_code="640104", cell_size_m=3000)
    rows = client.get("/api/risk/summary", params={"parent": "640104"}).json()
    assert len(rows) == created and {r["level"] for r in rows} == {"grid"}


def test_methods_are_named_and_index_is_data_driven(client: TestClient, session: Session) -> None:
    _scatter_points(session)
    assert _counts(client, "640000")["method"].startswith("composite/area@")  # the default
    highest = client.get("/api/risk/regions/640000", params={"method": "highest"}).json()
    assert highest["regional_level"] == "red" and highest["method"].startswith("highest@")
    index = client.get("/api/risk/regions/640000", params={"method": "index"}).json()
    # 66 points of each colour over ~51,900 km²: (4+3+2+1)·66 / 519.4 ≈ 1.27 per 100 km² → blue
    assert index["method"].startswith("index/area@") and index["regional_level"] == "blue"
    assert index["index"] == pytest.approx(660 / (51939 / 100), rel=0.01)
    response = client.get("/api/risk/summary", params={"parent": "640000", "method": "worst"})
    assert response.status_code == 422 and response.json()["field"] == "method"


def test_trend_from_daily_snapshots(client: TestClient) -> None:
    client.post("/api/risk-points", json=lec_point(None, *LEVEL_INPUTS["red"]))
    assert client.post("/api/risk/snapshots", params={"day": "2026-11-01"}).status_code == 201
    client.post("/api/risk-points", json=lec_point(None, *LEVEL_INPUTS["red"], lon_lat=XINGQING))
    client.post("/api/risk/snapshots", params={"day": "2026-11-02"})
    trend = client.get(
        "/api/risk/trend",
        # The highest colour: one county alone is not classed by the composite index.
        params={"region": "640104", "from": "2026-10-30", "to": "2026-11-05", "method": "highest"},
    ).json()
    assert [p["date"] for p in trend["points"]] == ["2026-11-01", "2026-11-02"]
    assert [p["counts"]["red"] for p in trend["points"]] == [1, 2]
    assert trend["points"][1]["regional_level"] == "red"
    bad = client.get(
        "/api/risk/trend", params={"region": "640104", "from": "2026-11-05", "to": "2026-11-01"}
    )
    assert bad.status_code == 422 and bad.json()["field"] == "from"


def test_unknown_region_in_summary(client: TestClient) -> None:
    assert client.get("/api/risk/summary", params={"parent": "999999"}).status_code == 404
    assert client.get("/api/risk/regions/999999").status_code == 404
    assert client.get("/api/risk/summary", params={"parent": "64"}).json()["field"] == "parent"


def test_snapshot_day_defaults_to_today(client: TestClient) -> None:
    assert client.post("/api/risk/snapshots").json()["day"] == china_today().isoformat()


def test_rebuild_with_regrade_follows_changed_rules(
    client: TestClient, session: Session, monkeypatch
) -> None:
    from app.risk import grading, methods

    point = client.post("/api/risk-points", json=lec_point(None, 3, 6, 7)).json()  # D=126
    assert point["risk_level"] == "yellow"
    # A province that tightens the LEC bands: D > 100 becomes orange.
    bands = [
        ("red", 320.0, None),
        ("orange", 100.0, 320.0),
        ("yellow", 70.0, 100.0),
        ("blue", None, 70.0),
    ]
    monkeypatch.setattr(methods, "_lec_bands", lambda: bands)
    report = grading.rebuild(session, regrade=True)
    assert report["risk_points_regraded"] == 1
    assert _counts(client, "640104")["counts"] == {"red": 0, "orange": 1, "yellow": 0, "blue": 0}
    history = (
        session.execute(
            text(
                "SELECT risk_level FROM assessments WHERE subject_type = 'risk_point' AND subject_id = :id"
                " ORDER BY id"
            ),
            {"id": point["id"]},
        )
        .scalars()
        .all()
    )
    assert history == ["yellow", "orange"]
