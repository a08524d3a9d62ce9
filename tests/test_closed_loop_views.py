"""Issue 12: what the closed loop shows and runs beside the lifecycle — the map of major
dangers, the lifecycle as data for screens, the dossier's open and overdue major dangers,
overdue inspections per warden, the daily escalation command and the audit triggers."""

from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.cli import build_parser
from app.dangers import daily, rules
from tests.conftest import PUBLIC
from tests.factories import enterprise_payload, lec_point
from tests.test_hidden_dangers import PNG, TODAY, World, _major_under_treatment

CHECKLIST = [{"item": "消防通道畅通", "ok": True}]


@pytest.fixture
def world(client: TestClient, make_user: Callable[..., dict[str, str]], session: Session) -> World:
    """As in tests/test_hidden_dangers.py: an enterprise in 兴庆区, a user of every role."""
    session.execute(
        text(
            "INSERT INTO grid_cells (code, name, county_code, geom, source) "
            "SELECT '640104-X1', '测试网格', '640104', geom, 'imported' "
            "FROM regions WHERE code = '640104'"
        )
    )
    session.commit()
    return World(client, make_user)


def _make_overdue(session: Session, danger_id: int) -> None:
    session.execute(
        text("UPDATE hidden_dangers SET deadline = :day WHERE id = :id"),
        {"day": TODAY - timedelta(days=2), "id": danger_id},
    )
    session.commit()


def test_the_map_shows_open_major_dangers_by_status_and_overdue(
    world: World, session: Session
) -> None:
    major = _major_under_treatment(world, TODAY + timedelta(days=5))
    _make_overdue(session, major["id"])
    fresh_major = world.report(grade="major")
    general = world.report(grade="general")
    response = world.client.get("/api/hidden-dangers/map?region=640104")
    assert response.status_code == 200, response.text
    features = {f["id"]: f["properties"] for f in response.json()["features"]}
    assert features[major["id"]]["status"] == "rectifying"
    assert features[major["id"]]["overdue"] is True
    assert features[major["id"]]["status_zh"] == rules.statuses()["rectifying"].name_zh
    assert features[fresh_major["id"]]["overdue"] is False
    assert general["id"] not in features
    # Overdue ones first; the enterprise sees its own; the public and planners nothing.
    assert next(iter(features)) == major["id"]
    own = world.client.get("/api/hidden-dangers/map", headers=world.users["enterprise"])
    assert {f["id"] for f in own.json()["features"]} >= {major["id"], fresh_major["id"]}
    outsider = world.client.get("/api/hidden-dangers/map", headers=world.users["outsider"])
    assert major["id"] not in {f["id"] for f in outsider.json()["features"]}
    assert world.client.get("/api/hidden-dangers/map", headers=PUBLIC).status_code == 401
    assert (
        world.client.get("/api/hidden-dangers/map", headers=world.users["planner"]).status_code
        == 403
    )
    # A bounding box elsewhere leaves it out; a bad one names the field.
    away = world.client.get("/api/hidden-dangers/map?bbox=100,30,101,31").json()
    assert major["id"] not in {f["id"] for f in away["features"]}
    bad = world.client.get("/api/hidden-dangers/map?bbox=1,2,3")
    assert bad.status_code == 422 and bad.json()["field"] == "bbox"


def test_the_lifecycle_is_served_as_data(client: TestClient) -> None:
    body = client.get("/api/hidden-dangers/lifecycle", headers=PUBLIC).json()
    assert [s["status"] for s in body["statuses"]] == list(rules.statuses())
    plan = next(s for s in body["steps"] if s["action"] == "plan")
    assert plan["requires"] == ["deadline", "plan"] and plan["roles"] == ["admin", "enterprise"]
    assert [i["item"] for i in body["plan_items"]["five_items"]] == list(
        rules.plan_items()["five_items"]
    )
    assert body["plan_items"]["plan"][0]["name_zh"] == "治理的目标和任务"


def test_the_dossier_counts_open_and_overdue_major_dangers(world: World, session: Session) -> None:
    major = _major_under_treatment(world, TODAY + timedelta(days=5))
    world.report(grade="major")
    world.report(grade="general")
    _make_overdue(session, major["id"])
    dossier = world.client.get(f"/api/map/enterprises/{world.enterprise['id']}").json()
    assert dossier["major_dangers"] == {"open": 2, "overdue": 1}
    flagged = {d["id"]: d["overdue"] for d in dossier["open_dangers"]}
    assert flagged[major["id"]] is True


def test_overdue_inspections_per_warden(
    client: TestClient, make_user: Callable[..., dict[str, str]], session: Session
) -> None:
    session.execute(
        text(
            "INSERT INTO grid_cells (code, name, county_code, geom, source) "
            "SELECT c.code, '测试网格', '640104', r.geom, 'imported' "
            "FROM regions r, (VALUES ('640104-W1'), ('640104-W2')) c(code) WHERE r.code = '640104'"
        )
    )
    session.commit()

    enterprise = client.post("/api/enterprises", json=enterprise_payload()).json()
    client.post("/api/risk-points", json=lec_point(enterprise["id"], 6, 6, 15))
    make_user("warden", username="warden-w1", grid_cells=["640104-W1"])
    make_user("warden", username="warden-w2", grid_cells=["640104-W2"])
    mine = client.get("/api/inspections/overdue?warden=warden-w1").json()
    assert enterprise["id"] in {item["enterprise_id"] for item in mine["items"]}
    theirs = client.get("/api/inspections/overdue?warden=warden-w2").json()
    assert enterprise["id"] not in {item["enterprise_id"] for item in theirs["items"]}
    unknown = client.get("/api/inspections/overdue?warden=nobody")
    assert unknown.status_code == 422 and unknown.json()["field"] == "warden"


def test_the_daily_command_escalates_without_anyone_calling_the_api(
    world: World, session: Session
) -> None:
    danger = _major_under_treatment(world, TODAY + timedelta(days=1))
    args = build_parser().parse_args(["dangers", "escalate", "--today", "2026-01-02"])
    assert args.action == "escalate" and args.today == "2026-01-02"
    day = TODAY + timedelta(days=2)
    assert danger["id"] in daily.escalate_all(session, today=day)
    assert daily.escalate_all(session, today=day) == []  # once a day
    escalation = [h for h in world.history(danger) if h["action"] == "escalate"]
    assert escalation[0]["username"] == daily.ACTOR
    assert escalation[0]["supervision_level"] == "street"


def test_inspections_and_evidence_are_audited(world: World, session: Session) -> None:
    inspection = world.client.post(
        "/api/inspections",
        json={
            "enterprise_id": world.enterprise["id"],
            "kind": "spot_check",
            "checklist": CHECKLIST,
        },
    )
    assert inspection.status_code == 201, inspection.text
    danger = world.report()
    photo = world.client.post(
        f"/api/hidden-dangers/{danger['id']}/evidence", files={"file": ("p.png", PNG, "image/png")}
    )
    assert photo.status_code == 201, photo.text
    tables = set(
        session.scalars(
            text(
                "SELECT table_name FROM audit_log"
                " WHERE table_name IN ('inspections', 'evidence_files') AND action = 'insert'"
            )
        )
    )
    assert tables == {"inspections", "evidence_files"}
