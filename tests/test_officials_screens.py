"""Follow-ups of issues 14 and 13 in the officials' web map, in a real browser: a hazard
source's setback zones drawn from its dossier (GET /api/planning/zones/{id}), and the leads
tab (patrol leads and tip-offs: list, filters, the place on the map, decisions and the
server's refusals) — on a desktop and on a 360×640 phone.

Uses the live server, demo and browser of tests/test_frontend.py. Screenshots go to
/work/shots/2a-*.png (when that directory exists) and test-artifacts/.
"""

# The fixtures of tests/test_frontend.py are imported and then named as parameters.
# ruff: noqa: F811

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from app.auth.models import User
from tests.factories import XINGQING, enterprise_payload
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
ENTERPRISE_USER = "live-ent-zones"
HOSTILE_SCHOOL = '<img src=x onerror="alert(1)">实验小学'


def _shot(page: Page, name: str) -> None:
    path = page.screenshot(f"2a-{name}.png")
    if SHOTS.is_dir():
        shutil.copy(path, SHOTS / path.name)


def _call(server: str, session: dict, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(
        method,
        f"{server}{path}",
        headers={"Authorization": f"Bearer {session['access_token']}"},
        timeout=30,
        **kwargs,
    )


def _get(server: str, session: dict, path: str) -> Any:
    response = _call(server, session, "GET", path)
    response.raise_for_status()
    return response.json()


@pytest.fixture(scope="module")
def made(
    server: str, sessions: dict[str, dict], engine: Engine, password_hash: str
) -> Iterator[dict[str, int]]:
    """An enterprise in 兴庆区 with a chlorine store, a school 150 m away (inside its setback),
    an enterprise account for it, and three new leads; removed afterwards."""
    admin = sessions["admin"]
    where = (XINGQING[0] + 0.013, XINGQING[1] + 0.011)

    def post(path: str, body: dict) -> int:
        response = _call(server, admin, "POST", path, json=body)
        assert response.status_code == 201, response.text
        return int(response.json()["id"])

    enterprise = post("/api/enterprises", enterprise_payload(where, name="氯碱化工（测试）"))
    source = post(
        "/api/hazard-sources",
        {
            "enterprise_id": enterprise,
            "name": "液氯储罐区",
            "unit_type": "storage",
            "substances": [{"cas": "7782-50-5", "quantity_t": 10}],
            "lon": where[0],
            "lat": where[1],
        },
    )
    school = post(
        "/api/public-zones",
        {"name": HOSTILE_SCHOOL, "kind": "school", "lon": where[0] + 0.0012, "lat": where[1]},
    )
    leads = [
        post(
            "/api/leads",
            {
                "kind": kind,
                "description": description,
                "name": name,
                "lon": where[0] + 0.002 * i,
                "lat": where[1] - 0.002,
            },
        )
        for i, (kind, description, name) in enumerate(
            [
                ("unregistered", "无证经营的小作坊，夜间生产", "<b>小作坊</b>"),
                ("illegal_operation", "关闭后仍在生产", "某某化工"),
                ("new_enterprise", "新开业的加油站", "新加油站"),
            ]
        )
    ]
    with Session(engine) as session, session.begin():
        session.execute(text("DELETE FROM users WHERE username = :u"), {"u": ENTERPRISE_USER})
        session.add(
            User(
                username=ENTERPRISE_USER,
                role="enterprise",
                password_hash=password_hash,
                enterprise_id=enterprise,
            )
        )
    yield {"enterprise": enterprise, "source": source, "school": school, "leads": leads}
    with Session(engine) as session, session.begin():
        session.execute(text("DELETE FROM users WHERE username = :u"), {"u": ENTERPRISE_USER})
        session.execute(text("DELETE FROM leads WHERE id = ANY(:ids)"), {"ids": leads})
    for path in (
        f"/api/public-zones/{school}",
        f"/api/hazard-sources/{source}",
        f"/api/enterprises/{enterprise}",
    ):
        assert _call(server, admin, "DELETE", path).status_code < 300, path


@pytest.fixture
def official(browser, server: str, sessions: dict[str, dict]) -> Iterator[Page]:
    """The official of 宁夏 (640000)."""
    opened = Page(browser, server, session=sessions["official"])
    yield opened
    opened.close()


def _clean(page: Page, *refused: str) -> None:
    """No console errors but the refusals a test provoked (by address), no CSP reports,
    no script ran from a name."""
    errors = [e for e in page.errors if not any(r in e for r in refused)]
    assert errors == [], page.errors
    assert page.violations == [], page.violations
    assert page.dialogs == []


def _open_dossier(page: Page, enterprise: int) -> None:
    page.open(f"/#/{NINGXIA}?e={enterprise}")
    page.page.wait_for_selector("#dossier-hazards")


ZONE_PATHS = ".leaflet-zones-pane path"


def test_the_dossier_draws_a_hazard_sources_setback_zones_and_lists_violations(
    official: Page, server: str, sessions: dict[str, dict], made: dict[str, int]
) -> None:
    zones = _get(server, sessions["official"], f"/api/planning/zones/{made['source']}")
    assert zones["features"] and made["school"] in [v["other_id"] for v in zones["violations"]]
    _open_dossier(official, made["enterprise"])
    p = official.page
    button = p.locator(f"[data-zones='{made['source']}']")
    assert button.inner_text() == "显示安全防护距离"
    button.click()
    p.wait_for_selector("#zones-info")
    # A ring per target class (classes at the same distance share one), each labelled with
    # its classes and metres.
    rings = {f["properties"]["required_m"] for f in zones["features"]}
    assert p.locator(ZONE_PATHS).count() == len(rings)
    labels = p.locator(".zones-label").all_inner_texts()
    assert len(labels) == len(rings)
    for feature in zones["features"]:
        short = feature["properties"]["label_zh"].split("（")[0]
        metres = f"{round(feature['properties']['required_m']):,} 米"
        assert any(short in x and metres in x for x in labels), labels
    # Existing violations, the hostile name shown as text.
    rows = p.locator("#zones-violations tr")
    assert rows.count() == len(zones["violations"])
    assert HOSTILE_SCHOOL in p.inner_text("#zones-violations")
    assert button.get_attribute("aria-pressed") == "true"
    official.wait_tiles()
    _shot(official, "zones-desktop")
    # A second click removes them; so does leaving the dossier.
    button.click()
    assert p.locator(ZONE_PATHS).count() == 0
    assert p.locator("#zones-info").is_hidden()
    button.click()
    p.wait_for_selector("#zones-info")
    assert p.locator(ZONE_PATHS).count() == len(rings)
    p.click("#dossier-back")
    p.wait_for_selector("#region-name")
    assert p.locator(ZONE_PATHS).count() == 0
    assert p.locator(".zones-label").count() == 0
    _clean(official)


def test_the_zones_button_is_only_for_roles_that_read_them(
    browser, server: str, made: dict[str, int]
) -> None:
    session = _session_of(server, ENTERPRISE_USER)
    assert _call(server, session, "GET", f"/api/planning/zones/{made['source']}").status_code == 403
    page = Page(browser, server, session=session)
    try:
        _open_dossier(page, made["enterprise"])
        assert page.page.locator("#dossier-hazards tr").count() >= 1
        assert page.page.locator("[data-zones]").count() == 0
        # The dangers view has no leads tab for an enterprise.
        page.page.click("#btn-dangers")
        page.page.wait_for_selector("#dz-list, .dz-empty")
        assert page.page.locator("[data-tab=leads]").is_hidden()
        _clean(page)
    finally:
        page.close()


def _open_leads(page: Page) -> None:
    page.open("/")
    page.page.click("#btn-dangers")
    page.page.click("[data-tab=leads]")
    page.page.wait_for_selector("#leads-list, #leads-none")


def _lead_row(page: Page, lead: int):
    return page.page.locator(f"#leads-list tr[data-lead='{lead}']")


def test_the_official_filters_leads_and_decides_them_with_refusals_shown(
    official: Page, server: str, sessions: dict[str, dict], made: dict[str, int]
) -> None:
    session = sessions["official"]
    first, second, third = made["leads"]
    _open_leads(official)
    p = official.page
    listed = _get(server, session, "/api/leads?status=new&region=640000&limit=50")
    assert p.locator("#leads-list tbody tr").count() == min(50, listed["total"])
    assert str(listed["total"]) in p.inner_text("#leads-total")
    assert "<b>小作坊</b>" in _lead_row(official, first).inner_text()
    _shot(official, "leads-desktop")
    # Filters reach the server: kind and source.
    p.select_option("#leads-filters select[name=kind]", "illegal_operation")
    p.click("#leads-filters button[type=submit]")
    p.wait_for_function(
        "() => [...document.querySelectorAll('#leads-list tbody tr')].length"
        " && [...document.querySelectorAll('#leads-list tbody tr')]"
        ".every((r) => r.innerText.includes('非法违法生产经营行为'))"
    )
    wanted = _get(server, session, "/api/leads?status=new&kind=illegal_operation&region=640000")
    assert p.locator("#leads-list tbody tr").count() == min(50, wanted["total"])
    p.select_option("#leads-filters select[name=kind]", "")
    p.select_option("#leads-filters select[name=source]", "public")
    p.click("#leads-filters button[type=submit]")
    public = _get(server, session, "/api/leads?status=new&source=public&region=640000")
    if public["total"]:
        p.wait_for_function(
            "(n) => document.querySelectorAll('#leads-list tbody tr').length === n",
            arg=min(50, public["total"]),
        )
    else:
        p.wait_for_selector("#leads-none")
    p.select_option("#leads-filters select[name=source]", "")
    p.click("#leads-filters button[type=submit]")
    _lead_row(official, first).wait_for()

    # One lead: its place on the map.
    _lead_row(official, first).click()
    p.wait_for_selector("#lead-detail[data-status=new]")
    lead = _get(server, session, f"/api/leads/{first}")
    assert sorted(
        b.get_attribute("data-decide") for b in p.locator("[data-decide]").all()
    ) == sorted(lead["actions"])
    _shot(official, "lead-desktop")
    p.click("#lead-locate")
    assert p.locator("#dangers-view").is_hidden()
    p.wait_for_selector("path.lead-marker")
    p.wait_for_function(
        "([lat, lon]) => { const c = window.RiskAtlas.riskMap.map.getCenter();"
        " return Math.abs(c.lat - lat) < 1e-4 && Math.abs(c.lng - lon) < 1e-4; }",
        arg=[lead["lat"], lead["lon"]],
    )
    _shot(official, "lead-on-map-desktop")
    # Back through the 隐患治理 button: the same lead.
    p.click("#btn-dangers")
    p.wait_for_selector("#lead-detail[data-status=new]")

    # Confirm naming an enterprise that does not exist: refused, the reason shown.
    p.click("[data-decide=confirm]")
    p.fill("#lead-decision input[name=enterprise_id]", "999999999")
    p.click("#lead-decision button[type=submit]")
    p.wait_for_selector(".dz-message.error")
    assert _get(server, session, f"/api/leads/{first}")["status"] == "new"
    # Confirm without one, then link: linking with no enterprise is refused (the field named).
    p.fill("#lead-decision input[name=enterprise_id]", "")
    p.fill("#lead-decision textarea[name=note]", "已核实")
    p.click("#lead-decision button[type=submit]")
    p.wait_for_selector("#lead-detail[data-status=confirmed]")
    assert "已完成" in p.inner_text(".dz-message.ok")
    p.click("[data-decide=link]")
    p.click("#lead-decision button[type=submit]")
    p.wait_for_selector(".dz-message.error")
    assert "enterprise_id" in p.inner_text(".dz-message.error")
    p.fill("#lead-decision input[name=enterprise_id]", str(made["enterprise"]))
    p.click("#lead-decision button[type=submit]")
    p.wait_for_selector("#lead-enterprise")
    after = _get(server, session, f"/api/leads/{first}")
    assert after["status"] == "confirmed" and after["enterprise_id"] == made["enterprise"]
    assert after["decided_by"] == sessions["official"]["user"]["username"]
    # The linked enterprise's dossier opens beside the map; 隐患治理 returns to the lead.
    p.click("#lead-enterprise")
    p.wait_for_selector("#dossier-name")
    assert p.locator("#dangers-view").is_hidden()
    assert p.inner_text("#dossier-name") == "氯碱化工（测试）"
    p.click("#btn-dangers")
    p.wait_for_selector("#lead-detail[data-status=confirmed]")

    # A lead decided meanwhile elsewhere: the 409 and what is still allowed are shown.
    p.click("#leads-back")
    _lead_row(official, second).click()
    p.wait_for_selector("#lead-detail[data-status=new]")
    response = _call(
        server, session, "POST", f"/api/leads/{second}/decision", json={"action": "dismiss"}
    )
    assert response.status_code == 200, response.text
    p.click("[data-decide=confirm]")
    p.click("#lead-decision button[type=submit]")
    p.wait_for_selector("#lead-detail[data-status=dismissed] .dz-message.error")
    assert "dismissed" in p.inner_text(".dz-message.error")
    assert p.locator("[data-decide]").count() == 0
    assert _get(server, session, f"/api/leads/{second}")["status"] == "dismissed"
    _shot(official, "lead-refused-desktop")
    # Dismissed from the page.
    p.click("#leads-back")
    _lead_row(official, third).click()
    p.click("[data-decide=dismiss]")
    p.click("#lead-decision button[type=submit]")
    p.wait_for_selector("#lead-detail[data-status=dismissed]")
    assert p.locator("[data-decide]").count() == 0
    _clean(official, f"/api/leads/{first}/decision", f"/api/leads/{second}/decision")


def test_the_screens_fit_a_phone(
    browser, server: str, sessions: dict[str, dict], made: dict[str, int]
) -> None:
    page = Page(browser, server, width=360, height=640, session=sessions["official"])
    try:
        p = page.page
        _open_leads(page)
        fits = "() => document.querySelector('#dangers-body').scrollWidth <= 360"
        assert p.evaluate(fits)
        # Every status: the module's leads are decided by now.
        p.select_option("#leads-filters select[name=status]", "")
        p.click("#leads-filters button[type=submit]")
        _lead_row(page, made["leads"][0]).wait_for()
        _shot(page, "leads-phone")
        _lead_row(page, made["leads"][0]).click()
        p.wait_for_selector("#lead-detail")
        assert p.evaluate(fits)
        _shot(page, "lead-phone")
        p.click("#dangers-close")
        _open_dossier(page, made["enterprise"])
        p.click(f"[data-zones='{made['source']}']")
        p.wait_for_selector("#zones-info")
        assert p.evaluate("() => document.querySelector('#panel-body').scrollWidth <= 360")
        page.wait_tiles()
        _shot(page, "zones-phone")
        _clean(page)
    finally:
        page.close()


def test_the_overdue_tab_lists_what_the_api_lists_and_opens_the_dossier(
    official: Page, server: str, sessions: dict[str, dict]
) -> None:
    """逾期检查: the official's region by default, the same total and first rows as
    GET /api/inspections/overdue, a row opens the enterprise's dossier; the spot-check list
    follows the kind chosen."""
    page = official.open("/")
    page.page.click("#btn-dangers")
    page.page.click("[data-tab=overdue]")
    page.page.wait_for_selector("#overdue-count")
    expected = _get(
        server, sessions["official"], f"/api/inspections/overdue?region={NINGXIA}&limit=50"
    )
    assert expected["total"] > 0  # the demo's graded enterprises were never inspected
    count = page.page.inner_text("#overdue-count")
    assert f"{expected['total']:,}" in count or str(expected["total"]) in count
    rows = page.page.locator("#overdue-table tbody tr")
    assert rows.count() == len(expected["items"])
    first = expected["items"][0]
    assert rows.first.get_attribute("data-enterprise") == str(first["enterprise_id"])
    assert first["name"] in rows.first.inner_text()
    _shot(page, "overdue-desktop")

    page.page.select_option("#overdue-form select[name=kind]", "spot_check")
    page.page.click("#overdue-form button[type=submit]")
    spot = _get(
        server,
        sessions["official"],
        f"/api/inspections/overdue?region={NINGXIA}&kind=spot_check&limit=50",
    )
    page.page.wait_for_function(
        "n => document.querySelectorAll('#overdue-table tbody tr').length === n",
        arg=len(spot["items"]),
    )

    rows.first.click()
    page.page.wait_for_selector("#dossier-name")
    assert f"e={spot['items'][0]['enterprise_id']}" in page.page.url
    assert spot["items"][0]["name"] in page.page.inner_text("#dossier-name")
    _clean(page)
