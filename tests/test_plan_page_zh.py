"""The planners' page /plan in Chinese and in context: the server's refusals and the
project's kind in Chinese, a basemap and region outlines under the site, every setback
ring that applies, and no stale result after a failed check (Chromium)."""

# The fixtures of tests/test_plan_page.py are imported and then named as parameters.
# ruff: noqa: F811

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import live_token
from tests.factories import enterprise_payload
from tests.test_plan_page import CENTRE, SHOTS, _open, _sign_in, browser, school  # noqa: F401

# Two chlorine stores (major hazard sources) east and west of this point, for a school between.
STORES = (106.33, 38.33)


@pytest.fixture(scope="module")
def stores(live_server_url: str, live_users: dict[str, str]) -> Iterator[list[dict]]:
    """Two enterprises with chlorine stores of 10 t and 50 t (made and deleted by the admin)."""
    headers = {"Authorization": f"Bearer {live_token(live_server_url, live_users['admin'])}"}
    made = []
    for offset, tonnes in ((0.001, 10), (-0.003, 50)):
        where = (STORES[0] + offset, STORES[1])
        enterprise = httpx.post(
            f"{live_server_url}/api/enterprises",
            headers=headers,
            json=enterprise_payload(where),
            timeout=30,
        ).json()
        source = httpx.post(
            f"{live_server_url}/api/hazard-sources",
            headers=headers,
            json={
                "enterprise_id": enterprise["id"],
                "name": f"液氯储罐区{tonnes}t",
                "unit_type": "storage",
                "substances": [{"cas": "7782-50-5", "quantity_t": tonnes}],
                "lon": where[0],
                "lat": where[1],
            },
            timeout=30,
        )
        assert source.status_code == 201, source.text
        made.append(enterprise)
    yield made
    for enterprise in made:
        httpx.delete(f"{live_server_url}/api/enterprises/{enterprise['id']}", headers=headers)


def _upload(page, tmp_path: Path, geometry: dict, name: str) -> None:
    site = tmp_path / f"{name}.geojson"
    site.write_text(json.dumps({"type": "Feature", "properties": {}, "geometry": geometry}))
    page.set_input_files("#upload", str(site))


def _shot(page, name: str) -> None:
    page.wait_for_timeout(300)
    page.screenshot(path=str(SHOTS / f"fe-{name}.png"))


def test_refusals_and_kinds_are_in_chinese(
    browser, live_server_url: str, live_users: dict[str, str], school: dict, tmp_path: Path
) -> None:
    context, page, errors = _open(browser, live_server_url, 1280, 800)
    _sign_in(page, live_users["planner"])
    page.select_option("#kind", "lpg_station")
    page.fill("input[name=attr-volume_m3]", "120")
    _upload(page, tmp_path, {"type": "Point", "coordinates": [CENTRE[0] + 0.002, CENTRE[1]]}, "p")
    page.wait_for_function("() => document.getElementById('site').textContent.includes('106.302')")
    page.click("#run")
    page.wait_for_selector("#result:not([hidden])")
    assert page.inner_text("#meta").startswith("危险源：液化石油气站 · "), page.inner_text("#meta")
    # A bow tie: the server refuses it (422 naming the geometry), said in Chinese.
    bow_tie = [[106.35, 38.45], [106.36, 38.46], [106.36, 38.45], [106.35, 38.46], [106.35, 38.45]]
    _upload(page, tmp_path, {"type": "Polygon", "coordinates": [bow_tie]}, "bow")
    page.wait_for_function("() => document.getElementById('site').textContent.includes('Polygon')")
    page.click("#run")
    page.wait_for_selector("#error:not([hidden])")
    shown = page.inner_text("#error")
    assert shown.startswith("场址边线自相交（约 106.35"), shown
    assert "geometry" not in shown and "Self-intersection" not in shown
    # A refused attribute by its label.
    page.fill("input[name=attr-volume_m3]", "")
    page.evaluate(
        "() => document.querySelector('input[name=attr-volume_m3]').removeAttribute('required')"
    )
    _upload(page, tmp_path, {"type": "Point", "coordinates": [CENTRE[0] + 0.002, CENTRE[1]]}, "q")
    page.wait_for_function("() => document.getElementById('site').textContent.includes('106.302')")
    page.click("#run")
    page.wait_for_function("() => document.getElementById('error').textContent.includes('必填')")
    assert page.inner_text("#error") == "储罐总容积 (m³)为必填项"
    _shot(page, "plan-refused-desktop")
    assert [e for e in errors if "422" not in e] == []
    context.close()


