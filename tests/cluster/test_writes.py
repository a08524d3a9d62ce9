"""Issue 17: the closed loop's writes and a planning check on Citus, as on one PostgreSQL.

The same requests go to the cluster and to the single-node twin (tests/cluster/conftest.py),
committed on both, in the same order: an inspection with findings, a hidden danger's steps
with a photo as evidence, a re-grading that raises an enterprise. Every answer, and the
views that read what was written, must be equal (moments of writing aside). The file's
name puts it after the read-only comparisons of the untouched demo (test_cluster,
test_endpoints), which its committed writes would otherwise change on both sides alike,
but at other moments.
"""

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.auth.models import User
from app.auth.passwords import hash_password
from app.datetimes import china_today
from app.settings import get_settings
from tests.cluster.conftest import Twin
from tests.factories import LINGWU, XINGQING, enterprise_payload, lec_point, png

PNG = png()
# Tables written here whose ids the answers show: their sequences start alike on both
# databases (rolled-back tests before this one advanced the cluster's).
SEQUENCES = (
    "inspections",
    "hidden_dangers",
    "hidden_danger_events",
    "evidence_files",
    "assessments",
    "enterprise_level_changes",
    "spot_check_draws",
)
FIRST_ID = 500_000


def _strip(value: Any) -> Any:
    """An answer without the moments it was written (`at`, `…_at`) and request ids."""
    if isinstance(value, dict):
        return {
            k: _strip(v)
            for k, v in value.items()
            if k not in ("at", "request_id", "due") and not k.endswith("_at")
        }
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


