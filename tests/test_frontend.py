"""The officials' web map in a real browser (Playwright driving Debian's Chromium).

A small deterministic demo (300 enterprises in Ningxia) is committed to the test database
for this module and removed afterwards; the app is served by uvicorn in a subprocess on a
free port. Screenshots go to test-artifacts/ (gitignored).

Without signing in the map is the public's (region colours and counts). Tests that need
located rows open a page signed in as `live-nx-official` or `live-admin` (tests/conftest.py,
`live_users`): the tokens from `POST /api/auth/token` are put into the page's sessionStorage
before its first script runs, where the web map keeps them after a sign-in; the sign-in
itself is tested through the page's own dialog.
"""

import json
import os
import re
import shutil
import struct
import urllib.request
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from app.geo.webmercator import lonlat_to_tile
from app.risk import grading
from app.settings import PROJECT_ROOT
from app.sites.demo import plan_demo, write_plan
from tests.conftest import TEST_PASSWORD, live_token, served_app

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
TABLES = (
    "hidden_dangers",
    "risk_points",
    "hazard_sources",
    "public_zones",
    "emergency_resources",
    "enterprises",
)
NINGXIA = "640000"
XINGQING_CODE = "640104"

playwright_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")

if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
    pytest.skip("Chromium is not installed (apt-get install chromium)", allow_module_level=True)


@pytest.fixture(scope="module")
def demo(engine: Engine) -> Iterator[dict[str, int]]:
    """Commit a small demo into the test database; delete exactly those rows afterwards."""
    with Session(engine) as session, session.begin():
        plan = plan_demo(session, seed=1, enterprises=300, as_of=date(2024, 6, 1))
        # Rows of an earlier run that died before cleaning up (same credit codes).
        session.execute(
            text("DELETE FROM enterprises WHERE credit_code = ANY(:codes)"),
            {"codes": [e["credit_code"] for e in plan.enterprises]},
        )
        before = {
            t: session.execute(text(f"SELECT coalesce(max(id), 0) FROM {t}")).scalar_one()
            for t in TABLES
        }
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
    with served_app({"DATABASE_URL": engine.url.render_as_string(hide_password=False)}) as url:
        yield url


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


# Every document a test opens reports what its Content-Security-Policy blocked.
REPORT_CSP_VIOLATIONS = """
document.addEventListener('securitypolicyviolation', (e) => window.raCspViolation(
  `${e.effectiveDirective} blocked ${e.blockedURI || 'inline'} in ${e.documentURI}`));
"""

# A signed-in session put where the web map keeps it (frontend/js/auth.js), once per tab:
# signing out in the test stays signed out after a reload.
SEED_SESSION = """(() => {
  // Not in documents without storage (the sandboxed offline export, file: pages).
  if (self.origin === 'null' || location.protocol === 'file:') return;
  if (sessionStorage.getItem('ra.test.seeded')) return;
  sessionStorage.setItem('ra.test.seeded', '1');
  const seed = %s;
  sessionStorage.setItem('ra.auth', JSON.stringify({
    access_token: seed.access_token, refresh_token: seed.refresh_token,
    expires_at: Date.now() + seed.expires_in * 1000, user: seed.user}));
})();"""


class Page:
    """A page with its console errors (the tile workers' too), the hosts it asked for,
    its Content-Security-Policy violations and any dialog a script opened."""

    def __init__(
        self,
        browser,
        base: str,
        *,
        width: int = 1400,
        height: int = 900,
        session: dict | None = None,
    ) -> None:
        self.context = browser.new_context(
            viewport={"width": width, "height": height}, accept_downloads=True, locale="zh-CN"
        )
        self.violations: list[str] = []
        self.dialogs: list[str] = []
        self.context.expose_function("raCspViolation", self._violation)
        self.context.add_init_script(REPORT_CSP_VIOLATIONS)
        if session is not None:
            self.context.add_init_script(SEED_SESSION % json.dumps(session))
        self.page = self.context.new_page()
        self.base = base
        self.errors: list[str] = []
        self.requests: list[str] = []
        # (url, Authorization header) of every request, the tile workers' included.
        self.sent: list[tuple[str, str | None]] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        self.page.on("request", self._request)
        self.page.on("worker", lambda worker: worker.on("console", self._worker_console))
        self.page.on("dialog", self._dialog)

    def _console(self, message) -> None:
        if message.type != "error":
            return
        # A refused request names its address only in the message's location.
        failed = message.text.startswith("Failed to load resource")
        self.errors.append(
            f"{message.text} {message.location.get('url', '')}" if failed else message.text
        )

    def _request(self, request) -> None:
        self.requests.append(request.url)
        self.sent.append((request.url, request.headers.get("authorization")))

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
            self.page.wait_for_function(
                "(code) => document.body.dataset.code === code", arg=code, timeout=20_000
            )
        self.page.wait_for_load_state("networkidle")
        self.wait_tiles()

    def wait_tiles(self) -> None:
        """Until every vector-tile layer has drawn the tiles in view."""
        self.page.wait_for_function(
            "() => (document.querySelector('#map').dataset.tilesLoading || '0') === '0'",
            timeout=20_000,
        )

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / name
        self.page.screenshot(path=str(path))
        return path

    def regions_drawn(self) -> int:
        return self.page.locator("path.ra-region").count()

    def token(self) -> str | None:
        """The access token the page holds (None for the public)."""
        return self.page.evaluate(
            "() => (JSON.parse(sessionStorage.getItem('ra.auth')) || {}).access_token || null"
        )

    def painted(self, pane: str) -> int:
        """Pixels drawn by the tile pictures of a layer's pane."""
        return self.page.evaluate(
            """(pane) => {
            let n = 0;
            const tiles = document.querySelectorAll(`.leaflet-${pane}-pane canvas.leaflet-tile`);
            for (const tile of tiles) {
                if (!tile.width) continue;
                const probe = document.createElement('canvas');
                probe.width = tile.width; probe.height = tile.height;
                const ctx = probe.getContext('2d');
                ctx.drawImage(tile, 0, 0);
                const data = ctx.getImageData(0, 0, tile.width, tile.height).data;
                for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n += 1;
            }
            return n;
        }""",
            pane,
        )

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def page(browser, server) -> Iterator[Page]:
    """A page of the public (nobody signed in)."""
    opened = Page(browser, server)
    yield opened
    opened.close()


