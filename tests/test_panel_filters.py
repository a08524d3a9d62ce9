"""The panel's cards follow the map's colour filter as its counts and legend do: enterprises,
hazard sources by grade and open hidden dangers (at the enterprises kept), as
/api/map/counts counts them. Real browser, live server and demo (tests/test_frontend.py)."""

# The fixtures of tests/test_frontend.py are imported and then named as parameters.
# ruff: noqa: F811

import shutil
from pathlib import Path

from fastapi.testclient import TestClient

from tests.factories import enterprise_payload, lec_point
from tests.test_frontend import (  # noqa: F401
    NINGXIA,
    Page,
    _get,
    browser,
    demo,
    official_page,
    server,
    sessions,
)

SHOTS = Path("/work/shots")


def _number(text: str) -> int:
    return int(text.replace(",", "").strip())


def test_open_dangers_are_counted_at_the_enterprises_a_filter_keeps(client: TestClient) -> None:
    enterprise = client.post("/api/enterprises", json=enterprise_payload()).json()
    client.post("/api/risk-points", json=lec_point(enterprise["id"], 6, 6, 15))  # red
    level = "red"
    for grade in ("major", "general"):
        answer = client.post(
            "/api/hidden-dangers",
            json={"enterprise_id": enterprise["id"], "title": "阀门泄漏", "grade": grade},
        )
        assert answer.status_code == 201, answer.text
    kept = client.get("/api/map/counts", params={"code": "640100", "level": level}).json()
    assert kept["dangers"] == {"open": 2, "open_major": 1}
    others = ",".join(c for c in ("red", "orange", "yellow", "blue") if c != level)
    dropped = client.get("/api/map/counts", params={"code": "640100", "level": others}).json()
    assert dropped["dangers"] == {"open": 0, "open_major": 0}


def test_the_panel_cards_follow_the_colour_filter(official_page: Page, server: str) -> None:
    opened = official_page
    opened.open(f"/#/{NINGXIA}?f=red")
    opened.wait_ready(NINGXIA)
    p = opened.page
    p.wait_for_function("() => Boolean(document.body.dataset.filteredCounts)")
    counts: dict = _get(server, f"/api/map/counts?code={NINGXIA}&level=red")  # type: ignore[assignment]
    assert _number(p.inner_text("#kpi-enterprises .v")) == sum(counts["enterprises"].values())
    assert _number(p.inner_text("#kpi-hazards .v")) == sum(counts["hazard_sources"].values())
    assert _number(p.inner_text("#kpi-open .v")) == counts["dangers"]["open"]
    assert _number(p.inner_text("#kpi-open-major .v")) == counts["dangers"]["open_major"]
    for grade in ("1", "2", "3", "4"):
        shown = p.inner_text(f"#panel-body .grades [data-grade='{grade}'] .v")
        assert _number(shown) == counts["hazard_sources"][grade], grade
    total = p.evaluate("() => window.RiskAtlas.state.view.region.enterprises_total")
    assert sum(counts["enterprises"].values()) < total
    path = opened.screenshot("fe-panel-filtered-desktop.png")
    if SHOTS.is_dir():
        shutil.copy(path, SHOTS / path.name)
    assert opened.errors == []
