"""Issue 12: double-random spot checks (双随机) — reproducible, stratified, conflict-free,
published as XLSX and as a public page."""

import io
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.inspections.frequencies import frequencies
from app.spotchecks import draw, service
from app.spotchecks.xlsx import LEVEL_ZH
from tests.conftest import PUBLIC, live_token
from tests.factories import enterprise_payload, lec_point

# LEC inputs giving each colour (D = L × E × C against geodata/risk/lec_bands.csv).
LEC = {"red": (6, 6, 15), "orange": (3, 6, 15), "yellow": (3, 6, 7), "blue": (1, 1, 1)}
WARDEN_NAME = "王网格"
LIVE_INSPECTOR = "白玉兰"
CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(os.environ.get("RISKATLAS_SHOTS", "/work/shots"))


class Region:
    """兴庆区 with a grid cell (its warden named), graded enterprises in it and four
    officials of the county as the inspector pool, one of them the cell's warden."""

    def __init__(
        self, client: TestClient, make_user: Callable[..., dict[str, str]], session: Session
    ) -> None:
        self.client = client
        self.session = session
        session.execute(
            text(
                "INSERT INTO grid_cells (code, name, county_code, geom, source, warden_name) "
                "SELECT '640104-S1', '抽查网格', '640104', geom, 'imported', :warden "
                "FROM regions WHERE code = '640104'"
            ),
            {"warden": WARDEN_NAME},
        )
        session.commit()
        self.enterprises = {
            level: [self._enterprise(level) for _ in range(count)]
            for level, count in (("red", 2), ("orange", 2), ("yellow", 2), ("blue", 3))
        }
        self.official = make_user("official", username="spot-boss", region_code="640104")
        for n in range(3):
            make_user("official", username=f"spot-inspector-{n}", region_code="640104")
        make_user(
            "official", username="spot-warden", display_name=WARDEN_NAME, region_code="640104"
        )
        self.outsider = make_user("official", region_code="640200")
        self.ids = {
            name: session.scalar(text("SELECT id FROM users WHERE username = :u"), {"u": name})
            for name in ("spot-boss", "spot-warden", "spot-inspector-0")
        }

    def _enterprise(self, level: str) -> dict[str, Any]:
        enterprise = self.client.post("/api/enterprises", json=enterprise_payload()).json()
        point = self.client.post("/api/risk-points", json=lec_point(enterprise["id"], *LEC[level]))
        assert point.status_code == 201, point.text
        got = dict(self.client.get(f"/api/enterprises/{enterprise['id']}").json())
        assert got["risk_level"] == level and got["grid_code"] == "640104-S1", got
        return got

    def draw(self, *, expect: int = 201, headers: dict[str, str] | None = None, **body: Any) -> Any:
        response = self.client.post(
            "/api/spot-checks/draws",
            headers=self.official if headers is None else headers,
            json={"region": "640104", "period": "2026-11", **body},
        )
        assert response.status_code == expect, response.text
        return response.json()


@pytest.fixture
def region(
    client: TestClient, make_user: Callable[..., dict[str, str]], session: Session
) -> Region:
    return Region(client, make_user, session)


def _ids(lists: dict[str, Any]) -> tuple[list[int], list[tuple[int, ...]]]:
    return (
        [t["enterprise_id"] for t in lists["targets"]],
        [tuple(t["inspectors"]) for t in lists["targets"]],
    )


def test_same_seed_and_pools_give_the_same_lists_and_reading_re_derives_them(
    region: Region,
) -> None:
    first = region.draw(seed="audit-2026-11")
    second = region.draw(seed="audit-2026-11")
    assert first["id"] != second["id"]
    assert _ids(first) == _ids(second)
    assert first["inspectors"] == second["inspectors"]
    read = region.client.get(f"/api/spot-checks/draws/{first['id']}", headers=region.official)
    assert read.status_code == 200, read.text
    assert read.json()["reproduced"] is True
    assert _ids(read.json()) == _ids(first)
    # The stored pools alone reproduce it (what an auditor does with the published file).
    pools = region.session.scalar(
        text("SELECT pools FROM spot_check_draws WHERE id = :id"), {"id": first["id"]}
    )
    assert _ids(draw.derive("audit-2026-11", pools)) == _ids(first)
    # Without a seed one is chosen, returned and stored.
    chosen = region.draw()
    assert len(chosen["seed"]) == 32
    again = region.draw(seed=chosen["seed"])
    assert _ids(again) == _ids(chosen)


