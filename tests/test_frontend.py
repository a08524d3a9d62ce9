"""The officials' web map in a real browser (Playwright driving Debian's Chromium).

A small deterministic demo (300 enterprises in Ningxia) is committed to the test database
for this module and removed afterwards; the app is served by uvicorn in a subprocess on a
free port. Screenshots go to test-artifacts/ (gitignored).
"""

import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from app.geo.webmercator import lonlat_to_tile
from app.risk import grading
from app.settings import PROJECT_ROOT
from app.sites.demo import plan_demo, write_plan

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
TABLES = ("hidden_dangers", "risk_points", "hazard_sources", "public_zones",
          "emergency_resources", "enterprises")
NINGXIA = "640000"

playwright_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")

if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
    pytest.skip("Chromium is not installed (apt-get install chromium)", allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def demo(engine: Engine) -> Iterator[dict[str, int]]:
    """Commit a small demo into the test database; delete exactly those rows afterwards."""
    with Session(engine) as session, session.begin():
        plan = plan_demo(session, seed=1, enterprises=300, as_of=date(2024, 6, 1))
        # Rows of an earlier run that died before cleaning up (same credit codes).
        session.execute(text("DELETE FROM enterprises WHERE credit_code = ANY(:codes)"),
                        {"codes": [e["credit_code"] for e in plan.enterprises]})
        before = {t: session.execute(text(f"SELECT coalesce(max(id), 0) FROM {t}")).scalar_one()
                  for t in TABLES}
        write_plan(session, plan)
        grading.rebuild(session, regrade=True)
    yield before
    with Session(engine) as session, session.begin():
        for table in TABLES:
            session.execute(text(f"DELETE FROM {table} WHERE id > :id"), {"id": before[table]})
        session.execute(text("SELECT rebuild_region_counts()"))


@pytest.fixture(scope="module")
def server(engine: Engine, demo) -> Iterator[str]:
    """uvicorn serving the app against the test database."""
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": engine.url.render_as_string(hide_password=False)}
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning"],
        cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{base}/api/health", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"the server did not start: {process.stderr.read().decode()}")
        time.sleep(0.2)
    yield base
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="module")
def browser() -> Iterator:
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium"),
            headless=True, args=["--no-sandbox", "--disable-background-networking", "--disable-gpu"])
        yield browser
        browser.close()


# Every document a test opens reports what its Content-Security-Policy blocked.
REPORT_CSP_VIOLATIONS = """
document.addEventListener('securitypolicyviolation', (e) => window.raCspViolation(
  `${e.effectiveDirective} blocked ${e.blockedURI || 'inline'} in ${e.documentURI}`));
"""


class Page:
    """A page with its console errors (the tile workers' too), the hosts it asked for,
    its Content-Security-Policy violations and any dialog a script opened."""

    def __init__(self, browser, base: str, *, width: int = 1400, height: int = 900) -> None:
        self.context = browser.new_context(viewport={"width": width, "height": height},
                                           accept_downloads=True, locale="zh-CN")
        self.violations: list[str] = []
        self.dialogs: list[str] = []
        self.context.expose_function("raCspViolation", self._violation)
        self.context.add_init_script(REPORT_CSP_VIOLATIONS)
        self.page = self.context.new_page()
        self.base = base
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("worker", lambda worker: worker.on("console", self._worker_console))
        self.page.on("dialog", self._dialog)

    def _worker_console(self, message) -> None:
        if message.type == "error":
            self.errors.append(f"worker: {message.text}")

    def _violation(self, report: str) -> None:
        self.violations.append(report)

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def open(self, path: str = "/") -> "Page":
        self.page.goto(self.base + path)
        self.wait_ready()
        return self

    def wait_ready(self, code: str | None = None) -> None:
        self.page.wait_for_selector("body[data-ready=true]", timeout=20_000)
        if code is not None:
            # Predicates are functions: a string expression would be eval'd in the page, which
            # the Content-Security-Policy forbids.
            self.page.wait_for_function("(code) => document.body.dataset.code === code",
                                        arg=code, timeout=20_000)
        self.page.wait_for_load_state("networkidle")
        self.wait_tiles()

    def wait_tiles(self) -> None:
        """Until every vector-tile layer has drawn the tiles in view."""
        self.page.wait_for_function(
            "() => (document.querySelector('#map').dataset.tilesLoading || '0') === '0'",
            timeout=20_000)

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / name
        self.page.screenshot(path=str(path))
        return path

    def regions_drawn(self) -> int:
        return self.page.locator("path.ra-region").count()

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def page(browser, server) -> Iterator[Page]:
    opened = Page(browser, server)
    yield opened
    opened.close()


def _get(base: str, path: str) -> object:
    import json
    with urllib.request.urlopen(base + path, timeout=10) as response:
        return json.loads(response.read())


