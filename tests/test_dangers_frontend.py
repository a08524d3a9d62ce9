"""Issue 12's screens in a real browser: the hidden-danger list, detail and steps, the
officials' inbox, the major-danger map layer, spot checks and the key-supervision list —
for an official and for an enterprise account, on a desktop and on a 360×640 phone.

Uses the live server, demo and browser of tests/test_frontend.py. Screenshots go to
/work/shots/12-*.png (when that directory exists) and test-artifacts/.
"""

# The fixtures of tests/test_frontend.py are imported and then named as parameters.
# ruff: noqa: F811

import io
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from openpyxl import load_workbook
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from app.auth.models import User
from tests.test_frontend import (  # noqa: F401
    NINGXIA,
    Page,
    _session_of,
    browser,
    demo,
    server,
    sessions,
)

SHOTS = Path("/work/shots")
INSPECTORS = ("live-yc-inspector-1", "live-yc-inspector-2")
ENTERPRISE_USER = "live-ent-dangers"
YINCHUAN = "640100"


def _shot(page: Page, name: str) -> None:
    path = page.screenshot(f"12-{name}.png")
    if SHOTS.is_dir():
        shutil.copy(path, SHOTS / path.name)


@pytest.fixture(scope="module")
def extra_users(engine: Engine, password_hash: str, demo: dict[str, int]) -> Iterator[dict]:
    """Two officials of 银川市 (the spot-check inspector pool) and an enterprise account
    for a demo enterprise with hidden dangers; removed afterwards with the lists saved."""
    with Session(engine) as session, session.begin():
        enterprise_id = session.scalar(
            text(
                "SELECT enterprise_id FROM hidden_dangers WHERE id > :id AND county_code LIKE '64%'"
                " GROUP BY enterprise_id ORDER BY count(*) DESC, enterprise_id LIMIT 1"
            ),
            {"id": demo["hidden_dangers"]},
        )
        session.execute(
            text("DELETE FROM users WHERE username = ANY(:names)"),
            {"names": [*INSPECTORS, ENTERPRISE_USER]},
        )
        for name in INSPECTORS:
            session.add(
                User(
                    username=name,
                    role="official",
                    password_hash=password_hash,
                    region_code=YINCHUAN,
                )
            )
        session.add(
            User(
                username=ENTERPRISE_USER,
                role="enterprise",
                password_hash=password_hash,
                enterprise_id=enterprise_id,
            )
        )
    yield {"enterprise_id": enterprise_id}
    with Session(engine) as session, session.begin():
        session.execute(text("DELETE FROM key_supervision WHERE region_code = :r"), {"r": YINCHUAN})
        session.execute(
            text("DELETE FROM users WHERE username = ANY(:names)"),
            {"names": [*INSPECTORS, ENTERPRISE_USER]},
        )


@pytest.fixture
def official(browser, server: str, sessions: dict[str, dict]) -> Iterator[Page]:
    """The official of 宁夏 (640000)."""
    opened = Page(browser, server, session=sessions["official"])
    yield opened
    opened.close()


def _api(server: str, session: dict, path: str) -> dict:
    response = httpx.get(
        f"{server}{path}",
        headers={"Authorization": f"Bearer {session['access_token']}"},
        timeout=30,
    )
    response.raise_for_status()
    return dict(response.json())


def _open_dangers(page: Page) -> None:
    page.open("/")
    page.page.click("#btn-dangers")
    page.page.wait_for_selector("#dz-list", timeout=20_000)


def _clean(page: Page, *refused: str) -> None:
    """No console errors (but the refusals a test provoked, by address) and no CSP reports."""
    errors = [
        e
        for e in page.errors
        if not any(f"422 (Unprocessable Entity) {page.base}{r}" in e for r in refused)
    ]
    assert errors == [], page.errors
    assert page.violations == [], page.violations