def test_targets_are_stratified_by_colour_at_the_spot_check_frequencies(region: Region) -> None:
    intervals = frequencies()["spot_check"]
    assert intervals == {"red": 30, "orange": 61, "yellow": 92, "blue": 365}
    result = region.draw(seed="s", period="2026-11")
    drawn: dict[str, int] = {}
    for target in result["targets"]:
        drawn[target["risk_level"]] = drawn.get(target["risk_level"], 0) + 1
    # 30 days in November: every red, ceil(2×30/61) orange, ceil(2×30/92) yellow, ceil(3×30/365) blue.
    assert drawn == {"red": 2, "orange": 1, "yellow": 1, "blue": 1}
    # A pool of 100 blue over a quarter (92 days): ceil(100 × 92/365) = 26.
    pools = {
        "targets": [
            {
                "enterprise_id": i,
                "name": f"e{i}",
                "risk_level": "blue",
                "county_code": "640104",
                "grid_code": None,
            }
            for i in range(100)
        ],
        "inspectors": [
            {"user_id": 1, "username": "a", "display_name": None, "region_code": "640104"}
        ],
        "conflicts": {},
        "intervals": intervals,
        "period_days": service.period_days("2026-Q4"),
        "per_target": 2,
    }
    assert service.period_days("2026-Q4") == 92
    assert len(draw.derive("q", pools)["targets"]) == math.ceil(100 * 92 / 365) == 26
    # A year takes every blue once.
    assert len(draw.derive("y", {**pools, "period_days": 365})["targets"]) == 100


def test_a_conflict_is_never_drawn(region: Region, session: Session) -> None:
    # spot-inspector-0 made the last spot check of the first red enterprise.
    red = region.enterprises["red"][0]
    inspector = region.ids["spot-inspector-0"]
    session.execute(
        text(
            "INSERT INTO inspections (county_code, enterprise_id, kind, inspected_at, user_id,"
            " username, checklist, geom) VALUES ('640104', :e, 'spot_check', now(), :u,"
            " 'spot-inspector-0', '[]', ST_SetSRID(ST_MakePoint(106.28, 38.47), 4326))"
        ),
        {"e": red["id"], "u": inspector},
    )
    session.commit()
    warden = region.ids["spot-warden"]
    seen_warden = seen_last = 0
    for seed in range(40):
        result = region.draw(seed=f"c{seed}")
        for target in result["targets"]:
            # The cell's warden (by name) inspects none of the cell's enterprises.
            assert warden not in target["inspectors"], (seed, target)
            if target["enterprise_id"] == red["id"]:
                assert inspector not in target["inspectors"], seed
                seen_last += 1
            assert len(target["inspectors"]) == 2 and not target["short"]
        seen_warden += sum(1 for u in result["inspectors"] if u["user_id"] == warden)
    assert seen_last == 40  # red is drawn every month
    assert seen_warden == 0
    stored = session.scalar(text("SELECT pools FROM spot_check_draws ORDER BY id DESC LIMIT 1"))[
        "conflicts"
    ]
    assert {"user_id": inspector, "reason": "last_inspector"} in stored[str(red["id"])]
    assert {"user_id": warden, "reason": "grid_warden"} in stored[str(red["id"])]


