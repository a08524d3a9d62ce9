"""The hidden-danger screens speak Chinese to a zh-CN user, whatever the server answered:
refusals (422/409 with `field` and `allowed`) by the names of plan items and steps, and
the timeline's notes written by the server. Real browser, live server (tests/test_frontend.py).
"""

# The fixtures of tests/test_frontend.py are imported and then named as parameters.
# ruff: noqa: F811

import re
import shutil
from datetime import timedelta
from pathlib import Path

import httpx

from app.datetimes import china_today
from tests.test_dangers_frontend import ENTERPRISE_USER, extra_users  # noqa: F401
from tests.test_frontend import (  # noqa: F401
    Page,
    _session_of,
    browser,
    demo,
    server,
    sessions,
)

SHOTS = Path("/work/shots")
# A deadline the server takes: ahead, and within the two years a step may set.
LATER = (china_today() + timedelta(days=60)).isoformat()
# English words of two letters or more: none may reach a zh-CN message.
ENGLISH = re.compile(r"[A-Za-z]{2,}")


def _shot(page: Page, name: str) -> None:
    path = page.screenshot(f"fe-{name}.png")
    if SHOTS.is_dir():
        shutil.copy(path, SHOTS / path.name)


def _post(server: str, session: dict, path: str, body: dict) -> httpx.Response:
    return httpx.post(
        f"{server}{path}",
        headers={"Authorization": f"Bearer {session['access_token']}"},
        json=body,
        timeout=30,
    )


def _assessed_major(server: str, official: dict, enterprise_id: int) -> int:
    """A major danger of the enterprise, registered and assessed: its next step is the plan."""
    created = _post(
        server,
        official,
        "/api/hidden-dangers",
        {"enterprise_id": enterprise_id, "title": "储罐区防火堤破损", "grade": "major"},
    )
    assert created.status_code == 201, created.text
    danger = int(created.json()["id"])
    for step in ({"action": "register"}, {"action": "assess", "grade": "major"}):
        answer = _post(server, official, f"/api/hidden-dangers/{danger}/transitions", step)
        assert answer.status_code == 200, answer.text
    return danger


def _open_detail(page: Page, danger: int) -> None:
    page.open("/")
    p = page.page
    p.click("#btn-dangers")
    p.wait_for_selector("#dz-list", timeout=20_000)
    p.evaluate("(id) => import('/static/js/dangers.js').then((m) => m.openDanger(id))", danger)
    p.wait_for_selector("#dz-detail[data-status]")


def test_a_plan_with_a_blank_item_is_refused_by_the_items_name(
    browser, server: str, sessions: dict[str, dict], extra_users: dict
) -> None:
    danger = _assessed_major(server, sessions["official"], extra_users["enterprise_id"])
    page = Page(browser, server, session=_session_of(server, ENTERPRISE_USER))
    try:
        _open_detail(page, danger)
        p = page.page
        p.click("#dz-actions button[data-action=plan]")
        areas = p.locator("#dz-step textarea[name^='plan.']")
        for index in range(areas.count()):
            name = areas.nth(index).get_attribute("name")
            # Blank to the server (trimmed), yet past the browser's `required`.
            areas.nth(index).fill(" " if name == "plan.funds_materials" else "已落实")
        p.fill("#dz-step input[name=deadline]", LATER)
        p.click("#dz-step button[type=submit]")
        p.wait_for_selector(".dz-message.error")
        shown = p.inner_text(".dz-message.error")
        assert shown == "操作未完成：缺少：经费和物资的落实", shown
        _shot(page, "plan-refused-desktop")
    finally:
        page.close()


def test_a_stale_step_names_the_allowed_steps_in_chinese(
    browser, server: str, sessions: dict[str, dict], extra_users: dict
) -> None:
    official = sessions["official"]
    created = _post(
        server,
        official,
        "/api/hidden-dangers",
        {
            "enterprise_id": extra_users["enterprise_id"],
            "title": "配电室门未关",
            "grade": "general",
        },
    )
    danger = int(created.json()["id"])
    page = Page(browser, server, session=official)
    try:
        _open_detail(page, danger)
        p = page.page
        p.click("#dz-actions button[data-action=register]")
        # Someone else registers it meanwhile: this page's step is no longer legal.
        done = _post(
            server, official, f"/api/hidden-dangers/{danger}/transitions", {"action": "register"}
        )
        assert done.status_code == 200
        p.click("#dz-step button[type=submit]")
        p.wait_for_selector(".dz-message.error")
        shown = p.inner_text(".dz-message.error")
        assert shown == "操作未完成：当前状态下不能执行此操作 · 当前允许的操作：评估定级", shown
        assert not ENGLISH.search(shown)
    finally:
        page.close()