def test_context_every_setback_ring_and_no_stale_result(
    browser, live_server_url: str, live_users: dict[str, str], stores: list, tmp_path: Path
) -> None:
    context, page, errors = _open(browser, live_server_url, 1280, 800)
    _sign_in(page, live_users["planner"])
    # The region outlines of the officials' map, drawn in its boundaries pane. (Watching for
    # the tile requests raced: the page may fetch them before a listener is attached.)
    page.wait_for_function(
        "() => document.querySelectorAll('.leaflet-boundaries-pane canvas').length > 0"
    )
    # A school between the two stores.
    lon, lat = STORES
    page.select_option("#kind", "school")
    _upload(page, tmp_path, {"type": "Point", "coordinates": [lon, lat]}, "school")
    page.wait_for_function("() => document.getElementById('site').textContent.includes('场址：点')")
    page.click("#run")
    page.wait_for_selector("#result:not([hidden])")
    result = page.evaluate(
        "() => fetch('/api/planning/check', {method: 'POST', headers: {'Content-Type': "
        "'application/json', Authorization: 'Bearer ' + JSON.parse(sessionStorage.getItem("
        "'ra.auth')).access_token}, body: JSON.stringify({kind: 'school', crs: 'wgs84', "
        f"attributes: {{}}, geometry: {{type: 'Point', coordinates: [{lon}, {lat}]}}}})"
        "}).then((r) => r.json())"
    )
    assert result["conflicts"], result
    wanted = {
        (tuple(c["other_geometry"]["coordinates"]), c["required_m"]) for c in result["conflicts"]
    }
    # The search ring, and a setback ring per hazard and distance in the conflicts.
    assert page.locator("path.setback-ring").count() == len(wanted)
    labels = page.locator(".ring-label").all_inner_texts()
    assert any(text.startswith("检索范围") for text in labels)
    for _, required in wanted:
        assert any(f"防护距离 {required:g} m" in text for text in labels), labels
    _shot(page, "plan-school-desktop")
    # A refused check takes the last result off the screen.
    bow_tie = [
        [lon, lat],
        [lon + 0.01, lat + 0.01],
        [lon + 0.01, lat],
        [lon, lat + 0.01],
        [lon, lat],
    ]
    _upload(page, tmp_path, {"type": "Polygon", "coordinates": [bow_tie]}, "bow")
    page.wait_for_function("() => document.getElementById('site').textContent.includes('Polygon')")
    page.click("#run")
    page.wait_for_selector("#error:not([hidden])")
    assert page.is_hidden("#result")
    assert page.locator("path.setback-ring").count() == 0
    # Leaflet fades labels out before it removes them.
    page.wait_for_function("() => document.querySelectorAll('.ring-label').length === 0")
    assert [e for e in errors if "422" not in e] == []
    context.close()


def test_the_page_on_a_phone_with_its_context(
    browser, live_server_url: str, live_users: dict[str, str], tmp_path: Path
) -> None:
    context, page, errors = _open(browser, live_server_url, 360, 640)
    _sign_in(page, live_users["planner"])
    page.wait_for_function(
        "() => document.querySelectorAll('.leaflet-boundaries-pane canvas').length > 0"
    )
    page.locator("#map").scroll_into_view_if_needed()
    _shot(page, "plan-phone")
    assert errors == []
    context.close()
