"""Issue 12: inspections by the frequencies in the data file, findings as hidden dangers."""

import csv
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.auth.scope import Scope
from app.datetimes import CHINA_STANDARD_TIME
from app.inspections import service
from app.inspections.frequencies import FREQUENCIES_CSV, frequencies
from tests.conftest import PUBLIC
from tests.factories import enterprise_payload, lec_point

CHECKLIST = [{"item": "消防通道畅通", "ok": True}, {"item": "储罐阀门", "ok": False}]
ADMIN = Scope(role="admin", username="clock", write_prefix="")


class Site:
    """Two enterprises in 兴庆区, one inside the warden's grid cell, and their users."""

    def __init__(
        self, client: TestClient, make_user: Callable[..., dict[str, str]], session: Session
    ) -> None:
        self.client = client
        # Two cells covering 兴庆区: enterprises created after them fall in the first (the
        # lowest code); the second's warden reads the county but has none of them.
        session.execute(
            text(
                "INSERT INTO grid_cells (code, name, county_code, geom, source) "
                "SELECT c.code, '测试网格', '640104', r.geom, 'imported' "
                "FROM regions r, (VALUES ('640104-T1'), ('640104-T2')) c(code) "
                "WHERE r.code = '640104'"
            )
        )
        session.commit()
        self.red = self._enterprise(6, 6, 15)  # D = 540: red
        self.blue = self._enterprise(1, 1, 1)  # D = 1: blue
        self.users = {
            "admin": {},
            "official": make_user("official", region_code="640100"),
            "enterprise": make_user("enterprise", enterprise_id=self.red["id"]),
            "warden": make_user("warden", grid_cells=["640104-T1"]),
            "other_warden": make_user("warden", grid_cells=["640104-T2"]),
            "planner": make_user("planner", region_code="640000"),
            "outsider": make_user("official", region_code="640200"),
        }

    def _enterprise(self, l: float, e: float, c: float) -> dict[str, Any]:
        enterprise = self.client.post("/api/enterprises", json=enterprise_payload()).json()
        point = self.client.post("/api/risk-points", json=lec_point(enterprise["id"], l, e, c))
        assert point.status_code == 201, point.text
        return dict(self.client.get(f"/api/enterprises/{enterprise['id']}").json())

    def inspect(
        self, role: str, enterprise: dict[str, Any], kind: str, *, expect: int = 201, **body: Any
    ) -> dict[str, Any]:
        response = self.client.post(
            "/api/inspections",
            headers=self.users[role],
            json={"enterprise_id": enterprise["id"], "kind": kind, "checklist": CHECKLIST, **body},
        )
        assert response.status_code == expect, response.text
        return dict(response.json())


@pytest.fixture
def site(client: TestClient, make_user: Callable[..., dict[str, str]], session: Session) -> Site:
    return Site(client, make_user, session)


