"""Issue 12: the hidden-danger closed loop, enforced from the data in geodata/dangers."""

import csv
import re
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.auth.scope import ROLES, Scope
from app.dangers import evidence, rules, service
from app.dangers.models import DANGER_STATUSES, HiddenDanger
from app.datetimes import china_today
from app.settings import FRONTEND_DIR, GEODATA_DIR, get_settings
from tests.conftest import PUBLIC
from tests.factories import DONGLI, enterprise_payload, png

TODAY = china_today()
LATER = (TODAY + timedelta(days=30)).isoformat()
PLAN = {
    "objectives": "消除泄漏",
    "measures": "更换阀门",
    "funds_materials": "20万元",
    "organisation_people": "设备部 张三",
    "time_limit": "30天",
    "safety_contingency": "停用储罐，编制应急预案",
}
FIVE = {
    "responsibility": "车间主任",
    "measures": "补装护栏",
    "funds": "2000元",
    "deadline": "7天",
    "contingency_plan": "设警戒区",
}
PNG = png()
ADMIN = Scope(role="admin", username="clock", write_prefix="")


class World:
    """An enterprise in 兴庆区 and a user of every role around it."""

    def __init__(self, client: TestClient, make_user: Callable[..., dict[str, str]]) -> None:
        self.client = client
        self.enterprise = client.post("/api/enterprises", json=enterprise_payload()).json()
        self.users = {
            "admin": {},
            "official": make_user("official", region_code="640100"),
            "enterprise": make_user("enterprise", enterprise_id=self.enterprise["id"]),
            "warden": make_user("warden", grid_cells=["640104-X1"]),
            "planner": make_user("planner", region_code="640000"),
            "outsider": make_user("official", region_code="640200"),
        }

    def report(self, role: str = "enterprise", **body: Any) -> dict[str, Any]:
        response = self.client.post(
            "/api/hidden-dangers",
            headers=self.users[role],
            json={"enterprise_id": self.enterprise["id"], "title": "储罐区阀门泄漏", **body},
        )
        assert response.status_code == 201, response.text
        return dict(response.json())

    def step(
        self,
        danger: dict[str, Any],
        role: str,
        action: str,
        *,
        expect: int = 200,
        headers: dict[str, str] | None = None,
        **body: Any,
    ) -> dict[str, Any]:
        response = self.client.post(
            f"/api/hidden-dangers/{danger['id']}/transitions",
            headers={**self.users[role], **(headers or {})},
            json={"action": action, **body},
        )
        assert response.status_code == expect, response.text
        return dict(response.json())

    def history(self, danger: dict[str, Any]) -> list[dict[str, Any]]:
        response = self.client.get(f"/api/hidden-dangers/{danger['id']}/history")
        assert response.status_code == 200, response.text
        return list(response.json())


@pytest.fixture
def world(client: TestClient, make_user: Callable[..., dict[str, str]], session: Session) -> World:
    # The warden's cell covers 兴庆区: the warden reads the county's dangers.
    session.execute(
        text(
            "INSERT INTO grid_cells (code, name, county_code, geom, source) "
            "SELECT '640104-X1', '测试网格', '640104', geom, 'imported' "
            "FROM regions WHERE code = '640104'"
        )
    )
    session.commit()
    return World(client, make_user)


def _csv(name: str) -> list[dict[str, str]]:
    with (GEODATA_DIR / "dangers" / name).open(encoding="utf-8") as file:
        return list(csv.DictReader(file))


def test_lifecycle_data_is_complete_and_sourced() -> None:
    statuses = {row["status"] for row in _csv("statuses.csv")}
    assert statuses == set(DANGER_STATUSES)
    for step in rules.steps():
        assert {step.source, step.target} <= statuses
        assert step.roles <= set(ROLES), step
        assert step.path in ("any", "major", "general")
    assert rules.plan_items()["plan"] == tuple(PLAN)
    assert rules.plan_items()["five_items"] == tuple(FIVE)
    assert set(rules.grades()) == {"general", "larger", "major"}
    assert list(rules.supervision_levels()) == ["street", "district", "city"]
    for name in (
        "statuses.csv",
        "transitions.csv",
        "grades.csv",
        "plan_items.csv",
        "supervision_levels.csv",
    ):
        assert all(row["source"].strip() for row in _csv(name)), name


