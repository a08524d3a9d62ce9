"""Statutory tables (issue 15): opened with openpyxl, they sum to the database's counts."""

import io
from datetime import timedelta
from typing import Any

import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.dangers import rules
from app.datetimes import china_today
from tests.conftest import PUBLIC
from tests.factories import JINFENG, LINGWU, enterprise_payload, lec_point

XIXIA = (106.10, 38.50)  # 西夏区

TODAY = china_today()
MONTH = TODAY.strftime("%Y-%m")
QUARTER = f"{TODAY.year}-Q{(TODAY.month - 1) // 3 + 1}"


def _sheets(content: bytes) -> dict[str, list[tuple[Any, ...]]]:
    book = openpyxl.load_workbook(io.BytesIO(content))
    return {sheet.title: list(sheet.iter_rows(values_only=True)) for sheet in book.worksheets}


def _danger(client: TestClient, enterprise_id: int, title: str, grade: str) -> int:
    response = client.post(
        "/api/hidden-dangers", json={"enterprise_id": enterprise_id, "title": title, "grade": grade}
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _event(session: Session, danger: int, **values: Any) -> None:
    """A step in the danger's history (the lifecycle itself is issue 12's, tested there)."""
    session.execute(
        text("""
        INSERT INTO hidden_danger_events (county_code, danger_id, action, to_status,
                                          supervision_level, geom)
        SELECT county_code, id, 'test', :status, :level, geom FROM hidden_dangers WHERE id = :id"""),
        {"id": danger, "status": values.get("status", "supervised"), "level": values.get("level")},
    )


@pytest.fixture
def dangers(client: TestClient, session: Session) -> dict[str, int]:
    enterprise = client.post("/api/enterprises", json=enterprise_payload()).json()
    ids = {
        "major_fixed": _danger(client, enterprise["id"], "液氨储罐无泄漏报警", "major"),
        "major_open": _danger(client, enterprise["id"], "防爆区域使用非防爆电器", "major"),
        "general": _danger(client, enterprise["id"], "灭火器过期", "general"),
    }
    _event(session, ids["major_open"], level="city")
    _event(session, ids["major_fixed"], status="rectified")
    session.execute(
        text("UPDATE hidden_dangers SET deadline = :d, supervision_level = 'city' WHERE id = :id"),
        {"d": TODAY - timedelta(days=1), "id": ids["major_open"]},
    )
    session.commit()
    return {**ids, "enterprise": enterprise["id"]}


def test_danger_statistics_json_and_xlsx_match_the_database(
    client: TestClient, session: Session, dangers: dict[str, int]
) -> None:
    table = client.get(f"/api/reports/danger-statistics?region=640100&quarter={QUARTER}").json()
    total = table["total"]
    stored = session.execute(
        text("SELECT count(*) FROM hidden_dangers WHERE county_code LIKE '6401%'")
    ).scalar_one()
    assert total["found"] == stored == 3
    assert (total["major"], total["general"], total["fixed"]) == (2, 1, 1)
    assert total["fix_rate"] == 33.3 and total["major_fix_rate"] == 50.0
    assert (total["supervised_city"], total["overdue"], total["major_overdue"]) == (1, 1, 1)
    xingqing = next(r for r in table["rows"] if r["code"] == "640104")
    assert xingqing["found"] == 3

    workbook = client.get(
        f"/api/reports/danger-statistics?region=640100&quarter={QUARTER}&format=xlsx"
    )
    sheet = next(iter(_sheets(workbook.content).values()))
    headers, *rows = sheet
    column = headers.index("排查隐患总数")
    assert rows[-1][1] == "合计" and rows[-1][column] == stored
    assert sum(r[column] for r in rows[:-1]) == stored
    yearly = client.get(f"/api/reports/danger-statistics?region=640104&year={TODAY.year}").json()
    assert yearly["total"]["found"] == 3
    last_year = client.get(f"/api/reports/danger-statistics?region=640104&year={TODAY.year - 1}")
    assert last_year.json()["total"]["found"] == 0
    both = client.get(f"/api/reports/danger-statistics?region=640104&year=2026&quarter={QUARTER}")
    assert both.status_code == 422


def test_five_batches_counts_every_item(
    client: TestClient, session: Session, dangers: dict[str, int]
) -> None:
    response = client.post(
        "/api/enforcement-actions",
        json={
            "kind": "punished",
            "enterprise_id": dangers["enterprise"],
            "decided_on": TODAY.isoformat(),
            "description": "未按规定设置泄漏报警装置，罚款",
            "fine_yuan": "50000",
        },
    )
    assert response.status_code == 201, response.text
    closed = {
        "kind": "closed",
        "unit_name": "无证小作坊",
        "county_code": "640104",
        "decided_on": TODAY.isoformat(),
        "description": "不具备安全生产条件，予以关闭",
    }
    assert client.post("/api/enforcement-actions", json=closed).status_code == 201
    listed = client.post(
        "/api/blacklist",
        json={
            "enterprise_id": dangers["enterprise"],
            "reason": "重大隐患拒不整改",
            "legal_basis": "《安全生产严重失信主体名单管理办法》",
            "decided_on": TODAY.isoformat(),
            "listed_until": (TODAY + timedelta(days=365)).isoformat(),
        },
    )
    assert listed.status_code == 201
    table = client.get(f"/api/reports/five-batches?region=640100&month={MONTH}").json()
    counts = {item["item"]: item["count"] for item in table["items"]}
    majors = session.execute(
        text(
            "SELECT count(*) FROM hidden_dangers WHERE grade = 'major' AND county_code LIKE '6401%'"
        )
    ).scalar_one()
    assert counts == {
        "major_dangers": majors,
        "punished": 1,
        "blacklisted": 1,
        "banned": 0,
        "closed": 1,
    }
    sheets = _sheets(
        client.get(f"/api/reports/five-batches?region=640100&month={MONTH}&format=xlsx").content
    )
    summary = sheets["五个一批"]
    assert [row[1] for row in summary[1:6]] == [2, 1, 1, 0, 1]
    assert summary[-1] == ("合计", 5)
    assert len(sheets["曝光一批重大隐患"]) == 1 + majors
    # Each exposed danger's situation is its status in Chinese, not the stored key.
    situations = {row[4] for row in sheets["曝光一批重大隐患"][1:]}
    assert situations and situations <= {s.name_zh for s in rules.statuses().values()}
    previous = client.get("/api/reports/five-batches?region=640100&month=2020-01").json()
    assert all(item["count"] == 0 for item in previous["items"])


def test_risk_bulletin_lists_red_regions_rising_enterprises_and_overdue_majors(
    client: TestClient, dangers: dict[str, int]
) -> None:
    client.post("/api/risk-points", json=lec_point(dangers["enterprise"], 10, 6, 7))
    # Three more counties with a little registered: four units, so the index classes them
    # (one county alone is not ranked) and 兴庆区 is the red one.
    for where in (JINFENG, LINGWU, XIXIA):
        client.post("/api/risk-points", json=lec_point(None, 1, 1, 1, lon_lat=where))
    bulletin = client.get(f"/api/reports/risk-bulletin?region=640100&month={MONTH}").json()
    levels = {r["code"]: r["level"] for r in bulletin["regions"]}
    assert levels["640104"] == "red" and set(levels.values()) <= {"red", "orange"}
    assert [e["id"] for e in bulletin["enterprises"]] == [dangers["enterprise"]]
    assert [d["id"] for d in bulletin["overdue_major_dangers"]] == [dangers["major_open"]]
    sheets = _sheets(
        client.get(f"/api/reports/risk-bulletin?region=640100&month={MONTH}&format=xlsx").content
    )
    assert len(sheets["超期重大隐患"]) == 2
    assert sheets["超期重大隐患"][1][-1] == "市挂牌督办"  # as the reader says it, not `city`


def test_scope_and_bad_periods(client: TestClient, make_user) -> None:
    official = make_user("official", region_code="640104")
    # Another county, or the city above: not a table this official may send upward.
    for region in ("640106", "640100", "110000"):
        other = client.get(
            f"/api/reports/danger-statistics?region={region}&quarter={QUARTER}", headers=official
        )
        assert other.status_code == 403 and other.json()["field"] == "region", region
    assert (
        client.get(
            f"/api/reports/danger-statistics?region=640104&quarter={QUARTER}", headers=official
        ).status_code
        == 200
    )
    assert (
        client.get(f"/api/reports/five-batches?month={MONTH}", headers=official).status_code == 200
    )
    assert client.get(f"/api/reports/five-batches?month={MONTH}").status_code == 422, (
        "admin: region"
    )
    assert client.get("/api/reports/five-batches?region=640100&month=2026-13").status_code == 422
    assert client.get(f"/api/reports/five-batches?month={MONTH}", headers=PUBLIC).status_code == 401
    warden = make_user("warden", grid_cells=[])
    assert client.get(f"/api/reports/five-batches?month={MONTH}", headers=warden).status_code == 403