def test_the_timeline_says_which_inspection_found_it_in_chinese(
    browser, server: str, sessions: dict[str, dict], extra_users: dict
) -> None:
    official = sessions["official"]
    created = _post(
        server,
        official,
        "/api/hidden-dangers",
        {
            "enterprise_id": extra_users["enterprise_id"],
            "title": "消防通道堵塞",
            "grade": "general",
        },
    )
    danger = int(created.json()["id"])
    page = Page(browser, server, session=official)

    def found_by_inspection(route) -> None:
        # The note an inspection's finding carries (app/inspections), on this danger's report.
        events = route.fetch().json()
        events[0]["note"] = "found by spot_check inspection 50"
        route.fulfill(json=events)

    try:
        page.page.route(f"**/api/hidden-dangers/{danger}/history", found_by_inspection)
        _open_detail(page, danger)
        timeline = page.page.inner_text("#dz-timeline")
        assert "由政府抽查（检查 #50）发现" in timeline, timeline
        assert "found by" not in timeline
        _shot(page, "timeline-desktop")
    finally:
        page.close()


def test_enterprise_names_and_the_plan_in_the_order_of_the_rules(
    browser, server: str, sessions: dict[str, dict], extra_users: dict
) -> None:
    official = sessions["official"]
    danger = _assessed_major(server, official, extra_users["enterprise_id"])
    items = httpx.get(f"{server}/api/hidden-dangers/lifecycle", timeout=30).json()["plan_items"]
    order = [i["name_zh"] for i in items["plan"]]
    # Sent (and stored) in the reverse order.
    plan = {i["item"]: f"第{n}项" for n, i in reversed(list(enumerate(items["plan"])))}
    enterprise = _session_of(server, ENTERPRISE_USER)
    answer = _post(
        server,
        enterprise,
        f"/api/hidden-dangers/{danger}/transitions",
        {"action": "plan", "plan": plan, "deadline": LATER},
    )
    assert answer.status_code == 200, answer.text
    name = answer.json()["enterprise_name"]
    assert name
    page = Page(browser, server, session=official)
    try:
        _open_detail(page, danger)
        p = page.page
        facts = p.inner_text("#dz-detail .facts")
        assert f"{name} ({extra_users['enterprise_id']})" in facts
        shown = p.locator(".dz-section:has(h3:text('治理方案')) dt").all_inner_texts()
        assert shown == order
        p.click("#dz-back")
        p.wait_for_selector("#dz-list")
        first = p.locator("#dz-list tbody tr").first
        listed = httpx.get(
            f"{server}/api/hidden-dangers?region=640000&limit=1",
            headers={"Authorization": f"Bearer {official['access_token']}"},
            timeout=30,
        ).json()["items"][0]
        assert f"{listed['enterprise_name']} ({listed['enterprise_id']})" in first.inner_text()
        _shot(page, "detail-plan-desktop")
    finally:
        page.close()


def test_the_major_danger_layer_has_status_colours_of_its_own(
    browser, server: str, sessions: dict[str, dict]
) -> None:
    page = Page(browser, server, session=sessions["official"])
    try:
        page.open("/#/640000")
        p = page.page
        p.wait_for_selector("#dangers-layer-toggle")
        p.check("#dangers-layer-toggle")
        p.wait_for_selector("#dangers-layer-count")
        fills = set(
            p.evaluate(
                "() => [...document.querySelectorAll('path.dz-marker')]"
                ".map((m) => m.getAttribute('fill').toLowerCase())"
            )
        )
        legend = set(
            p.evaluate(
                "() => [...document.querySelectorAll('.dz-legend .dz-dot:not(.ring)')]"
                ".map((d) => getComputedStyle(d).backgroundColor)"
            )
        )
        risk = {"#e8222d", "#f5891f", "#f7d117", "#2f6fd6"}
        assert fills and not fills & risk, fills
        assert len(legend) == 4 and not legend & {
            "rgb(232, 34, 45)",
            "rgb(245, 137, 31)",
            "rgb(247, 209, 23)",
            "rgb(47, 111, 214)",
        }
        _shot(page, "danger-layer-desktop")
    finally:
        page.close()


