"""The planners' page /plan in Chinese and in context: the server's refusals and the
project's kind in Chinese, a basemap and region outlines under the site, every setback
ring that applies, and no stale result after a failed check (Chromium)."""

# The fixtures of tests/test_plan_page.py are imported and then named as parameters.
# ruff: noqa: F811

import json
from pathlib import Path

from tests.test_plan_page import CENTRE, SHOTS, _open, _sign_in, browser, school  # noqa: F401


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