def _session_of(base: str, username: str) -> dict:
    """Sign in on the served app: the token pair and the user as the web map stores them."""
    import httpx

    tokens = httpx.post(
        f"{base}/api/auth/token", timeout=30, data={"username": username, "password": TEST_PASSWORD}
    ).json()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    user = httpx.get(f"{base}/api/auth/me", headers=headers, timeout=30).json()
    labels = {}
    if user["scope"]["region"]:
        labels["region"] = httpx.get(
            f"{base}/api/regions/{user['scope']['region']}", headers=headers, timeout=30
        ).json()["name"]
    return {**tokens, "user": {**user, "labels": labels}}


@pytest.fixture(scope="module")
def sessions(server: str, live_users: dict[str, str]) -> dict[str, dict]:
    """Signed-in sessions by role (admin, official and planner of 宁夏), one sign-in each
    per module."""
    return {
        role: _session_of(server, live_users[role]) for role in ("admin", "official", "planner")
    }


@pytest.fixture
def official_page(browser, server: str, sessions: dict[str, dict]) -> Iterator[Page]:
    """A page signed in as the official of 宁夏 (640000)."""
    opened = Page(browser, server, session=sessions["official"])
    yield opened
    opened.close()


@pytest.fixture
def admin_page(browser, server: str, sessions: dict[str, dict]) -> Iterator[Page]:
    """A page signed in as an admin."""
    opened = Page(browser, server, session=sessions["admin"])
    yield opened
    opened.close()


def _get(base: str, path: str, token: str | None = None) -> object:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with urllib.request.urlopen(
        urllib.request.Request(base + path, headers=headers), timeout=10
    ) as response:
        return json.loads(response.read())


