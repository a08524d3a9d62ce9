"""Issue 14: the planners' page /plan in Chromium — sign in, draw a site, see the conflicts,
save a report, open its permalink, download its PDF. Screenshots go to /work/shots when
that directory exists (else test-artifacts/)."""

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.settings import PROJECT_ROOT
from tests.conftest import TEST_PASSWORD, live_token

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path("/work/shots") if Path("/work/shots").is_dir() else PROJECT_ROOT / "test-artifacts"
# The page opens on this centre at zoom 9; the school lies exactly there.
CENTRE = (106.3, 38.3)

playwright_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")
if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
    pytest.skip("Chromium is not installed", allow_module_level=True)


@pytest.fixture(scope="module")
def school(live_server_url: str, live_users: dict[str, str]) -> Iterator[dict]:
    """A committed school at the page's opening centre (made and deleted by the admin)."""
    headers = {"Authorization": f"Bearer {live_token(live_server_url, live_users['admin'])}"}
    made = httpx.post(
        f"{live_server_url}/api/public-zones",
        headers=headers,
        json={
            "name": "规划测试小学",
            "kind": "school",
            "population": 900,
            "lon": CENTRE[0],
            "lat": CENTRE[1],
        },
        timeout=30,
    )
    made.raise_for_status()
    yield made.json()
    httpx.delete(f"{live_server_url}/api/public-zones/{made.json()['id']}", headers=headers)


@pytest.fixture(scope="module")
def browser() -> Iterator:
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium"),
            headless=True,
            args=["--no-sandbox", "--disable-background-networking", "--disable-gpu"],
        )
        yield browser
        browser.close()


def _open(browser, url: str, width: int, height: int):
    context = browser.new_context(
        viewport={"width": width, "height": height}, accept_downloads=True, locale="zh-CN"
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console",
        lambda m: errors.append(m.text) if m.type == "error" and "tile" not in m.text else None,
    )
    page.goto(f"{url}/plan")
    return context, page, errors


def _sign_in(page, username: str) -> None:
    page.fill("#signin input[name=username]", username)
    page.fill("#signin input[name=password]", TEST_PASSWORD)
    page.click("#signin button[type=submit]")
    page.wait_for_selector("#project:not([hidden])")
    page.wait_for_function("() => document.querySelectorAll('#kind option').length > 10")


def test_draw_check_save_and_download(
    browser, live_server_url: str, live_users: dict[str, str], school: dict, tmp_path: Path
) -> None:
    context, page, errors = _open(browser, live_server_url, 1280, 800)
    _sign_in(page, live_users["planner"])
    page.select_option("#kind", "lpg_station")
    page.fill("input[name=attr-volume_m3]", "120")
    # A triangle around the map's centre (the school) drawn by clicks at zoom 15 (a few
    # metres a pixel), closed by the button.
    for _ in range(6):
        page.click(".leaflet-control-zoom-in")
        page.wait_for_timeout(150)
    box = page.locator("#map").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.click("[data-tool=polygon]")
    for dx, dy in ((-30, 25), (30, 25), (0, -30)):
        page.mouse.click(cx + dx, cy + dy)
    page.click("#finish")
    assert "Polygon" in page.inner_text("#site")
    page.click("#run")
    page.wait_for_selector("#result:not([hidden])")
    assert page.inner_text("#verdict") == "不通过"
    rows = page.inner_text("#conflicts tbody")
    assert "规划测试小学" in rows and "GB 50028" in rows
    page.wait_for_timeout(300)
    page.screenshot(path=str(SHOTS / "14-plan-desktop.png"))

    # Measuring: two clicks, a geodesic distance.
    page.click("[data-tool=measure]")
    page.mouse.click(cx - 100, cy)
    page.mouse.click(cx + 100, cy)
    assert "m" in page.inner_text("#measure-out")
    page.click("[data-tool=measure]")

    page.fill("#save input[name=title]", "永宁县液化气站选址（测试）")
    page.click("#save button[type=submit]")
    page.wait_for_selector("#saved:not([hidden]), #error:not([hidden])")
    assert page.is_hidden("#error"), page.inner_text("#error")
    assert "#report=" in page.url
    with page.expect_download() as info:
        page.click("#pdf-link")
    pdf = tmp_path / "report.pdf"
    info.value.save_as(pdf)
    assert pdf.read_bytes().startswith(b"%PDF")
    if shutil.which("pdftotext"):
        words = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, check=True)
        assert "规划测试小学" in words.stdout.decode() and "8.3.7" in words.stdout.decode()

    # The permalink, opened afresh (the tab keeps its session), shows the saved result.
    permalink = page.url
    page.goto("about:blank")
    page.goto(permalink)
    page.wait_for_selector("#saved:not([hidden])")
    assert "规划测试小学" in page.inner_text("#conflicts tbody")
    # The list of saved reports loads beside the report, not before it.
    page.wait_for_function(
        "(title) => document.querySelector('#report-list').textContent.includes(title)",
        arg="永宁县液化气站选址",
    )
    assert errors == []
    context.close()


def test_upload_geojson_and_phone_layout(
    browser, live_server_url: str, live_users: dict[str, str], school: dict, tmp_path: Path
) -> None:
    context, page, errors = _open(browser, live_server_url, 360, 640)
    _sign_in(page, live_users["planner"])
    page.select_option("#kind", "school")
    site = tmp_path / "site.geojson"
    site.write_text(
        json.dumps(
            {
                "type": "Feature",
                "properties": {},
                "geometry": {"type": "Point", "coordinates": [CENTRE[0] + 0.001, CENTRE[1]]},
            }
        )
    )
    page.set_input_files("#upload", str(site))
    # The file is read asynchronously: wait for the site to be shown.
    page.wait_for_function(
        "() => document.getElementById('site').textContent.includes('106.301000')"
    )
    page.click("#run")
    page.wait_for_selector("#result:not([hidden])")
    page.wait_for_timeout(300)
    page.screenshot(path=str(SHOTS / "14-plan-phone-map.png"))
    # The map stays under the header: its sign-out button is what a tap on it reaches, and
    # the role is named in Chinese.
    covered = page.evaluate(
        "() => { const b = document.getElementById('btn-signout').getBoundingClientRect();"
        " const hit = document.elementFromPoint(b.x + b.width / 2, b.y + b.height / 2);"
        " return hit && hit.id; }"
    )
    assert covered == "btn-signout"
    assert page.text_content("#who").endswith("（规划人员）")
    page.locator("#result").scroll_into_view_if_needed()
    assert "规划测试小学" not in page.inner_text("#conflicts tbody")  # a school is no hazard
    page.screenshot(path=str(SHOTS / "14-plan-phone-result.png"))
    assert errors == []
    context.close()


def test_the_page_asks_to_sign_in_first(
    browser, live_server_url: str, live_users: dict[str, str]
) -> None:
    context, page, _ = _open(browser, live_server_url, 1280, 800)
    assert page.is_visible("#signin")
    assert not page.is_visible("#project")
    context.close()