def test_the_official_filters_the_list_and_opens_a_danger(
    official: Page, server: str, sessions: dict[str, dict]
) -> None:
    _open_dangers(official)
    p = official.page
    total = _api(server, sessions["official"], f"/api/hidden-dangers?region={NINGXIA}&limit=1")
    assert p.inner_text("#dz-total").replace(",", "").startswith(f"共 {total['total']}")
    _shot(official, "list-desktop")
    # Filters: major and overdue, as the API counts them.
    p.select_option("#dz-filters select[name=grade]", "major")
    p.select_option("#dz-filters select[name=overdue]", "true")
    p.click("#dz-filters button[type=submit]")
    wanted = _api(
        server,
        sessions["official"],
        f"/api/hidden-dangers?region={NINGXIA}&grade=major&overdue=true&limit=100",
    )
    if wanted["total"]:
        p.wait_for_function(
            "(n) => (document.querySelector('#dz-total') || {}).textContent?.includes(String(n))",
            arg=wanted["total"],
        )
        rows = p.locator("#dz-list tbody tr")
        assert rows.count() == min(50, wanted["total"])
        assert p.locator("#dz-list tbody tr.overdue").count() == rows.count()
        rows.first.click()
        p.wait_for_selector("#dz-detail")
        first = wanted["items"][0]
        assert first["title"] in p.inner_text("#dz-detail-title")
        assert "逾期" in p.inner_text(".dz-status")
        actions = [b.get_attribute("data-action") for b in p.locator("#dz-actions button").all()]
        assert actions == first["actions"]
        _shot(official, "detail-desktop")
    _clean(official)


def test_the_official_registers_a_reported_danger_through_its_form(
    official: Page, server: str, sessions: dict[str, dict]
) -> None:
    reported = _api(
        server,
        sessions["official"],
        f"/api/hidden-dangers?region={NINGXIA}&status=reported&limit=1",
    )["items"][0]
    _open_dangers(official)
    p = official.page
    p.select_option("#dz-filters select[name=status]", "reported")
    p.click("#dz-filters button[type=submit]")
    p.wait_for_selector(f"#dz-list tr[data-danger='{reported['id']}']")
    p.click(f"#dz-list tr[data-danger='{reported['id']}']")
    p.wait_for_selector("#dz-actions button[data-action=register]")
    p.click("#dz-actions button[data-action=register]")
    p.fill("#dz-step textarea[name=note]", "已核实，登记入册")
    p.click("#dz-step button[type=submit]")
    p.wait_for_selector("#dz-detail[data-status=registered]")
    assert "已完成：登记" in p.inner_text(".dz-message")
    timeline = p.inner_text("#dz-timeline")
    assert "登记" in timeline and "live-nx-official" in timeline and "已核实，登记入册" in timeline
    # Next: assess, with a grade select.
    p.click("#dz-actions button[data-action=assess]")
    assert p.locator("#dz-step select[name=grade] option").count() >= 2
    # A step that is no longer legal (the page is stale): 409 naming the allowed ones.
    stale = httpx.post(
        f"{server}/api/hidden-dangers/{reported['id']}/transitions",
        headers={"Authorization": f"Bearer {sessions['official']['access_token']}"},
        json={"action": "register"},
        timeout=30,
    )
    assert stale.status_code == 409 and stale.json()["allowed"] == ["assess"]
    _clean(official)


def test_the_inbox_counts_equal_the_api(
    official: Page, server: str, sessions: dict[str, dict]
) -> None:
    _open_dangers(official)
    p = official.page
    p.click("[data-tab=inbox]")
    p.wait_for_selector("#dz-inbox")
    inbox = _api(server, sessions["official"], "/api/hidden-dangers/inbox")
    for name in ("to_register", "to_assess", "to_accept", "overdue", "escalated"):
        shown = p.inner_text(f"[data-jump={name}] .v").replace(",", "")
        assert shown == str(inbox[name]["total"]), name
    _shot(official, "inbox-desktop")
    _clean(official)


