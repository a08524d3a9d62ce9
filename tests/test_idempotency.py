"""Issue 13: a retried write with the same Idempotency-Key is recorded once and answered as
the first time; the same key for another request is refused naming the header."""

import threading
import uuid
from collections.abc import Callable

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from app.idempotency import purge_expired, request_hash
from tests.conftest import live_token
from tests.factories import XINGQING, enterprise_payload, png

PNG = png()


def _count(session: Session, sql: str, **params: object) -> int:
    return int(session.execute(text(sql), params).scalar_one())


def test_a_retried_report_is_recorded_once_and_answered_the_same(
    client: TestClient, session: Session
) -> None:
    enterprise = client.post("/api/enterprises", json=enterprise_payload()).json()
    body = {"enterprise_id": enterprise["id"], "title": "消防通道堵塞"}
    key = {"Idempotency-Key": "report-" + uuid.uuid4().hex}
    first = client.post("/api/hidden-dangers", json=body, headers=key)
    again = client.post("/api/hidden-dangers", json=body, headers=key)
    assert first.status_code == again.status_code == 201, again.text
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert _count(session, "SELECT count(*) FROM hidden_dangers WHERE title = '消防通道堵塞'") == 1

    changed = client.post("/api/hidden-dangers", json={**body, "title": "另一处"}, headers=key)
    assert changed.status_code == 422 and changed.json()["field"] == "Idempotency-Key"
    assert _count(session, "SELECT count(*) FROM hidden_dangers WHERE title = '另一处'") == 0
    # Without a key every submission is a new one.
    client.post("/api/hidden-dangers", json=body)
    assert _count(session, "SELECT count(*) FROM hidden_dangers WHERE title = '消防通道堵塞'") == 2


def test_keys_are_per_user_and_refusals_are_not_kept(
    client: TestClient, session: Session, make_user: Callable[..., dict[str, str]]
) -> None:
    other = make_user("official", region_code="640100")
    key = "shared-" + uuid.uuid4().hex
    refused = client.post(
        "/api/emergency-resources",
        json={"name": "救援队", "kind": "no_such_kind", "lon": XINGQING[0], "lat": XINGQING[1]},
        headers={"Idempotency-Key": key},
    )
    assert refused.status_code == 422
    body = {"name": "救援队", "kind": "rescue_team", "lon": XINGQING[0], "lat": XINGQING[1]}
    # The refused request claimed nothing: the corrected one goes through with its key.
    mine = client.post("/api/emergency-resources", json=body, headers={"Idempotency-Key": key})
    theirs = client.post(
        "/api/emergency-resources", json=body, headers={**other, "Idempotency-Key": key}
    )
    assert mine.status_code == theirs.status_code == 201, theirs.text
    assert mine.json()["id"] != theirs.json()["id"]
    assert _count(session, "SELECT count(*) FROM emergency_resources WHERE name = '救援队'") == 2


def test_uploads_transitions_and_inspections_are_recorded_once(
    client: TestClient, session: Session
) -> None:
    enterprise = client.post("/api/enterprises", json=enterprise_payload()).json()
    danger = client.post(
        "/api/hidden-dangers", json={"enterprise_id": enterprise["id"], "title": "隐患"}
    ).json()
    url = f"/api/hidden-dangers/{danger['id']}"
    for _ in range(2):
        photo = client.post(
            f"{url}/evidence",
            files={"file": ("p.png", PNG, "image/png")},
            headers={"Idempotency-Key": "photo-1"},
        )
        assert photo.status_code == 201, photo.text
    assert (
        _count(session, "SELECT count(*) FROM evidence_files WHERE danger_id = :d", d=danger["id"])
        == 1
    )
    other_photo = client.post(
        f"{url}/evidence",
        files={"file": ("p.png", PNG + b"x", "image/png")},
        headers={"Idempotency-Key": "photo-1"},
    )
    assert other_photo.status_code == 422 and other_photo.json()["field"] == "Idempotency-Key"

    for _ in range(2):
        step = client.post(
            f"{url}/transitions", json={"action": "register"}, headers={"Idempotency-Key": "reg-1"}
        )
        assert step.status_code == 200 and step.json()["status"] == "registered", step.text
    steps = "SELECT count(*) FROM hidden_danger_events WHERE danger_id = :d"
    assert _count(session, steps, d=danger["id"]) == 2  # report, register

    inspection = {
        "enterprise_id": enterprise["id"],
        "kind": "spot_check",
        "checklist": [{"item": "消防通道", "ok": False}],
        "findings": [{"title": "灭火器过期"}],
    }
    answers = [
        client.post("/api/inspections", json=inspection, headers={"Idempotency-Key": "insp-1"})
        for _ in range(2)
    ]
    assert [a.status_code for a in answers] == [201, 201]
    assert answers[0].json() == answers[1].json()
    found = "SELECT count(*) FROM inspections WHERE enterprise_id = :e"
    assert _count(session, found, e=enterprise["id"]) == 1
    assert _count(session, "SELECT count(*) FROM hidden_dangers WHERE title = '灭火器过期'") == 1


def test_the_request_hash_ignores_formatting_not_content() -> None:
    assert request_hash("POST", "/a", {"x": {"b": 1, "a": 2}}) == request_hash(
        "POST", "/a", {"x": {"a": 2, "b": 1}}
    )
    assert request_hash("POST", "/a", {"x": 1}) != request_hash("POST", "/b", {"x": 1})


def test_old_keys_are_purged(client: TestClient, session: Session) -> None:
    body = {"name": "旧键", "kind": "rescue_team", "lon": XINGQING[0], "lat": XINGQING[1]}
    client.post("/api/emergency-resources", json=body, headers={"Idempotency-Key": "old-1"})
    session.execute(
        text(
            "UPDATE idempotency_keys SET created_at = now() - interval '8 days' WHERE key = 'old-1'"
        )
    )
    assert purge_expired(session) >= 1
    assert _count(session, "SELECT count(*) FROM idempotency_keys WHERE key = 'old-1'") == 0


def test_copies_racing_each_other_are_recorded_once(
    live_server_url: str, live_users: dict[str, str], engine: Engine
) -> None:
    """Two copies of one submission sent at once over HTTP: one row, one answer."""
    token = live_token(live_server_url, live_users["admin"])
    name = f"并发-{uuid.uuid4().hex[:8]}"
    body = {"name": name, "kind": "rescue_team", "lon": XINGQING[0], "lat": XINGQING[1]}
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "race-" + name[3:]}
    answers: list[httpx.Response] = []

    def send() -> None:
        answers.append(
            httpx.post(
                f"{live_server_url}/api/emergency-resources", json=body, headers=headers, timeout=30
            )
        )

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [a.status_code for a in answers] == [201] * 4, [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    with engine.begin() as connection:
        rows = connection.execute(
            text("DELETE FROM emergency_resources WHERE name = :n"), {"n": name}
        ).rowcount
    assert rows == 1
