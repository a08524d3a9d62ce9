"""The enterprise dossier behind a popup's "details" (GET /api/map/enterprises/{id})."""

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.dangers.models import HiddenDanger
from tests.conftest import PUBLIC
from tests.factories import LINGWU, XINGQING, enterprise_payload, lec_point


def _create(client: TestClient, path: str, payload: dict) -> dict:
    response = client.post(path, json=payload)
    assert response.status_code == 201, response.text
    return response.json()


def _danger(session: Session, enterprise_id: int, title: str, grade: str, status: str) -> None:
    session.add(
        HiddenDanger(
            enterprise_id=enterprise_id,
            title=title,
            grade=grade,
            status=status,
            geom=f"SRID=4326;POINT({XINGQING[0]} {XINGQING[1]})",
        )
    )
    session.flush()


def test_dossier_has_the_enterprise_its_risks_and_open_dangers(
    client: TestClient, session: Session
) -> None:
    enterprise = _create(client, "/api/enterprises", enterprise_payload())
    eid = enterprise["id"]
    blue = _create(client, "/api/risk-points", lec_point(eid, 1, 1, 1))
    red = _create(client, "/api/risk-points", lec_point(eid, 6, 6, 15))
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
    _danger(session, eid, "报警器失效", "general", "rectifying")
    _danger(session, eid, "泄压阀缺失", "major", "reported")
    _danger(session, eid, "已整改的隐患", "major", "closed")
    other = _create(client, "/api/enterprises", enterprise_payload())
    _create(client, "/api/risk-points", lec_point(other["id"], 6, 6, 15))

    body = client.get(f"/api/map/enterprises/{eid}").json()

    assert body["enterprise"]["name"] == enterprise["name"]
    assert body["enterprise"]["risk_level"] == "red"
    assert [p["id"] for p in body["risk_points"]] == [red["id"], blue["id"]]  # highest first
    assert [h["id"] for h in body["hazard_sources"]] == [hazard["id"]]
    assert [d["title"] for d in body["open_dangers"]] == ["泄压阀缺失", "报警器失效"]
    graded = {(a["subject_type"], a["subject_id"]) for a in body["assessments"]}
    assert {
        ("risk_point", red["id"]),
        ("risk_point", blue["id"]),
        ("hazard_source", hazard["id"]),
    } <= graded
    assert all(
        a["subject_id"] != other["id"]
        for a in body["assessments"]
        if a["subject_type"] == "enterprise"
    )


def test_dossier_respects_the_scope_and_rejects_bad_ids(client: TestClient, make_user) -> None:
    enterprise = _create(client, "/api/enterprises", enterprise_payload(LINGWU))  # 灵武市 640181
    url = f"/api/map/enterprises/{enterprise['id']}"
    yinchuan = make_user("official", region_code="640100")
    assert client.get(url, headers=yinchuan).status_code == 200
    outside = client.get(url, headers=make_user("official", region_code="640200"))
    assert outside.status_code == 404 and outside.json()["field"] == "id"
    assert client.get(url, headers=PUBLIC).status_code == 404
    for bad in ("0", "99999999999", "abc"):
        response = client.get(f"/api/map/enterprises/{bad}")
        assert response.status_code == 422 and response.json()["field"] == "id", bad


def test_row_ids_and_counts_beyond_integer_are_rejected_not_500(client: TestClient) -> None:
    assert client.get("/api/enterprises/99999999999").json()["field"] == "id"
    response = client.post("/api/risk-points", json=lec_point(10**12, 1, 1, 1))
    assert response.status_code == 422 and response.json()["field"] == "enterprise_id"
    response = client.post("/api/enterprises", json=enterprise_payload(employees=10**12))
    assert response.status_code == 422 and response.json()["field"] == "employees"