def _province_count(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(text(
            "SELECT count(*) FROM regions WHERE parent_code IS NULL")).scalar_one()


def test_page_loads_without_console_errors_and_offline(page: Page) -> None:
    page.open("/")
    page.page.wait_for_timeout(500)
    page.screenshot("01-country.png")
    assert page.errors == []
    outside = [u for u in page.requests
               if not u.startswith((page.base, "data:", "blob:"))]
    assert outside == [], "the default view must need nothing from outside the project"
    assert page.page.locator("#breadcrumb .current").inner_text() == "全国"


def test_choropleth_draws_every_province(page: Page, engine: Engine) -> None:
    page.open("/")
    assert page.regions_drawn() == _province_count(engine) == 34


def test_clicking_ningxia_drills_into_its_five_cities(page: Page, server: str) -> None:
    page.open("/")
    # Where Ningxia's label point is on screen.
    x, y = page.page.evaluate("""() => {
        const {riskMap} = window.RiskAtlas;
        const child = riskMap.byCode.get('640000');
        const [lng, lat] = child.feature.properties.label;
        const p = riskMap.map.latLngToContainerPoint([lat, lng]);
        const r = riskMap.map.getContainer().getBoundingClientRect();
        return [r.left + p.x, r.top + p.y];
    }""")
    page.page.mouse.click(x, y)
    page.wait_ready(NINGXIA)
    page.page.wait_for_timeout(400)
    page.screenshot("02-ningxia.png")
    cities = _get(server, "/api/regions/640000/children")
    assert len(cities) == 5
    assert page.regions_drawn() == 5
    assert "#/640000" in page.page.url
    crumbs = page.page.locator("#breadcrumb").inner_text()
    assert "全国" in crumbs and "宁夏回族自治区" in crumbs
    names = page.page.locator("#ranking li .nm").all_inner_texts()
    assert sorted(names) == sorted(c["name"] for c in cities)
    # Reload-safe: the URL alone brings the same view back, at the same place.
    page.page.reload()
    page.wait_ready(NINGXIA)
    assert page.regions_drawn() == 5
    assert "#/640000" in page.page.url
    # Back up through the breadcrumb.
    page.page.locator("#breadcrumb a[data-code='']").click()
    page.wait_ready("")
    assert page.regions_drawn() == 34
    assert page.errors == []


def _lone_red_enterprise(engine: Engine, demo: dict[str, int]) -> dict:
    """A red demo enterprise with no other enterprise within 40 m (nothing drawn over it)."""
    with engine.connect() as connection:
        row = connection.execute(text("""
            SELECT e.name, ST_X(e.geom) AS lng, ST_Y(e.geom) AS lat FROM enterprises e
             WHERE e.id > :after AND e.risk_level = 'red'
               AND NOT EXISTS (SELECT 1 FROM enterprises o WHERE o.id <> e.id
                                  AND ST_DWithin(o.geom::geography, e.geom::geography, 40))
             ORDER BY e.id LIMIT 1"""), {"after": demo["enterprises"]}).mappings().one()
    return dict(row)


def _screen_point(page: Page, lat: float, lng: float) -> tuple[float, float]:
    return page.page.evaluate("""([lat, lng]) => {
        const {riskMap} = window.RiskAtlas;
        const p = riskMap.map.latLngToContainerPoint([lat, lng]);
        const r = riskMap.map.getContainer().getBoundingClientRect();
        return [r.left + p.x, r.top + p.y];
    }""", [lat, lng])


def test_an_enterprise_is_drawn_in_its_colour_and_clicking_it_opens_its_popup(
        page: Page, engine: Engine, demo: dict[str, int]) -> None:
    enterprise = _lone_red_enterprise(engine, demo)
    page.open(f"/#/{NINGXIA}?c={enterprise['lat']:.5f},{enterprise['lng']:.5f}&z=16&l=enterprises")
    x, y = _screen_point(page, enterprise["lat"], enterprise["lng"])
    # The tile pictures come from the tile worker; read back the pixel at the enterprise.
    rgba = page.page.evaluate("""([x, y]) => {
        for (const tile of document.querySelectorAll('.leaflet-enterprises-pane canvas.leaflet-tile')) {
            const r = tile.getBoundingClientRect();
            if (x < r.left || x >= r.right || y < r.top || y >= r.bottom) continue;
            const probe = document.createElement('canvas');
            probe.width = tile.width; probe.height = tile.height;
            const ctx = probe.getContext('2d');
            ctx.drawImage(tile, 0, 0);
            const scale = tile.width / r.width;
            return [...ctx.getImageData(Math.floor((x - r.left) * scale),
                                        Math.floor((y - r.top) * scale), 1, 1).data];
        }
        return null;
    }""", [x, y])
    assert rgba is not None, "no enterprise tile covers the enterprise"
    assert all(abs(a - b) <= 4 for a, b in zip(rgba[:3], (0xE8, 0x22, 0x2D))) and rgba[3] > 200, rgba
    page.page.mouse.click(x, y)
    popup = page.page.locator(".leaflet-popup-content")
    popup.wait_for()
    assert enterprise["name"] in popup.inner_text()
    assert "重大风险" in popup.inner_text()
    assert "#/640000" in page.page.url    # a click on a point opens it, it does not drill down
    page.screenshot("03-enterprise-popup.png")
    # The popup belongs to this view: going up to the country closes it.
    page.page.locator("#breadcrumb a[data-code='']").click()
    page.wait_ready("")
    assert page.page.locator(".leaflet-popup").count() == 0
    assert page.errors == []


def test_the_popup_opens_the_enterprise_dossier_in_the_panel(
        page: Page, server: str, engine: Engine, demo: dict[str, int]) -> None:
    enterprise = _lone_red_enterprise(engine, demo)
    page.open(f"/#/{NINGXIA}?c={enterprise['lat']:.5f},{enterprise['lng']:.5f}&z=16&l=enterprises")
    page.page.mouse.click(*_screen_point(page, enterprise["lat"], enterprise["lng"]))
    page.page.locator(".leaflet-popup-content a[data-enterprise]").click()
    page.page.locator("#dossier-name").wait_for()
    eid = int(re.search(r"[?&]e=(\d+)", page.page.url).group(1))
    dossier = _get(server, f"/api/map/enterprises/{eid}")
    assert page.page.locator("#dossier-name").inner_text() == enterprise["name"]
    assert page.page.locator("#dossier-level").get_attribute("data-level") == "red"
    assert (page.page.locator("#dossier-risk-points tr").count()
            == len(dossier["risk_points"]) > 0)
    assert page.page.locator("#dossier-dangers tr").count() == len(dossier["open_dangers"])
    page.screenshot("04-enterprise-dossier.png")
    # Shareable: the URL alone opens the dossier; "back" returns to the region's panel.
    page.page.reload()
    page.wait_ready(NINGXIA)
    page.page.locator("#dossier-name").wait_for()
    page.page.locator("#dossier-back").click()
    page.page.locator("#region-name").wait_for()
    assert "e=" not in page.page.url
    assert page.errors == []


def test_tile_pictures_have_no_seams_between_their_server_tiles(page: Page) -> None:
    # Each picture joins 2×2 server tiles; polygons are cut at every server tile's buffer,
    # and a cut edge stroked across the picture would draw a line along the seam.
    page.open(f"/#/{NINGXIA}?l=boundaries")
    page.wait_tiles()
    seams = page.page.evaluate("""() => {
        const worst = [];
        for (const tile of document.querySelectorAll('.leaflet-boundaries-pane canvas.leaflet-tile')) {
            if (!tile.width || tile.width < 100) continue;   // an empty picture
            const probe = document.createElement('canvas');
            probe.width = tile.width; probe.height = tile.height;
            const ctx = probe.getContext('2d');
            ctx.drawImage(tile, 0, 0);
            const data = ctx.getImageData(0, 0, tile.width, tile.height).data;
            const half = tile.width / 2;
            const inked = (x, y) => data[(y * tile.width + x) * 4 + 3] > 0;
            let column = 0; let row = 0;
            for (let x = half - 6; x < half + 6; x += 1) {
                let n = 0; for (let y = 0; y < tile.height; y += 1) n += inked(x, y);
                column = Math.max(column, n / tile.height);
            }
            for (let y = half - 6; y < half + 6; y += 1) {
                let n = 0; for (let x = 0; x < tile.width; x += 1) n += inked(x, y);
                row = Math.max(row, n / tile.width);
            }
            worst.push(Math.max(column, row));
        }
        return worst;
    }""")
    assert len(seams) >= 4
    assert max(seams) < 0.5, seams


def test_the_tile_decoder_reads_what_the_server_encodes(
        page: Page, server: str, engine: Engine, demo: dict[str, int]) -> None:
    from mapbox_vector_tile import decode

    enterprise = _lone_red_enterprise(engine, demo)
    page.open(f"/#/{NINGXIA}")
    paths = [f"/tiles/{layer}/{z}/{x}/{y}.mvt" for layer, z in (
        ("enterprises", 7), ("enterprises", 14), ("regions", 6), ("regions", 9), ("grid", 12))
        for x, y in [lonlat_to_tile(enterprise["lng"], enterprise["lat"], z)]]
    for path in paths:
        with urllib.request.urlopen(server + path) as response:
            expected = decode(response.read(), default_options={"y_coord_down": True})
        decoded = page.page.evaluate("""async (path) => {
            const { decodeTile } = await import('/static/js/tiles/mvt.js');
            const layers = decodeTile(await (await fetch(path)).arrayBuffer());
            return Object.fromEntries(Object.entries(layers).map(([name, layer]) => [name, {
                extent: layer.extent,
                features: layer.features.map((f) => ({ type: f.type, properties: f.properties,
                                                       first: f.parts[0][0] })) }]));
        }""", path)
        assert decoded.keys() == expected.keys(), path
        for name, layer in expected.items():
            assert decoded[name]["extent"] == layer["extent"]
            assert len(decoded[name]["features"]) == len(layer["features"]) > 0, path
            for ours, theirs in zip(decoded[name]["features"], layer["features"]):
                assert ours["type"] == theirs["geometry"]["type"].replace("Multi", "")
                assert ours["properties"] == pytest.approx(theirs["properties"])
                coordinates = theirs["geometry"]["coordinates"]
                while isinstance(coordinates[0], list):
                    coordinates = coordinates[0]
                assert ours["first"] == list(coordinates)


def test_legend_and_panel_counts_equal_the_api(page: Page, server: str) -> None:
    page.open(f"/#/{NINGXIA}")
    page.wait_ready(NINGXIA)
    region = _get(server, f"/api/risk/regions/{NINGXIA}")
    children = _get(server, f"/api/risk/summary?parent={NINGXIA}")
    legend = page.page.locator("#legend")
    for level in ("red", "orange", "yellow", "blue"):
        for column, counts in (("risk_points", region["counts"]),
                               ("enterprises", region["enterprises"]),
                               ("public_zones", region["public_zones"])):
            cell = legend.locator(f"td[data-legend='{column}'][data-level='{level}']")
            assert int(cell.inner_text().replace(",", "")) == counts[level], (column, level)
        regions = sum(1 for c in children if c["regional_level"] == level)
        cell = legend.locator(f"td[data-legend='regions'][data-level='{level}']")
        assert int(cell.inner_text()) == regions
    assert sum(region["counts"].values()) > 0
    panel = page.page.locator("#panel-body")
    assert panel.locator("#region-name").inner_text() == region["name"]
    assert region["method"] in panel.locator("#region-method").inner_text()
    assert int(panel.locator("#kpi-open-major .v").inner_text()) == region["open_major_dangers"]
    for grade, count in region["hazard_sources"].items():
        shown = panel.locator(f".grades [data-grade='{grade}'] .v").inner_text()
        assert int(shown.replace(",", "")) == count
    assert page.errors == []


def test_heat_map_toggle_draws_it(page: Page) -> None:
    page.open(f"/#/{NINGXIA}")
    page.wait_ready(NINGXIA)
    with page.page.expect_response(lambda r: "/api/heat?" in r.url) as response:
        page.page.locator("input[data-layer='heat']").check()
    heat = response.value.json()
    assert heat["count"] > 0 and heat["points"]
    canvas = page.page.locator("canvas.leaflet-heatmap-layer")
    canvas.wait_for(state="attached")
    painted = 0
    for _ in range(40):
        painted = page.page.evaluate("""() => {
            const c = document.querySelector('canvas.leaflet-heatmap-layer');
            const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let n = 0;
            for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++;
            return n;
        }""")
        if painted > 1000:
            break
        page.page.wait_for_timeout(100)
    page.screenshot("03-heat.png")
    assert painted > 1000, "the heat map canvas stays empty"
    assert "heat" in page.page.url
    assert page.errors == []


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_png_and_pdf_export_download(page: Page) -> None:
    page.open(f"/#/{NINGXIA}")
    page.wait_ready(NINGXIA)
    page.page.locator("input[data-layer='hazard_sources']").check()
    page.page.wait_for_load_state("networkidle")
    page.page.locator("#btn-export").click()
    with page.page.expect_download() as download_info:
        page.page.locator("[data-export='png']").click()
    download = download_info.value
    assert download.suggested_filename.startswith("riskatlas-640000-")
    path = ARTIFACTS / "04-export.png"
    ARTIFACTS.mkdir(exist_ok=True)
    download.save_as(str(path))
    data = path.read_bytes()
    width, height = _png_size(data)
    map_width = page.page.evaluate("() => window.RiskAtlas.riskMap.map.getSize().x")
    assert width >= 2 * map_width and height > 1000
    assert len(data) > 50_000
    page.page.locator("#btn-export").click()
    with page.page.expect_download() as download_info:
        page.page.locator("[data-export='pdf']").click()
    pdf = ARTIFACTS / "04-export.pdf"
    download_info.value.save_as(str(pdf))
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 50_000
    assert page.errors == []
    assert [u for u in page.requests if not u.startswith((page.base, "data:", "blob:"))] == []


def test_search_flies_to_an_enterprise(page: Page, server: str) -> None:
    page.open("/")
    enterprise = _get(server, "/api/enterprises?limit=1")["items"][0]
    page.page.locator("#search-input").fill(enterprise["credit_code"])
    first = page.page.locator("#search-results li[data-index='0']")
    first.wait_for()
    assert enterprise["name"] in first.inner_text()
    first.click()
    page.wait_ready(enterprise["county_code"])
    page.page.locator(".leaflet-popup-content").wait_for()
    assert enterprise["name"] in page.page.locator(".leaflet-popup-content").inner_text()
    zoom = page.page.evaluate("() => window.RiskAtlas.riskMap.map.getZoom()")
    assert zoom >= 14
    page.screenshot("05-search.png")
    # A region by name.
    page.page.locator("#search-input").fill("银川")
    page.page.locator("#search-results li .kind.region").first.wait_for()
    page.page.locator("#search-results li").first.click()
    page.wait_ready("640100")
    assert page.errors == []


def test_english_toggle(page: Page) -> None:
    page.open(f"/#/{NINGXIA}")
    page.wait_ready(NINGXIA)
    page.page.locator("#btn-lang").click()
    assert "Regional risk level" in page.page.locator("#level-card").inner_text()
    assert page.page.locator("#breadcrumb a[data-code='']").inner_text() == "China"
    page.screenshot("06-english.png")
    page.page.locator("#btn-lang").click()
    assert "区域风险等级" in page.page.locator("#level-card").inner_text()


def test_phone_viewport_stays_usable(browser, server: str) -> None:
    phone = Page(browser, server, width=360, height=640)
    try:
        phone.open(f"/#/{NINGXIA}")
        phone.wait_ready(NINGXIA)
        page = phone.page
        phone.screenshot("07-phone.png")
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 360
        map_box = page.locator("#map").bounding_box()
        assert map_box["width"] >= 350 and map_box["height"] >= 450
        # The panel starts folded away and opens as a bottom sheet.
        panel = page.locator("#panel")
        assert panel.bounding_box()["y"] >= 630
        page.locator("#panel-toggle").click()
        page.wait_for_timeout(400)
        box = panel.bounding_box()
        assert box["y"] < 640 - 200 and box["y"] + box["height"] <= 641
        assert page.locator("#region-name").is_visible()
        phone.screenshot("08-phone-panel.png")
        for selector in ("#search-input", "#btn-export", "#btn-settings", "#btn-lang", "#breadcrumb"):
            b = page.locator(selector).bounding_box()
            assert b and b["x"] >= 0 and b["x"] + b["width"] <= 361, selector
        # Drilling still works from the ranking, and the panel folds away for the map.
        page.locator("#ranking li").first.click()
        page.wait_for_function("() => document.body.dataset.code !== '640000'")
        assert phone.errors == []
    finally:
        phone.close()


def test_first_map_is_drawn_fast(page: Page) -> None:
    page.page.goto(page.base + "/", wait_until="commit")
    page.page.wait_for_selector("body[data-ready=true]", timeout=20_000)
    first = page.page.evaluate(
        "() => performance.getEntriesByName('ra-first-map')[0].startTime")
    print(f"first map drawn after {first:.0f} ms")
    # The goal is < 2 s on localhost; allow for a loaded CI machine.
    assert first < 3000


def test_colour_and_sector_filters_reach_the_tiles(page: Page, server: str) -> None:
    page.open(f"/#/{NINGXIA}")
    page.wait_ready(NINGXIA)
    page.requests.clear()
    page.page.locator("input[data-level='blue']").uncheck()
    page.wait_tiles()
    tiles = [u for u in page.requests if "/tiles/enterprises/" in u]
    assert tiles and all("level=red%2Corange%2Cyellow" in u or "level=red,orange,yellow" in u
                         for u in tiles)
    assert "f=red,orange,yellow" in page.page.url
    sector = _get(server, "/api/map/sectors")[0]["sector"]
    page.requests.clear()
    page.page.locator("#sector-filter").select_option(sector)
    page.wait_tiles()
    tiles = [u for u in page.requests if "/tiles/enterprises/" in u]
    assert tiles and all("sector=" in u for u in tiles)
    # The filters survive a reload (they are in the URL).
    page.page.reload()
    page.wait_ready(NINGXIA)
    assert not page.page.locator("input[data-level='blue']").is_checked()
    assert page.page.locator("#sector-filter").input_value() == sector
    assert page.errors == []


PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005fe02fe0dd5ba"
    "8a0000000049454e44ae426082")