def test_the_major_danger_layer_draws_open_major_dangers_by_status(
    official: Page, server: str, sessions: dict[str, dict]
) -> None:
    official.open(f"/#/{NINGXIA}")
    p = official.page
    p.wait_for_selector("#dangers-layer-toggle")
    p.check("#dangers-layer-toggle")
    p.wait_for_selector("#dangers-layer-count")
    drawn = p.locator("path.dz-marker").count()
    assert str(drawn) in p.inner_text("#dangers-layer-count").replace(",", "")
    everything = _api(server, sessions["official"], f"/api/hidden-dangers/map?region={NINGXIA}")
    assert 0 < drawn <= len(everything["features"])
    overdue = sum(1 for f in everything["features"] if f["properties"]["overdue"])
    assert p.locator("path.dz-ring").count() <= overdue
    _shot(official, "map-layer-desktop")
    p.locator("path.dz-marker").first.click(force=True)
    p.wait_for_selector(".leaflet-popup a[data-danger-open]")
    p.click(".leaflet-popup a[data-danger-open]")
    p.wait_for_selector("#dz-detail")
    _clean(official)


def test_an_enterprise_sees_and_reports_its_own(browser, server: str, extra_users: dict) -> None:
    session = _session_of(server, ENTERPRISE_USER)
    page = Page(browser, server, session=session)
    try:
        _open_dangers(page)
        p = page.page
        assert p.locator("[data-tab=inbox]").is_hidden()
        own = _api(server, session, "/api/hidden-dangers?limit=100")
        assert own["total"] > 0
        assert {i["enterprise_id"] for i in own["items"]} == {extra_users["enterprise_id"]}
        assert p.locator("#dz-list tbody tr").count() == min(50, own["total"])
        p.click("#dz-report")
        p.fill("#dz-report-new input[name=title]", "仓库灭火器过期")
        p.fill("#dz-report-new textarea[name=description]", "<b>两具</b>灭火器过期")
        p.click("#dz-report-new button[type=submit]")
        p.wait_for_selector("#dz-detail[data-status=reported]")
        assert "仓库灭火器过期" in p.inner_text("#dz-detail-title")
        assert "<b>两具</b>" in p.inner_text("#dz-detail")  # shown as text
        assert p.inner_text("#dz-actions").strip() == "当前账号在此状态下没有可执行的操作"
        _shot(page, "enterprise-desktop")
        _clean(page)
    finally:
        page.close()


def test_spot_check_draw_and_its_xlsx_on_the_page(
    official: Page, server: str, sessions: dict[str, dict], extra_users: dict
) -> None:
    _open_dangers(official)
    p = official.page
    p.click("[data-tab=spot]")
    p.fill("#spot-form input[name=region]", YINCHUAN)
    p.fill("#spot-form input[name=period]", "2026-Q4")
    p.fill("#spot-form input[name=seed]", "browser-1")
    # A draw is published for good: the first press only asks.
    before = _api(server, sessions["official"], "/api/spot-checks/draws")
    p.click("#spot-form button[type=submit]")
    p.wait_for_selector(".dz-message.info")
    assert "不可撤销" in p.inner_text(".dz-message.info")
    assert _api(server, sessions["official"], "/api/spot-checks/draws") == before
    p.click("#spot-form button[type=submit]")
    p.wait_for_selector("#spot-targets")
    draw_id = int(p.get_attribute("#spot-draw", "data-draw") or 0)
    stored = _api(server, sessions["official"], f"/api/spot-checks/draws/{draw_id}")
    assert stored["reproduced"] is True and stored["seed"] == "browser-1"
    assert p.locator("#spot-targets tbody tr").count() == len(stored["targets"])
    assert {u["username"] for u in stored["inspectors"]} <= set(INSPECTORS)
    _shot(official, "spot-desktop")
    with p.expect_download() as download:
        p.click("#spot-xlsx")
    book = load_workbook(io.BytesIO(Path(download.value.path()).read_bytes()))
    ids = [row[1] for row in book["抽查对象"].iter_rows(min_row=2, values_only=True)]
    assert ids == [t["enterprise_id"] for t in stored["targets"]]
    # The publication (公示) page of the draw, linked beside the XLSX.
    assert p.get_attribute("#spot-public", "href") == f"/spot-checks/{draw_id}"
    assert p.inner_text("#spot-public") == "公示页面"
    _clean(official)