def _province_count(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(
            text("SELECT count(*) FROM regions WHERE parent_code IS NULL")
        ).scalar_one()


def test_page_loads_without_console_errors_and_offline(page: Page) -> None:
    page.open("/")
    page.page.wait_for_timeout(500)
    page.screenshot("01-country.png")
    assert page.errors == []
    outside = [u for u in page.requests if not u.startswith((page.base, "data:", "blob:"))]
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
        row = (
            connection.execute(
                text("""
            SELECT e.name, ST_X(e.geom) AS lng, ST_Y(e.geom) AS lat FROM enterprises e
             WHERE e.id > :after AND e.risk_level = 'red'
               AND NOT EXISTS (SELECT 1 FROM enterprises o WHERE o.id <> e.id
                                  AND ST_DWithin(o.geom::geography, e.geom::geography, 40))
             ORDER BY e.id LIMIT 1"""),
                {"after": demo["enterprises"]},
            )
            .mappings()
            .one()
        )
    return dict(row)


def _screen_point(page: Page, lat: float, lng: float) -> tuple[float, float]:
    return page.page.evaluate(
        """([lat, lng]) => {
        const {riskMap} = window.RiskAtlas;
        const p = riskMap.map.latLngToContainerPoint([lat, lng]);
        const r = riskMap.map.getContainer().getBoundingClientRect();
        return [r.left + p.x, r.top + p.y];
    }""",
        [lat, lng],
    )


def test_an_enterprise_is_drawn_in_its_colour_and_clicking_it_opens_its_popup(
    official_page: Page, engine: Engine, demo: dict[str, int]
) -> None:
    page = official_page
    enterprise = _lone_red_enterprise(engine, demo)
    page.open(f"/#/{NINGXIA}?c={enterprise['lat']:.5f},{enterprise['lng']:.5f}&z=16&l=enterprises")
    x, y = _screen_point(page, enterprise["lat"], enterprise["lng"])
    # The tile pictures come from the tile worker; read back the pixel at the enterprise.
    rgba = page.page.evaluate(
        """([x, y]) => {
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
    }""",
        [x, y],
    )
    assert rgba is not None, "no enterprise tile covers the enterprise"
    assert all(abs(a - b) <= 4 for a, b in zip(rgba[:3], (0xE8, 0x22, 0x2D))) and rgba[3] > 200, (
        rgba
    )
    page.page.mouse.click(x, y)
    popup = page.page.locator(".leaflet-popup-content")
    popup.wait_for()
    assert enterprise["name"] in popup.inner_text()
    assert "重大风险" in popup.inner_text()
    assert "#/640000" in page.page.url  # a click on a point opens it, it does not drill down
    page.screenshot("03-enterprise-popup.png")
    # The popup belongs to this view: going up to the country closes it.
    page.page.locator("#breadcrumb a[data-code='']").click()
    page.wait_ready("")
    assert page.page.locator(".leaflet-popup").count() == 0
    assert page.errors == []


def test_the_popup_opens_the_enterprise_dossier_in_the_panel(
    official_page: Page, server: str, engine: Engine, demo: dict[str, int]
) -> None:
    page = official_page
    enterprise = _lone_red_enterprise(engine, demo)
    page.open(f"/#/{NINGXIA}?c={enterprise['lat']:.5f},{enterprise['lng']:.5f}&z=16&l=enterprises")
    page.page.mouse.click(*_screen_point(page, enterprise["lat"], enterprise["lng"]))
    page.page.locator(".leaflet-popup-content a[data-enterprise]").click()
    page.page.locator("#dossier-name").wait_for()
    eid = int(re.search(r"[?&]e=(\d+)", page.page.url).group(1))
    dossier = _get(server, f"/api/map/enterprises/{eid}", page.token())
    assert page.page.locator("#dossier-name").inner_text() == enterprise["name"]
    assert page.page.locator("#dossier-level").get_attribute("data-level") == "red"
    assert page.page.locator("#dossier-risk-points tr").count() == len(dossier["risk_points"]) > 0
    assert page.page.locator("#dossier-dangers tr").count() == len(dossier["open_dangers"])
    assert page.page.locator("#dossier-changes tr").count() == len(dossier["changes"])
    # The raw data opens from the page's copy (a link to the API would carry no token).
    assert page.page.locator("#dossier-raw").get_attribute("href").startswith("blob:")
    with page.page.expect_popup() as opened:
        page.page.locator("#dossier-raw").click()
    opened.value.wait_for_load_state()
    assert json.loads(opened.value.locator("body").inner_text())["enterprise"]["id"] == eid
    opened.value.close()
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
    official_page: Page, server: str, engine: Engine, demo: dict[str, int]
) -> None:
    from mapbox_vector_tile import decode

    page = official_page
    enterprise = _lone_red_enterprise(engine, demo)
    page.open(f"/#/{NINGXIA}")
    token = page.token()
    assert token
    paths = [
        f"/tiles/{layer}/{z}/{x}/{y}.mvt"
        for layer, z in (
            ("enterprises", 7),
            ("enterprises", 14),
            ("regions", 6),
            ("regions", 9),
            ("grid", 12),
        )
        for x, y in [lonlat_to_tile(enterprise["lng"], enterprise["lat"], z)]
    ]
    for path in paths:
        request = urllib.request.Request(
            server + path, headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(request) as response:
            expected = decode(response.read(), default_options={"y_coord_down": True})
        decoded = page.page.evaluate(
            """async ([path, token]) => {
            const { decodeTile } = await import('/static/js/tiles/mvt.js');
            const response = await fetch(path, { headers: { Authorization: `Bearer ${token}` } });
            const layers = decodeTile(await response.arrayBuffer());
            return Object.fromEntries(Object.entries(layers).map(([name, layer]) => [name, {
                extent: layer.extent,
                features: layer.features.map((f) => ({ type: f.type, properties: f.properties,
                                                       first: f.parts[0][0] })) }]));
        }""",
            [path, token],
        )
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
        for column, counts in (
            ("risk_points", region["counts"]),
            ("enterprises", region["enterprises"]),
            ("public_zones", region["public_zones"]),
        ):
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


def test_heat_map_toggle_draws_it(official_page: Page) -> None:
    page = official_page
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
    # A gradient, not solid blobs: only the densest spots reach the darkest purple.
    darkest = page.page.evaluate("""() => {
        const c = document.querySelector('canvas.leaflet-heatmap-layer');
        const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let painted = 0, dark = 0;
        for (let i = 3; i < data.length; i += 4) {
          if (data[i] > 0) painted++;
          if (data[i] >= 250) dark++;
        }
        return dark / painted;
    }""")
    # (The single-weight maximum this replaced left 4 % of this map's heat at the darkest.)
    assert darkest < 0.015, darkest
    assert "heat" in page.page.url
    assert page.errors == []


def test_the_hidden_dangers_layer_draws_open_dangers(official_page: Page, engine: Engine) -> None:
    page = official_page
    page.open(f"/#/{NINGXIA}")
    label = page.page.locator("#layers-control label:has(input[data-layer='hidden_dangers'])")
    assert label.inner_text().strip() == "隐患"
    with page.page.expect_response(lambda r: "/tiles/hidden_dangers/" in r.url) as response:
        label.locator("input").check()
    assert response.value.status == 200
    page.wait_tiles()
    with engine.connect() as connection:
        open_dangers = connection.execute(
            text("SELECT count(*) FROM hidden_dangers WHERE status <> 'closed'")
        ).scalar_one()
    assert open_dangers > 0
    assert page.painted("hidden_dangers") > 0
    assert "hidden_dangers" in page.page.url
    page.screenshot("16-hidden-dangers.png")
    page.page.set_viewport_size({"width": 360, "height": 640})
    page.wait_tiles()
    page.screenshot("16-hidden-dangers-phone.png")
    # A lone open danger at street zoom: its popup names its title, grade and status.
    with engine.connect() as connection:
        danger = (
            connection.execute(
                text("""
            SELECT d.title, d.grade, ST_X(d.geom) AS lng, ST_Y(d.geom) AS lat
              FROM hidden_dangers d
             WHERE d.status <> 'closed' AND NOT EXISTS (
                   SELECT 1 FROM hidden_dangers o WHERE o.id <> d.id AND o.status <> 'closed'
                      AND ST_DWithin(o.geom::geography, d.geom::geography, 40))
             ORDER BY d.id LIMIT 1""")
            )
            .mappings()
            .one()
        )
    page.page.set_viewport_size({"width": 1400, "height": 900})
    page.open(f"/#/{NINGXIA}?c={danger['lat']:.5f},{danger['lng']:.5f}&z=16&l=hidden_dangers")
    page.page.mouse.click(*_screen_point(page, danger["lat"], danger["lng"]))
    popup = page.page.locator(".leaflet-popup-content")
    popup.wait_for()
    grade = {"major": "重大隐患", "larger": "较大隐患", "general": "一般隐患"}[danger["grade"]]
    assert danger["title"] in popup.inner_text() and grade in popup.inner_text()
    assert "隐患等级" in popup.inner_text() and "状态" in popup.inner_text()
    page.screenshot("16-hidden-danger-popup.png")
    assert page.errors == []


def test_busy_tiles_are_asked_again_after_retry_after(official_page: Page) -> None:
    """A server whose render queue is full answers 503 + Retry-After: the map asks again."""
    page = official_page
    refused: set[str] = set()
    asked: list[str] = []

    def busy_once(route) -> None:
        asked.append(route.request.url)
        if route.request.url in refused:
            route.continue_()
            return
        refused.add(route.request.url)
        route.fulfill(
            status=503,
            headers={"Retry-After": "1"},
            content_type="application/json",
            body='{"detail": "the tile renderer is busy; retry shortly"}',
        )

    page.context.route("**/tiles/enterprises/**", busy_once)
    page.open(f"/#/{NINGXIA}")
    page.page.wait_for_function(
        "() => document.querySelectorAll('.leaflet-enterprises-pane canvas.leaflet-tile').length > 0"
    )
    page.wait_tiles()
    assert refused and all(asked.count(url) == 2 for url in refused)
    assert page.painted("enterprises") > 200
    assert [e for e in page.errors if "status of 503" not in e] == []


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_png_and_pdf_export_download(official_page: Page) -> None:
    page = official_page
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


def test_search_flies_to_an_enterprise(official_page: Page, server: str) -> None:
    page = official_page
    page.open("/")
    enterprise = _get(server, "/api/enterprises?limit=1", page.token())["items"][0]
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
        for selector in (
            "#search-input",
            "#btn-export",
            "#btn-settings",
            "#btn-lang",
            "#breadcrumb",
        ):
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
    first = page.page.evaluate("() => performance.getEntriesByName('ra-first-map')[0].startTime")
    print(f"first map drawn after {first:.0f} ms")
    # The goal is < 2 s on localhost; allow for a loaded CI machine.
    assert first < 3000


def test_colour_and_sector_filters_reach_the_tiles(official_page: Page, server: str) -> None:
    page = official_page
    page.open(f"/#/{NINGXIA}")
    page.wait_ready(NINGXIA)
    page.requests.clear()
    page.page.locator("input[data-level='blue']").uncheck()
    page.wait_tiles()
    tiles = [u for u in page.requests if "/tiles/enterprises/" in u]
    assert tiles and all(
        "level=red%2Corange%2Cyellow" in u or "level=red,orange,yellow" in u for u in tiles
    )
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
    "8a0000000049454e44ae426082"
)


