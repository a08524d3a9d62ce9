"""Issue 13: patrol leads from wardens, tip-offs from the public, officials' decisions; a
warden's hidden-danger report inside their cells only."""

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.field.demo import cell_size_for
from app.leads import rules, service
from tests.conftest import PUBLIC
from tests.factories import DAWUKOU, LINGWU, XINGQING, enterprise_payload

# Two cells splitting 兴庆区 at longitude 106.28 (west: W, east: E).
CELLS_SQL = """
INSERT INTO grid_cells (code, name, county_code, geom, source)
SELECT c.code, c.code, '640104',
       ST_Multi(ST_CollectionExtract(ST_Intersection(r.geom, c.box), 3)), 'imported'
  FROM regions r,
       (VALUES ('640104-W', ST_MakeEnvelope(100, 30, 106.28, 45, 4326)),
               ('640104-E', ST_MakeEnvelope(106.28, 30, 110, 45, 4326))) c(code, box)
 WHERE r.code = '640104'
"""
WEST = (XINGQING[0] - 0.01, XINGQING[1])
EAST = (XINGQING[0] + 0.01, XINGQING[1])


class Grid:
    def __init__(self, client: TestClient, make_user: Callable[..., dict[str, str]]) -> None:
        self.client = client
        self.users = {
            "warden": make_user("warden", grid_cells=["640104-W"]),
            "official": make_user("official", region_code="640100"),
            "outsider": make_user("official", region_code="640200"),
            "planner": make_user("planner", region_code="640000"),
        }

    def lead(self, role: str, where: tuple[float, float], expect: int = 201, **body: Any) -> Any:
        payload = {"kind": "unregistered", "description": "无证小作坊", **body}
        response = self.client.post(
            "/api/leads",
            json={"lon": where[0], "lat": where[1], **payload},
            headers=self.users.get(role, {}),
        )
        assert response.status_code == expect, response.text
        return response.json()


@pytest.fixture
def grid(client: TestClient, make_user: Callable[..., dict[str, str]], session: Session) -> Grid:
    session.execute(text(CELLS_SQL))
    session.commit()
    return Grid(client, make_user)


def test_a_warden_reports_leads_inside_their_cells_only(grid: Grid) -> None:
    lead = grid.lead("warden", WEST, kind="new_enterprise", name="新开五金厂")
    assert lead["source"] == "warden" and lead["status"] == "new"
    assert lead["grid_code"] == "640104-W" and lead["kind_zh"].startswith("新开业")
    assert lead["actions"] == []
    assert grid.lead("warden", EAST, expect=403)["field"] == "lon,lat"
    assert grid.lead("warden", DAWUKOU, expect=403)["field"] == "lon,lat"
    assert grid.lead("outsider", WEST, expect=403)["field"] == "lon,lat"
    assert grid.lead("planner", WEST, expect=403)
    assert grid.lead("warden", (0.0, 0.0), expect=422)["field"] == "geometry"
    assert grid.lead("warden", WEST, expect=422, kind="bogus")["errors"][0]["field"] == "kind"
    response = grid.client.post(
        "/api/leads",
        json={"kind": "unregistered", "description": "x", "lon": WEST[0], "lat": WEST[1]},
        headers=PUBLIC,
    )
    assert response.status_code == 401


