"""Grading endpoints and the enterprise rule, through the API against PostGIS."""

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.dangers.models import HiddenDanger
from app.risk import grading
from app.risk.methods import ruleset_version
from tests.factories import XINGQING, enterprise_payload, lec_point, square_around

# domain.md §3 worked example: 2 t of H2S (Q 5, β 5) + 2 t of PH3 (Q 1, β 20) + 1 t of Cl2
# (Q 5, β 4), 102 people within 500 m → α 2 → R = 2 × (2 + 40 + 0.8) = 85.6 → 二级.
WORKED_EXAMPLE = [
    {"cas": "7783-06-4", "quantity_t": 2},
    {"cas": "7803-51-2", "quantity_t": 2},
    {"cas": "7782-50-5", "quantity_t": 1},
]


@pytest.mark.parametrize(
    ("l", "e", "c", "d", "level"),
    [
        (10, 1, 7, 70, "blue"),  # D = 70 is the top of blue
        (3, 2, 15, 90, "yellow"),
        (10, 1, 15, 150, "yellow"),
        (6, 2, 15, 180, "orange"),  # first product above 160
        (10, 2, 15, 300, "orange"),
        (6, 6, 15, 540, "red"),
    ],
)
def test_lec_endpoint(client: TestClient, l, e, c, d, level) -> None:
    assert client.post("/api/risk/assess/lec", json={"l": l, "e": e, "c": c}).json() == {
        "d": d,
        "level": level,
        "method": "lec",
        "variant": "upper-inclusive",
        "ruleset_version": ruleset_version(),
    }


@pytest.mark.parametrize(
    ("l", "s", "r", "level"),
    [
        (2, 4, 8, "blue"),
        (3, 3, 9, "yellow"),
        (3, 4, 12, "yellow"),
        (3, 5, 15, "orange"),
        (4, 4, 16, "orange"),
        (4, 5, 20, "red"),
        (5, 5, 25, "red"),
    ],
)
def test_ls_endpoint(client: TestClient, l, s, r, level) -> None:
    assert client.post("/api/risk/assess/ls", json={"l": l, "s": s}).json() == {
        "r": r,
        "level": level,
        "method": "ls",
        "variant": "shandong",
        "ruleset_version": ruleset_version(),
    }


def test_ls_alternative_variant_differs_at_8(client: TestClient) -> None:
    body = client.post("/api/risk/assess/ls", json={"l": 2, "s": 4, "variant": "alt"}).json()
    assert (body["r"], body["level"], body["variant"]) == (8, "yellow", "alt")


@pytest.mark.parametrize(
    ("url", "payload", "field"),
    [
        ("/api/risk/assess/lec", {"l": 4, "e": 6, "c": 15}, "l"),
        ("/api/risk/assess/lec", {"l": 3, "e": 5, "c": 15}, "e"),
        ("/api/risk/assess/lec", {"l": 3, "e": 6, "c": -1}, "c"),
        ("/api/risk/assess/ls", {"l": 3, "s": 6}, "s"),
        ("/api/risk/assess/ls", {"l": 0, "s": 3}, "l"),
        ("/api/risk/assess/ls", {"l": 3, "s": 3, "variant": "x"}, "variant"),
        (
            "/api/hazard-sources/assess",
            {"substances": [{"cas": "7664-41-7", "quantity_t": -1}], "exposed_people": 0},
            "substances[0].quantity_t",
        ),
        (
            "/api/hazard-sources/assess",
            {"substances": [{"cas": "0000-00-0", "quantity_t": 1}], "exposed_people": 0},
            "substances[0].cas",
        ),
        ("/api/hazard-sources/assess", {"substances": [], "exposed_people": 0}, "substances"),
        ("/api/hazard-sources/assess", {"substances": WORKED_EXAMPLE}, "exposed_people"),
    ],
)
def test_bad_grading_input_names_the_field(client: TestClient, url, payload, field) -> None:
    response = client.post(url, json=payload)
    assert response.status_code == 422
    assert response.json()["field"] == field


def test_lec_error_lists_allowed_values(client: TestClient) -> None:
    body = client.post("/api/risk/assess/lec", json={"l": 4, "e": 6, "c": 15}).json()
    assert body["allowed"] == [10, 6, 3, 1, 0.5, 0.2, 0.1]


def test_hazard_worked_example(client: TestClient) -> None:
    body = client.post(
        "/api/hazard-sources/assess", json={"substances": WORKED_EXAMPLE, "exposed_people": 102}
    ).json()
    assert body["is_major"] is True and body["alpha"] == 2.0
    assert body["r"] == pytest.approx(85.6)
    assert (body["grade"], body["level"]) == (2, "orange")