def test_basemap_is_a_setting_kept_in_the_browser(page: Page) -> None:
    # No network here: answer the external tile servers with a blank tile.
    page.context.route(
        re.compile(r"https://(tile\.openstreetmap\.org|t\d\.tianditu\.gov\.cn)/.*"),
        lambda route: route.fulfill(status=200, content_type="image/png", body=PNG_1PX),
    )
    page.open(f"/#/{NINGXIA}")
    page.wait_ready(NINGXIA)
    assert page.page.locator("img.leaflet-tile").count() == 0  # none by default (offline)
    page.page.locator("#btn-settings").click()
    page.page.locator("input[name='basemap'][value='tdt-vec']").check()
    page.page.locator("input[name='tdtKey']").fill("test-key-123")
    page.page.locator("#settings-dialog button[value='save']").click()
    page.page.locator("img.leaflet-tile").first.wait_for(state="attached")
    sources = page.page.eval_on_selector_all("img.leaflet-tile", "els => els.map(e => e.src)")
    assert any(
        "tianditu.gov.cn" in s and "tk=test-key-123" in s and "T=vec_w" in s for s in sources
    )
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
        "() => [...document.querySelectorAll('img.leaflet-tile')].some(i => i.src.includes('openstreetmap'))"
    )
    page.page.locator("#btn-settings").click()
    page.page.locator("input[name='basemap'][value='none']").check()
    page.page.locator("#settings-dialog button[value='save']").click()
    page.page.wait_for_function("() => !document.querySelector('img.leaflet-tile')")
    assert page.errors == []


# Signing in (issue 10): the dialog, who is signed in, the public map, tokens on every request.

LOCATED_LAYERS = (
    "enterprises",
    "risk_points",
    "hazard_sources",
    "public_zones",
    "emergency_resources",
    "heat",
)
LOCATED_PATHS = re.compile(
    r"/tiles/(enterprises|risk_points|hazard_sources|public_zones|"
    r"emergency_resources)/|/api/heat\?|/api/map/enterprises/|/api/features/"
)
OFFICIAL_LINE = "live-nx-official · 官员 · 宁夏回族自治区"


def _located(urls: list[str]) -> list[str]:
    return [u for u in urls if LOCATED_PATHS.search(u)]


def _fill_sign_in(page: Page, username: str, password: str) -> None:
    if not page.page.locator("#login-dialog").is_visible():
        page.page.locator("#btn-login").click()
    dialog = page.page.locator("#login-dialog")
    dialog.locator("input[name='username']").fill(username)
    dialog.locator("input[name='password']").fill(password)


def _refused(errors: list[str], *statuses: int) -> list[str]:
    """The errors left once the browser's own reports of refused sign-ins are set aside."""
    return [
        e
        for e in errors
        if not (
            e.startswith("Failed to load resource")
            and "/api/auth/token" in e
            and any(f"status of {status}" in e for status in statuses)
        )
    ]


def test_the_public_map_shows_regions_only_and_asks_for_nothing_located(page: Page) -> None:
    page.open(f"/#/{NINGXIA}?l=choropleth,boundaries,enterprises,risk_points,heat")
    assert page.regions_drawn() == 5
    assert page.page.locator("#btn-login").is_visible()
    assert not page.page.locator("#account-wrap").is_visible()
    placeholder = page.page.locator("#search-input").get_attribute("placeholder")
    assert placeholder == "搜索地区（登录后可搜索企业）"
    # Located layers say they need a sign-in; they are not asked for, so nothing fails.
    for name in LOCATED_LAYERS:
        label = page.page.locator(f"#layers-control label:has(input[data-layer='{name}'])")
        assert label.get_attribute("data-locked") == "signin", name
        assert label.locator("input").is_disabled() and not label.locator("input").is_checked()
        assert "需登录" in label.inner_text()
    for name in ("choropleth", "boundaries", "grid"):
        assert page.page.locator(f"input[data-layer='{name}']").is_enabled(), name
    assert _located(page.requests) == []
    assert all(auth is None for _, auth in page.sent)
    # The layers stay asked for (in the URL) for when someone signs in.
    wanted = re.search(r"[?&]l=([^&]+)", page.page.url).group(1).split(",")
    assert sorted(wanted) == ["boundaries", "choropleth", "enterprises", "heat", "risk_points"]
    page.screenshot("30-public-layers.png")
    # A locked layer offers the sign-in.
    page.page.locator(
        "#layers-control label:has(input[data-layer='risk_points']) button.lock"
    ).click()
    dialog = page.page.locator("#login-dialog")
    assert dialog.is_visible()
    assert "登录后可查看" in dialog.locator("#login-reason").inner_text()
    page.page.locator("#login-cancel").click()
    assert not dialog.is_visible()
    # So does a shared link to a dossier; cancelled, the region stays.
    page.page.goto(page.base + f"/#/{NINGXIA}?e=1")
    dialog.wait_for()
    assert dialog.locator("#login-reason").inner_text() == "登录后可查看企业档案"
    page.page.keyboard.press("Escape")
    page.page.wait_for_function("() => !location.hash.includes('e=')")
    assert page.page.locator("#region-name").inner_text() == "宁夏回族自治区"
    assert _located(page.requests) == []
    assert page.errors == [] and page.violations == []