def test_basemap_is_a_setting_kept_in_the_browser(page: Page) -> None:
    # No network here: answer the external tile servers with a blank tile.
    page.context.route(re.compile(r"https://(tile\.openstreetmap\.org|t\d\.tianditu\.gov\.cn)/.*"),
                       lambda route: route.fulfill(status=200, content_type="image/png",
                                                   body=PNG_1PX))
    page.open(f"/#/{NINGXIA}")
    page.wait_ready(NINGXIA)
    assert page.page.locator("img.leaflet-tile").count() == 0  # none by default (offline)
    page.page.locator("#btn-settings").click()
    page.page.locator("input[name='basemap'][value='tdt-vec']").check()
    page.page.locator("input[name='tdtKey']").fill("test-key-123")
    page.page.locator("#settings-dialog button[value='save']").click()
    page.page.locator("img.leaflet-tile").first.wait_for(state="attached")
    sources = page.page.eval_on_selector_all("img.leaflet-tile", "els => els.map(e => e.src)")
    assert any("tianditu.gov.cn" in s and "tk=test-key-123" in s and "T=vec_w" in s for s in sources)
    assert any("T=cva_w" in s for s in sources)
    stored = page.page.evaluate("() => JSON.parse(localStorage.getItem('ra.settings'))")
    assert stored["basemap"] == "tdt-vec" and stored["tdtKey"] == "test-key-123"
    page.page.reload()
    page.wait_ready(NINGXIA)
    page.page.locator("img.leaflet-tile").first.wait_for(state="attached")
    page.page.locator("#btn-settings").click()
    page.page.locator("input[name='basemap'][value='osm']").check()
    page.page.locator("#settings-dialog button[value='save']").click()
    page.page.wait_for_function(
        "() => [...document.querySelectorAll('img.leaflet-tile')].some(i => i.src.includes('openstreetmap'))")
    page.page.locator("#btn-settings").click()
    page.page.locator("input[name='basemap'][value='none']").check()
    page.page.locator("#settings-dialog button[value='save']").click()
    page.page.wait_for_function("() => !document.querySelector('img.leaflet-tile')")
    assert page.errors == []