def test_alpha_from_real_geometry(client: TestClient) -> None:
    lon, lat = XINGQING
    # A residential area ~300 m east of the plant point (0.0035° of longitude ≈ 305 m).
    near = client.post(
        "/api/public-zones",
        json={
            "name": "测试小区",
            "kind": "residential",
            "population": 120,
            "geometry": square_around(lon + 0.0035, lat, 0.0005),
        },
    )
    assert near.status_code == 201, near.text
    # A school ~900 m north: outside the 500 m ring, not counted.
    far = client.post(
        "/api/public-zones",
        json={
            "name": "测试学校",
            "kind": "school",
            "capacity": 2000,
            "lon": lon,
            "lat": lat + 0.0081,
        },
    )
    assert far.status_code == 201
    body = client.post(
        "/api/hazard-sources/assess",
        json={
            "substances": WORKED_EXAMPLE,
            "geometry": {"type": "Point", "coordinates": [lon, lat]},
        },
    ).json()
    assert body["exposed_people"] == 120 and body["alpha"] == 2.0
    assert body["r"] == pytest.approx(85.6)


def _create(client: TestClient, path: str, payload: dict) -> dict:
    response = client.post(path, json=payload)
    assert response.status_code == 201, response.text
    return response.json()


def test_risk_point_is_graded_and_history_kept(client: TestClient, session: Session) -> None:
    enterprise = _create(client, "/api/enterprises", enterprise_payload())
    point = _create(client, "/api/risk-points", lec_point(enterprise["id"], 3, 6, 7))
    assert (point["score"], point["risk_level"]) == (126, "yellow")
    assert point["county_code"] == "640104"
    changed = client.patch(
        f"/api/risk-points/{point['id']}",
        json={"inputs": {"l": 6, "e": 6, "c": 15}, "assessed_by": "张工"},
    )
    assert changed.json()["risk_level"] == "red"
    history = session.execute(
        text(
            "SELECT risk_level, assessed_by, ruleset_version FROM assessments "
            "WHERE subject_type = 'risk_point' AND subject_id = :id ORDER BY id"
        ),
        {"id": point["id"]},
    ).all()
    assert [h.risk_level for h in history] == ["yellow", "red"]
    assert history[1].assessed_by == "张工" and history[1].ruleset_version


def test_direct_rule_makes_a_point_red(client: TestClient) -> None:
    payload = lec_point(None, 1, 1, 1)
    payload["inputs"]["direct"] = {"mandatory_clause_breach": True}
    assert _create(client, "/api/risk-points", payload)["risk_level"] == "red"


def test_enterprise_rule(client: TestClient, session: Session) -> None:
    enterprise = _create(client, "/api/enterprises", enterprise_payload())
    eid = enterprise["id"]
    assert enterprise["risk_level"] is None

    def level() -> str | None:
        return client.get(f"/api/enterprises/{eid}").json()["risk_level"]

    _create(client, "/api/risk-points", lec_point(eid, 3, 6, 7))  # yellow
    assert level() == "yellow"
    orange = _create(client, "/api/risk-points", lec_point(eid, 6, 2, 15))  # orange
    assert level() == "orange"

    # A 二级 major hazard source makes the enterprise red (102 people would be needed for
    # α 2; here nobody lives near, α 0.5, so scale the quantities up instead).
    hazard = _create(
        client,
        "/api/hazard-sources",
        {
            "enterprise_id": eid,
            "name": "液氯储罐区",
            "unit_type": "storage",
            "substances": [{"cas": "7782-50-5", "quantity_t": 600}],
        },
    )
    assert hazard["grade"] in (1, 2) and level() == "red"
    assert client.delete(f"/api/hazard-sources/{hazard['id']}").status_code == 204
    assert level() == "orange"

    # An open major hidden danger raises it one level while open.
    danger = HiddenDanger(
        enterprise_id=eid,
        title="储罐区可燃气体报警器失效",
        grade="major",
        status="rectifying",
        geom=f"SRID=4326;POINT({XINGQING[0]} {XINGQING[1]})",
    )
    session.add(danger)
    session.flush()
    grading.refresh_enterprise_levels(session, ids=[eid])
    assert level() == "red"
    danger.status = "closed"
    session.flush()
    grading.refresh_enterprise_levels(session, ids=[eid])
    assert level() == "orange"

    assert client.delete(f"/api/risk-points/{orange['id']}").status_code == 204
    assert level() == "yellow"