def test_major_danger_goes_the_whole_way_each_step_by_its_role(world: World) -> None:
    danger = world.report(grade="major")
    assert danger["status"] == "reported" and danger["actions"] == []
    # (role taking the step, roles refused with 403, action, inputs, status after)
    path: list[tuple[str, tuple[str, ...], str, dict[str, Any], str]] = [
        ("official", ("enterprise", "warden"), "register", {}, "registered"),
        ("official", ("enterprise",), "assess", {"grade": "major"}, "assessed"),
        ("enterprise", ("official",), "plan", {"plan": PLAN, "deadline": LATER}, "planned"),
        ("enterprise", ("official",), "report_to_regulator", {}, "reported_to_regulator"),
        (
            "official",
            ("enterprise",),
            "supervise",
            {"supervision_level": "street", "deadline": LATER},
            "supervised",
        ),
        ("enterprise", ("official",), "start_treatment", {}, "rectifying"),
        (
            "enterprise",
            ("official",),
            "complete",
            {"evidence": {"text": "阀门已更换"}},
            "rectified",
        ),
        ("official", ("enterprise",), "accept", {}, "accepted"),
        ("official", ("enterprise",), "verify", {}, "verified"),
        ("official", ("enterprise", "warden"), "close", {}, "closed"),
    ]
    for role, refused, action, body, status in path:
        for other in refused:
            refusal = world.step(danger, other, action, expect=403, **body)
            assert refusal["field"] == "action"
        danger = world.step(danger, role, action, note=f"{action} done", **body)
        assert danger["status"] == status, action
    assert danger["closed_at"] is not None and danger["supervision_level"] == "street"
    assert danger["plan"] == PLAN and danger["deadline"] == LATER
    history = world.history(danger)
    assert [h["action"] for h in history] == ["report"] + [p[2] for p in path]
    assert [h["to_status"] for h in history][1:] == [p[4] for p in path]
    assert all(h["username"] and h["at"] and h["location"]["lon"] for h in history)
    assert history[3]["plan"] == PLAN and history[5]["supervision_level"] == "street"


def test_admin_may_take_any_step(world: World) -> None:
    danger = world.report(role="admin", grade="general")
    for action, body in (
        ("register", {}),
        ("assess", {"grade": "general"}),
        ("fix_now", {"evidence": {"text": "已整改"}}),
        ("accept", {}),
        ("close", {}),
    ):
        danger = world.step(danger, "admin", action, **body)
    assert danger["status"] == "closed"


def test_general_danger_fixed_at_once_closes_without_verification(world: World) -> None:
    danger = world.report()
    danger = world.step(danger, "official", "register")
    danger = world.step(danger, "official", "assess", grade="general")
    assert danger["actions"] == []  # the official waits for the enterprise
    assert world.step(danger, "enterprise", "plan", expect=409, plan=PLAN, deadline=LATER)[
        "allowed"
    ] == ["fix_now", "schedule"]
    danger = world.step(danger, "enterprise", "fix_now", evidence={"text": "护栏已补装"})
    assert danger["status"] == "rectified"
    danger = world.step(danger, "official", "accept")
    refused = world.step(danger, "official", "verify", expect=409)
    assert refused["allowed"] == ["close"] and refused["field"] == "action"
    assert world.step(danger, "official", "close")["status"] == "closed"


def test_general_danger_by_deadline_needs_the_five_items_and_may_be_rejected(world: World) -> None:
    danger = world.report()
    danger = world.step(danger, "official", "register")
    danger = world.step(danger, "official", "assess", grade="general")
    partial = {k: v for k, v in FIVE.items() if k != "funds"}
    refused = world.step(danger, "enterprise", "schedule", expect=422, plan=partial, deadline=LATER)
    assert refused["field"] == "plan.funds"
    danger = world.step(danger, "enterprise", "schedule", plan=FIVE, deadline=LATER)
    assert danger["status"] == "rectifying" and danger["deadline"] == LATER
    danger = world.step(danger, "enterprise", "complete", evidence={"text": "完成"})
    assert world.step(danger, "official", "reject", expect=422)["field"] == "note"
    danger = world.step(danger, "official", "reject", note="护栏高度不足")
    assert danger["status"] == "rectifying"