def test_signing_in_and_out_through_the_page(
    browser, server: str, live_users: dict[str, str], demo: dict[str, int]
) -> None:
    desk = Page(browser, server, width=1280, height=800)
    try:
        page = desk.page
        desk.open("/")
        assert desk.regions_drawn() == 34
        dialog = page.locator("#login-dialog")
        error = page.locator("#login-error")
        # A wrong password: said in Chinese, the dialog stays, the password is cleared.
        _fill_sign_in(desk, live_users["official"], "wrong-password")
        desk.screenshot("31-login.png")
        page.locator("#login-submit").click()
        error.wait_for()
        assert error.inner_text() == "用户名或密码错误"
        assert dialog.is_visible()
        assert dialog.locator("input[name='password']").input_value() == ""
        assert dialog.locator("input[name='username']").input_value() == live_users["official"]
        desk.screenshot("32-login-wrong-password.png")
        # Too many attempts (the server's 429, stood in for: a real one would lock the
        # account for a quarter of an hour).
        page.route(
            "**/api/auth/token",
            lambda route: route.fulfill(
                status=429,
                headers={"Retry-After": "900"},
                content_type="application/json",
                body='{"detail": "too many failed sign-ins"}',
            ),
        )
        dialog.locator("input[name='password']").fill("wrong-again")
        page.locator("#login-submit").click()
        page.locator("#login-error", has_text="尝试次数过多，请稍后再试").wait_for()
        page.unroute("**/api/auth/token")
        assert _stored_session(desk) is None
        # The right password: the official lands at their region, named in the header.
        desk.requests.clear()
        desk.sent.clear()
        dialog.locator("input[name='password']").fill(TEST_PASSWORD)
        page.locator("#login-submit").click()
        desk.wait_ready(NINGXIA)
        assert not dialog.is_visible()
        assert "#/640000" in page.url
        assert page.locator("#account-text").inner_text() == OFFICIAL_LINE
        assert page.locator("#btn-signout").inner_text() == "退出登录"
        assert not page.locator("#btn-login").is_visible()
        # Its enterprise points (aggregated into cells at this zoom) are drawn.
        assert desk.painted("enterprises") > 200
        label = page.locator("#layers-control label:has(input[data-layer='enterprises'])")
        assert label.get_attribute("data-locked") is None
        assert page.locator("input[data-layer='enterprises']").is_checked()
        # Every request of the page and of its tile workers carried the token.
        token = desk.token()
        assert token
        asked = [
            (url, auth)
            for url, auth in desk.sent
            if url.startswith(desk.base)
            and ("/api/" in url or "/tiles/" in url)
            and "/api/auth/token" not in url
        ]
        assert any("/tiles/enterprises/" in url for url, _ in asked)
        assert [url for url, auth in asked if auth != f"Bearer {token}"] == []
        desk.screenshot("33-signed-in.png")
        # Who, in what role, where: the account menu.
        page.locator("#account-chip").click()
        menu = page.locator("#account-menu")
        assert menu.is_visible()
        assert "宁夏回族自治区 (640000)" in menu.inner_text() and "官员" in menu.inner_text()
        desk.screenshot("34-account-menu.png")
        page.locator("#account-chip").click()
        assert not menu.is_visible()
        # A reload keeps the session (sessionStorage), and the URL's region.
        page.reload()
        desk.wait_ready(NINGXIA)
        assert page.locator("#account-text").inner_text() == OFFICIAL_LINE
        assert desk.painted("enterprises") > 200
        # Signing out: the public map of the country, no points, no token.
        desk.requests.clear()
        page.locator("#btn-signout").click()
        desk.wait_ready("")
        assert desk.regions_drawn() == 34
        assert page.locator("#btn-login").is_visible()
        assert not page.locator("#account-wrap").is_visible()
        assert page.locator(".leaflet-enterprises-pane canvas.leaflet-tile").count() == 0
        assert _stored_session(desk) is None
        assert (
            page.locator(
                "#layers-control label:has(input[data-layer='enterprises'])"
            ).get_attribute("data-locked")
            == "signin"
        )
        assert _located(desk.requests) == []
        desk.screenshot("35-signed-out.png")
        # The only errors are the browser's notes of the refused sign-ins.
        assert _refused(desk.errors, 401, 429) == []
        assert desk.violations == []
    finally:
        desk.close()


def _stored_session(page: Page) -> str | None:
    """What the page keeps in sessionStorage for the signed-in user (None: nobody)."""
    return page.page.evaluate("() => sessionStorage.getItem('ra.auth')")