def test_the_key_supervision_list_is_chosen_beside_its_candidates(
    official: Page, server: str, sessions: dict[str, dict], extra_users: dict
) -> None:
    _open_dangers(official)
    p = official.page
    p.click("[data-tab=key]")
    p.fill("#key-form input[name=region]", YINCHUAN)
    p.click("#key-form button[type=submit]")
    p.wait_for_selector("#key-units input[data-unit]")
    assert "2–3" in p.inner_text("#key-limits")
    p.check("#key-units input[data-unit='640104']")
    p.check("#key-units input[data-unit='640181']")
    p.fill("#key-units input[data-unit-reason='640104']", "红色企业集中")
    first = p.locator("#key-enterprises input[data-enterprise]").first
    first.check()
    p.click("#key-save")
    p.wait_for_selector(".dz-message.ok")
    saved = _api(server, sessions["official"], f"/api/key-supervision?region={YINCHUAN}")
    assert sorted(u["subject"] for u in saved["units"]) == ["640104", "640181"]
    assert {u["subject"]: u["reason"] for u in saved["units"]}["640104"] == "红色企业集中"
    assert len(saved["enterprises"]) == 1
    _shot(official, "key-desktop")
    # One county only: refused, the reason shown.
    p.uncheck("#key-units input[data-unit='640181']")
    p.click("#key-save")
    p.wait_for_selector(".dz-message.error")
    assert "2–3" in p.inner_text(".dz-message.error")
    _clean(official, "/api/key-supervision")


def test_the_screens_fit_a_phone(browser, server: str, sessions: dict[str, dict]) -> None:
    page = Page(browser, server, width=360, height=640, session=sessions["official"])
    try:
        _open_dangers(page)
        p = page.page
        fits = "() => document.querySelector('#dangers-body').scrollWidth <= 360"
        assert p.evaluate(fits)
        _shot(page, "list-phone")
        p.locator("#dz-list tbody tr").first.click()
        p.wait_for_selector("#dz-detail")
        assert p.evaluate(fits)
        _shot(page, "detail-phone")
        p.click("[data-tab=inbox]")
        p.wait_for_selector("#dz-inbox")
        assert p.evaluate(fits)
        _shot(page, "inbox-phone")
        p.click("[data-tab=spot]")
        p.wait_for_selector("#spot-recent")
        _shot(page, "spot-phone")
        p.click("#dangers-close")
        p.check("#dangers-layer-toggle")
        p.wait_for_selector("#dangers-layer-count")
        _shot(page, "map-layer-phone")
        _clean(page)
    finally:
        page.close()


def test_escape_leaves_the_view_and_the_covered_map_takes_no_focus(official: Page) -> None:
    _open_dangers(official)
    p = official.page
    covered = "['map', 'panel'].map((id) => document.getElementById(id).inert)"
    assert p.evaluate(covered) == [True, True]
    p.keyboard.press("Escape")
    p.wait_for_selector("#dangers-view", state="hidden")
    assert p.evaluate(covered) == [False, False]
    assert p.evaluate("document.activeElement.id") == "btn-dangers"
    # The header's menus close on Escape too, the focus back on their buttons.
    p.click("#btn-export")
    assert p.is_visible("#export-menu")
    p.keyboard.press("Escape")
    assert p.is_hidden("#export-menu")
    assert p.evaluate("document.activeElement.id") == "btn-export"
    _clean(official)