def test_illegal_steps_get_409_naming_the_allowed_ones(world: World) -> None:
    danger = world.report()
    for action in ("accept", "close", "assess", "plan"):
        refused = world.step(danger, "official", action, expect=409)
        assert refused["allowed"] == ["register"], action
    unknown = world.step(danger, "official", "teleport", expect=422)
    assert unknown["field"] == "action" and "register" in unknown["allowed"]
    assert [h["action"] for h in world.history(danger)] == ["report"]


def test_roles_without_the_right_are_refused(world: World) -> None:
    danger = world.report()
    assert world.step(danger, "warden", "register", expect=403)["field"] == "action"
    world.step(danger, "planner", "register", expect=404)  # planners do not see dangers
    world.step(danger, "outsider", "register", expect=404)  # another city's official
    response = world.client.post(
        f"/api/hidden-dangers/{danger['id']}/transitions",
        headers=PUBLIC,
        json={"action": "register"},
    )
    assert response.status_code == 404
    # A warden reports dangers found on patrol in its cells (which cover the county here).
    for role, status in (("warden", 201), ("planner", 403)):
        response = world.client.post(
            "/api/hidden-dangers",
            headers=world.users[role],
            json={"enterprise_id": world.enterprise["id"], "title": "x"},
        )
        assert response.status_code == status, role
    response = world.client.post(
        "/api/hidden-dangers",
        headers=PUBLIC,
        json={"enterprise_id": world.enterprise["id"], "title": "x"},
    )
    assert response.status_code == 401


def test_bad_inputs_are_refused_naming_the_field_and_nothing_is_written(
    world: World, session: Session
) -> None:
    danger = world.report(grade="major")
    danger = world.step(danger, "official", "register")
    assert world.step(danger, "official", "assess", expect=422)["field"] == "grade"
    danger = world.step(danger, "official", "assess", grade="major")
    before = world.history(danger)
    yesterday = (TODAY - timedelta(days=1)).isoformat()
    for body, field in (
        ({"plan": PLAN, "deadline": yesterday}, "deadline"),
        ({"plan": PLAN}, "deadline"),
        ({"plan": {**PLAN, "funds_materials": " "}, "deadline": LATER}, "plan.funds_materials"),
        ({"plan": {**PLAN, "extra": "x"}, "deadline": LATER}, "plan.extra"),
        ({"plan": PLAN, "deadline": LATER, "evidence": {"photos": ["0" * 64]}}, "evidence.photos"),
    ):
        assert world.step(danger, "enterprise", "plan", expect=422, **body)["field"] == field
    assert world.history(danger) == before
    stored = session.get(HiddenDanger, danger["id"])
    assert stored is not None and stored.status == "assessed" and stored.plan is None


def test_larger_grade_exists_only_where_the_province_uses_it(world: World) -> None:
    danger = world.report(grade="larger")  # 宁夏 grades 较大 too
    assert danger["grade"] == "larger"
    tianjin = world.client.post("/api/enterprises", json=enterprise_payload(DONGLI)).json()
    response = world.client.post(
        "/api/hidden-dangers",
        json={"enterprise_id": tianjin["id"], "title": "x", "grade": "larger"},
    )
    assert response.status_code == 422 and response.json()["field"] == "grade"
    assert response.json()["allowed"] == ["general", "major"]
    count = world.client.get(f"/api/hidden-dangers?enterprise_id={tianjin['id']}").json()
    assert count["total"] == 0  # nothing partly written


def test_history_is_append_only(world: World, session: Session) -> None:
    danger = world.report()
    for statement in (
        "UPDATE hidden_danger_events SET note = 'rewritten' WHERE danger_id = :id",
        "DELETE FROM hidden_danger_events WHERE danger_id = :id",
    ):
        with pytest.raises(DBAPIError, match="append-only"), session.begin_nested():
            session.execute(text(statement), {"id": danger["id"]})
    assert len(world.history(danger)) == 1