def test_public_zone_change_regrades_nearby_hazard_sources(client: TestClient) -> None:
    lon, lat = XINGQING
    enterprise = _create(
        client, "/api/enterprises", enterprise_payload(footprint=square_around(lon, lat, 0.001))
    )
    hazard = _create(
        client,
        "/api/hazard-sources",
        {
            "enterprise_id": enterprise["id"],
            "name": "储罐区",
            "unit_type": "storage",
            "substances": WORKED_EXAMPLE,
        },
    )
    assert (hazard["exposed_people"], hazard["alpha"]) == (0, 0.5)
    zone = _create(
        client,
        "/api/public-zones",
        {
            "name": "新建小区",
            "kind": "residential",
            "population": 150,
            "geometry": square_around(lon + 0.005, lat, 0.0005),
        },
    )
    regraded = client.get(f"/api/hazard-sources/{hazard['id']}").json()
    assert (regraded["exposed_people"], regraded["alpha"], regraded["grade"]) == (150, 2.0, 2)
    assert client.get(f"/api/enterprises/{enterprise['id']}").json()["risk_level"] == "red"
    client.delete(f"/api/public-zones/{zone['id']}")
    assert client.get(f"/api/hazard-sources/{hazard['id']}").json()["alpha"] == 0.5


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (enterprise_payload(credit_code="91640104MA76ABCD1X"), "credit_code"),
        (enterprise_payload(lon_lat=(2.35, 48.85)), "geometry"),
        (enterprise_payload(lon_lat=(200, 38)), "lon"),
        ({"name": "无位置", "credit_code": "x" * 18, "sector": "冶金"}, "credit_code"),
    ],
)
def test_bad_enterprise_is_refused_and_nothing_written(
    client: TestClient, session: Session, payload, field
) -> None:
    before = session.execute(text("SELECT count(*) FROM enterprises")).scalar_one()
    response = client.post("/api/enterprises", json=payload)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
    assert session.execute(text("SELECT count(*) FROM enterprises")).scalar_one() == before


def test_duplicate_credit_code_conflicts(client: TestClient) -> None:
    payload = enterprise_payload()
    _create(client, "/api/enterprises", payload)
    response = client.post("/api/enterprises", json=payload)
    assert response.status_code == 409
    # The same body as the cluster's refusal (tests/cluster/test_writes_credit_codes.py).
    assert {k: v for k, v in response.json().items() if k != "request_id"} == {
        "detail": "a row with this credit_code already exists",
        "field": "credit_code",
    }


def test_gcj02_input_is_converted(client: TestClient) -> None:
    from app.geo.chinese_datums import wgs84_to_gcj02

    gcj_lon, gcj_lat = wgs84_to_gcj02(*XINGQING)
    body = _create(
        client,
        "/api/enterprises",
        enterprise_payload(lon_lat=(float(gcj_lon), float(gcj_lat)), crs="gcj02"),
    )
    lon, lat = body["geometry"]["coordinates"]
    assert abs(lon - XINGQING[0]) < 1e-7 and abs(lat - XINGQING[1]) < 1e-7


def test_unknown_ids_are_404(client: TestClient) -> None:
    for path in (
        "/api/enterprises/999999",
        "/api/risk-points/999999",
        "/api/hazard-sources/999999",
        "/api/public-zones/999999",
    ):
        assert client.get(path).status_code == 404
        assert client.delete(path).status_code == 404


def test_hazard_source_for_missing_enterprise(client: TestClient) -> None:
    response = client.post(
        "/api/hazard-sources",
        json={
            "enterprise_id": 999999,
            "name": "x",
            "unit_type": "storage",
            "substances": WORKED_EXAMPLE,
        },
    )
    assert response.status_code == 422 and response.json()["field"] == "enterprise_id"


# Grading gaps (issue 11, item 6)

CHLORINE_GRADE_2 = [{"cas": "7782-50-5", "quantity_t": 600}]  # α 0.5: R = 0.5·4·120 = 240 → 一级


def test_a_unit_below_s_1_is_not_registered(client: TestClient, session: Session) -> None:
    enterprise = _create(client, "/api/enterprises", enterprise_payload())
    before = session.execute(text("SELECT count(*) FROM hazard_sources")).scalar_one()
    response = client.post(
        "/api/hazard-sources",
        json={
            "enterprise_id": enterprise["id"],
            "name": "液氯钢瓶库",
            "unit_type": "storage",
            "substances": [{"cas": "7782-50-5", "quantity_t": 4.9}],  # S = 0.98
        },
    )
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["field"] == "substances" and "0.98 < 1" in body["detail"]
    assert session.execute(text("SELECT count(*) FROM hazard_sources")).scalar_one() == before
    # A stored source cannot be changed below the threshold either.
    hazard = _create(
        client,
        "/api/hazard-sources",
        {
            "enterprise_id": enterprise["id"],
            "name": "液氯储罐区",
            "unit_type": "storage",
            "substances": [{"cas": "7782-50-5", "quantity_t": 5}],
        },
    )
    assert hazard["s_value"] == 1
    patched = client.patch(
        f"/api/hazard-sources/{hazard['id']}",
        json={"substances": [{"cas": "7782-50-5", "quantity_t": 4.9999995}]},
    )
    assert patched.status_code == 422 and patched.json()["field"] == "substances"
    assert client.get(f"/api/hazard-sources/{hazard['id']}").json()["s_value"] == 1