def test_frequencies_come_from_the_data_file() -> None:
    with FREQUENCIES_CSV.open(encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert all(row["source"].strip() and row["confirmed"].strip() for row in rows)
    assert frequencies() == {
        "self_check": {"red": 1, "orange": 7, "yellow": 15, "blue": 30},
        "spot_check": {"red": 30, "orange": 61, "yellow": 92, "blue": 365},
    }


def test_each_role_records_its_own_kind_where_it_may(site: Site) -> None:
    assert site.red["risk_level"] == "red" and site.blue["risk_level"] == "blue"
    assert site.red["grid_code"] == "640104-T1"
    site.inspect("enterprise", site.red, "self_check")
    site.inspect("official", site.red, "spot_check")
    site.inspect("warden", site.red, "grid_check")
    site.inspect("admin", site.red, "spot_check")
    refusals = [
        ("enterprise", site.red, "spot_check", 403, "kind"),
        ("enterprise", site.blue, "self_check", 422, "enterprise_id"),  # unseen
        ("official", site.red, "self_check", 403, "kind"),
        ("warden", site.red, "spot_check", 403, "kind"),
        ("other_warden", site.red, "grid_check", 403, "enterprise_id"),
        ("outsider", site.red, "spot_check", 422, "enterprise_id"),
    ]
    for role, enterprise, kind, status, field in refusals:
        assert site.inspect(role, enterprise, kind, expect=status)["field"] == field, role
    assert site.inspect("planner", site.red, "spot_check", expect=403)
    response = site.client.post(
        "/api/inspections",
        headers=PUBLIC,
        json={"enterprise_id": site.red["id"], "kind": "spot_check", "checklist": CHECKLIST},
    )
    assert response.status_code == 401


def test_a_finding_becomes_a_hidden_danger_in_the_same_step(site: Site) -> None:
    record = site.inspect(
        "warden",
        site.red,
        "grid_check",
        findings=[
            {"title": "消防通道堵塞", "grade": "general"},
            {"title": "阀门泄漏", "grade": "major"},
        ],
    )
    assert record["finding_count"] == 2 and len(record["hidden_danger_ids"]) == 2
    assert record["id"] > 0 and record["county_code"] == "640104"
    for danger_id in record["hidden_danger_ids"]:
        danger = site.client.get(f"/api/hidden-dangers/{danger_id}").json()
        assert danger["status"] == "reported" and danger["inspection_id"] == record["id"]
        history = site.client.get(f"/api/hidden-dangers/{danger_id}/history").json()
        assert history[0]["action"] == "report" and history[0]["username"]
    listed = site.client.get(f"/api/inspections?enterprise={site.red['id']}").json()
    assert listed["items"][0]["hidden_danger_ids"] == record["hidden_danger_ids"]


def test_a_bad_finding_writes_nothing(site: Site, session: Session) -> None:
    before = session.execute(
        text("SELECT (SELECT count(*) FROM inspections), (SELECT count(*) FROM hidden_dangers)")
    ).one()
    # 较大 is Ningxia's grade, so use a province without it: refused after the first finding.
    tianjin = site.client.post(
        "/api/enterprises", json=enterprise_payload((117.3100, 39.0900))
    ).json()
    refused = site.inspect(
        "admin",
        tianjin,
        "spot_check",
        expect=422,
        findings=[{"title": "一般", "grade": "general"}, {"title": "较大", "grade": "larger"}],
    )
    assert refused["field"] == "grade"
    after = session.execute(
        text("SELECT (SELECT count(*) FROM inspections), (SELECT count(*) FROM hidden_dangers)")
    ).one()
    assert after == before
    # Where it was made: a place in China, not a typo off the coast of Africa.
    assert (
        site.inspect("admin", site.red, "spot_check", expect=422, lon=2, lat=38)["field"]
        == "lon,lat"
    )
    future = (datetime.now(CHINA_STANDARD_TIME) + timedelta(days=2)).isoformat()
    assert (
        site.inspect("admin", site.red, "spot_check", expect=422, inspected_at=future)["field"]
        == "inspected_at"
    )


def test_reads_follow_the_scope(site: Site) -> None:
    site.inspect("official", site.red, "spot_check")
    site.inspect("official", site.blue, "spot_check")

    def enterprises(role: str) -> set[int]:
        response = site.client.get("/api/inspections?region=640104", headers=site.users[role])
        assert response.status_code == 200, response.text
        return {item["enterprise_id"] for item in response.json()["items"]}

    assert enterprises("official") >= {site.red["id"], site.blue["id"]}
    assert enterprises("enterprise") == {site.red["id"]}
    assert not enterprises("outsider") & {site.red["id"], site.blue["id"]}
    assert site.client.get("/api/inspections", headers=site.users["planner"]).status_code == 403


def test_overdue_lists_follow_the_frequency_of_each_colour(site: Site, session: Session) -> None:
    today = datetime.now(CHINA_STANDARD_TIME).date()
    yesterday = datetime.combine(
        today - timedelta(days=1), datetime.min.time(), CHINA_STANDARD_TIME
    ).replace(hour=9)
    for enterprise in (site.red, site.blue):
        site.inspect("admin", enterprise, "self_check", inspected_at=yesterday.isoformat())

    def overdue(day: int, **filters: Any) -> set[int]:
        page = service.overdue(
            session,
            scope=ADMIN,
            today=today + timedelta(days=day),
            kind="self_check",
            limit=100,
            offset=0,
            **filters,
        )
        return {item["enterprise_id"] for item in page["items"]} & {site.red["id"], site.blue["id"]}

    # Red daily: inspected yesterday, due today, overdue tomorrow; blue monthly.
    assert overdue(0) == set()
    assert overdue(1) == {site.red["id"]}
    assert overdue(29) == {site.red["id"]} and overdue(30) == {site.red["id"], site.blue["id"]}
    assert overdue(1, grid="640104-T1") == {site.red["id"]}
    assert overdue(1, grid="640104-T9") == set()
    assert overdue(1, enterprise_id=site.blue["id"]) == set()
    assert overdue(1, region="640104") == {site.red["id"]}
    never = service.overdue(
        session, scope=ADMIN, today=today, kind="spot_check", limit=100, offset=0, region="640104"
    )
    assert {site.red["id"], site.blue["id"]} <= {i["enterprise_id"] for i in never["items"]}

    response = site.client.get(
        "/api/inspections/overdue?grid=640104-T1&kind=spot_check", headers=site.users["warden"]
    )
    assert response.status_code == 200, response.text
    assert site.red["id"] in {item["enterprise_id"] for item in response.json()["items"]}
    response = site.client.get("/api/inspections/overdue", headers=site.users["enterprise"])
    assert {item["enterprise_id"] for item in response.json()["items"]} <= {site.red["id"]}


def test_overdue_lists_put_red_first_then_the_longest_overdue(site: Site, session: Session) -> None:
    """Red before orange, yellow, blue; within a colour the never inspected, then the
    longest overdue — not the order of the ids (the demo's 从未检查 by id)."""
    today = datetime.now(CHINA_STANDARD_TIME).date()

    def days_ago(days: int) -> str:
        return (
            datetime.combine(today - timedelta(days=days), datetime.min.time(), CHINA_STANDARD_TIME)
            .replace(hour=9)
            .isoformat()
        )

    blue_old = site._enterprise(1, 1, 1)
    red_recent = site._enterprise(6, 6, 15)
    red_old = site._enterprise(6, 6, 15)
    # site.blue and site.red are never self-checked; blue_old is 40 - 30 = 10 days overdue,
    # red_old 10 - 1 = 9 and red_recent 3 - 1 = 2: colour comes before days.
    site.inspect("admin", blue_old, "self_check", inspected_at=days_ago(40))
    site.inspect("admin", red_recent, "self_check", inspected_at=days_ago(3))
    site.inspect("admin", red_old, "self_check", inspected_at=days_ago(10))
    mine = {e["id"] for e in (site.red, site.blue, blue_old, red_recent, red_old)}
    expected = [
        (site.red["id"], None),
        (red_old["id"], 9),
        (red_recent["id"], 2),
        (site.blue["id"], None),
        (blue_old["id"], 10),
    ]
    page = service.overdue(
        session, scope=ADMIN, today=today, kind="self_check", limit=1000, offset=0
    )
    got = [
        (i["enterprise_id"], i["days_overdue"]) for i in page["items"] if i["enterprise_id"] in mine
    ]
    assert got == expected
    levels = [i["risk_level"] for i in page["items"]]
    assert levels == sorted(levels, key=["red", "orange", "yellow", "blue"].index)
    response = site.client.get(
        "/api/inspections/overdue?region=640104&kind=self_check&limit=1000",
        headers=site.users["official"],
    )
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [
        (i["enterprise_id"], i["days_overdue"]) for i in items if i["enterprise_id"] in mine
    ] == expected
