"""Comparing two dates: regions and enterprises up or down a colour, major dangers found
and closed; the demo's 90 days of snapshots move."""

from datetime import date, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.risk import history_demo
from tests.conftest import PUBLIC
from tests.factories import XINGQING, enterprise_payload, lec_point


def test_an_enterprise_going_red_is_a_change_up(client: TestClient, session: Session) -> None:
    enterprise = client.post("/api/enterprises", json=enterprise_payload()).json()
    client.post("/api/risk/snapshots", params={"day": "2026-11-01"})
    client.post("/api/risk-points", json=lec_point(enterprise["id"], 6, 6, 15))  # red
    client.post("/api/risk/snapshots", params={"day": "2026-11-02"})
    today = date.today()
    body = client.get(
        "/api/risk/compare",
        params={"region": "640100", "from": "2026-11-01", "to": today.isoformat()},
    ).json()
    assert body["snapshot_days"][0] == "2026-11-01"
    assert body["enterprises"]["up"] == 1 and body["enterprises"]["down"] == 0
    item = body["enterprises"]["items"][0]
    assert item["id"] == enterprise["id"] and item["to_level"] == "red"
    assert item["from_level"] in (None, "blue") and item["direction"] == "up"
    assert body["method"].startswith("composite/")
    # By the highest colour 兴庆区 went from nothing (no level) to red between the snapshots
    # (the composite index does not class the only county with data).
    highest = client.get(
        "/api/risk/compare",
        params={
            "region": "640100",
            "from": "2026-11-01",
            "to": today.isoformat(),
            "method": "highest",
        },
    ).json()
    assert {r["code"]: r["direction"] for r in highest["regions"]["items"]}.get("640104") == "up"
    # The public sees the counts, not the enterprises.
    public = client.get(
        "/api/risk/compare",
        params={"region": "640100", "from": "2026-11-01", "to": today.isoformat()},
        headers=PUBLIC,
    ).json()
    assert public["enterprises"]["up"] == 1 and public["enterprises"]["items"] == []


def test_major_dangers_found_and_closed(client: TestClient, session: Session) -> None:
    enterprise = client.post("/api/enterprises", json=enterprise_payload()).json()
    session.execute(
        text("""
        INSERT INTO hidden_dangers (enterprise_id, title, grade, status, found_at, closed_at, geom)
        VALUES (:e, '旧隐患', 'major', 'closed', now() - interval '40 days', now() - interval '5 days',
                ST_SetSRID(ST_MakePoint(:x, :y), 4326)),
               (:e, '新隐患', 'major', 'reported', now() - interval '3 days', NULL,
                ST_SetSRID(ST_MakePoint(:x, :y), 4326))
    """),
        {"e": enterprise["id"], "x": XINGQING[0], "y": XINGQING[1]},
    )
    today = date.today()
    body = client.get(
        "/api/risk/compare",
        params={"from": (today - timedelta(days=10)).isoformat(), "to": today.isoformat()},
    ).json()
    dangers = body["major_dangers"]
    assert dangers["new"] == 1 and dangers["closed"] == 1
    assert {d["title"]: d["change"] for d in dangers["items"]} == {
        "新隐患": "new",
        "旧隐患": "closed",
    }


def test_from_must_be_before_to(client: TestClient) -> None:
    response = client.get("/api/risk/compare", params={"from": "2026-11-02", "to": "2026-11-01"})
    assert response.status_code == 422 and response.json()["field"] == "from"


def test_demo_history_moves(client: TestClient, session: Session) -> None:
    for _ in range(40):
        client.post("/api/enterprises", json=enterprise_payload(risk_level=None))
    points = [lec_point(None, 6, 6, 15), lec_point(None, 3, 6, 7), lec_point(None, 1, 1, 7)]
    for point in points * 5:
        client.post("/api/risk-points", json=point)
    session.execute(text("UPDATE enterprises SET risk_level = 'orange'"))
    client.post("/api/risk/snapshots", params={"day": date.today().isoformat()})
    written = history_demo.generate_history(session, seed=1)
    assert written > 0
    days = session.execute(text("SELECT count(DISTINCT day) FROM region_count_snapshots")).scalar()
    assert days == history_demo.DAYS
    trend = client.get(
        "/api/risk/trend",
        params={
            "region": "640104",
            "from": (date.today() - timedelta(days=100)).isoformat(),
            "to": date.today().isoformat(),
        },
    ).json()
    reds = {p["counts"]["red"] + p["counts"]["orange"] for p in trend["points"]}
    assert len(trend["points"]) == history_demo.DAYS and len(reds) > 1  # it moves