def test_cas_and_name_that_disagree_give_422_naming_both(client: TestClient) -> None:
    response = client.post(
        "/api/hazard-sources/assess",
        json={
            "substances": [{"cas": "64-17-5", "name": "甲醇", "quantity_t": 600}],
            "exposed_people": 0,
        },
    )
    assert response.status_code == 422
    body = response.json()
    assert body["field"] == "substances[0].cas,substances[0].name"
    assert "64-17-5" in body["detail"] and "甲醇" in body["detail"]


def test_propane_by_name_gets_its_table1_quantity(client: TestClient) -> None:
    body = client.post(
        "/api/hazard-sources/assess",
        json={
            "substances": [{"name": "丙烷", "category": "W2", "quantity_t": 60}],
            "exposed_people": 0,
        },
    ).json()
    assert body["terms"][0]["critical_t"] == 50 and body["terms"][0]["table1_no"] == 52
    assert body["s"] == pytest.approx(1.2) and body["is_major"] is True


def test_the_hazard_calculator_names_method_variant_version_and_exposure(
    client: TestClient,
) -> None:
    body = client.post(
        "/api/hazard-sources/assess", json={"substances": WORKED_EXAMPLE, "exposed_people": 102}
    ).json()
    assert body["method"] == "gb18218"
    assert body["variant"] == "GB 18218-2018, J2 β = 1"
    assert body["ruleset_version"] == ruleset_version()
    assert body["exposure"]["basis"] == "given by the caller"
    assert body["exposure"]["people"] == 102


def _point_at(session: Session, lon: float, lat: float, metres: float, azimuth: float):
    return session.execute(
        text("""
        SELECT ST_X(g), ST_Y(g),
               ST_DWithin(g::geography, ST_MakePoint(:lon, :lat)::geography, :m) AS dwithin
          FROM (SELECT ST_Project(ST_MakePoint(:lon, :lat)::geography, :m,
                                  radians(:az))::geometry AS g) AS p"""),
        {"lon": lon, "lat": lat, "m": metres, "az": azimuth},
    ).one()


def test_exactly_500_m_counts_as_within(client: TestClient, session: Session) -> None:
    lon, lat = XINGQING
    # Points exactly 500 m away (on the ellipsoid) that ST_DWithin(…, 500) leaves out.
    edge = [p for p in (_point_at(session, lon, lat, 500, az) for az in range(0, 360, 10))]
    missed_by_dwithin = [p for p in edge if not p.dwithin]
    assert missed_by_dwithin, "the edge case this test guards against is gone"
    for i, p in enumerate(missed_by_dwithin[:3]):
        _create(
            client,
            "/api/public-zones",
            {"name": f"边界村{i}", "kind": "village", "population": 10, "lon": p[0], "lat": p[1]},
        )
    beyond = _point_at(session, lon, lat, 500.5, 45)
    _create(
        client,
        "/api/public-zones",
        {
            "name": "界外村",
            "kind": "village",
            "population": 1000,
            "lon": beyond[0],
            "lat": beyond[1],
        },
    )
    body = client.post(
        "/api/hazard-sources/assess",
        json={
            "substances": WORKED_EXAMPLE,
            "geometry": {"type": "Point", "coordinates": [lon, lat]},
        },
    ).json()
    counted = min(3, len(missed_by_dwithin))
    assert body["exposure"]["people"] == 10 * counted
    assert [z["name"] for z in body["exposure"]["zones"]] == [f"边界村{i}" for i in range(counted)]