def test_signing_in_on_a_phone(browser, server: str, live_users: dict[str, str]) -> None:
    phone = Page(browser, server, width=360, height=640)
    try:
        page = phone.page
        phone.open("/")
        login = page.locator("#btn-login")
        box = login.bounding_box()
        assert login.is_visible() and box["x"] >= 0 and box["x"] + box["width"] <= 360
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 360
        phone.screenshot("36-phone-public.png")
        _fill_sign_in(phone, live_users["official"], TEST_PASSWORD)
        dialog = page.locator("#login-dialog").bounding_box()
        assert dialog["x"] >= 0 and dialog["x"] + dialog["width"] <= 360
        phone.screenshot("37-phone-login.png")
        page.locator("#login-submit").click()
        phone.wait_ready(NINGXIA)
        chip = page.locator("#account-chip")
        box = chip.bounding_box()
        assert chip.is_visible() and box["x"] + box["width"] <= 360 and box["y"] < 84
        assert not page.locator("#btn-signout").is_visible()
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 360
        assert phone.painted("enterprises") > 200
        phone.screenshot("38-phone-signed-in.png")
        chip.click()
        menu = page.locator("#account-menu")
        assert menu.is_visible()
        box = menu.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 360
        assert "live-nx-official" in menu.inner_text() and "宁夏回族自治区" in menu.inner_text()
        phone.screenshot("39-phone-account-menu.png")
        page.locator("#btn-signout-menu").click()
        phone.wait_ready("")
        assert page.locator("#btn-login").is_visible()
        assert _stored_session(phone) is None
        assert phone.errors == [] and phone.violations == []
    finally:
        phone.close()


def test_a_token_is_renewed_before_it_expires(
    browser, server: str, live_users: dict[str, str]
) -> None:
    # 20 s left: renewed before anything is sent with it.
    nearly = Page(
        browser, server, session={**_session_of(server, live_users["official"]), "expires_in": 20}
    )
    try:
        with nearly.page.expect_response("**/api/auth/refresh") as refreshed:
            nearly.open(f"/#/{NINGXIA}")
        assert refreshed.value.status == 200
        token = nearly.token()
        asked = [auth for url, auth in nearly.sent if "/api/" in url or "/tiles/" in url]
        assert asked and all(auth in (None, f"Bearer {token}") for auth in asked)
        assert nearly.painted("enterprises") > 200
        assert nearly.errors == []
    finally:
        nearly.close()
    # 65 s left: renewed by the timer a minute ahead, with nothing else going on.
    later_seed = {**_session_of(server, live_users["official"]), "expires_in": 65}
    later = Page(browser, server, session=later_seed)
    try:
        later.open(f"/#/{NINGXIA}")
        later.page.wait_for_function(
            "(seeded) => JSON.parse(sessionStorage.getItem('ra.auth')).access_token !== seeded",
            arg=later_seed["access_token"],
            timeout=20_000,
        )
        assert [url for url in later.requests if url.endswith("/api/auth/refresh")]
        assert later.errors == []
    finally:
        later.close()


def test_a_refused_token_is_renewed_once_and_a_refused_renewal_ends_the_session(
    browser, server: str, live_users: dict[str, str]
) -> None:
    good = _session_of(server, live_users["official"])
    # A token the server refuses (as a revoked one is), with a good refresh token.
    revoked = Page(browser, server, session={**good, "access_token": "not-a-token"})
    try:
        revoked.open(f"/#/{NINGXIA}")
        token = revoked.token()
        assert token and token != "not-a-token"
        assert revoked.page.locator("#account-text").inner_text() == OFFICIAL_LINE
        assert revoked.painted("enterprises") > 200
        refreshes = [url for url in revoked.requests if url.endswith("/api/auth/refresh")]
        assert len(refreshes) == 1
        assert all("status of 401" in e for e in revoked.errors)
    finally:
        revoked.close()
    # Neither token good: the session ends, the public map shows, the dialog says why.
    ended = Page(
        browser,
        server,
        session={**good, "access_token": "not-a-token", "refresh_token": "not-a-token-either"},
    )
    try:
        ended.page.goto(ended.base + "/")
        reason = ended.page.locator("#login-dialog #login-reason")
        reason.filter(has_text="登录已过期，请重新登录").wait_for()
        ended.wait_ready("")
        assert ended.regions_drawn() == 34
        assert _stored_session(ended) is None
        assert ended.page.locator("#btn-login").is_visible()
        assert _located(ended.requests) == []
        assert all("status of 401" in e for e in ended.errors)
    finally:
        ended.close()


def test_a_planner_sees_the_layers_of_the_role_only(
    browser, server: str, sessions: dict[str, dict]
) -> None:
    planner = Page(browser, server, session=sessions["planner"])
    try:
        planner.open(f"/#/{NINGXIA}?l=choropleth,enterprises,hazard_sources,public_zones")
        page = planner.page
        assert page.locator("#account-text").inner_text() == (
            "live-nx-planner · 规划人员 · 宁夏回族自治区"
        )
        # Planners read hazard sources, public zones and emergency resources, not
        # enterprises or risk points: those say so, and are not asked for (no 403).
        for name in ("enterprises", "risk_points", "heat"):
            label = page.locator(f"#layers-control label:has(input[data-layer='{name}'])")
            assert label.get_attribute("data-locked") == "role", name
            assert "无权限" in label.inner_text()
        for name in ("hazard_sources", "public_zones", "emergency_resources"):
            assert page.locator(f"input[data-layer='{name}']").is_enabled(), name
        assert page.locator("input[data-layer='hazard_sources']").is_checked()
        tiles = [u for u in planner.requests if "/tiles/" in u]
        assert not [u for u in tiles if re.search(r"/tiles/(enterprises|risk_points)/", u)]
        assert [u for u in tiles if "/tiles/hazard_sources/" in u]
        assert page.locator("#search-input").get_attribute("placeholder") == "搜索地区"
        assert planner.errors == []
    finally:
        planner.close()


def test_the_layers_each_role_may_see_agree_with_the_server(page: Page) -> None:
    from app.auth.scope import READABLE

    page.open("/")
    readable = page.page.evaluate("async () => (await import('/static/js/auth.js')).READABLE")
    assert {role: sorted(tables) for role, tables in readable.items()} == {
        role: sorted(tables) for role, tables in READABLE.items()
    }


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


def _send(
    base: str, method: str, path: str, headers: dict[str, str], body: dict | None = None
) -> dict:
    request = urllib.request.Request(
        base + path,
        method=method,
        data=json.dumps(body).encode() if body else None,
        headers={"Content-Type": "application/json", **headers},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"{}")