# Script injection (issue 9): names anyone can register, shown everywhere as plain text.

HOSTILE = {
    "enterprise": "<img src=x onerror=alert('enterprise')>",
    "sector": "<b onmouseover=alert('sector')>化工</b>",
    "address": "\"><img src=x onerror=alert('address')>",
    "person": "<script>alert('person')</script>",
    "hazard": "<svg onload=alert('hazard')>",
    "risk_point": "<img src=x onerror=alert('risk point')>",
    "zone": "\"><script>alert('zone')</script>",
    "danger": "<iframe src=javascript:alert('danger')></iframe>",
    "grid": "<iframe src=javascript:alert('grid')></iframe>",
    "grid_code": "\"><img src=x onerror=alert('code')>",
}
# Elements or handlers any of the names would have created had it been taken as HTML.
INJECTED = r"""() => [
    ...document.querySelectorAll('img[src="x"], iframe, [onerror], [onload], [onmouseover]'),
    ...[...document.scripts].filter((script) => /^alert\(/.test(script.text.trim())),
  ].map((element) => element.outerHTML)"""


def _send(base: str, method: str, path: str, headers: dict[str, str],
          body: dict | None = None) -> dict:
    import json
    request = urllib.request.Request(
        base + path, method=method, data=json.dumps(body).encode() if body else None,
        headers={"Content-Type": "application/json", **headers})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"{}")