def test_a_retried_submission_is_recorded_once(world: World) -> None:
    danger = world.report()
    key = {"Idempotency-Key": "register-7f3a"}
    first = world.step(danger, "official", "register", headers=key)
    again = world.step(danger, "official", "register", headers=key)
    assert first["status"] == again["status"] == "registered"
    assert [h["action"] for h in world.history(danger)] == ["report", "register"]
    # Another key is another submission: from `registered`, register is illegal.
    world.step(danger, "official", "register", expect=409, headers={"Idempotency-Key": "k2"})


def test_photos_are_checked_stored_by_hash_and_cited_as_evidence(
    world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setattr(get_settings(), "data_dir", tmp_path)
    danger = world.report()
    url = f"/api/hidden-dangers/{danger['id']}/evidence"
    owner = world.users["enterprise"]
    response = world.client.post(url, headers=owner, files={"file": ("site.png", PNG, "image/png")})
    assert response.status_code == 201, response.text
    photo = response.json()
    assert photo["content_type"] == "image/png" and photo["size"] == len(PNG)
    assert (tmp_path / "evidence" / photo["sha256"]).read_bytes() == PNG
    fake = world.client.post(
        url, headers=owner, files={"file": ("x.jpg", b"GIF89a not a photo", "image/jpeg")}
    )
    assert fake.status_code == 422 and fake.json()["field"] == "file"
    # The danger lies in the warden's cell: a patrol may add its photos.
    assert (
        world.client.post(
            url, headers=world.users["warden"], files={"file": ("w.png", PNG, "image/png")}
        ).status_code
        == 201
    )
    monkeypatch.setattr(evidence, "MAX_PHOTO_BYTES", 32)
    big = world.client.post(url, headers=owner, files={"file": ("big.png", PNG, "image/png")})
    assert big.status_code == 413 and big.json()["field"] == "file"
    shown = world.client.get(f"{url}/{photo['sha256']}")
    assert shown.status_code == 200 and shown.content == PNG
    assert shown.headers["content-type"] == "image/png"

    danger = world.step(danger, "official", "register")
    danger = world.step(danger, "official", "assess", grade="general")
    danger = world.step(
        danger, "enterprise", "fix_now", evidence={"text": "已整改", "photos": [photo["sha256"]]}
    )
    assert world.history(danger)[-1]["evidence"]["photos"] == [photo["sha256"]]


def test_lists_filter_and_scope(world: World) -> None:
    major = world.report(grade="major")
    general = world.report()
    world.step(general, "official", "register")

    def ids(query: str, role: str = "admin") -> set[int]:
        response = world.client.get(f"/api/hidden-dangers?{query}", headers=world.users[role])
        assert response.status_code == 200, response.text
        return {item["id"] for item in response.json()["items"]}

    assert ids("grade=major") >= {major["id"]} and general["id"] not in ids("grade=major")
    assert ids("status=registered") >= {general["id"]}
    assert ids(f"enterprise_id={world.enterprise['id']}", "enterprise") == {
        major["id"],
        general["id"],
    }
    assert ids("region=640104", "official") >= {major["id"], general["id"]}
    assert not ids("", "outsider") & {major["id"], general["id"]}
    assert not ids("overdue=true") & {major["id"], general["id"]}
    assert ids("sector=危险化学品", "official") >= {major["id"]}
    assert (
        world.client.get("/api/hidden-dangers", headers=world.users["planner"]).status_code == 403
    )
    assert (
        world.client.get(
            f"/api/hidden-dangers/{major['id']}", headers=world.users["outsider"]
        ).status_code
        == 404
    )


def _major_under_treatment(world: World, deadline: date) -> dict[str, Any]:
    danger = world.report(grade="major")
    danger = world.step(danger, "official", "register")
    danger = world.step(danger, "official", "assess", grade="major")
    danger = world.step(danger, "enterprise", "plan", plan=PLAN, deadline=deadline.isoformat())
    danger = world.step(danger, "enterprise", "report_to_regulator")
    return world.step(danger, "enterprise", "start_treatment")


def test_overdue_major_dangers_escalate_street_district_city(
    world: World, session: Session
) -> None:
    deadline = TODAY + timedelta(days=3)
    danger = _major_under_treatment(world, deadline)
    row = session.get(HiddenDanger, danger["id"])
    assert row is not None
    assert not service.is_overdue(row, deadline)
    assert service.is_overdue(row, deadline + timedelta(days=1))

    day = deadline + timedelta(days=1)
    levels = []
    for _ in range(4):
        escalated = service.escalate_overdue(session, scope=ADMIN, today=day)
        assert service.escalate_overdue(session, scope=ADMIN, today=day) == []  # once a day
        levels.append([d.supervision_level for d in escalated if d.id == danger["id"]])
        day += timedelta(days=rules.supervision_levels()["street"].days_to_respond + 1)
    assert levels == [["street"], ["district"], ["city"], []]
    session.refresh(row)
    assert row.escalated_at is not None and service.is_overdue(row, day)
    escalations = [h for h in world.history(danger) if h["action"] == "escalate"]
    assert [h["supervision_level"] for h in escalations] == ["street", "district", "city"]

    page = service.list_dangers(
        session, scope=ADMIN, today=day, limit=10, offset=0, overdue=True, supervision_level="city"
    )
    assert danger["id"] in {item["id"] for item in page["items"]}
    inbox = service.inbox(session, scope=ADMIN, today=day, region="640104")
    assert danger["id"] in {item["id"] for item in inbox["overdue"]["items"]}
    assert danger["id"] in {item["id"] for item in inbox["escalated"]["items"]}


def test_general_dangers_do_not_escalate_and_rectified_ones_are_not_overdue(
    world: World, session: Session
) -> None:
    danger = world.report()
    danger = world.step(danger, "official", "register")
    danger = world.step(danger, "official", "assess", grade="general")
    danger = world.step(danger, "enterprise", "schedule", plan=FIVE, deadline=LATER)
    later = date.fromisoformat(LATER) + timedelta(days=1)
    assert all(
        d.id != danger["id"] for d in service.escalate_overdue(session, scope=ADMIN, today=later)
    )
    row = session.get(HiddenDanger, danger["id"])
    assert row is not None and service.is_overdue(row, later)
    danger = world.step(danger, "enterprise", "complete", evidence={"text": "完成"})
    session.refresh(row)
    assert not service.is_overdue(row, later)


def test_inbox_lists_what_waits_on_officials(world: World) -> None:
    reported = world.report()
    done = world.report()
    done = world.step(done, "official", "register")
    done = world.step(done, "official", "assess", grade="general")
    done = world.step(done, "enterprise", "fix_now", evidence={"text": "完成"})
    inbox = world.client.get(
        "/api/hidden-dangers/inbox?region=640104", headers=world.users["official"]
    )
    assert inbox.status_code == 200, inbox.text
    body = inbox.json()
    assert reported["id"] in {item["id"] for item in body["to_register"]["items"]}
    assert done["id"] in {item["id"] for item in body["to_accept"]["items"]}
    assert body["to_accept"]["items"][0]["actions"] == ["accept", "reject"]
    for role, status in (("enterprise", 403), ("warden", 403), ("planner", 403)):
        assert (
            world.client.get("/api/hidden-dangers/inbox", headers=world.users[role]).status_code
            == status
        )
    assert world.client.get("/api/hidden-dangers/inbox", headers=PUBLIC).status_code == 401
    escalation = world.client.post(
        "/api/hidden-dangers/escalations", headers=world.users["official"]
    )
    assert escalation.status_code == 200 and escalation.json()["escalated"] == []


def test_an_open_major_danger_raises_its_enterprise(world: World) -> None:
    def level() -> str | None:
        return world.client.get(f"/api/enterprises/{world.enterprise['id']}").json()["risk_level"]

    assert level() is None
    world.report(grade="major")
    assert level() is not None


def test_places_deadlines_and_photos_that_cannot_be_right_are_refused(
    world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setattr(get_settings(), "data_dir", tmp_path)
    danger = world.report()
    danger = world.step(danger, "official", "register")
    danger = world.step(danger, "official", "assess", grade="general")
    # A step taken off the coast of Africa: a typo, not a place in China.
    assert (
        world.step(
            danger, "enterprise", "fix_now", expect=422, lon=2, lat=38, evidence={"text": "已整改"}
        )["field"]
        == "lon,lat"
    )
    # A deadline that never comes keeps a danger from ever being overdue.
    far = world.step(danger, "enterprise", "schedule", expect=422, plan=FIVE, deadline="9999-12-31")
    assert far["field"] == "deadline"
    url = f"/api/hidden-dangers/{danger['id']}/evidence"
    owner = world.users["enterprise"]
    # PNG's first bytes on a file cut after 30 bytes are not a photo.
    cut = world.client.post(url, headers=owner, files={"file": ("c.png", PNG[:30], "image/png")})
    assert cut.status_code == 422 and cut.json()["field"] == "file"
    danger = world.step(danger, "enterprise", "fix_now", evidence={"text": "已整改"})
    danger = world.step(danger, "official", "accept")
    danger = world.step(danger, "official", "close")
    # A closed record is final: no photo is added to it.
    late = world.client.post(url, headers=owner, files={"file": ("p.png", PNG, "image/png")})
    assert late.status_code == 409 and late.json()["field"] == "status"
    assert not list((tmp_path / "evidence").glob("*"))


def test_list_detail_and_inbox_name_the_enterprise(world: World) -> None:
    """The screens show the enterprise's name, not its id: list, detail, inbox and a step's
    answer carry `enterprise_name` (the enterprise's own account reads it too)."""
    danger = world.report()
    name = world.enterprise["name"]
    assert danger["enterprise_name"] == name
    for role in ("admin", "official", "enterprise"):
        headers = world.users[role]
        listed = world.client.get(
            f"/api/hidden-dangers?enterprise_id={world.enterprise['id']}", headers=headers
        ).json()["items"]
        assert {d["enterprise_name"] for d in listed} == {name}, role
        one = world.client.get(f"/api/hidden-dangers/{danger['id']}", headers=headers).json()
        assert one["enterprise_name"] == name
    inbox = world.client.get("/api/hidden-dangers/inbox", headers=world.users["official"]).json()
    waiting = [d for d in inbox["to_register"]["items"] if d["id"] == danger["id"]]
    assert waiting and waiting[0]["enterprise_name"] == name
    assert world.step(danger, "official", "register")["enterprise_name"] == name
    # Outside the caller's region the danger (and so the name) is not found.
    outsider = world.client.get(
        f"/api/hidden-dangers/{danger['id']}", headers=world.users["outsider"]
    )
    assert outsider.status_code == 404 and name not in outsider.text


def test_the_list_puts_what_needs_work_first(world: World) -> None:
    """Open before closed, the nearest deadline first, then the newest report."""
    closed = world.report()
    closed = world.step(closed, "official", "register")
    closed = world.step(closed, "official", "assess", grade="general")
    closed = world.step(closed, "enterprise", "fix_now", evidence={"text": "已清理"})
    closed = world.step(closed, "official", "accept")
    closed = world.step(closed, "official", "close")
    due = _major_under_treatment(world, TODAY + timedelta(days=5))
    older = world.report()
    newer = world.report()
    query = f"/api/hidden-dangers?enterprise_id={world.enterprise['id']}&limit=100"
    listed = world.client.get(query, headers=world.users["admin"]).json()["items"]
    order = [item["id"] for item in listed]
    assert order == [due["id"], newer["id"], older["id"], closed["id"]]


def test_the_pages_name_each_status_as_the_lifecycle_data_does() -> None:
    """The web pages' Chinese status names are geodata/dangers/statuses.csv's (a bracketed
    gloss may be left out): one name for one status on every screen."""
    strings = (FRONTEND_DIR / "js" / "i18n.js").read_text(encoding="utf-8")
    chinese = strings.split("\n  en: {")[0]
    labels = dict(re.findall(r"'status\.(\w+)': '([^']+)'", chinese))
    for row in _csv("statuses.csv"):
        name = row["name_zh"]
        assert labels[row["status"]] in (name, re.sub(r"（.*?）", "", name)), row["status"]


def test_the_history_names_who_acted_by_the_name_they_sign(world: World, session: Session) -> None:
    danger = world.report()
    world.step(danger, "official", "register")
    step = world.history(danger)[-1]
    session.execute(
        text("UPDATE users SET display_name = '方忠雪' WHERE username = :u"),
        {"u": step["username"]},
    )
    session.commit()
    step = world.history(danger)[-1]
    assert step["display_name"] == "方忠雪" and step["username"].startswith("official-")