def test_tabs_key_supervision_and_the_public_spot_check_fit_a_phone(
    browser, server: str, sessions: dict[str, dict], extra_users: dict
) -> None:
    official = sessions["official"]
    page = Page(browser, server, width=360, height=640, session=official)
    try:
        page.open("/")
        p = page.page
        p.click("#btn-dangers")
        p.wait_for_selector("#dz-list", timeout=20_000)
        # Every tab an official has lies on the screen (the tab bar wraps, it does not scroll).
        tabs = p.evaluate(
            "() => [...document.querySelectorAll('.dz-tabs [data-tab]')].filter((t) => !t.hidden)"
            ".map((t) => { const r = t.getBoundingClientRect(); return [t.dataset.tab, r.left, r.right]; })"
        )
        assert {t[0] for t in tabs} >= {"list", "inbox", "spot", "key", "overdue", "leads"}
        assert all(left >= 0 and right <= 360 for _, left, right in tabs), tabs
        _shot(page, "tabs-phone")
        p.click("[data-tab=key]")
        p.fill("#key-form input[name=region]", "640100")
        p.click("#key-form button[type=submit]")
        p.wait_for_selector("#key-units input[data-unit]")
        # The reason (依据) inputs are shown and inside the screen.
        reason = p.locator("#key-units input[data-unit-reason]").first
        assert reason.is_visible()
        box = reason.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 360
        assert p.evaluate("() => document.querySelector('#dangers-body').scrollWidth <= 360")
        _shot(page, "key-phone")
    finally:
        page.close()
    drawn = _post(
        server,
        official,
        "/api/spot-checks/draws",
        {"region": "640100", "period": "2026-Q3", "seed": "phone-1"},
    )
    assert drawn.status_code == 201, drawn.text
    public = Page(browser, server, width=360, height=640)
    try:
        public.page.goto(f"{server}/spot-checks/{drawn.json()['id']}")
        p = public.page
        p.wait_for_selector("#targets tbody tr")
        # The table fits its box: the inspectors' column is not clipped.
        assert p.evaluate(
            "() => { const t = document.querySelector('#targets');"
            " return t.scrollWidth <= t.parentElement.clientWidth; }"
        )
        cell = p.locator("#targets tbody tr td.inspectors").first
        box = cell.bounding_box()
        assert box and box["x"] + box["width"] <= 360 and cell.inner_text().strip()
        p.locator("#targets").scroll_into_view_if_needed()
        _shot(public, "spot-public-phone")
    finally:
        public.close()


def test_a_spot_check_page_that_names_no_draw_says_not_found(browser, server: str) -> None:
    page = Page(browser, server, width=360, height=640)
    try:
        for path, status in (("abc", 404), ("0", 404), ("9" * 30, 404), ("2000000000", 200)):
            answer = page.page.goto(f"{server}/spot-checks/{path}")
            assert answer is not None and answer.status == status, path
            assert "text/html" in answer.headers["content-type"]
            page.page.wait_for_selector("#missing:not([hidden])")
            assert page.page.inner_text("#missing") == "未找到该抽查结果。"
            assert page.page.is_hidden("#draw")
        _shot(page, "spot-missing-phone")
    finally:
        page.close()


def test_back_from_a_danger_returns_to_the_list_and_leaves_the_map(
    browser, server: str, sessions: dict[str, dict]
) -> None:
    page = Page(browser, server, session=sessions["official"])
    try:
        page.open("/#/640100")
        p = page.page
        p.click("#btn-dangers")
        p.wait_for_selector("#dz-list", timeout=20_000)
        p.locator("#dz-list tbody tr").first.click()
        p.wait_for_selector("#dz-detail")
        p.go_back()
        p.wait_for_selector("#dz-list")
        assert p.evaluate("() => document.body.dataset.code") == "640100"
        assert "#/640100" in p.url
        # Again, back by the page's own link: the same list, the history entry gone.
        p.locator("#dz-list tbody tr").first.click()
        p.wait_for_selector("#dz-detail")
        p.click("#dz-back")
        p.wait_for_selector("#dz-list")
        assert p.evaluate("() => history.state") is None
        assert p.evaluate("() => document.body.dataset.code") == "640100"
    finally:
        page.close()
