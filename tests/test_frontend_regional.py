"""The web map's regional level, history and compliance in a real browser: the method in
the URL, Back up one level per drill step, legend counts under a filter, the 南海诸岛 inset
and the maritime boundary, an unknown region code. Uses tests/test_frontend.py's live
server, demo and browser. Screenshots go to /work/shots/11-*.png when that folder exists.
"""

from pathlib import Path
from urllib.parse import quote

from tests.test_frontend import (  # noqa: F401  (fixtures used by name)
    NINGXIA,
    Page,
    _get,
    browser,
    demo,
    official_page,
    page,
    server,
    sessions,
)

SHOTS = Path("/work/shots")


def _shot(opened: Page, name: str) -> None:
    if SHOTS.is_dir():
        opened.page.screenshot(path=str(SHOTS / name))
    opened.screenshot(name)


def test_method_in_the_url_survives_a_reload(page: Page) -> None:  # noqa: F811
    page.open(f"/#/{NINGXIA}?m=highest")
    page.wait_ready(NINGXIA)
    assert page.page.evaluate("() => document.body.dataset.method") == "highest"
    assert "highest@" in page.page.locator("#region-method").inner_text()
    page.page.reload()
    page.wait_ready(NINGXIA)
    assert "m=highest" in page.page.url
    assert "highest@" in page.page.locator("#region-method").inner_text()
    # A fresh page without one: the default method is named in the URL, and the panel
    # says why the region has its level.
    page.page.goto("about:blank")
    page.open(f"/#/{NINGXIA}")
    page.wait_ready(NINGXIA)
    page.page.wait_for_function("() => location.hash.includes('m=composite')")
    assert "composite/area@" in page.page.locator("#region-method").inner_text()
    why = page.page.locator("#level-why")
    assert "为什么是这个等级" in why.inner_text()
    assert why.locator(".contributors li").count() >= 1
    assert page.errors == []


def test_back_goes_up_one_level_per_drill_step(page: Page) -> None:  # noqa: F811
    page.open("/")
    for code in (NINGXIA, "640100", "640104"):
        page.page.locator(f"#ranking li[data-code='{code}']").click()
        page.wait_ready(code)
    for code in ("640100", NINGXIA, ""):
        page.page.go_back()
        page.wait_ready(code)
        assert page.page.evaluate("() => document.body.dataset.code") == code
    assert page.errors == []


def test_legend_counts_equal_the_api_under_a_filter(
    official_page: Page,  # noqa: F811
    server: str,  # noqa: F811
) -> None:
    opened = official_page
    sector = _get(server, "/api/map/sectors")[0]["sector"]
    opened.open(f"/#/{NINGXIA}?f=red,orange&s={sector}")
    opened.wait_ready(NINGXIA)
    opened.page.wait_for_function("() => Boolean(document.body.dataset.filteredCounts)")
    counts = _get(server, f"/api/map/counts?code={NINGXIA}&level=red,orange&sector={quote(sector)}")
    legend = opened.page.locator("#legend")
    for level in ("red", "orange", "yellow", "blue"):
        for column in ("risk_points", "enterprises"):
            cell = legend.locator(f"td[data-legend='{column}'][data-level='{level}']")
            assert int(cell.inner_text().replace(",", "")) == counts[column][level], (column, level)
        zones = legend.locator(f"td[data-legend='public_zones'][data-level='{level}']")
        assert zones.inner_text() == "–"  # public zones have no sector
    assert counts["risk_points"]["yellow"] == 0 and sum(counts["risk_points"].values()) > 0
    panel = opened.page.locator("#panel-body tr[data-row='riskPoints'] td[data-level='red']")
    assert int(panel.inner_text().replace(",", "")) == counts["risk_points"]["red"]
    _shot(opened, "11-filtered-legend.png")
    assert opened.errors == []


def test_inset_and_maritime_boundary_at_national_and_provincial_scale(
    page: Page,  # noqa: F811
    browser,  # noqa: F811
    server: str,  # noqa: F811
) -> None:
    page.open("/")
    inset = page.page.locator("#scs-inset svg")
    inset.wait_for()
    assert "南海诸岛" in inset.inner_html()
    assert page.page.evaluate(
        "() => window.RiskAtlas.riskMap.map.hasLayer(window.RiskAtlas.riskMap.maritimeLayer)"
    )
    assert "海上国界线" in page.page.locator("#legend").inner_text()
    _shot(page, "11-national-desktop.png")
    page.page.locator(f"#ranking li[data-code='{NINGXIA}']").click()
    page.wait_ready(NINGXIA)
    assert page.page.locator("#scs-inset").count() == 1
    _shot(page, "11-ningxia-desktop.png")
    page.page.locator("#ranking li[data-code='640100']").click()
    page.wait_ready("640100")
    assert page.page.locator("#scs-inset").count() == 0  # a city is no national map
    phone = Page(browser, server, width=360, height=640)
    try:
        phone.open("/")
        phone.page.locator("#scs-inset svg").wait_for()
        _shot(phone, "11-national-phone.png")
        phone.open(f"/#/{NINGXIA}")
        phone.wait_ready(NINGXIA)
        _shot(phone, "11-ningxia-phone.png")
        assert phone.errors == []
    finally:
        phone.close()
    assert page.errors == []


def test_an_unknown_region_code_falls_back_to_the_country(page: Page) -> None:  # noqa: F811
    page.page.goto(page.base + "/#/999999")
    page.wait_ready("")
    page.page.wait_for_function(
        "() => document.querySelector('#toast').textContent.includes('999999')"
    )
    assert "未找到区域代码" in page.page.locator("#toast").inner_text()