@pytest.fixture(scope="module")
def admin(server: str, live_users: dict[str, str]) -> dict[str, str]:
    """An admin's Authorization header, for writing through the API."""
    return {"Authorization": f"Bearer {live_token(server, live_users['admin'])}"}


@pytest.fixture
def hostile(server: str, engine: Engine, demo, admin: dict[str, str]) -> Iterator[dict]:
    """An enterprise, its risk point, hazard source and hidden danger, a public zone and a
    grid cell, all with script-like names, written through the API (committed) in a
    corner of 兴庆区 with nothing else within 300 m; removed afterwards."""
    from app.dangers.models import HiddenDanger
    from app.regions.grids import import_grids, reassign_grid_codes
    from tests.factories import enterprise_payload, lec_point, square_around

    with engine.connect() as connection:
        lon, lat = connection.execute(
            text("""
            SELECT x, y FROM generate_series(0, 8) i,
                   LATERAL (SELECT (106.27 + 0.006 * (i % 3))::float8 AS x,
                                   (38.46 + 0.006 * (i / 3))::float8 AS y) c
             WHERE NOT EXISTS (
                   SELECT 1 FROM enterprises e
                    WHERE ST_DWithin(e.geom::geography,
                                     ST_SetSRID(ST_MakePoint(x, y), 4326)::geography, 300))
             ORDER BY i LIMIT 1""")
        ).one()
    with Session(engine) as session, session.begin():
        import_grids(
            session,
            feature_collection={
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "geometry": square_around(lon, lat, 0.01),
                        "properties": {"code": HOSTILE["grid_code"], "name": HOSTILE["grid"]},
                    }
                ],
            },
        )
    enterprise = _send(
        server,
        "POST",
        "/api/enterprises",
        admin,
        enterprise_payload(
            (lon, lat),
            name=HOSTILE["enterprise"],
            sector=HOSTILE["sector"],
            address=HOSTILE["address"],
            responsible_person=HOSTILE["person"],
        ),
    )
    places = {
        "enterprise": (lon, lat),
        "hazard": (lon - 0.0015, lat),
        "risk_point": (lon, lat + 0.0012),
        "zone": (lon + 0.0016, lat),
    }
    point = _send(
        server,
        "POST",
        "/api/risk-points",
        admin,
        {
            **lec_point(enterprise["id"], 6, 6, 15, places["risk_point"]),
            "name": HOSTILE["risk_point"],
        },
    )
    hazard = _send(
        server,
        "POST",
        "/api/hazard-sources",
        admin,
        {
            "enterprise_id": enterprise["id"],
            "name": HOSTILE["hazard"],
            "unit_type": "storage",
            "substances": [{"cas": "7782-50-5", "quantity_t": 10}],
            "lon": places["hazard"][0],
            "lat": places["hazard"][1],
        },
    )
    zone = _send(
        server,
        "POST",
        "/api/public-zones",
        admin,
        {
            "name": HOSTILE["zone"],
            "kind": "residential",
            "population": 40,
            "geometry": square_around(*places["zone"], 0.0003),
        },
    )
    with Session(engine) as session, session.begin():
        session.add(
            HiddenDanger(
                enterprise_id=enterprise["id"],
                title=HOSTILE["danger"],
                grade="general",
                status="reported",
                geom=f"SRID=4326;POINT({lon} {lat})",
            )
        )
    yield {"county": enterprise["county_code"], "id": enterprise["id"], "places": places}
    _send(server, "DELETE", f"/api/risk-points/{point['id']}", admin)
    _send(server, "DELETE", f"/api/hazard-sources/{hazard['id']}", admin)
    _send(server, "DELETE", f"/api/public-zones/{zone['id']}", admin)
    _send(server, "DELETE", f"/api/enterprises/{enterprise['id']}", admin)
    with Session(engine) as session, session.begin():
        session.execute(
            text("DELETE FROM grid_cells WHERE code = :code"), {"code": HOSTILE["grid_code"]}
        )
        reassign_grid_codes(session, county_codes=[enterprise["county_code"]])
        session.execute(text("SELECT rebuild_region_counts()"))


def _assert_nothing_injected(page: Page) -> None:
    assert page.dialogs == []
    assert page.page.evaluate(INJECTED) == []
    assert page.violations == [] and page.errors == []