class Both:
    """Each request sent to the cluster and to the twin; their answers compared."""

    def __init__(self, cluster: TestClient, single: TestClient) -> None:
        self.clients = (cluster, single)

    def send(self, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
        answers = [client.request(method, path, **kwargs) for client in self.clients]
        for answer in answers:
            assert answer.status_code == expect, (path, answer.text)
        bodies = [_strip(a.json()) for a in answers]
        assert bodies[0] == bodies[1], path
        return answers[1].json()


def _sequences_alike(twin: Twin) -> None:
    for engine in (twin.cluster_owner, twin.single_owner):
        with engine.begin() as connection:
            for table in SEQUENCES:
                connection.execute(
                    text("SELECT setval(pg_get_serial_sequence(:t, 'id'), :n)"),
                    {"t": table, "n": FIRST_ID},
                )


def _one(engine: Engine, query: str) -> Any:
    with engine.connect() as connection:
        return connection.execute(text(query)).one()


@pytest.fixture(scope="module")
def both(
    twin: Twin, cluster_reader: TestClient, single_reader: TestClient, tmp_path_factory: Any
) -> Iterator[Both]:
    _sequences_alike(twin)
    settings = get_settings()
    data_dir = settings.data_dir
    settings.data_dir = Path(tmp_path_factory.mktemp("evidence"))  # photos stored there
    yield Both(cluster_reader, single_reader)
    settings.data_dir = data_dir


def test_an_inspection_with_findings_and_a_danger_closed_step_by_step(
    both: Both, twin: Twin
) -> None:
    # A yellow enterprise in 灵武市 (the demo's ids are alike on both).
    enterprise = _one(
        twin.single,
        "SELECT id FROM enterprises WHERE county_code = '640181' AND risk_level = 'yellow'"
        " ORDER BY id LIMIT 1",
    ).id
    inspection = both.send(
        "POST",
        "/api/inspections",
        expect=201,
        json={
            "enterprise_id": enterprise,
            "kind": "self_check",
            "checklist": [{"item": "消防通道畅通", "ok": False}, {"item": "台账齐全", "ok": True}],
            "findings": [
                {"title": "消防通道堵塞", "grade": "general"},
                {"title": "储罐区阀门泄漏", "grade": "major"},
            ],
        },
    )
    general, major = inspection["hidden_danger_ids"]
    photo = both.send(
        "POST",
        f"/api/hidden-dangers/{general}/evidence",
        expect=201,
        files={"file": ("site.png", PNG, "image/png")},
    )
    for action, body in (
        ("register", {}),
        ("assess", {"grade": "general"}),
        ("fix_now", {"evidence": {"text": "已清理", "photos": [photo["sha256"]]}}),
        ("accept", {}),
        ("close", {}),
    ):
        both.send(
            "POST", f"/api/hidden-dangers/{general}/transitions", json={"action": action, **body}
        )
    both.send("POST", f"/api/hidden-dangers/{major}/transitions", json={"action": "register"})
    # The demo's overdue major dangers go up one supervision level (locked one by one on
    # the cluster: app/dangers/service.py).
    escalated = both.send("POST", "/api/hidden-dangers/escalations")["escalated"]
    assert escalated
    both.send("GET", f"/api/hidden-dangers/{escalated[0]['id']}/history")
    both.send("GET", "/api/hidden-dangers/inbox")
    history = both.send("GET", f"/api/hidden-dangers/{general}/history")
    assert [h["action"] for h in history][-1] == "close"
    assert history[3]["evidence"]["photos"] == [photo["sha256"]]
    both.send("GET", f"/api/hidden-dangers/{major}")
    # The views that read what was written.
    today = china_today()
    for path in (
        f"/api/inspections?enterprise={enterprise}",
        "/api/inspections/overdue?region=640181&limit=500",
        f"/api/hidden-dangers?enterprise_id={enterprise}",
        f"/api/reports/danger-statistics?year={today.year}&region=640100",
        f"/api/reports/five-batches?month={today:%Y-%m}&region=640000",
        f"/api/reports/risk-bulletin?month={today:%Y-%m}&region=640000",
        "/api/key-supervision?region=640181",
        "/api/risk/summary?parent=640100",
    ):
        both.send("GET", path)


def test_a_regrading_that_raises_an_enterprise_is_reported_alike(both: Both, twin: Twin) -> None:
    point = _one(
        twin.single,
        "SELECT r.id FROM risk_points r JOIN enterprises e ON e.id = r.enterprise_id"
        " WHERE e.county_code = '640104' AND e.risk_level = 'blue' AND r.method = 'lec'"
        " ORDER BY r.id LIMIT 1",
    )
    both.send(
        "PATCH",
        f"/api/risk-points/{point.id}",
        json={"inputs": {"l": 10, "e": 6, "c": 40}},
    )
    today = china_today()
    bulletin = both.send("GET", f"/api/reports/risk-bulletin?month={today:%Y-%m}&region=640100")
    assert bulletin["enterprises"], "the raised enterprise is in the bulletin"
    before = today - timedelta(days=1)
    both.send("GET", f"/api/risk/compare?from={before}&to={today}&region=640100")


def test_a_planning_check_alike(both: Both, twin: Twin) -> None:
    # A school 300 m north of a demo major hazard source, and an LPG station in a city.
    source = _one(
        twin.single,
        "SELECT ST_X(geom) AS lon, ST_Y(geom) AS lat FROM hazard_sources ORDER BY id LIMIT 1",
    )
    for kind, where, attributes in (
        ("school", (source.lon, source.lat + 0.0027), {"people": 900}),
        ("lpg_station", (106.28, 38.47), {"volume_m3": 300}),
    ):
        answer = both.send(
            "POST",
            "/api/planning/check",
            json={
                "kind": kind,
                "geometry": {"type": "Point", "coordinates": list(where)},
                "attributes": attributes,
            },
        )
        assert answer["verdict"] in ("pass", "fail", "warn")


def test_a_move_takes_the_history_along(client: TestClient, make_user: Any) -> None:
    """On the cluster only (rolled back): an enterprise moved to another county takes its
    inspections, its dangers' photos and steps; every view still finds them."""
    enterprise = client.post("/api/enterprises", json=enterprise_payload(XINGQING)).json()
    inspection = client.post(
        "/api/inspections",
        json={
            "enterprise_id": enterprise["id"],
            "kind": "self_check",
            "checklist": [{"item": "消防通道畅通", "ok": False}],
            "findings": [{"title": "消防通道堵塞", "grade": "general"}],
        },
    )
    assert inspection.status_code == 201, inspection.text
    (danger,) = inspection.json()["hidden_danger_ids"]
    for action in ("register", "assess"):
        body = {"action": action, **({"grade": "general"} if action == "assess" else {})}
        stepped = client.post(f"/api/hidden-dangers/{danger}/transitions", json=body)
        assert stepped.status_code == 200, stepped.text
    moved = client.patch(
        f"/api/enterprises/{enterprise['id']}",
        json={"lon": LINGWU[0], "lat": LINGWU[1], "version": enterprise["version"]},
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["county_code"] == "640181"
    listed = client.get(f"/api/inspections?enterprise={enterprise['id']}").json()["items"]
    assert [(i["id"], i["county_code"]) for i in listed] == [(inspection.json()["id"], "640181")]
    overdue = client.get(f"/api/inspections/overdue?enterprise={enterprise['id']}").json()
    assert all(item["last_inspected_at"] for item in overdue["items"])
    steps = client.get(f"/api/hidden-dangers/{danger}/history").json()
    assert [s["action"] for s in steps] == ["report", "register", "assess"]
    # A step after the move is recorded in the new county, beside the copies.
    fixed = client.post(
        f"/api/hidden-dangers/{danger}/transitions",
        json={"action": "fix_now", "evidence": {"text": "已清理"}},
    )
    assert fixed.status_code == 200, fixed.text
    steps = client.get(f"/api/hidden-dangers/{danger}/history").json()
    assert [s["action"] for s in steps] == ["report", "register", "assess", "fix_now"]
    year = china_today().year
    table = client.get(f"/api/reports/danger-statistics?year={year}&region=640181").json()
    assert table["total"]["found"] >= 1 and table["total"]["fixed"] >= 1


def test_a_spot_check_draw_alike(both: Both, twin: Twin) -> None:
    """Targets, inspectors and conflicts (the last inspector, from the distributed
    inspections) drawn alike from the same seed."""
    # A draw needs two inspectors in the region's pool.
    for engine in (twin.cluster_owner, twin.single_owner):
        with Session(engine) as session, session.begin():
            for n in (1, 2):
                session.add(
                    User(
                        id=900_000 + n,
                        username=f"spot-official-{n}",
                        role="official",
                        region_code="640181",
                        password_hash=hash_password("spot-official-password"),
                    )
                )
    both.send(
        "POST",
        "/api/spot-checks/draws",
        expect=201,
        json={"region": "640181", "period": f"{china_today():%Y-%m}", "seed": "twin"},
    )


def test_the_history_stays_append_only_on_the_shards(twin: Twin) -> None:
    """0021 distributed the history with its triggers (the TRUNCATE one re-enabled): even
    the owner cannot rewrite it."""
    for statement in (
        "DELETE FROM hidden_danger_events WHERE county_code = '640181'",
        "UPDATE hidden_danger_events SET note = 'x' WHERE county_code = '640181'",
        "TRUNCATE hidden_danger_events",
    ):
        with twin.cluster_owner.connect() as connection:
            with pytest.raises(DBAPIError, match="append-only"):
                connection.execute(text(statement))
            connection.rollback()


def _entries(answer: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Audit entries without their ids (each worker numbers its own from its range)."""
    return [{k: v for k, v in entry.items() if k != "id"} for entry in answer]


def test_the_audit_of_located_rows_alike(
    both: Both, twin: Twin, cluster_reader: TestClient, single_reader: TestClient
) -> None:
    """The same writes leave the same audit entries on the cluster (on the workers, in
    audit_log_located, migration 0023) and on one node: actor, action, table, row, county,
    before and after; GET /api/audit and the dossier's 修改记录 show them alike."""
    for engine in (twin.cluster_owner, twin.single_owner):
        with engine.begin() as connection:
            for table in ("enterprises", "risk_points"):
                connection.execute(
                    text("SELECT setval(pg_get_serial_sequence(:t, 'id'), :n)"),
                    {"t": table, "n": FIRST_ID},
                )
    enterprise = both.send(
        "POST", "/api/enterprises", expect=201, json=enterprise_payload(XINGQING, employees=40)
    )
    both.send("PATCH", f"/api/enterprises/{enterprise['id']}", json={"employees": 41})
    point = both.send(
        "POST", "/api/risk-points", expect=201, json=lec_point(enterprise["id"], 3, 6, 7)
    )
    both.send("PATCH", f"/api/risk-points/{point['id']}", json={"inputs": {"l": 6, "e": 6, "c": 7}})
    dossier = both.send("GET", f"/api/map/enterprises/{enterprise['id']}")
    assert {c["table"] for c in dossier["changes"]} == {"enterprises", "risk_points"}

    def audit(path: str) -> list[dict[str, Any]]:
        answers = [client.get(path) for client in (cluster_reader, single_reader)]
        for answer in answers:
            assert answer.status_code == 200, answer.text
        cluster, single = (_strip(_entries(a.json())) for a in answers)
        assert cluster == single, path
        return single

    mine = audit(f"/api/audit?table=enterprises&id={enterprise['id']}")
    assert mine[-1]["action"] == "insert"
    assert {e["username"] for e in mine} == {"cluster-admin"}
    assert {e["county_code"] for e in mine} == {"640104"}
    for client in (cluster_reader, single_reader):
        assert client.delete(f"/api/enterprises/{enterprise['id']}").status_code == 204
    # The delete cascades to the risk point: audited on its shard as on one node.
    points = audit(f"/api/audit?table=risk_points&id={point['id']}")
    assert points[0]["action"] == "delete"
    assert audit(f"/api/audit?table=enterprises&id={enterprise['id']}")[0]["action"] == "delete"
    # Everything written in this module, every table, newest first.
    everything = audit("/api/audit?limit=500")
    assert {"inspections", "hidden_dangers", "evidence_files"} <= {e["table"] for e in everything}