def test_alpha_counts_resident_population_and_says_so(client: TestClient, session: Session) -> None:
    lon, lat = XINGQING
    enterprise = _create(
        client, "/api/enterprises", enterprise_payload(footprint=square_around(lon, lat, 0.001))
    )
    # 40 residents ~200 m east; a market with only a capacity (transient) ~200 m west.
    _create(
        client,
        "/api/public-zones",
        {"name": "东村", "kind": "village", "population": 40, "lon": lon + 0.0035, "lat": lat},
    )
    _create(
        client,
        "/api/public-zones",
        {"name": "西市场", "kind": "market", "capacity": 5000, "lon": lon - 0.0035, "lat": lat},
    )
    hazard = _create(
        client,
        "/api/hazard-sources",
        {
            "enterprise_id": enterprise["id"],
            "name": "储罐区",
            "unit_type": "storage",
            "substances": WORKED_EXAMPLE,
        },
    )
    assert (hazard["exposed_people"], hazard["alpha"]) == (40, 1.2)
    record = session.execute(
        text("""SELECT method, inputs, result, ruleset_version FROM assessments
                 WHERE subject_type = 'hazard_source' AND subject_id = :id
                 ORDER BY id DESC LIMIT 1"""),
        {"id": hazard["id"]},
    ).one()
    exposure = record.inputs["exposure"]
    assert exposure["basis"] == grading.ALPHA_BASIS and "常住人口" in exposure["basis"]
    assert exposure["boundary"] == "enterprise footprint" and exposure["radius_m"] == 500
    assert exposure["people"] == 40
    assert {z["name"]: z["population"] for z in exposure["zones"]} == {"东村": 40, "西市场": None}
    assert record.method == "gb18218" and record.ruleset_version == ruleset_version()
    assert (record.result["method"], record.result["variant"]) == (
        "gb18218",
        "GB 18218-2018, J2 β = 1",
    )
    assert record.result["ruleset_version"] == ruleset_version()


def test_direct_flag_follows_the_enterprises_grade_1_2_source(
    client: TestClient, session: Session
) -> None:
    enterprise = _create(client, "/api/enterprises", enterprise_payload())
    eid = enterprise["id"]
    point = _create(client, "/api/risk-points", lec_point(eid, 3, 6, 7))  # yellow
    assert "direct" not in point["inputs"]

    def stored() -> dict:
        return client.get(f"/api/risk-points/{point['id']}").json()

    hazard = _create(
        client,
        "/api/hazard-sources",
        {
            "enterprise_id": eid,
            "name": "液氯储罐区",
            "unit_type": "storage",
            "substances": CHLORINE_GRADE_2,
        },
    )
    assert hazard["grade"] in (1, 2)
    now = stored()
    assert now["inputs"]["direct"] == {"major_hazard_grade_1_2": True}
    assert now["risk_level"] == "red" and now["score"] == 126
    # A new point of that enterprise carries the flag from the start.
    second = _create(client, "/api/risk-points", lec_point(eid, 1, 1, 1))
    assert second["risk_level"] == "red"
    assert second["inputs"]["direct"] == {"major_hazard_grade_1_2": True}
    # Echoing the stored inputs back is fine; contradicting the enterprise is not.
    assert (
        client.patch(f"/api/risk-points/{point['id']}", json={"inputs": now["inputs"]}).status_code
        == 200
    )
    wrong = client.patch(
        f"/api/risk-points/{point['id']}",
        json={"inputs": {"l": 3, "e": 6, "c": 7, "direct": {"major_hazard_grade_1_2": False}}},
    )
    assert wrong.status_code == 422
    assert wrong.json()["field"] == "inputs.direct.major_hazard_grade_1_2"

    assert client.delete(f"/api/hazard-sources/{hazard['id']}").status_code == 204
    after = stored()
    assert "direct" not in after["inputs"] and after["risk_level"] == "yellow"
    history = session.execute(
        text("""SELECT risk_level, assessed_by FROM assessments
                 WHERE subject_type = 'risk_point' AND subject_id = :id ORDER BY id"""),
        {"id": point["id"]},
    ).all()
    assert [h.risk_level for h in history][-2:] == ["red", "yellow"]
    assert history[-1].assessed_by == "system"


def test_the_derived_flag_cannot_be_set_by_hand(client: TestClient) -> None:
    enterprise = _create(client, "/api/enterprises", enterprise_payload())
    payload = lec_point(enterprise["id"], 1, 1, 1)
    payload["inputs"]["direct"] = {"major_hazard_grade_1_2": True}
    response = client.post("/api/risk-points", json=payload)
    assert response.status_code == 422
    assert response.json()["field"] == "inputs.direct.major_hazard_grade_1_2"
    # 'direct' needs a rule of its own, so losing the derived flag never leaves it ungraded.
    direct = {**payload, "method": "direct", "inputs": {"direct": {}}}
    response = client.post("/api/risk-points", json=direct)
    assert response.status_code == 422 and response.json()["field"] == "inputs.direct"