@pytest.fixture(scope="module")
def admin(engine: Engine, password_hash: str) -> Iterator[dict[str, str]]:
    """An admin's Authorization header, good on the served app (one signing key). The web
    map has no sign-in of its own yet: tests that need located rows send it with every
    request of the browser context (set_extra_http_headers)."""
    import uuid

    from app.auth import tokens
    from app.auth.models import User

    with Session(engine) as session, session.begin():
        user = User(username=f"browser-admin-{uuid.uuid4().hex[:8]}",
                    password_hash=password_hash, role="admin")
        session.add(user)
        session.flush()
        user_id, token_version = user.id, user.token_version
    token, _ = tokens.issue(user_id, token_version, "access")
    yield {"Authorization": f"Bearer {token}"}
    with Session(engine) as session, session.begin():
        session.execute(text("DELETE FROM users WHERE id = :id"), {"id": user_id})


@pytest.fixture
def hostile(server: str, engine: Engine, demo, admin: dict[str, str]) -> Iterator[dict]:
    """An enterprise, its risk point, hazard source and hidden danger, a public zone and a
    grid cell, all with script-like names, written through the API (committed) in a
    corner of 兴庆区 with nothing else within 300 m; removed afterwards."""
    from app.dangers.models import HiddenDanger
    from app.regions.grids import import_grids, reassign_grid_codes
    from tests.factories import enterprise_payload, lec_point, square_around

    with engine.connect() as connection:
        lon, lat = connection.execute(text("""
            SELECT x, y FROM generate_series(0, 8) i,
                   LATERAL (SELECT (106.27 + 0.006 * (i % 3))::float8 AS x,
                                   (38.46 + 0.006 * (i / 3))::float8 AS y) c
             WHERE NOT EXISTS (
                   SELECT 1 FROM enterprises e
                    WHERE ST_DWithin(e.geom::geography,
                                     ST_SetSRID(ST_MakePoint(x, y), 4326)::geography, 300))
             ORDER BY i LIMIT 1""")).one()
    with Session(engine) as session, session.begin():
        import_grids(session, feature_collection={"type": "FeatureCollection", "features": [{
            "type": "Feature", "geometry": square_around(lon, lat, 0.01),
            "properties": {"code": HOSTILE["grid_code"], "name": HOSTILE["grid"]}}]})
    enterprise = _send(server, "POST", "/api/enterprises", admin, enterprise_payload(
        (lon, lat), name=HOSTILE["enterprise"], sector=HOSTILE["sector"],
        address=HOSTILE["address"], responsible_person=HOSTILE["person"]))
    places = {"enterprise": (lon, lat), "hazard": (lon - 0.0015, lat),
              "risk_point": (lon, lat + 0.0012), "zone": (lon + 0.0016, lat)}
    point = _send(server, "POST", "/api/risk-points", admin, {
        **lec_point(enterprise["id"], 6, 6, 15, places["risk_point"]),
        "name": HOSTILE["risk_point"]})
    hazard = _send(server, "POST", "/api/hazard-sources", admin, {
        "enterprise_id": enterprise["id"], "name": HOSTILE["hazard"], "unit_type": "storage",
        "substances": [{"cas": "7782-50-5", "quantity_t": 10}],
        "lon": places["hazard"][0], "lat": places["hazard"][1]})
    zone = _send(server, "POST", "/api/public-zones", admin, {
        "name": HOSTILE["zone"], "kind": "residential", "population": 40,
        "geometry": square_around(*places["zone"], 0.0003)})
    with Session(engine) as session, session.begin():
        session.add(HiddenDanger(enterprise_id=enterprise["id"], title=HOSTILE["danger"],
                                 grade="general", status="reported",
                                 geom=f"SRID=4326;POINT({lon} {lat})"))
    yield {"county": enterprise["county_code"], "id": enterprise["id"], "places": places}
    _send(server, "DELETE", f"/api/risk-points/{point['id']}", admin)
    _send(server, "DELETE", f"/api/hazard-sources/{hazard['id']}", admin)
    _send(server, "DELETE", f"/api/public-zones/{zone['id']}", admin)
    _send(server, "DELETE", f"/api/enterprises/{enterprise['id']}", admin)
    with Session(engine) as session, session.begin():
        session.execute(text("DELETE FROM grid_cells WHERE code = :code"),
                        {"code": HOSTILE["grid_code"]})
        reassign_grid_codes(session, county_codes=[enterprise["county_code"]])
        session.execute(text("SELECT rebuild_region_counts()"))