def test_hostile_names_show_as_text_in_popups_panel_search_and_dossier(
    admin_page: Page, hostile: dict
) -> None:
    page = admin_page
    county, places = hostile["county"], hostile["places"]
    lon, lat = places["enterprise"]
    page.open(
        f"/#/{county}?c={lat:.5f},{lon:.5f}&z=16"
        "&l=choropleth,enterprises,risk_points,hazard_sources,public_zones"
    )
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
    # The change history (修改记录): what the admin wrote through the API, and who.
    changes = page.page.locator("#dossier-changes").inner_text()
    assert "新增" in changes and "live-admin" in changes
    page.page.locator("#dossier-changes").scroll_into_view_if_needed()
    page.screenshot("21-hostile-dossier-changes.png")
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
    official_page: Page, engine: Engine, demo: dict[str, int]
) -> None:
    page = official_page
    page.context.route(
        re.compile(r"https://t\d\.tianditu\.gov\.cn/.*"),
        lambda route: route.fulfill(status=200, content_type="image/png", body=PNG_1PX),
    )
    response = page.page.goto(page.base + f"/#/{NINGXIA}")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "'unsafe-inline'" not in policy
    page.wait_ready(NINGXIA)
    # Level colours are classes now, not style attributes: Ningxia's top-ranked city and
    # the legend's red swatch are drawn in red; Ningxia itself, the only province with data,
    # is not ranked (不分级) and drawn in the grey of no level.
    red, unranked = "rgb(232, 34, 45)", "rgb(82, 96, 109)"
    colours = page.page.evaluate("""() => [
        getComputedStyle(document.querySelector('#level-card .big')).color,
        getComputedStyle(document.querySelector('#ranking li .chip')).backgroundColor,
        getComputedStyle(document.querySelector('#legend .sw.red')).backgroundColor]""")
    assert colours == [unranked, red, red]
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
    page.open(
        f"/#/{NINGXIA}?c={enterprise['lat']:.5f},{enterprise['lng']:.5f}&z=16"
        "&l=choropleth,boundaries,enterprises,hazard_sources,heat"
    )
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
    page: Page, admin_page: Page, hostile: dict, admin: dict[str, str]
) -> None:
    county, (lon, lat) = hostile["county"], hostile["places"]["enterprise"]

    def export(opened: Page) -> str:
        """The file the export menu's offline HTML map saves."""
        opened.open(f"/#/{county}")
        opened.wait_ready(county)
        opened.page.locator("#btn-export").click()
        with opened.page.expect_download() as download_info:
            opened.page.locator("[data-export='html']").click()
        assert download_info.value.suggested_filename == f"riskatlas-{county}.html"
        return Path(download_info.value.path()).read_text(encoding="utf-8")

    # The public's file: the choropleth, with the grid cell's name escaped, and no points.
    public = export(page)
    assert "iframe src=javascript:alert" in public and HOSTILE["grid"] not in public
    assert "alert(&#x27;enterprise" not in public
    # A signed-in user's: the page fetches it with the token (a link would send none), so
    # the user's points are in it, their names escaped too.
    signed_in = export(admin_page)
    assert "alert(&#x27;enterprise" in signed_in and HOSTILE["enterprise"] not in signed_in
    assert admin_page.errors == [] and page.errors == []
    saved = ARTIFACTS / f"25-export-{county}.html"
    ARTIFACTS.mkdir(exist_ok=True)
    saved.write_text(signed_in, encoding="utf-8")
    # Served (sandboxed, inline scripts allowed) and opened from disk. A navigation sends
    # no token: the header stands in for it.
    page = admin_page
    page.context.set_extra_http_headers(admin)
    served = f"{page.base}/api/exports/regions/{county}.html"
    for url in (served, saved.as_uri()):
        page.page.goto(url)
        # Zoom in on the enterprise (its neighbours' markers overlap at the county's zoom).
        # Folium calls the map map_…; only names are listed, as the sandboxed page may not
        # even look at localStorage. Leaflet ignores setView while the export's first
        # (animated) fitBounds runs, so ask until the map is there.
        find_map = "window[Object.keys(window).find((k) => /^map_/.test(k))]"
        page.page.wait_for_function(
            f"""(place) => {{
            const map = {find_map};
            if (!map) return false;
            map.setView(place, 16, {{animate: false}});
            return map.getZoom() === 16;
        }}""",
            arg=[lat, lon],
        )
        tooltip = page.page.locator(".leaflet-tooltip")
        for place, name in (
            ([lat, lon], HOSTILE["enterprise"]),
            ([lat + 0.004, lon + 0.004], HOSTILE["grid"]),
        ):
            _hover_until_shown(page.page, find_map, place, tooltip.filter(has_text=name))
        page.screenshot("26-export-tooltip.png")
        _assert_nothing_injected(page)


def _hover_until_shown(page: Any, find_map: str, place: list[float], shown: Any) -> None:
    """Hover the map at `place` until `shown` appears, reading its pixel again on every try
    and leaving the map in between: a late step of the export's opening animation can move
    the map after a first reading (seen once in CI under load)."""
    for _ in range(4):
        x, y = page.evaluate(
            f"""(place) => {{
            const map = {find_map};
            const r = map.getContainer().getBoundingClientRect();
            const p = map.latLngToContainerPoint(place);
            return [r.left + p.x, r.top + p.y];
        }}""",
            place,
        )
        page.mouse.move(x, y)
        try:
            shown.wait_for(timeout=5000)
            return
        except playwright_api.TimeoutError:
            page.mouse.move(0, 0)
    shown.wait_for()


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

    page.context.route(
        re.compile(r"https://(cdn\.jsdelivr\.net|fonts\.googleapis\.com)/.*"), answer
    )
    page.context.route(
        re.compile(r"https://fastapi\.tiangolo\.com/.*"),
        lambda route: route.fulfill(status=200, content_type="image/png", body=PNG_1PX),
    )
    for path in ("/docs", "/redoc"):
        page.page.goto(page.base + path)
        page.page.wait_for_function("() => document.body.dataset.docs === '/openapi.json'")
    assert page.violations == [] and page.errors == []


def test_the_region_shown_stays_whole_in_a_long_breadcrumb(
    browser, server: str, sessions: dict[str, dict]
) -> None:
    """At 1366 px a county's four-step path leaves its own name whole: the ancestors shrink
    to an ellipsis (named in their titles) instead of the name slipping under the search."""
    opened = Page(browser, server, width=1366, height=800, session=sessions["official"])
    try:
        opened.open(f"/#/{XINGQING_CODE}")
        opened.wait_ready(XINGQING_CODE)
        box = opened.page.evaluate("""() => {
            const nav = document.getElementById('breadcrumb').getBoundingClientRect();
            const current = document.querySelector('#breadcrumb .current');
            const shown = current.getBoundingClientRect();
            return [shown.right <= nav.right + 0.5, current.scrollWidth <= current.clientWidth,
                    document.querySelector('#breadcrumb a[data-code="640100"]').title];
        }""")
        assert box == [True, True, "银川市"], box
    finally:
        opened.close()


def test_the_account_menu_leads_to_the_pages_of_the_role(
    browser, server: str, sessions: dict[str, dict]
) -> None:
    """An official reaches /data and /plan from the map, a planner only /plan; in the same
    tab, so the sign-in carries over."""
    for role, wanted in (("official", ["/data", "/plan"]), ("planner", ["/plan"])):
        opened = Page(browser, server, session=sessions[role])
        try:
            opened.open("/")
            opened.page.click("#account-chip")
            links = opened.page.locator("#account-menu a.menu-link:visible")
            assert [link.get_attribute("href") for link in links.all()] == wanted, role
            if role == "official":
                links.first.click()
                opened.page.wait_for_selector("#work:not([hidden])")
        finally:
            opened.close()