def test_officials_confirm_link_or_dismiss(grid: Grid) -> None:
    enterprise = grid.client.post("/api/enterprises", json=enterprise_payload()).json()
    lead = grid.lead("warden", WEST, kind="illegal_operation")
    url = f"/api/leads/{lead['id']}"
    official = grid.users["official"]
    shown = grid.client.get(url, headers=official).json()
    assert shown["actions"] == ["confirm", "dismiss"]
    warden_try = grid.client.post(
        f"{url}/decision", json={"action": "confirm"}, headers=grid.users["warden"]
    )
    assert warden_try.status_code == 403
    assert grid.client.get(url, headers=grid.users["outsider"]).status_code == 404
    link_first = grid.client.post(
        f"{url}/decision",
        json={"action": "link", "enterprise_id": enterprise["id"]},
        headers=official,
    )
    assert link_first.status_code == 409 and link_first.json()["allowed"] == ["confirm", "dismiss"]
    confirmed = grid.client.post(
        f"{url}/decision", json={"action": "confirm", "note": "属实"}, headers=official
    ).json()
    assert confirmed["status"] == "confirmed" and confirmed["enterprise_id"] is None
    unknown = grid.client.post(
        f"{url}/decision", json={"action": "link", "enterprise_id": 999_999}, headers=official
    )
    assert unknown.status_code == 422 and unknown.json()["field"] == "enterprise_id"
    linked = grid.client.post(
        f"{url}/decision",
        json={"action": "link", "enterprise_id": enterprise["id"]},
        headers=official,
    ).json()
    assert linked["enterprise_id"] == enterprise["id"] and linked["decided_by"]
    again = grid.client.post(f"{url}/decision", json={"action": "dismiss"}, headers=official)
    assert again.status_code == 409

    other = grid.lead("official", EAST, kind="closed_enterprise")
    dismissed = grid.client.post(
        f"/api/leads/{other['id']}/decision", json={"action": "dismiss"}, headers=official
    ).json()
    assert dismissed["status"] == "dismissed"
    listed = grid.client.get("/api/leads?status=confirmed", headers=official).json()
    assert [item["id"] for item in listed["items"]] == [lead["id"]]
    # Wardens read the county's leads; officials of another city none.
    assert grid.client.get("/api/leads", headers=grid.users["warden"]).json()["total"] == 2
    assert grid.client.get("/api/leads", headers=grid.users["outsider"]).json()["total"] == 0
    assert grid.client.get("/api/leads", headers=grid.users["planner"]).status_code == 403
    assert grid.client.get("/api/leads", headers=PUBLIC).status_code == 401


def test_the_public_tips_off_without_signing_in_a_few_times_an_hour(
    grid: Grid, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "TIPOFFS_PER_HOUR", 2)
    body = {
        "kind": "illegal_operation",
        "description": "夜间非法储存烟花爆竹",
        "lon": WEST[0],
        "lat": WEST[1],
        "contact": "13800000000",
    }
    receipts = [grid.client.post("/api/tipoffs", json=body, headers=PUBLIC) for _ in range(2)]
    assert [r.status_code for r in receipts] == [201, 201]
    assert set(receipts[0].json()) == {"id", "status", "received_at"}
    limited = grid.client.post("/api/tipoffs", json=body, headers=PUBLIC)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    bad = grid.client.post("/api/tipoffs", json={**body, "kind": "new_enterprise"}, headers=PUBLIC)
    assert bad.status_code == 422
    # The same list: officials see the tip-off and its contact, wardens without it.
    official = grid.client.get("/api/leads?source=public", headers=grid.users["official"]).json()
    assert official["total"] == 2 and official["items"][0]["contact"] == "13800000000"
    warden = grid.client.get("/api/leads?source=public", headers=grid.users["warden"]).json()
    assert warden["items"][0]["contact"] is None


def test_a_warden_reports_hidden_dangers_inside_their_cells(grid: Grid, session: Session) -> None:
    warden = grid.users["warden"]
    inside = grid.client.post(
        "/api/hidden-dangers",
        json={"title": "路边违规堆放液化气瓶", "lon": WEST[0], "lat": WEST[1]},
        headers=warden,
    )
    assert inside.status_code == 201, inside.text
    assert inside.json()["grid_code"] == "640104-W"
    outside = grid.client.post(
        "/api/hidden-dangers",
        json={"title": "越界", "lon": EAST[0], "lat": EAST[1]},
        headers=warden,
    )
    assert outside.status_code == 403 and outside.json()["field"] == "geometry"
    far = grid.client.post(
        "/api/hidden-dangers",
        json={"title": "越县", "lon": LINGWU[0], "lat": LINGWU[1]},
        headers=warden,
    )
    assert far.status_code == 403
    titles = session.execute(text("SELECT title FROM hidden_dangers")).scalars().all()
    assert titles == ["路边违规堆放液化气瓶"]


def test_lead_kinds_are_data_with_sources() -> None:
    kinds = rules.kinds()
    assert set(kinds) == {
        "new_enterprise",
        "closed_enterprise",
        "moved_enterprise",
        "unregistered",
        "illegal_operation",
        "other",
    }
    assert all(info.source for info in kinds.values())
    assert {k for k, info in kinds.items() if info.public} == {
        "unregistered",
        "illegal_operation",
        "other",
    }


def test_demo_cells_are_sized_for_about_sixteen_per_county() -> None:
    assert cell_size_for(645) == 6500
    assert cell_size_for(10) == 2000