def _assert_nothing_injected(page: Page) -> None:
    assert page.dialogs == []
    assert page.page.evaluate(INJECTED) == []
    assert page.violations == [] and page.errors == []


def test_hostile_names_show_as_text_in_popups_panel_search_and_dossier(
        page: Page, hostile: dict, admin: dict[str, str]) -> None:
    page.context.set_extra_http_headers(admin)
    county, places = hostile["county"], hostile["places"]
    lon, lat = places["enterprise"]
    page.open(f"/#/{county}?c={lat:.5f},{lon:.5f}&z=16"
              "&l=choropleth,enterprises,risk_points,hazard_sources,public_zones")
    page.wait_ready(county)
    # The grid cell: its label on the map, its row in the panel, the hover card.
    assert HOSTILE["grid"] in page.page.locator(".region-label").all_inner_texts()
    assert page.page.locator("#ranking li .nm").all_inner_texts() == [HOSTILE["grid"]]
    page.page.mouse.move(*_screen_point(page, lat + 0.004, lon + 0.004))
    assert HOSTILE["grid"] in page.page.locator("#hovercard").inner_text()
    # Each point's popup.
    popup = page.page.locator(".leaflet-popup-content")
    for key in ("risk_point", "hazard", "zone", "enterprise"):
        x_lon, y_lat = places[key]
        page.page.mouse.click(*_screen_point(page, y_lat, x_lon))
        popup.locator("h3", has_text=HOSTILE[key]).wait_for()
        assert popup.locator("h3").inner_text() == HOSTILE[key], key
    assert HOSTILE["sector"] in popup.inner_text()
    page.screenshot("20-hostile-popup.png")
    # The dossier the enterprise's popup opens.
    popup.locator("a[data-enterprise]").click()
    page.page.locator("#dossier-name").wait_for()
    dossier = page.page.locator("#panel-body")
    assert page.page.locator("#dossier-name").inner_text() == HOSTILE["enterprise"]
    for key in ("sector", "address", "person", "hazard", "risk_point", "danger"):
        assert HOSTILE[key] in dossier.inner_text(), key
    page.screenshot("21-hostile-dossier.png")
    # Search results, and the popup a result opens.
    page.page.locator("#search-input").fill("onerror=alert('enterprise')")
    first = page.page.locator("#search-results li[data-index='0']")
    first.wait_for()
    assert first.locator(".name").inner_text() == HOSTILE["enterprise"]
    page.screenshot("22-hostile-search.png")
    first.click()
    popup.locator("h3", has_text=HOSTILE["enterprise"]).wait_for()
    # The grid cell's popup, from its row in the panel.
    page.page.locator("#dossier-back").click()
    page.page.locator("#ranking li").first.click()
    popup.locator("h3", has_text=HOSTILE["grid"]).wait_for()
    _assert_nothing_injected(page)


