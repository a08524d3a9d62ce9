"""The officials' map: nearest emergency resources from an incident point, in a real
browser. Uses tests/test_frontend.py's live server, demo and browser."""

import math
from pathlib import Path

from tests.test_frontend import (  # noqa: F401  (fixtures used by name)
    NINGXIA,
    Page,
    _get,
    _screen_point,
    browser,
    demo,
    official_page,
    page,
    server,
    sessions,
)

SHOTS = Path("/work/shots")
INCIDENT = (38.47, 106.28)  # 银川 兴庆区


def test_an_official_finds_the_nearest_resources_from_a_clicked_point(
    official_page: Page,  # noqa: F811
    server: str,  # noqa: F811
    sessions: dict[str, dict],  # noqa: F811
) -> None:
    opened = official_page.open(f"/#/{NINGXIA}")
    opened.wait_ready(NINGXIA)
    p = opened.page
    p.evaluate("([lat, lng]) => window.RiskAtlas.riskMap.map.setView([lat, lng], 12)", INCIDENT)
    p.click("#nearest-start")
    assert "点选事发地点" in p.inner_text("#nearest-start")
    x, y = _screen_point(opened, *INCIDENT)
    # Where the click lands, read before the answer moves the map to fit the resources.
    clicked = p.evaluate(
        "([x, y]) => { const m = window.RiskAtlas.riskMap.map;"
        " const r = m.getContainer().getBoundingClientRect();"
        " const ll = m.containerPointToLatLng([x - r.left, y - r.top]); return [ll.lng, ll.lat]; }",
        [x, y],
    )
    p.mouse.click(x, y)
    p.wait_for_selector("#nearest-list ol li")
    listed = p.locator("#nearest-list ol li").all_inner_texts()
    # The same ranking as the API gives for the point that was clicked.
    answer = _get(
        server,
        f"/api/emergency/nearest?lon={clicked[0]:.6f}&lat={clicked[1]:.6f}&limit=10",
        sessions["official"]["access_token"],
    )
    names = [f["properties"]["name"] for f in answer["features"]]
    assert names and [item.splitlines()[0].strip() for item in listed] == names
    assert "公里" in listed[0] or "米" in listed[0]
    # Ten ranked markers and a line from the incident to each.
    assert p.locator(".nearest-rank").count() == len(names)
    assert not math.isnan(float(answer["features"][0]["properties"]["distance_m"]))
    # A click while picking did not drill into the region under it.
    assert p.evaluate("() => document.body.dataset.code") == NINGXIA
    if SHOTS.is_dir():
        p.screenshot(path=str(SHOTS / "13-officials-nearest.png"))
    p.click("#nearest-list .nearest-close")
    assert p.locator(".nearest-rank").count() == 0
    assert opened.errors == [] and opened.violations == []


def test_the_public_is_asked_to_sign_in(page: Page) -> None:  # noqa: F811
    page.open(f"/#/{NINGXIA}")
    page.wait_ready(NINGXIA)
    page.page.click("#nearest-start")
    assert "点选" not in page.page.inner_text("#nearest-start")