def test_the_xlsx_read_back_equals_the_database(region: Region, session: Session) -> None:
    result = region.draw(seed="xlsx")
    response = region.client.get(
        f"/api/spot-checks/draws/{result['id']}/xlsx", headers=region.official
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["抽查对象", "执法检查人员", "抽取说明"]
    stored = session.execute(
        text("SELECT seed, region_code, period, result FROM spot_check_draws WHERE id = :id"),
        {"id": result["id"]},
    ).one()
    names = {
        row.id: row.name
        for row in session.execute(
            text("SELECT id, name FROM enterprises WHERE id = ANY(:ids)"),
            {"ids": [t["enterprise_id"] for t in stored.result["targets"]]},
        )
    }
    users = dict(
        session.execute(
            text("SELECT id, coalesce(display_name, :unnamed) FROM users"),
            {"unnamed": draw.UNNAMED},
        ).all()
    )
    rows = list(book["抽查对象"].iter_rows(min_row=2, values_only=True))
    assert [
        (
            n,
            t["enterprise_id"],
            names[t["enterprise_id"]],
            LEVEL_ZH[t["risk_level"]],
            "、".join(users[u] for u in t["inspectors"]),
        )
        for n, t in enumerate(stored.result["targets"], start=1)
    ] == [(r[0], r[1], r[2], r[3], r[6]) for r in rows]
    inspectors = list(book["执法检查人员"].iter_rows(min_row=2, values_only=True))
    assert [(r[1], r[5]) for r in inspectors] == [
        (u["user_id"], len(u["targets"])) for u in stored.result["inspectors"]
    ]
    about = dict(book["抽取说明"].iter_rows(values_only=True))
    assert about["随机种子"] == stored.seed == "xlsx"
    assert about["地区代码"] == stored.region_code and about["抽查周期"] == stored.period


def test_bad_draws_are_refused_naming_the_reason(region: Region, client: TestClient) -> None:
    for body, field in (
        ({"period": "2026-13"}, "period"),
        ({"period": "26-11"}, "period"),
        ({"seed": "no spaces"}, "seed"),
        ({"region": "64010"}, "region"),
    ):
        answer = region.draw(expect=422, **body)
        assert field in str(answer), answer
    # Outside the official's region; the public; a region without inspectors.
    assert region.draw(expect=403, headers=region.outsider)["field"] == "region"
    region.draw(expect=401, headers=PUBLIC)
    answer = region.draw(expect=422, headers={}, region="640105")  # the admin
    assert answer["field"] == "region"
    assert client.get("/api/spot-checks/draws/999999999").status_code == 404


def test_draws_are_append_only(region: Region, session: Session) -> None:
    result = region.draw(seed="fixed")
    with pytest.raises(DBAPIError, match="append-only"), session.begin_nested():
        session.execute(
            text("UPDATE spot_check_draws SET seed = 'other' WHERE id = :id"), {"id": result["id"]}
        )
    listed = region.client.get("/api/spot-checks/draws", headers=region.official).json()
    assert result["id"] in [item["id"] for item in listed["items"]]
    outsider = region.client.get("/api/spot-checks/draws", headers=region.outsider).json()
    assert result["id"] not in [item["id"] for item in outsider["items"]]
    hidden = region.client.get(f"/api/spot-checks/draws/{result['id']}", headers=region.outsider)
    assert hidden.status_code == 404


# What a publication (公示) may show of a draw: no ids, accounts, pools or contacts.
PUBLIC_KEYS = {"id", "region", "region_name", "period", "seed", "method", "drawn_at"}


def test_the_publication_is_public_and_shows_no_contacts(region: Region, session: Session) -> None:
    result = region.draw(seed="publish")
    response = region.client.get(f"/api/spot-checks/draws/{result['id']}/public", headers=PUBLIC)
    assert response.status_code == 200, response.text
    published = response.json()
    assert set(published) == PUBLIC_KEYS | {"targets", "inspectors"}
    assert (published["region"], published["region_name"]) == ("640104", "兴庆区")
    assert (published["period"], published["seed"]) == ("2026-11", "publish")
    codes = dict(session.execute(text("SELECT name, credit_code FROM enterprises")).all())
    assert [(t["name"], t["credit_code"], t["inspectors"]) for t in published["targets"]] == [
        (t["name"], codes[t["name"]], t["inspector_names"]) for t in result["targets"]
    ]
    assert published["inspectors"] == [
        u["display_name"] or draw.UNNAMED for u in result["inspectors"]
    ]
    for target in published["targets"]:
        assert set(target) == {"name", "credit_code", "inspectors"}
    text_of = response.text
    for hidden in ("phone", "contact", "user_id", "enterprise_id", "username", "pools"):
        assert hidden not in text_of
    book = region.client.get(f"/api/spot-checks/draws/{result['id']}/public/xlsx", headers=PUBLIC)
    assert book.status_code == 200, book.text
    workbook = load_workbook(io.BytesIO(book.content))
    rows = list(workbook["抽查对象"].iter_rows(min_row=2, values_only=True))
    assert [(r[1], r[2]) for r in rows] == [
        (t["name"], t["credit_code"]) for t in published["targets"]
    ]
    assert dict(workbook["抽取说明"].iter_rows(values_only=True))["随机种子"] == "publish"
    missing = region.client.get("/api/spot-checks/draws/999999999/public", headers=PUBLIC)
    assert missing.status_code == 404


def test_the_publication_page_in_chromium(
    live_server_url: str, live_users: dict[str, str], engine: Engine
) -> None:
    """Signed out, the page shows a draw committed through the live server (宁夏's
    enterprises drawn for a year, a red one of 兴庆区 among them; 宁夏's official inspects)."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")
    if not os.path.exists(CHROMIUM):
        pytest.skip("Chromium is not installed")
    admin = {"Authorization": f"Bearer {live_token(live_server_url, live_users['admin'])}"}
    # A second inspector of 宁夏, named (live-nx-official has no display name): two per target.
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO users (username, password_hash, role, display_name, region_code)"
                " VALUES ('live-nx-inspector', 'x', 'official', :name, '640000')"
            ),
            {"name": LIVE_INSPECTOR},
        )
    with httpx.Client(base_url=live_server_url, headers=admin, timeout=30) as http:
        enterprise = http.post("/api/enterprises", json=enterprise_payload()).json()
        point = http.post("/api/risk-points", json=lec_point(enterprise["id"], *LEC["red"]))
        drawn = http.post(
            "/api/spot-checks/draws", json={"region": "640000", "period": "2026", "seed": "page"}
        )
    problems: list[str] = []
    try:
        assert point.status_code == 201, point.text
        assert drawn.status_code == 201, drawn.text
        result = drawn.json()
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
            )
            for name, width, height in (("desktop", 1280, 800), ("phone", 360, 640)):
                page = browser.new_page(viewport={"width": width, "height": height})
                page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
                page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
                page.goto(f"{live_server_url}/spot-checks/{result['id']}")
                page.wait_for_selector("#targets tbody tr")
                assert page.inner_text("#f-seed") == "page"
                assert "宁夏" in page.inner_text("#f-region")
                cells = page.inner_text("#targets tbody")
                assert enterprise["name"] in cells and enterprise["credit_code"] in cells
                # Inspectors by display name, never by login (accounts are not published).
                assert LIVE_INSPECTOR in cells and draw.UNNAMED in cells
                assert "live-nx" not in page.inner_text("body")
                href = page.get_attribute("#xlsx", "href")
                assert href == f"/api/spot-checks/draws/{result['id']}/public/xlsx"
                SHOTS.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(SHOTS / f"12-spot-check-{name}.png"), full_page=True)
                page.close()
            assert problems == []
            page = browser.new_page()
            page.goto(f"{live_server_url}/spot-checks/999999999")
            page.wait_for_selector("#missing", state="visible")
            browser.close()
    finally:
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM users WHERE username = 'live-nx-inspector'"))
            connection.execute(
                text("DELETE FROM risk_points WHERE enterprise_id = :id"), {"id": enterprise["id"]}
            )
            connection.execute(
                text("DELETE FROM enterprises WHERE id = :id"), {"id": enterprise["id"]}
            )


def test_a_pool_of_fewer_inspectors_than_a_target_needs_is_refused(
    client: TestClient, make_user: Callable[..., dict[str, str]], session: Session
) -> None:
    """One official in 兴庆区 (the one drawing): every target would be short of the two
    inspectors 双随机 needs, so the draw is refused naming the region, nothing stored."""
    enterprise = client.post("/api/enterprises", json=enterprise_payload()).json()
    point = client.post("/api/risk-points", json=lec_point(enterprise["id"], *LEC["red"]))
    assert point.status_code == 201, point.text
    alone = make_user("official", username="spot-alone", region_code="640104")
    stored = session.scalar(text("SELECT count(*) FROM spot_check_draws"))
    response = client.post(
        "/api/spot-checks/draws",
        headers=alone,
        json={"region": "640104", "period": "2026-12", "seed": "x"},
    )
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["field"] == "region"
    assert (body["inspectors"], body["needed"]) == (1, 2)
    assert "at least 2" in body["detail"] and "检查人员" in body["detail"]
    assert session.scalar(text("SELECT count(*) FROM spot_check_draws")) == stored


def test_a_target_short_of_inspectors_is_flagged_and_the_workbook_adds_up(
    client: TestClient, make_user: Callable[..., dict[str, str]], session: Session
) -> None:
    """Two officials, one of them the last inspector of the red enterprise: that target
    gets the other alone and is marked short; the workbook says so and its counts
    reconcile (targets × 2 − shortfall = the inspectors' counts)."""
    enterprise = client.post("/api/enterprises", json=enterprise_payload()).json()
    point = client.post("/api/risk-points", json=lec_point(enterprise["id"], *LEC["red"]))
    assert point.status_code == 201, point.text
    boss = make_user(
        "official", username="spot-pair-1", display_name="马建国", region_code="640104"
    )
    make_user("official", username="spot-pair-2", display_name="李秀英", region_code="640104")
    last = session.scalar(text("SELECT id FROM users WHERE username = 'spot-pair-1'"))
    session.execute(
        text(
            "INSERT INTO inspections (county_code, enterprise_id, kind, inspected_at, user_id,"
            " username, checklist, geom) VALUES ('640104', :e, 'spot_check', now(), :u,"
            " 'spot-pair-1', '[]', ST_SetSRID(ST_MakePoint(106.28, 38.47), 4326))"
        ),
        {"e": enterprise["id"], "u": last},
    )
    session.commit()
    result = client.post(
        "/api/spot-checks/draws",
        headers=boss,
        json={"region": "640104", "period": "2026-12", "seed": "pair"},
    )
    assert result.status_code == 201, result.text
    drawn = result.json()
    target = next(t for t in drawn["targets"] if t["enterprise_id"] == enterprise["id"])
    assert target["short"] and target["inspector_names"] == ["李秀英"]
    book = load_workbook(
        io.BytesIO(client.get(f"/api/spot-checks/draws/{drawn['id']}/xlsx", headers=boss).content)
    )
    rows = {r[1]: r for r in book["抽查对象"].iter_rows(min_row=2, values_only=True)}
    assert rows[enterprise["id"]][6] == "李秀英（缺1人）"
    about = dict(book["抽取说明"].iter_rows(values_only=True))
    shortfall = sum(2 - len(t["inspectors"]) for t in drawn["targets"])
    assert about["抽取对象数"] == len(drawn["targets"]) == len(rows)
    assert about["每个对象检查人员数"] == 2
    assert about["检查人员缺额"] == shortfall >= 1
    assert about["检查人员不足的对象数"] == sum(1 for t in drawn["targets"] if t["short"])
    counted = sum(r[5] for r in book["执法检查人员"].iter_rows(min_row=2, values_only=True))
    assert counted == 2 * len(drawn["targets"]) - shortfall


def test_the_publication_names_inspectors_by_display_name_never_by_login(
    region: Region, session: Session
) -> None:
    """Accounts are not published: an inspector with a display name is shown by it, one
    without as （未登记姓名）, on the public page and in its workbook."""
    session.execute(
        text("UPDATE users SET display_name = :name WHERE username = :u"),
        {"name": "张桂兰", "u": "spot-inspector-0"},
    )
    session.commit()
    result = region.draw(seed="names", period="2026")
    response = region.client.get(f"/api/spot-checks/draws/{result['id']}/public", headers=PUBLIC)
    published = response.json()
    names = set(published["inspectors"]) | {
        name for t in published["targets"] for name in t["inspectors"]
    }
    assert "张桂兰" in names and draw.UNNAMED in names
    book = region.client.get(f"/api/spot-checks/draws/{result['id']}/public/xlsx", headers=PUBLIC)
    workbook = load_workbook(io.BytesIO(book.content))
    cells = [
        str(value)
        for sheet in workbook.worksheets
        for row in sheet.iter_rows(values_only=True)
        for value in row
        if value is not None
    ]
    assert "张桂兰" in cells and draw.UNNAMED in cells
    for text_of in (response.text, *cells):
        assert "spot-" not in text_of