def test_the_map_runs_under_its_content_security_policy(
        page: Page, engine: Engine, demo: dict[str, int], admin: dict[str, str]) -> None:
    page.context.set_extra_http_headers(admin)
    page.context.route(re.compile(r"https://t\d\.tianditu\.gov\.cn/.*"),
                       lambda route: route.fulfill(status=200, content_type="image/png",
                                                   body=PNG_1PX))
    response = page.page.goto(page.base + f"/#/{NINGXIA}")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "'unsafe-inline'" not in policy
    page.wait_ready(NINGXIA)
    # Level colours are classes now, not style attributes: Ningxia (red), its top-ranked
    # child and the legend's red swatch are drawn in red.
    red = "rgb(232, 34, 45)"
    colours = page.page.evaluate("""() => [
        getComputedStyle(document.querySelector('#level-card .big')).color,
        getComputedStyle(document.querySelector('#ranking li .chip')).backgroundColor,
        getComputedStyle(document.querySelector('#legend .sw.red')).backgroundColor]""")
    assert colours == [red] * 3
    # Pan by dragging, as a user would.
    box = page.page.locator("#map").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.page.mouse.move(x, y)
    page.page.mouse.down()
    page.page.mouse.move(x - 250, y - 120, steps=12)
    page.page.mouse.up()
    page.wait_tiles()
    # A popup and the dossier, with the hazard sources and the heat map drawn.
    enterprise = _lone_red_enterprise(engine, demo)
    page.open(f"/#/{NINGXIA}?c={enterprise['lat']:.5f},{enterprise['lng']:.5f}&z=16"
              "&l=choropleth,boundaries,enterprises,hazard_sources,heat")
    page.page.mouse.click(*_screen_point(page, enterprise["lat"], enterprise["lng"]))
    page.page.locator(".leaflet-popup-content a[data-enterprise]").click()
    page.page.locator("#dossier-name").wait_for()
    page.screenshot("23-csp-dossier.png")
    # PDF export (loads the vendored jsPDF on demand) and an external basemap.
    page.page.locator("#btn-export").click()
    with page.page.expect_download():
        page.page.locator("[data-export='pdf']").click()
    page.page.evaluate("""() => localStorage.setItem('ra.settings',
        JSON.stringify({basemap: 'tdt-vec', tdtKey: 'test-key', method: 'highest'}))""")
    page.page.reload()
    page.wait_ready(NINGXIA)
    page.page.locator("img.leaflet-tile").first.wait_for(state="attached")
    page.page.wait_for_load_state("networkidle")
    page.screenshot("24-csp-basemap.png")
    assert page.violations == []
    assert page.errors == []


