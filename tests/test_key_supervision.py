"""Issue 12: the key-supervision list (重点监管名单), limits as data, candidates beside it."""

import csv
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.supervision.service import KEY_SUPERVISION_CSV, limits
from tests.conftest import PUBLIC
from tests.factories import enterprise_payload, lec_point

YINCHUAN = "640100"


@pytest.fixture
def red_enterprise(client: TestClient) -> dict:
    enterprise = client.post("/api/enterprises", json=enterprise_payload()).json()
    assert (
        client.post("/api/risk-points", json=lec_point(enterprise["id"], 6, 6, 15)).status_code
        == 201
    )
    return dict(client.get(f"/api/enterprises/{enterprise['id']}").json())


def test_limits_come_from_the_data_file() -> None:
    with KEY_SUPERVISION_CSV.open(encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert all(row["source"].strip() for row in rows)
    assert limits()["city"].units_min == 2 and limits()["city"].units_max == 3
    assert limits()["city"].enterprises_max == 10
    assert limits()["county"].unit_kind == "township"
    assert limits()["county"].enterprises_max == 5


def test_officials_choose_with_the_candidates_beside(
    client: TestClient,
    make_user: Callable[..., dict[str, str]],
    red_enterprise: dict,
    session: Session,
) -> None:
    official = make_user("official", region_code=YINCHUAN)
    shown = client.get(f"/api/key-supervision?region={YINCHUAN}&year=2026", headers=official)
    assert shown.status_code == 200, shown.text
    body = shown.json()
    assert body["limits"] == {"unit_kind": "county", "units": [2, 3], "enterprises": [0, 10]}
    assert body["units"] == [] and body["enterprises"] == []
    counties = {c["code"]: c for c in body["candidates"]["units"]}
    assert "640104" in counties and counties["640104"]["red"] >= 1
    candidate = next(
        c for c in body["candidates"]["enterprises"] if c["enterprise_id"] == red_enterprise["id"]
    )
    assert candidate["risk_level"] == "red"

    chosen = {
        "region": YINCHUAN,
        "year": 2026,
        "units": [{"code": "640104", "reason": "红色企业集中"}, {"code": "640105"}],
        "enterprises": [{"enterprise_id": red_enterprise["id"], "reason": "重大风险"}],
    }
    saved = client.put("/api/key-supervision", headers=official, json=chosen)
    assert saved.status_code == 200, saved.text
    assert [u["subject"] for u in saved.json()["units"]] == ["640104", "640105"]
    assert saved.json()["units"][0]["name"] == "兴庆区"
    assert saved.json()["enterprises"][0]["reason"] == "重大风险"
    # Saving again replaces the list; the audit log holds every change.
    chosen["units"] = [chosen["units"][0], {"code": "640106"}]
    again = client.put("/api/key-supervision", headers=official, json=chosen).json()
    assert [u["subject"] for u in again["units"]] == ["640104", "640106"]
    audited = session.scalar(
        text("SELECT count(*) FROM audit_log WHERE table_name = 'key_supervision'")
    )
    assert audited >= 7  # 3 inserts, 3 deletes, 3 inserts


def test_a_county_names_townships_by_name(
    client: TestClient, make_user: Callable[..., dict[str, str]]
) -> None:
    official = make_user("official", region_code="640104")
    body = {
        "region": "640104",
        "year": 2026,
        "units": [{"name": "凤凰北街街道"}, {"name": "解放西街街道"}, {"name": "大新镇"}],
        "enterprises": [],
    }
    saved = client.put("/api/key-supervision", headers=official, json=body)
    assert saved.status_code == 200, saved.text
    assert saved.json()["limits"]["enterprises"] == [0, 5]
    assert [u["name"] for u in saved.json()["units"]] == ["凤凰北街街道", "解放西街街道", "大新镇"]


def test_bad_lists_are_refused_and_nothing_is_written(
    client: TestClient,
    make_user: Callable[..., dict[str, str]],
    red_enterprise: dict,
    session: Session,
) -> None:
    official = make_user("official", region_code=YINCHUAN)
    base = {"region": YINCHUAN, "year": 2026, "enterprises": []}
    for units, field in (
        ([{"code": "640104"}], "units"),  # too few
        ([{"code": c} for c in ("640104", "640105", "640106", "640121")], "units"),  # too many
        ([{"code": "640104"}, {"code": "640202"}], "units.1.code"),  # not a county of 银川
        ([{"code": "640104"}, {"code": "640104"}], "units"),  # twice
        ([{"name": "大新镇"}, {"code": "640104"}], "units.0"),  # a city names counties
    ):
        response = client.put(
            "/api/key-supervision", headers=official, json={**base, "units": units}
        )
        assert response.status_code == 422, response.text
        assert response.json()["field"] == field
    outside = client.post(
        "/api/enterprises",
        json=enterprise_payload(lon_lat=(106.38, 39.02)),  # 石嘴山
    ).json()
    response = client.put(
        "/api/key-supervision",
        headers=official,
        json={
            **base,
            "units": [{"code": "640104"}, {"code": "640105"}],
            "enterprises": [{"enterprise_id": outside["id"]}],
        },
    )
    assert response.status_code == 422 and "enterprise" in response.json()["field"], response.text
    assert session.scalar(text("SELECT count(*) FROM key_supervision")) == 0
    # A province names no list; other regions and roles may not choose.
    assert client.get("/api/key-supervision?region=640000").status_code == 422
    outsider = make_user("official", region_code="640200")
    assert (
        client.get(f"/api/key-supervision?region={YINCHUAN}", headers=outsider).status_code == 403
    )
    assert client.get(f"/api/key-supervision?region={YINCHUAN}", headers=PUBLIC).status_code == 401
    enterprise = make_user("enterprise", enterprise_id=red_enterprise["id"])
    assert (
        client.get(f"/api/key-supervision?region={YINCHUAN}", headers=enterprise).status_code == 403
    )