def test_the_offline_export_keeps_hostile_names_as_text(
        page: Page, hostile: dict, admin: dict[str, str]) -> None:
    page.context.set_extra_http_headers(admin)
    county, (lon, lat) = hostile["county"], hostile["places"]["enterprise"]
    page.open(f"/#/{county}")
    page.wait_ready(county)
    # The export button still downloads the file, which the export's own policy does not
    # change. A link sends no Authorization header, so this is the public's export: the
    # choropleth, with the grid cell's name escaped, and no points.
    page.page.locator("#btn-export").click()
    with page.page.expect_download() as download_info:
        page.page.locator("[data-export='html']").click()
    public = Path(download_info.value.path()).read_text(encoding="utf-8")
    assert "iframe src=javascript:alert" in public and HOSTILE["grid"] not in public
    # The admin's export, served (sandboxed, inline scripts allowed) and opened from disk.
    served = f"{page.base}/api/exports/regions/{county}.html"
    saved = ARTIFACTS / f"25-export-{county}.html"
    with urllib.request.urlopen(urllib.request.Request(served, headers=admin)) as response:
        saved.write_bytes(response.read())
    for url in (served, saved.as_uri()):
        page.page.goto(url)
        # Zoom in on the enterprise (its neighbours' markers overlap at the county's zoom).
        # Folium calls the map map_…; only names are listed, as the sandboxed page may not
        # even look at localStorage. Leaflet ignores setView while the export's first
        # (animated) fitBounds runs, so ask until the map is there.
        find_map = "window[Object.keys(window).find((k) => /^map_/.test(k))]"
        page.page.wait_for_function(f"""(place) => {{
            const map = {find_map};
            if (!map) return false;
            map.setView(place, 16, {{animate: false}});
            return map.getZoom() === 16;
        }}""", arg=[lat, lon])
        enterprise_at, grid_at = page.page.evaluate(f"""(places) => {{
            const map = {find_map};
            const r = map.getContainer().getBoundingClientRect();
            return places.map((place) => {{
                const p = map.latLngToContainerPoint(place);
                return [r.left + p.x, r.top + p.y];
            }});
        }}""", [[lat, lon], [lat + 0.004, lon + 0.004]])
        tooltip = page.page.locator(".leaflet-tooltip")
        page.page.mouse.move(*enterprise_at)
        tooltip.filter(has_text=HOSTILE["enterprise"]).wait_for()
        page.page.mouse.move(*grid_at)
        tooltip.filter(has_text=HOSTILE["grid"]).wait_for()
        page.screenshot("26-export-tooltip.png")
        _assert_nothing_injected(page)


def test_api_docs_run_under_their_own_policy(page: Page) -> None:
    # No network here: answer the CDN with small stand-ins that show they were allowed to run.
    stand_ins = {
        "swagger-ui-bundle.js": "window.SwaggerUIBundle = Object.assign((config) => {"
                                " document.body.dataset.docs = config.url; },"
                                " {presets: {apis: {}}, SwaggerUIStandalonePreset: {}});",
        "redoc.standalone.js": "document.body.dataset.docs ="
                               " document.querySelector('redoc').getAttribute('spec-url');",
    }

    def answer(route) -> None:
        name = route.request.url.rsplit("/", 1)[-1]
        kind = "application/javascript" if name in stand_ins else "text/css"
        route.fulfill(status=200, content_type=kind, body=stand_ins.get(name, ""))

    page.context.route(re.compile(r"https://(cdn\.jsdelivr\.net|fonts\.googleapis\.com)/.*"),
                       answer)
    page.context.route(re.compile(r"https://fastapi\.tiangolo\.com/.*"),
                       lambda route: route.fulfill(status=200, content_type="image/png",
                                                   body=PNG_1PX))
    for path in ("/docs", "/redoc"):
        page.page.goto(page.base + path)
        page.page.wait_for_function("() => document.body.dataset.docs === '/openapi.json'")
    assert page.violations == [] and page.errors == []
